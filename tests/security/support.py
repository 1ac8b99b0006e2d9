"""Helpers for the security suite: the real app under uvicorn on loopback (optionally with a
scripted speech engine), Socket.IO clients that record what they receive, users, and a
`wingman serve` subprocess that can be killed with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import socketio

from tests.fakes.scripted_audio import Script, Segment, encode
from tests.fakes.scripted_stt import ScriptedStt
from tests.server import serving
from tests.services import free_port
from wingman.app import create_app
from wingman.container import Container
from wingman.settings import Settings
from wingman.stt.base import SpeechToText

PASSWORD = "correct horse battery"
CHUNK_SECONDS = 0.1
SR = 16000


def quiet_settings(tmp: Path, **overrides: Any) -> Settings:
    """Settings for an in-process server: its own data dir, no sample knowledge, no agents
    unless asked (they load an embedding model)."""
    base: dict[str, Any] = {
        "data_dir": tmp,
        "auth": "required",
        "sample_knowledge": False,
        "agents_in_process": False,
        # every registered user gets a workspace of their own: separate tenants
        "open_signup": True,
        # scripted audio holds no voices: the diarizer would call every line the rep's (the
        # first voice heard); the speakers suites turn it on with real speech
        "diarize": False,
    }
    base.update(overrides)
    return Settings(**base)


# -- a scripted speech engine ------------------------------------------------------------------


def script_of(lines: list[str], *, seconds_each: float = 1.0, gap: float = 0.5) -> Script:
    """Mono script: line i is spoken from i*(seconds_each+gap) for seconds_each seconds."""
    spoken = []
    t = gap
    for text in lines:
        spoken.append(Segment(0, round(t, 2), round(t + seconds_each, 2), text))
        t += seconds_each + gap
    return Script(spoken, duration=round(t, 2))


def audio_chunks(start: float, end: float, *, seconds: float = CHUNK_SECONDS) -> Iterator[bytes]:
    """Self-describing mono f32le audio (tests/fakes/scripted_audio.py) from start to end s."""
    step = round(seconds * SR)
    first, last = round(start * SR), round(end * SR)
    for f in range(first, last, step):
        yield np.ascontiguousarray(encode(f, min(f + step, last)), dtype="<f4").tobytes()


class ScriptedContainer(Container):
    """The product's container with the scripted speech engine instead of Whisper."""

    script: Script = script_of(["hello there"])

    def _make_stt(self) -> SpeechToText:
        self.health.set_provider("stt", "local")
        return ScriptedStt(self.script)


def scripted(script: Script) -> Callable[[Settings], Container]:
    class _C(ScriptedContainer):
        pass

    _C.script = script
    return _C


# -- the app in-process --------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    app: Any  # the WingmanApp (socketio.ASGIApp)

    @property
    def container(self) -> Container:
        """The running container (read plain attributes only: it lives on the server's loop)."""
        container: Container = self.app.other_asgi_app.state.container
        return container


@contextmanager
def serve(
    settings: Settings, *, container_factory: Callable[[Settings], Container] = Container
) -> Iterator[Server]:
    """The real app under uvicorn on a free loopback port, in a thread; stopped on exit."""
    port = free_port()
    settings = settings.model_copy(update={"port": port})
    app = create_app(settings, container_factory=container_factory)
    with serving(app, port):
        yield Server(url=f"http://127.0.0.1:{port}", app=app)


# -- users ---------------------------------------------------------------------------------------


@dataclass
class User:
    id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def register(url: str, name: str) -> User:
    email = f"{name}@example.com"
    r = httpx.post(f"{url}/api/auth/register", json={"email": email, "name": name, "password": PASSWORD})
    assert r.status_code == 201, r.text
    body = r.json()
    return User(id=body["user"]["id"], email=email, token=body["token"])


# -- Socket.IO clients ---------------------------------------------------------------------------

