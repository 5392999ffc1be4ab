"""kefu side by side with the stock ``rasa init`` bot, in one run on one machine (issue 20).

Both bots answer the same kind of load over REST (benchmarks/conversations.yml; kefu under its
rate limits, scaled by ``KEFU_LIMIT_SCALE`` as for the tests) at 1 and 20 concurrent clients;
then each Rasa server's resident memory, the in-process profile of a turn
(benchmarks/turn_profile.py) and training times (benchmarks/training.py).  Ratios are
kefu / stock from the same run, so that figures from a noisy, shared machine compare.

Writes ``benchmarks/results/sidebyside-<UTC time>.json``, ``sidebyside.json`` and
``sidebyside.md``.

Usage: python -m benchmarks.sidebyside [--skip-training] [--skip-profile]
       [--kefu-train-log LOG] [--clients 20] [--per-client 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import load, stock_bot, training
from benchmarks.bench_env import isolate
from benchmarks.conversations import conversations
from scripts.stack import ROOT, running_stack

RESULTS = ROOT / "benchmarks" / "results"
GB = 1024  # MB
# issue 20, "Done when": (measure, operator, target, label)
TARGETS = [
    ("throughput_20_ratio", ">=", 1.5, "throughput at 20 clients, kefu / stock"),
    ("p95_20_ms", "<=", 800, "p95 at 20 clients (ms)"),
    ("p50_1_ms", "<=", 60, "p50 at 1 client (ms)"),
    ("rss_mb", "<=", 1.2 * GB, "Rasa server RSS after the load (MB)"),
    ("training_scratch_s", "<=", 360, "training from scratch (s)"),
]


def machine() -> dict:
    """CPU model, cores, RAM and software versions of this machine."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    ram_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(ram_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "rasa": stock_bot.rasa_version(),
    }


def measure_load(url: str, chats: list[list[str]], clients: int, per_client: int) -> dict:
    """Warm up (every conversation once), then 1 client and ``clients`` clients."""
    run = uuid.uuid4().hex[:8]
    load.run(url, chats, 1, len(chats), f"bench-{run}-warm")
    single = load.run(url, chats, 1, 2 * len(chats), f"bench-{run}-one")
    many = load.run(url, chats, clients, per_client, f"bench-{run}-many")
    return {"1": single.summary(), str(clients): many.summary()}


def bench_stock(bot: stock_bot.StockBot, clients: int, per_client: int) -> dict:
    with stock_bot.running(bot) as server:
        result = {"load": measure_load(server.url, conversations("stock"), clients, per_client)}
        result["rss_mb"] = round(load.rss_mb(server.pid), 1)
    return result


def bench_kefu(_: stock_bot.StockBot, clients: int, per_client: int) -> dict:
    with running_stack() as stack:
        result = {"load": measure_load(stack.url, conversations("kefu"), clients, per_client)}
        result["rss_mb"] = round(load.rss_mb(stack.rasa_pid()), 1)
    return result


BENCH = {"stock": bench_stock, "kefu": bench_kefu}


