"""The deployment files (deploy/) validated offline, and held to the settings of the tested
cluster (scripts/cluster.py, deploy/haproxy/haproxy.cfg) so that they cannot drift apart."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess

import pytest
import yaml

from kefu.metrics import HEALTH_PATH
from scripts.cluster import (
    ACTIONS_PORT,
    BALANCER_VARIABLES,
    CLUSTER_SETTINGS,
    HAPROXY_CONFIG,
    RASA_PORT,
    SERVER_VARIABLES,
)
from scripts.stack import ROOT

DEPLOY = ROOT / "deploy"
K8S = sorted((DEPLOY / "k8s").glob("*.yml"))
NETWORK_SPECIFIC = {"KEFU_TRUSTED_PROXIES"}  # the balancer's network differs per platform


def pins() -> dict[str, str]:
    lines = (ROOT / "requirements.in").read_text(encoding="utf-8").splitlines()
    return dict(re.findall(r"^([a-z-]+)==([\w.]+)", "\n".join(lines), re.M))


def k8s_documents() -> list[dict]:
    docs = []
    for path in K8S:
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def by_kind(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == kind}


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("dockerfile", "image", "package", "port"),
    [
        ("Dockerfile.rasa", "rasa/rasa", "rasa", RASA_PORT),
        ("Dockerfile.actions", "rasa/rasa-sdk", "rasa-sdk", ACTIONS_PORT),
    ],
)
def test_images_build_on_the_official_images_of_the_pinned_versions(
    dockerfile, image, package, port
):
    text = (DEPLOY / "docker" / dockerfile).read_text(encoding="utf-8")
    assert re.search(rf"^FROM {image}:{re.escape(pins()[package])}$", text, re.M)
    assert f"EXPOSE {port}" in text
    assert "KEFU_PROFILE=production" in text
    assert "requirements.lock" in text


def test_the_rasa_entrypoint_uses_the_launcher_and_the_cluster_port():
    text = (DEPLOY / "docker" / "rasa-entrypoint.sh").read_text(encoding="utf-8")
    assert "python -m kefu_rasa.server" in text and f"--port {RASA_PORT}" in text
    assert "--endpoints" not in text  # the profile chooses endpoints.production.yml
    assert "--auth-token" not in text and "-t " not in text  # secrets from the environment


def test_every_kubernetes_object_has_the_required_fields():
    docs = k8s_documents()
    assert {d["kind"] for d in docs} >= {"ConfigMap", "Secret", "Deployment", "Service", "Job"}
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind") and doc["metadata"].get("name"), doc
    for name, deployment in by_kind("Deployment").items():
        spec = deployment["spec"]
        labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items(), name
        for container in spec["template"]["spec"]["containers"]:
            assert container["image"] and container["ports"], name
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            for probe in ("readinessProbe", "livenessProbe"):
                check = container[probe]["httpGet"]
                assert check["path"] == HEALTH_PATH and check["port"] in ports, (name, probe)
            sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
            assert sources == {"kefu-settings", "kefu-secrets"}, name
    deployments = by_kind("Deployment").values()
    for name, service in by_kind("Service").items():
        selector = service["spec"]["selector"].items()
        labels = [d["spec"]["template"]["metadata"]["labels"].items() for d in deployments]
        selected = [each for each in labels if selector <= each]
        assert len(selected) == 1, name


def _container_port(deployment: str) -> int:
    container = by_kind("Deployment")[deployment]["spec"]["template"]["spec"]["containers"][0]
    return container["ports"][0]["containerPort"]


def test_kubernetes_uses_the_cluster_ports_and_replicas():
    assert _container_port("kefu-rasa") == RASA_PORT
    assert _container_port("kefu-actions") == ACTIONS_PORT
    services = by_kind("Service")
    assert services["kefu-rasa"]["spec"]["ports"][0]["port"] == RASA_PORT
    assert services["kefu-actions"]["spec"]["ports"][0]["port"] == ACTIONS_PORT
    assert services["kefu-rasa"]["spec"]["sessionAffinity"] == "ClientIP"  # socket.io polling
    assert all(d["spec"]["replicas"] >= 2 for d in by_kind("Deployment").values())
    settings = by_kind("ConfigMap")["kefu-settings"]["data"]
    assert settings["KEFU_ACTION_SERVER_URL"] == f"http://kefu-actions:{ACTIONS_PORT}/webhook"


def _check_settings(where: str, values: dict[str, str]) -> None:
    for name, expected in CLUSTER_SETTINGS.items():
        if name in NETWORK_SPECIFIC:
            for network in str(values[name]).replace(",", " ").split():
                ipaddress.ip_network(network, strict=False)
        else:
            assert str(values[name]) == expected, (where, name)


def test_kubernetes_sets_exactly_the_variables_the_cluster_sets():
    settings = by_kind("ConfigMap")["kefu-settings"]["data"]
    secrets = by_kind("Secret")["kefu-secrets"]["stringData"]
    assert not set(settings) & set(secrets)
    assert set(settings) | set(secrets) == SERVER_VARIABLES
    _check_settings("k8s", settings)


def test_compose_sets_exactly_the_variables_the_cluster_sets():
    services = compose()["services"]
    for name in ("rasa1", "rasa2", "actions1", "actions2", "migrate"):
        environment = services[name]["environment"]
        assert set(environment) == SERVER_VARIABLES, name
        _check_settings(name, environment)
    assert services["rasa1"]["build"]["dockerfile"] == "deploy/docker/Dockerfile.rasa"
    assert services["actions1"]["build"]["dockerfile"] == "deploy/docker/Dockerfile.actions"
    action_url = services["rasa1"]["environment"]["KEFU_ACTION_SERVER_URL"]
    assert action_url == f"http://haproxy:{ACTIONS_PORT}/webhook"


def test_compose_runs_the_tested_balancer_configuration():
    haproxy = compose()["services"]["haproxy"]
    mounted = haproxy["volumes"][0].split(":")[0]
    assert (DEPLOY / mounted).resolve() == HAPROXY_CONFIG.resolve()
    assert set(haproxy["environment"]) == BALANCER_VARIABLES
    assert haproxy["environment"]["KEFU_RASA_1"] == f"rasa1:{RASA_PORT}"
    assert haproxy["environment"]["KEFU_ACTIONS_2"] == f"actions2:{ACTIONS_PORT}"
    assert haproxy["ports"] == [f"{RASA_PORT}:{RASA_PORT}"]


def test_the_balancer_configuration_names_the_cluster_variables_and_health():
    text = HAPROXY_CONFIG.read_text(encoding="utf-8")
    config = "\n".join(line.split("#")[0] for line in text.splitlines())
    assert set(re.findall(r"\$\{(\w+)\}", config)) == BALANCER_VARIABLES
    assert config.count(f"option httpchk GET {HEALTH_PATH}") == 3
    assert "path_beg /metrics" in config  # not routed from outside


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
def test_haproxy_accepts_the_configuration():
    env = {name: f"127.0.0.1:{15000 + n}" for n, name in enumerate(sorted(BALANCER_VARIABLES))}
    check = subprocess.run(
        [shutil.which("haproxy"), "-c", "-f", str(HAPROXY_CONFIG)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "[WARNING]" not in check.stdout + check.stderr


VALIDATE = ROOT / "scripts" / "validate_deploy.sh"


def validate(*manifests) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VALIDATE), *map(str, manifests)], capture_output=True, text=True, timeout=600
    )


def test_the_kubernetes_manifests_pass_the_api_schemas_strictly():
    checked = validate(*K8S)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_manifest_the_api_would_refuse_fails_validation(tmp_path):
    """The check can fail: a wrong type and an unknown field in a copy of rasa.yml."""
    documents = list(yaml.safe_load_all((DEPLOY / "k8s" / "rasa.yml").read_text()))
    deployment = next(d for d in documents if d and d["kind"] == "Deployment")
    deployment["spec"]["replicas"] = "two"
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    broken = tmp_path / "rasa.yml"
    broken.write_text(yaml.safe_dump_all(documents))
    checked = validate(broken)
    assert checked.returncode != 0
    assert "replicas" in checked.stdout + checked.stderr
