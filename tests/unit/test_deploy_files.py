"""The container image and the Compose / Kubernetes manifests, checked with what runs here (no
container engine): the Dockerfile's COPY sources, stages, user, entrypoint and healthcheck; the
Compose file against the Compose Specification's JSON schema (vendored by check-jsonschema) and
the Kubernetes manifests against the Kubernetes 1.37 schemas (kubernetes-validate, strict); and
that every service, image, command, port, metric and WINGMAN_* setting they name exists
(settings.py is the source of truth: the settings they set are parsed by Settings itself)."""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.unit.deploy_support import (
    DEPLOY,
    ROOT,
    SETTINGS,
    check_command,
    copy_parts,
    dockerfile,
    dockerignored,
    exec_form,
    metric_names,
    substitute,
    wingman_metrics_in,
    yaml_docs,
)
from wingman.settings import Settings

STAGES = dockerfile(ROOT / "Dockerfile")
FINAL = STAGES[-1]
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
K8S = {path.name: yaml_docs(path) for path in sorted((DEPLOY / "k8s").glob("*.yaml"))}


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in FINAL.all("ENV"):
        for key, value in re.findall(r"(\w+)=(\S+)", args):
            env[key] = value
    return env


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, where: str) -> Settings:
    """Settings exactly as a process with `env` would read them (bad names or values fail)."""
    unknown = sorted(k for k in env if k.startswith("WINGMAN_") and k not in SETTINGS)
    assert not unknown, f"{where}: no such setting {unknown}"
    for key in list(os.environ):
        if key.startswith("WINGMAN_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


# -- Dockerfile -------------------------------------------------------------------------------

def test_dockerfile_stages_copy_only_what_exists_and_pin_their_bases() -> None:
    names: list[str] = []
    for stage in STAGES:
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", stage.image) and not stage.image.endswith(":latest")
        for args in stage.all("COPY"):
            flags, sources, dest = copy_parts(args)
            if "from" in flags:
                assert flags["from"] in names, f"COPY --from={flags['from']}: no earlier stage"
                continue
            for src in sources:
                assert (ROOT / src).exists(), f"COPY {src}: not in the repository"
                assert not dockerignored(src), f"COPY {src}: excluded by .dockerignore"
        if stage.name:
            names.append(stage.name)
    assert [s.name for s in STAGES] == ["web", "build", "runtime"]


def test_dockerfile_builds_the_web_app_and_installs_the_pinned_package() -> None:
    web, build = STAGES[0], STAGES[1]
    scripts = json.loads((ROOT / "web" / "package.json").read_text())["scripts"]
    for run in web.all("RUN"):
        for script in re.findall(r"npm run (\w+)", run):
            assert script in scripts
    assert any("npm ci" in r for r in web.all("RUN")) and (ROOT / "web" / "package-lock.json").exists()
    assert any(re.search(r"pip install \.$", r) for r in build.all("RUN"))
    # the runtime serves the web build from where it was copied
    dist = [copy_parts(a)[2] for a in FINAL.all("COPY") if copy_parts(a)[0].get("from") == "web"]
    assert dist == [image_env()["WINGMAN_WEB_DIST"]]


def test_the_image_runs_as_a_non_root_user_it_creates() -> None:
    user = FINAL.all("USER")[-1].split(":")[0]
    assert user not in ("root", "0")
    assert any(f"--uid {user}" in r and "useradd" in r for r in FINAL.all("RUN"))


def test_entrypoint_command_settings_and_ports_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    entry = exec_form(FINAL.all("ENTRYPOINT")[-1])
    assert entry == ["wingman"] and re.search(r'^wingman = "wingman\.cli:main"$', pyproject, re.M)
    check_command(exec_form(FINAL.all("CMD")[-1]), "Dockerfile CMD")
    env = image_env()
    settings = settings_from({k: v for k, v in env.items() if k.startswith("WINGMAN_")}, monkeypatch,
                             "Dockerfile ENV")
    assert settings.auth == "required"  # listening on 0.0.0.0: never the token-less local user
    exposed = {int(p) for args in FINAL.all("EXPOSE") for p in args.split()}
    assert exposed == {settings.port, settings.metrics_port}


def test_the_healthcheck_hits_a_real_health_endpoint() -> None:
    from wingman import healthcheck
    from wingman.app import create_app

    check = exec_form(FINAL.all("HEALTHCHECK")[-1].split("CMD", 1)[1].strip())
    assert check == ["python", "-m", "wingman.healthcheck"]
    assert healthcheck.PATH == "/api/health"
    app = create_app(Settings(sample_knowledge=False))
    api = app.other_asgi_app
    assert "get" in api.openapi()["paths"]["/api/health"]
    assert "/metrics" in {getattr(r, "path", None) for r in api.routes}
    env = image_env()
    assert healthcheck.ports(env) == [int(env["WINGMAN_PORT"]), int(env["WINGMAN_METRICS_PORT"])]


async def test_the_healthcheck_passes_against_an_agent_endpoint_and_fails_without_one() -> None:
    import asyncio

    from tests.services import free_port
    from wingman.metrics_http import MetricsServer

    server = MetricsServer(host="127.0.0.1", port=0, health=lambda: {"status": "ok"})
    await server.start()

    def run(metrics_port: int) -> int:
        env = {**os.environ, "WINGMAN_PORT": str(free_port()), "WINGMAN_METRICS_PORT": str(metrics_port),
               "PYTHONPATH": str(ROOT / "src")}
        return subprocess.run([sys.executable, "-m", "wingman.healthcheck"], env=env, timeout=30).returncode

    try:
        assert await asyncio.to_thread(run, server.port) == 0
    finally:
        await server.aclose()
    assert await asyncio.to_thread(run, server.port) == 1


# -- Compose ----------------------------------------------------------------------------------

def test_compose_file_matches_the_compose_specification() -> None:
    import check_jsonschema

    schema_path = Path(check_jsonschema.__file__).parent / "builtin_schemas/vendor/compose-spec.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(COMPOSE, schema, cls=jsonschema.Draft202012Validator)


def services() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = COMPOSE["services"]
    return out


def test_compose_names_only_what_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    required = {"kafka", "redis", "postgres-primary", "postgres-replica", "pgbouncer", "nginx",
                "gateway-1", "gateway-2", "agents", "migrate"}
    assert required <= set(services())
    for name, svc in services().items():
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", svc["image"]), f"{name}: unpinned image"
        for dep in svc.get("depends_on", {}):
            assert dep in services(), f"{name} depends on unknown {dep}"
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} missing"
            else:
                assert source in COMPOSE["volumes"], f"{name}: volume {source} not declared"
        if svc["image"].startswith("wingman:"):
            assert (DEPLOY / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file()
            check_command(svc["command"], f"compose {name}")
            env = {k: substitute(str(v)) for k, v in svc["environment"].items()}
            settings = settings_from(env, monkeypatch, f"compose {name}")
            assert settings.bus == "kafka" and settings.auth == "required"
            assert settings.kafka_bootstrap.split(":")[0] in services()
            assert (settings.redis_url.split("@")[1].split(":")[0]) in services()
    # Kafka in KRaft mode, Redis with a password, a streaming replica
    assert "controller" in services()["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert "--requirepass" in services()["redis"]["command"]
    assert "pg_basebackup" in (DEPLOY / "compose" / "replica-start.sh").read_text()


def test_compose_pgbouncer_nginx_and_prometheus_point_at_its_services(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ini = configparser.ConfigParser()
    ini.read(DEPLOY / "compose" / "pgbouncer.ini")
    for database, line in ini["databases"].items():
        host = re.search(r"host=(\S+)", line)
        assert host and host.group(1) in services(), database
    env = {k: substitute(str(v)) for k, v in services()["gateway-1"]["environment"].items()}
    settings = settings_from(env, monkeypatch, "compose gateway-1")
    for url in [settings.effective_database_url, *settings.database_replica_urls]:
        assert url.split("/")[-1].split("?")[0] in ini["databases"], url
    # nginx: the template rendered for these services, sticky hashing kept
    nginx = (DEPLOY / "compose" / "nginx.conf").read_text()
    template = (DEPLOY / "nginx.conf").read_text()
    for line in template.splitlines():  # placeholders aside, line for line the template
        assert "@" in line or line.rstrip() in nginx, f"drifted from deploy/nginx.conf: {line}"
    upstreams = re.findall(r"server ([\w-]+):(\d+) ", nginx)
    assert {h for h, _ in upstreams} == {"gateway-1", "gateway-2"} and "hash $wingman_sticky_key" in nginx
    assert all(p in services()[h]["expose"] for h, p in upstreams)
    prom = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    for job in prom["scrape_configs"]:
        for target in [t for c in job.get("static_configs", []) for t in c["targets"]]:
            host, port = target.split(":")
            assert port in services()[host]["expose"]
        for sd in job.get("dns_sd_configs", []):
            assert all(str(sd["port"]) in services()[n]["expose"] for n in sd["names"])


def test_alerts_and_dashboard_use_real_metrics() -> None:
    known = metric_names()
    for path in (DEPLOY / "compose" / "alerts.yml", DEPLOY / "grafana-dashboard.json"):
        used = wingman_metrics_in(path.read_text())
        assert used and used <= known, f"{path.name}: unknown {sorted(used - known)}"
    rules = yaml.safe_load((DEPLOY / "compose" / "alerts.yml").read_text())["groups"][0]["rules"]
    assert all({"alert", "expr"} <= set(rule) for rule in rules)
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    assert all(p["targets"] and all(t["expr"] for t in p["targets"]) for p in dashboard["panels"])


# -- Kubernetes -------------------------------------------------------------------------------

def all_docs() -> list[dict[str, Any]]:
    return [doc for docs in K8S.values() for doc in docs]


def named(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in all_docs() if d["kind"] == kind}


def test_kubernetes_manifests_match_the_kubernetes_schemas() -> None:
    assert {"gateway.yaml", "agents.yaml", "settings.yaml", "secret.example.yaml"} <= set(K8S)
    for name, docs in K8S.items():
        for doc in docs:
            try:
                kubernetes_validate.validate(doc, desired_version="1.37.0", strict=True)
            except kubernetes_validate.ValidationError as e:
                raise AssertionError(f"{name} {doc['kind']}: {e.message}") from None


def pods() -> dict[str, dict[str, Any]]:
    out = {n: d["spec"]["template"] for n, d in named("Deployment").items()}
    out.update({n: d["spec"]["template"] for n, d in named("Job").items()})
    return out


def test_kubernetes_workloads_name_only_what_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    maps, secrets = named("ConfigMap"), named("Secret")
    uid = int(FINAL.all("USER")[-1].split(":")[0])
    for name, pod in pods().items():
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        assert pod["spec"]["securityContext"]["runAsUser"] == uid
        for c in pod["spec"]["containers"]:
            check_command(c["args"], f"k8s {name}")
            env: dict[str, str] = {}
            for source in c.get("envFrom", []):
                if "configMapRef" in source:
                    env.update(maps[source["configMapRef"]["name"]]["data"])
                else:
                    env.update(secrets[source["secretRef"]["name"]]["stringData"])
            env.update({e["name"]: e.get("value", "from-field") for e in c.get("env", [])})
            env = {k: ("y" * 48 if k == "WINGMAN_SECRET_KEY" else v) for k, v in env.items()}
            settings = settings_from(env, monkeypatch, f"k8s {name}")
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            if c["args"][0] == "serve":
                assert ports == {"http": settings.port}
            if c["args"][0] == "agents":
                assert ports == {"metrics": settings.metrics_port} and settings.metrics_host == "0.0.0.0"
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                if probe in c:
                    assert c[probe]["httpGet"]["path"] == "/api/health"
                    assert c[probe]["httpGet"]["port"] in ports
            if c["args"][0] in ("serve", "agents"):
                assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(c)


def test_kubernetes_services_autoscalers_budgets_and_ingress_fit_the_workloads() -> None:
    deployments = named("Deployment")
    labels = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in deployments.items()}

    def selects(selector: dict[str, str]) -> list[str]:
        return [n for n, ls in labels.items() if selector.items() <= ls.items()]

    services = named("Service")
    for name, svc in services.items():
        (target,) = selects(svc["spec"]["selector"])
        container_ports = {p["name"] for c in deployments[target]["spec"]["template"]["spec"]["containers"]
                           for p in c["ports"]}
        assert all(p["targetPort"] in container_ports for p in svc["spec"]["ports"]), name
    assert services["wingman-gateway"]["spec"]["sessionAffinity"] == "ClientIP"
    known = metric_names()
    hpas = named("HorizontalPodAutoscaler")
    assert set(hpas) == set(deployments)
    for name, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
        for m in hpa["spec"]["metrics"]:
            if m["type"] == "Pods":
                assert m["pods"]["metric"]["name"] in known, name
    assert any(m.get("pods", {}).get("metric", {}).get("name") == "wingman_live_calls"
               for m in hpas["wingman-gateway"]["spec"]["metrics"])
    budgets = named("PodDisruptionBudget")
    budgeted = sorted(selects(b["spec"]["selector"]["matchLabels"])[0] for b in budgets.values())
    assert budgeted == sorted(deployments)
    for ingress in named("Ingress").values():
        assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/affinity"] == "cookie"
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["name"] in services
    adapter = yaml.safe_load(named("ConfigMap")["wingman-adapter-rules"]["data"]["config.yaml"])
    assert {r["name"]["as"] for r in adapter["rules"]} <= known


# -- systemd (real hosts) -----------------------------------------------------------------------

def test_systemd_units_run_real_commands_with_real_settings() -> None:
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        text = unit.read_text()
        for name in re.findall(r"^Environment=(WINGMAN_\w+)=", text, re.M):
            assert name in SETTINGS, f"{unit.name}: no such setting {name}"
        for line in re.findall(r"^ExecStart=(.*)$", text, re.M):
            argv = line.strip("'").split("/bin/wingman ", 1)[1].rstrip("'").split()
            check_command(argv, unit.name)
    agents = (DEPLOY / "systemd" / "wingman-agents@.service").read_text()
    assert "--metrics-port $$((9460 + %i))" in agents  # one endpoint per instance, $$: systemd's $