def run_profile(bot: str, repeats: int) -> dict:
    """benchmarks.turn_profile in a process of its own (one model per process); its output goes
    to .kefu/bench/profile-<bot>.log, and a failure is reported, not raised."""
    log = stock_bot.CACHE / f"profile-{bot}.log"
    with tempfile.NamedTemporaryFile(suffix=".json") as out, log.open("w") as output:
        done = subprocess.run(
            [
                *(sys.executable, "-m", "benchmarks.turn_profile", "--bot", bot),
                *("--repeats", str(repeats), "--out", out.name),
            ],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        if done.returncode != 0:
            return {"error": f"benchmarks.turn_profile failed (see {log})"}
        return json.loads(Path(out.name).read_text())


def ratio(kefu: float | None, stock: float | None) -> float | None:
    if kefu is None or not stock:
        return None
    return round(kefu / stock, 2)


def headline(bot: dict, clients: int) -> dict:
    """The figures the targets and the README quote, for one bot."""
    one, many = bot["load"]["1"], bot["load"][str(clients)]
    return {
        "throughput_1_msgs_per_s": one["msgs_per_s"],
        "p50_1_ms": one["p50_ms"],
        "p95_1_ms": one["p95_ms"],
        "p99_1_ms": one["p99_ms"],
        "throughput_20_msgs_per_s": many["msgs_per_s"],
        "p50_20_ms": many["p50_ms"],
        "p95_20_ms": many["p95_ms"],
        "p99_20_ms": many["p99_ms"],
        "rss_mb": bot.get("rss_mb"),
        "training_scratch_s": (bot.get("training") or {}).get("scratch_s"),
        "training_incremental_s": (bot.get("training") or {}).get("incremental_s"),
        "parse_ms": ((bot.get("profile") or {}).get("parse", {}).get("parse (total)") or {}).get(
            "mean_ms"
        ),
        "turn_ms": ((bot.get("profile") or {}).get("turn", {}).get("turn (total)") or {}).get(
            "mean_ms"
        ),
    }


def verdicts(kefu: dict, ratios: dict) -> list[dict]:
    """issue 20's targets, each with kefu's value and whether it is met (None: not measured)."""
    values = {**kefu, "throughput_20_ratio": ratios.get("throughput_20_msgs_per_s")}
    out = []
    for key, op, target, label in TARGETS:
        value = values.get(key)
        met = None if value is None else (value <= target if op == "<=" else value >= target)
        out.append({"measure": label, "value": value, "target": f"{op} {target:g}", "met": met})
    return out


LABELS = {
    "throughput_1_msgs_per_s": "throughput, 1 client (msg/s)",
    "p50_1_ms": "p50, 1 client (ms)",
    "p95_1_ms": "p95, 1 client (ms)",
    "p99_1_ms": "p99, 1 client (ms)",
    "throughput_20_msgs_per_s": "throughput, 20 clients (msg/s)",
    "p50_20_ms": "p50, 20 clients (ms)",
    "p95_20_ms": "p95, 20 clients (ms)",
    "p99_20_ms": "p99, 20 clients (ms)",
    "rss_mb": "Rasa server RSS after the load (MB)",
    "training_scratch_s": "training from scratch (s)",
    "training_incremental_s": "training, incremental (s)",
    "parse_ms": "NLU parse, in-process mean (ms)",
    "turn_ms": "whole turn, in-process mean (ms)",
}


def _cell(value) -> str:
    return "–" if value is None else f"{value:g}"


def render(report: dict) -> str:
    """The side-by-side tables (markdown), as quoted in the README."""
    m, h = report["machine"], report["headline"]
    lines = [
        f"Run {report['date']} on {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM "
        f"(Rasa {m['rasa']}, Python {m['python']}); load average "
        f"{report['load_average']['start']} at the start, {report['load_average']['end']} "
        "at the end.",
        "",
        "| measure | kefu | stock `rasa init` | kefu / stock |",
        "|---|---|---|---|",
    ]
    for key, label in LABELS.items():
        kefu, stock = h["kefu"].get(key), h["stock"].get(key)
        if kefu is None and stock is None:
            continue
        lines.append(
            f"| {label} | {_cell(kefu)} | {_cell(stock)} | {_cell(report['ratios'].get(key))} |"
        )
    lines += ["", "| issue 20 target | kefu | target | met |", "|---|---|---|---|"]
    for v in report["targets"]:
        met = {True: "yes", False: "**no**", None: "not measured"}[v["met"]]
        lines.append(f"| {v['measure']} | {_cell(v['value'])} | {v['target']} | {met} |")
    lines += ["", "Outcomes of the messages sent (ok = a non-empty reply):", ""]
    for bot in ("kefu", "stock"):
        for clients, summary in report["bots"][bot]["load"].items():
            lines.append(f"* {bot}, {clients} client(s): {summary['outcomes']}")
    return "\n".join(lines) + "\n"


def profile_table(profile: dict, section: str, top: int = 14) -> str:
    """The ``top`` largest labels of a profile section (markdown)."""
    rows = [
        "| step | mean ms / message | p50 | p95 | messages it ran in | calls / message |",
        "|---|---|---|---|---|---|",
    ]
    for label, s in list(profile[section].items())[:top]:
        rows.append(
            f"| {label} | {s['mean_ms']} | {s['p50_ms']} | {s['p95_ms']} | {s['runs']} "
            f"| {s.get('calls_per_message', '')} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="kefu side by side with the stock rasa bot")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--per-client", type=int, default=3, help="conversations per client")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--profile-repeats", type=int, default=5)
    parser.add_argument(
        "--kefu-train-log",
        type=Path,
        default=os.environ.get("KEFU_TRAIN_LOG"),
        help="log of a kefu training that ran (its figures are read, kefu is not trained)",
    )
    parser.add_argument("--bots", default="stock,kefu", help="comma-separated subset")
    args = parser.parse_args(argv)

    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start_load = [round(x, 2) for x in os.getloadavg()]
    isolate()
    bot = stock_bot.stock_bot()
    bot.ensure_trained()
    wanted = args.bots.split(",")
    bots: dict[str, dict] = {"kefu": {"load": {}}, "stock": {"load": {}}}
    phases = [
        (name, "load", lambda n=name: BENCH[n](bot, args.clients, args.per_client))
        for name in wanted
    ]
    if not args.skip_profile:
        phases += [(n, "profile", lambda n=n: run_profile(n, args.profile_repeats)) for n in wanted]
    if not args.skip_training and "stock" in wanted:
        phases.append(("stock", "training", lambda: training.stock_training(bot)))
    if args.kefu_train_log:
        phases.append(("kefu", "training_log", lambda: training.from_log(args.kefu_train_log)))
    report = build_report(bots, args.clients, started, start_load)
    for name, phase, measure in phases:
        try:
            result = measure()
        except Exception as error:  # a failed phase is reported; the others still run
            bots[name].setdefault("errors", {})[phase] = f"{type(error).__name__}: {error}"
            print(f"sidebyside: {name} {phase} failed: {error}", file=sys.stderr)
            continue
        if phase == "load":
            bots[name].update(result)
        else:
            bots[name][phase] = result
        report = build_report(bots, args.clients, started, start_load)
        write(report)
    print(render(report))
    return 0


def build_report(bots: dict, clients: int, started: str, start_load: list[float]) -> dict:
    """The report of what has been measured so far in the run started at ``started``."""
    heads = {name: headline(b, clients) if b["load"] else {} for name, b in bots.items()}
    ratios = {k: ratio(heads["kefu"].get(k), v) for k, v in heads["stock"].items()}
    if bots["kefu"].get("training_log", {}).get("complete"):  # another time: no ratio
        heads["kefu"]["training_scratch_s"] = bots["kefu"]["training_log"]["logged_s"]
    return {
        "date": started,
        "machine": machine(),
        "load_average": {"start": start_load, "end": [round(x, 2) for x in os.getloadavg()]},
        "headline": heads,
        "ratios": {k: v for k, v in ratios.items() if v is not None},
        "targets": verdicts(heads["kefu"], ratios),
        "bots": bots,
    }


def write(report: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    stamp = report["date"].replace("-", "").replace(":", "").replace("+0000", "Z")
    (RESULTS / f"sidebyside-{stamp}.json").write_text(text)
    (RESULTS / "sidebyside.json").write_text(text)
    markdown = render(report)
    for name, b in report["bots"].items():
        if "profile" in b and "error" not in b["profile"]:
            for section in ("parse", "turn"):
                markdown += f"\n{name}, {section} (in-process, one message at a time):\n\n"
                markdown += profile_table(b["profile"], section) + "\n"
    (RESULTS / "sidebyside.md").write_text(markdown)


if __name__ == "__main__":
    sys.exit(main())
