"""Run kefu as a cluster on this machine: Rasa instances and action servers behind HAProxy, on
PostgreSQL, Redis and RabbitMQ (the production profile, kefu/production.py).

    make run-cluster              # or: python -m scripts.cluster   (Ctrl-C stops everything)

The balancer's configuration is ``deploy/haproxy/haproxy.cfg``; the settings every instance
shares are :data:`CLUSTER_SETTINGS` (the deployment files in ``deploy/`` are checked against
them by tests/unit/test_deploy.py).  The services default to 127.0.0.1:

``KEFU_CLUSTER_DB_URL``  the shop database and the conversations (default
                         ``postgresql://postgres@127.0.0.1:5432/kefu_cluster``; created and filled
                         with the demo shop when empty)
``KEFU_REDIS_URL``       default ``redis://127.0.0.1:6379/0``
``KEFU_BROKER_URL``      default ``amqp://guest:guest@127.0.0.1:5672/%2F``

Secrets (API token, action secret, web chat secret, REST token) are taken from the environment,
else from ``.kefu/`` (scripts/secret.sh, as ``make run``) for ``make run-cluster`` and made up
for a test run.  Without ``KEFU_NOTIFY_URL`` (production refuses the development
outbox) a local sink accepts the confirmation codes and discards them.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from scripts.stack import LIMIT_SCALE, MODEL, ROOT, free_port

HAPROXY_CONFIG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
LOG_DIR = ROOT / ".kefu" / "cluster"
DEFAULT_DB_URL = "postgresql://postgres@127.0.0.1:5432/kefu_cluster"
TEST_DB_URL = "postgresql://postgres@127.0.0.1:5432/kefu_cluster_test"  # made anew by each test run
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"

# What every instance of the cluster shares, here and in deploy/ (compose, Kubernetes).
CLUSTER_SETTINGS = {
    "KEFU_PROFILE": "production",
    "KEFU_TRUSTED_PROXIES": "127.0.0.1",  # the balancer; its X-Forwarded-For is believed
    "TICKET_LOCK_LIFETIME": "30",  # s: a conversation lock held by a dead instance lapses
    "SANIC_REQUEST_MAX_SIZE": "1048576",
    "RASA_TELEMETRY_ENABLED": "false",
    "KEFU_LOG_FORMAT": "json",  # one JSON object per line, personal data masked (kefu/logs.py)
}
# Every variable the Rasa instances and action servers get from the cluster; the deployment
# files set the same ones (tests/unit/test_deploy.py).
SERVER_VARIABLES = frozenset(CLUSTER_SETTINGS) | {
    "KEFU_DB_URL",  # the shop database; the conversations too (kefu/production.py)
    "KEFU_REDIS_URL",
    "KEFU_BROKER_URL",
    "KEFU_BROKER_QUEUE",
    "KEFU_API_TOKEN",
    "KEFU_REST_TOKEN",
    "KEFU_WEBCHAT_SECRET",
    "KEFU_ACTION_SECRET",
    "KEFU_ACTION_SERVER_URL",
    "KEFU_ALLOWED_ORIGINS",
    "KEFU_NOTIFY_URL",
    "KEFU_NOTIFY_TOKEN",
    "KEFU_DATA_KEY",  # encrypts personal data at rest (kefu/privacy/keys.py)
}
# The balancer's variables (deploy/haproxy/haproxy.cfg)
BALANCER_VARIABLES = frozenset(
    {"KEFU_LB_BIND", "KEFU_LB_ACTIONS_BIND", "KEFU_RASA_1", "KEFU_RASA_2", "KEFU_ACTIONS_1",
     "KEFU_ACTIONS_2"}
)  # fmt: skip
RASA_PORT = 5005  # each instance's own port (in containers); the balancer's too
ACTIONS_PORT = 5055
ORIGINS = "http://127.0.0.1:8000 http://localhost:8000"
LOCAL_SECRETS = {
    "KEFU_API_TOKEN": "api_token",
    "KEFU_REST_TOKEN": "rest_token",
    "KEFU_WEBCHAT_SECRET": "webchat_secret",
    "KEFU_ACTION_SECRET": "action_secret",
}


@dataclass
class Cluster:
    """A running cluster: the balancer's URLs, each instance's port, the secrets."""

    url: str  # the balancer, where customers and channels connect
    token: str  # the HTTP API token
    rest_token: str
    webchat_secret: str
    rasa_ports: list[int]
    actions_ports: list[int]
    actions_url: str  # the balancer in front of the action servers
    db_url: str
    broker_url: str
    broker_queue: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def rasa_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.rasa_ports[index]}"

    def kill_rasa(self, index: int) -> None:
        """Kill a Rasa instance at once (SIGKILL: no goodbye, as a crashed machine)."""
        process = self.processes[f"rasa{index + 1}"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


class _Sink(http.server.BaseHTTPRequestHandler):
    """Stands in for the SMS / e-mail gateway: accepts and forgets (nothing is logged)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return


