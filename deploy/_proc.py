"""Process bookkeeping for deploy/cluster: start detached daemons, remember exactly which
processes we started (pid + start time), check them, stop only those."""

from __future__ import annotations

import json
import os
import pwd
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

# PostgreSQL and PgBouncer refuse to run as root; when we are root they run as this user.
SERVICE_USER = os.environ.get("WINGMAN_CLUSTER_SERVICE_USER", "postgres")


def running_as_root() -> bool:
    return os.geteuid() == 0


def service_user() -> str | None:
    """The user the database processes run as (None: as ourselves)."""
    return SERVICE_USER if running_as_root() else None


def give_to_service_user(*paths: Path) -> None:
    """Make paths (created by us) writable by the service user."""
    user = service_user()
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def free_port(taken: set[int]) -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback
            return 200 <= int(resp.status) < 300
    except (OSError, ValueError):
        return False


@dataclass(frozen=True)
class Identity:
    """Who a child process runs as (all None: as ourselves)."""

    uid: int | None = None
    gid: int | None = None
    extra_groups: list[int] | None = None


def _identity(as_service_user: bool, env: Mapping[str, str] | None) -> tuple[
        Identity, dict[str, str] | None]:
    user = service_user() if as_service_user else None
    if user is None:
        return Identity(), dict(env) if env is not None else None
    entry = pwd.getpwnam(user)
    return (Identity(entry.pw_uid, entry.pw_gid, []),
            {**(env or os.environ), "HOME": entry.pw_dir, "USER": user, "LOGNAME": user})


@dataclass
class Proc:
    """One process we started: enough to find it again and to be sure it is still ours."""

    role: str
    pid: int
    started: float  # psutil create_time, so a recycled pid is never mistaken for ours
    log: str
    port: int | None = None
    cmd: list[str] = field(default_factory=list)
    stop_signal: int = int(signal.SIGTERM)

    def process(self) -> psutil.Process | None:
        try:
            p = psutil.Process(self.pid)
            if abs(p.create_time() - self.started) > 1.0 or p.status() == psutil.STATUS_ZOMBIE:
                return None
            return p
        except psutil.Error:
            return None

    @property
    def alive(self) -> bool:
        return self.process() is not None


def spawn(role: str, cmd: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None,
          cwd: Path | None = None, as_service_user: bool = False, port: int | None = None,
          stop_signal: int = signal.SIGTERM) -> Proc:
    """Start `cmd` in its own session (it outlives us), output appended to `log`."""
    ids, env = _identity(as_service_user, env)
    with open(log, "ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own command lines
            list(cmd), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=env, cwd=cwd, start_new_session=True,
            user=ids.uid, group=ids.gid, extra_groups=ids.extra_groups,
        )
    started = psutil.Process(proc.pid).create_time()
    # we never wait() on it: keep the Popen from warning when it is collected
    proc.returncode = 0
    return Proc(role=role, pid=proc.pid, started=started, log=str(log), port=port,
                cmd=list(cmd), stop_signal=int(stop_signal))


def run(cmd: Sequence[str], *, as_service_user: bool = False, check: bool = True,
        env: Mapping[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a setup command to completion (initdb, pg_basebackup, psql)."""
    ids, env = _identity(as_service_user, env)
    result = subprocess.run(  # noqa: S603 - our own command lines
        list(cmd), capture_output=True, text=True, env=env, timeout=timeout, cwd="/",
        user=ids.uid, group=ids.gid, extra_groups=ids.extra_groups,
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n"
                           f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result


def wait_until(what: str, ready: Callable[[], bool], *, proc: Proc | None = None,
               timeout: float = 60.0, interval: float = 0.2) -> None:
    """Poll `ready` until true; fail early if `proc` died, with the tail of its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if proc is not None and not proc.alive:
            raise RuntimeError(f"{what} exited during startup:\n{tail(Path(proc.log))}")
        time.sleep(interval)
    detail = f"\n{tail(Path(proc.log))}" if proc is not None else ""
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s{detail}")


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(proc: Proc, timeout: float = 20.0) -> str:
    """Stop one process we started (and its children); returns what happened."""
    p = proc.process()
    if p is None:
        return "not running"
    try:
        children = p.children(recursive=True)
        p.send_signal(proc.stop_signal)
        _, alive = psutil.wait_procs([p], timeout=timeout)
        if alive:
            for q in [p, *children]:
                try:
                    q.kill()
                except psutil.Error:
                    pass
            psutil.wait_procs([p], timeout=5)
            return "killed"
        leftovers = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
        for c in leftovers:
            c.terminate()
        psutil.wait_procs(leftovers, timeout=5)
    except psutil.NoSuchProcess:
        pass
    return "stopped"


class State:
    """<state dir>/cluster.json: ports, URLs and every process we started."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.file = root / "cluster.json"
        self.procs: dict[str, Proc] = {}
        self.info: dict[str, object] = {}
        if self.file.exists():
            data = json.loads(self.file.read_text())
            self.info = dict(data.get("info", {}))
            self.procs = {p["role"]: Proc(**p) for p in data.get("procs", [])}

    def add(self, proc: Proc) -> Proc:
        self.procs[proc.role] = proc
        self.save()
        return proc

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"info": self.info,
                                   "procs": [asdict(p) for p in self.procs.values()]}, indent=2))
        tmp.replace(self.file)