RECORDED = ("transcript", "insight", "metrics", "error", "call-ended", "provider-status", "sentiment")


@dataclass
class Client:
    """A Socket.IO client that records every server event it gets."""

    sio: socketio.AsyncClient
    events: list[tuple[str, Any]] = field(default_factory=list)

    def of(self, name: str) -> list[Any]:
        return [data for event, data in self.events if event == name]

    def errors(self, code: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.of("error") if code is None or e.get("code") == code]

    @property
    def finals(self) -> list[dict[str, Any]]:
        return [t for t in self.of("transcript") if t.get("is_final")]

    async def call(self, event: str, data: Any = None, timeout: float = 15.0) -> Any:
        return await self.sio.call(event, data, timeout=timeout)

    async def emit(self, event: str, data: Any = None) -> None:
        await self.sio.emit(event, data)

    async def disconnect(self) -> None:
        await self.sio.disconnect()


async def connect(url: str, token: str | None = None, *, headers: dict[str, str] | None = None) -> Client:
    sio = socketio.AsyncClient(reconnection=False)
    client = Client(sio)

    def record(name: str) -> Callable[[Any], Awaitable[None]]:
        async def handler(data: Any = None) -> None:
            client.events.append((name, data))

        return handler

    for name in RECORDED:
        sio.on(name, record(name))
    await sio.connect(url, auth={"token": token} if token else {}, transports=["websocket"],
                      headers=headers or {}, wait_timeout=10)
    return client


async def eventually(check: Callable[[], bool], *, timeout: float = 20.0, what: str = "condition") -> None:
    """Poll `check` (cheap, in-memory) until true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def call_detail(url: str, call_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """GET /api/calls/{call_id} on a running server (asserting 200): the call as stored."""
    r = httpx.get(f"{url}/api/calls/{call_id}", headers=headers or {}, timeout=30)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def stream(client: Client, start: float, end: float, *, pace: float = 0.0) -> None:
    """Send self-describing audio from `start` to `end` seconds (pace: seconds between chunks)."""
    for chunk in audio_chunks(start, end):
        await client.emit("audio-chunk", chunk)
        await asyncio.sleep(pace)


# -- `wingman serve` as a process -----------------------------------------------------------------


@dataclass
class ServeProcess:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


@contextmanager
def wingman_process(args: list[str], *, data_dir: Path, env: dict[str, str], health_url: str, log: Path,
                    ready_timeout: float = 180.0) -> Iterator[subprocess.Popen[bytes]]:
    """`wingman ARGS...` (only the given WINGMAN_* settings), output to `log`, once `health_url`
    answers 200; stopped with SIGTERM (then killed) and reaped on exit."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WINGMAN_")}
    full_env.update(env)
    data_dir.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "wingman"), *args], env=full_env,
                                stdout=out, stderr=subprocess.STDOUT, cwd=data_dir)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:  # the port opens before the lifespan (migrations, model) is done
            try:
                if httpx.get(health_url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"wingman {args[0]} did not become healthy:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@contextmanager
def wingman_serve(data_dir: Path, *, env: dict[str, str] | None = None, port: int | None = None,
                  ready_timeout: float = 180.0) -> Iterator[ServeProcess]:
    """`wingman serve` with its own data dir on a free port; killed (and reaped) on exit."""
    port = port or free_port()
    settings = {"WINGMAN_DATA_DIR": str(data_dir), "WINGMAN_HOST": "127.0.0.1",
                "WINGMAN_PORT": str(port), "WINGMAN_SAMPLE_KNOWLEDGE": "false", **(env or {})}
    log = data_dir / f"serve-{port}-{time.monotonic_ns()}.log"
    url = f"http://127.0.0.1:{port}"
    with wingman_process(["serve"], data_dir=data_dir, env=settings, health_url=f"{url}/api/health",
                         log=log, ready_timeout=ready_timeout) as proc:
        yield ServeProcess(proc=proc, url=url, log=log)