def prepare_database(url: str, fresh: bool = False) -> None:
    """Create the PostgreSQL database if missing (``fresh``: drop it first), migrate it, load
    the demo shop into it once."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if fresh:  # nothing from an earlier run, e.g. sealed with another machine's data key
            connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
        ).scalar()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    env = {**os.environ, "KEFU_DB_URL": url}
    env.pop("KEFU_PROFILE", None)  # the demo shop is never loaded by a production process
    kefu = str(ROOT / ".venv" / "bin" / "kefu")
    for command in ([kefu, "db", "upgrade"], [kefu, "demo", "load", "--if-empty"]):
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)


def data_key() -> str:
    """``KEFU_DATA_KEY``, else the keys of the development key file (the demo shop was loaded
    with them by :func:`prepare_database`), for production processes that refuse to make one."""
    from kefu.privacy.keys import encode_key, load_keyring

    if os.environ.get("KEFU_DATA_KEY"):
        return os.environ["KEFU_DATA_KEY"]
    development = {k: v for k, v in os.environ.items() if k != "KEFU_PROFILE"}
    return ",".join(encode_key(key) for key in load_keyring(development).keys)


def drop_queue(broker_url: str, queue: str) -> None:
    """Delete a broker queue a test or benchmark made up (its events are of no further use)."""
    import asyncio

    import aio_pika

    async def drop() -> None:
        connection = await aio_pika.connect_robust(broker_url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(queue)

    asyncio.run(drop())


def _spawn(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = open(LOG_DIR / f"{name}.log", "w")  # noqa: SIM115 - the child keeps it
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait(cluster: Cluster, urls: dict[str, str], deadline: float) -> None:
    waiting = dict(urls)
    while waiting:
        for name, url in list(waiting.items()):
            process = cluster.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited during start-up (see {LOG_DIR}/{name}.log)")
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, timeout=2).ok:
                    del waiting[name]
        if waiting and time.monotonic() > deadline:
            raise RuntimeError(f"{', '.join(waiting)} did not start (see {LOG_DIR}/)")
        time.sleep(0.5)


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes.values():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextlib.contextmanager
def running_cluster(
    instances: int = 2,
    ports: dict[str, int] | None = None,
    broker_queue: str | None = None,
    startup_timeout: float = 240,
    db_url: str | None = None,
    fresh_database: bool = False,
) -> Iterator[Cluster]:
    """Start ``instances`` Rasa instances and as many action servers behind HAProxy; stop them
    all afterwards.  ``ports`` (``lb``, ``lb_actions``, ``rasa``, ``actions``: the first of a
    run of consecutive ports) default to free ones; the shop and conversations live in
    ``db_url`` (``KEFU_CLUSTER_DB_URL``, else :data:`DEFAULT_DB_URL`), made anew when
    ``fresh_database``."""
    if not MODEL.exists():
        raise RuntimeError("models/kefu.tar.gz is missing: run `make train` first")
    if instances != 2:
        raise ValueError("deploy/haproxy/haproxy.cfg lists two instances of each server")
    ports = ports or {}
    db_url = db_url or os.environ.get("KEFU_CLUSTER_DB_URL") or DEFAULT_DB_URL
    prepare_database(db_url, fresh=fresh_database)

    def pick(name: str, n: int) -> int:  # a run of ports from ports[name], else free ones
        return ports[name] + n if ports.get(name) else free_port()

    cluster = Cluster(
        url=f"http://127.0.0.1:{ports.get('lb') or free_port()}",
        token=os.environ.get("KEFU_API_TOKEN") or secrets.token_urlsafe(24),
        rest_token=os.environ.get("KEFU_REST_TOKEN") or secrets.token_urlsafe(24),
        webchat_secret=os.environ.get("KEFU_WEBCHAT_SECRET") or secrets.token_urlsafe(32),
        rasa_ports=[pick("rasa", n) for n in range(instances)],
        actions_ports=[pick("actions", n) for n in range(instances)],
        actions_url=f"http://127.0.0.1:{ports.get('lb_actions') or free_port()}",
        db_url=db_url,
        broker_url=os.environ.get("KEFU_BROKER_URL") or DEFAULT_BROKER_URL,
        broker_queue=broker_queue or os.environ.get("KEFU_BROKER_QUEUE") or "kefu_events",
    )
    sink = None
    notify = {k: os.environ[k] for k in ("KEFU_NOTIFY_URL", "KEFU_NOTIFY_TOKEN") if k in os.environ}
    if "KEFU_NOTIFY_URL" not in notify:
        sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
        threading.Thread(target=sink.serve_forever, daemon=True).start()
        notify = {
            "KEFU_NOTIFY_URL": f"http://127.0.0.1:{sink.server_address[1]}/notify",
            "KEFU_NOTIFY_TOKEN": secrets.token_urlsafe(16),
        }
    server_env = {
        **CLUSTER_SETTINGS,
        **notify,
        "KEFU_DB_URL": db_url,
        "KEFU_REDIS_URL": os.environ.get("KEFU_REDIS_URL") or DEFAULT_REDIS_URL,
        "KEFU_BROKER_URL": cluster.broker_url,
        "KEFU_BROKER_QUEUE": cluster.broker_queue,
        "KEFU_API_TOKEN": cluster.token,
        "KEFU_REST_TOKEN": cluster.rest_token,
        "KEFU_WEBCHAT_SECRET": cluster.webchat_secret,
        "KEFU_ACTION_SECRET": os.environ.get("KEFU_ACTION_SECRET") or secrets.token_urlsafe(32),
        "KEFU_ACTION_SERVER_URL": f"{cluster.actions_url}/webhook",
        "KEFU_ALLOWED_ORIGINS": os.environ.get("KEFU_ALLOWED_ORIGINS") or ORIGINS,
        "KEFU_DATA_KEY": data_key(),
    }
    if set(server_env) != SERVER_VARIABLES:
        raise RuntimeError("keep SERVER_VARIABLES (and deploy/) in step with the cluster")
    env = {
        **os.environ,
        **server_env,
        # every test customer comes from 127.0.0.1: the per-address limits are raised
        "KEFU_LIMIT_SCALE": os.environ.get("KEFU_LIMIT_SCALE") or str(LIMIT_SCALE),
    }
    python = str(ROOT / ".venv" / "bin" / "python")
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    credentials = LOG_DIR / "credentials.yml"
    subprocess.run(
        [python, "-m", "scripts.credentials", "credentials.yml", str(credentials)],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )  # fmt: skip
    try:
        for n, port in enumerate(cluster.actions_ports, 1):
            cluster.processes[f"actions{n}"] = _spawn(
                f"actions{n}", [python, "-m", "actions.server", "--port", str(port)], env
            )
        for n, port in enumerate(cluster.rasa_ports, 1):
            command = [python, "-m", "kefu_rasa.server", "-m", str(MODEL), "--enable-api",
                       "--cors", *env["KEFU_ALLOWED_ORIGINS"].split(),
                       "--credentials", str(credentials), "--interface", "127.0.0.1",
                       "--port", str(port)]  # fmt: skip
            cluster.processes[f"rasa{n}"] = _spawn(f"rasa{n}", command, env)
        balancer = {
            "KEFU_LB_BIND": cluster.url.removeprefix("http://"),
            "KEFU_LB_ACTIONS_BIND": cluster.actions_url.removeprefix("http://"),
            **{f"KEFU_RASA_{n}": f"127.0.0.1:{p}" for n, p in enumerate(cluster.rasa_ports, 1)},
            **{
                f"KEFU_ACTIONS_{n}": f"127.0.0.1:{p}"
                for n, p in enumerate(cluster.actions_ports, 1)
            },
        }
        if set(balancer) != BALANCER_VARIABLES:
            raise RuntimeError("keep BALANCER_VARIABLES in step with haproxy.cfg")
        cluster.processes["haproxy"] = _spawn(
            "haproxy", ["haproxy", "-db", "-f", str(HAPROXY_CONFIG)], {**env, **balancer}
        )
        deadline = time.monotonic() + startup_timeout
        health = {f"actions{n}": f"http://127.0.0.1:{p}/health"
                  for n, p in enumerate(cluster.actions_ports, 1)}  # fmt: skip
        health |= {f"rasa{n}": f"http://127.0.0.1:{p}/health"
                   for n, p in enumerate(cluster.rasa_ports, 1)}  # fmt: skip
        _wait(cluster, health, deadline)
        _wait(cluster, {"haproxy": f"{cluster.url}/health"}, deadline)
        yield cluster
    finally:
        _stop(cluster.processes)
        if sink is not None:
            sink.shutdown()


def main() -> int:
    """``make run-cluster``: the cluster on fixed ports until Ctrl-C."""
    lb = int(os.environ.get("KEFU_LB_PORT") or RASA_PORT)
    ports = {
        "lb": lb,
        "lb_actions": int(os.environ.get("KEFU_LB_ACTIONS_PORT") or ACTIONS_PORT),
        "rasa": int(os.environ.get("KEFU_RASA_PORT") or lb + 1),
        "actions": int(os.environ.get("KEFU_ACTIONS_PORT") or ACTIONS_PORT + 1),
    }
    for variable, name in LOCAL_SECRETS.items():  # kept in .kefu/ (mode 600), as `make run`
        if not os.environ.get(variable):
            os.environ[variable] = subprocess.run(
                [str(ROOT / "scripts" / "secret.sh"), name], capture_output=True, text=True,
                check=True,
            ).stdout.strip()  # fmt: skip
    print("kefu: starting 2 Rasa instances and 2 action servers behind HAProxy …", flush=True)
    try:
        with running_cluster(ports=ports) as cluster:
            print(
                f"\nkefu cluster is running (Ctrl-C stops it):\n"
                f"  balancer        {cluster.url}  (REST, socket.io, HTTP API)\n"
                f"  REST channel    POST {cluster.url}/webhooks/rest/webhook  "
                f"(Authorization: Bearer $KEFU_REST_TOKEN)\n"
                f"  Rasa instances  {', '.join(cluster.rasa_url(n) for n in range(2))}"
                f"  (/metrics, /health)\n"
                f"  action servers  {', '.join(f'127.0.0.1:{p}' for p in cluster.actions_ports)}"
                f"  behind {cluster.actions_url}\n"
                f"  services        {make_url(cluster.db_url).render_as_string(hide_password=True)}"
                f", Redis, RabbitMQ queue {cluster.broker_queue}\n"
                f"  logs            {LOG_DIR}/",
                flush=True,
            )
            print("  secrets         in .kefu/ (api_token, rest_token, …) unless set", flush=True)
            while all(p.poll() is None for p in cluster.processes.values()):
                time.sleep(1)
            print("kefu: a server exited; stopping the cluster", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("kefu: stopped")
        return 0
    except RuntimeError as error:
        print(f"kefu: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
