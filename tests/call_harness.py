"""A live call in-process: frames in, events out, no server.

The product's own parts: the container (SQLite in a temp dir, the in-process bus, the
journaled writer), the call lifecycle (realtime/lifecycle.py) and each call's CallPipeline,
with the scripted speech engine (tests/fakes/scripted_stt.py) hearing the self-describing
test audio. Every event a call sends goes to a recording output port instead of a Socket.IO
room, so a change to one hop (audio > STT > transcript > store > bus > insight) is tested in
milliseconds, without uvicorn or a client. `gateway_harness` adds the Socket.IO handler table
on top: the real Gateway on a python-socketio server with an in-memory transport
(tests/fakes/loopback_sio.py), socket events in, acks and room events out.

    async with call_harness(tmp_path, script_of(["hello there"])) as h:
        rep = await h.user("ana")
        call_id = await h.start(rep)
        h.push(call_id, 0.0, 2.0)
        await h.output.wait(lambda: h.output.finals(call_id))
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.agents import ScriptedAgent
from tests.fakes.loopback_sio import LoopbackClient, LoopbackServer
from tests.fakes.scripted_audio import Script
from tests.security.support import audio_chunks, quiet_settings, scripted
from wingman.agents.base import Agent
from wingman.agents.runner import AgentWorker
from wingman.container import Container
from wingman.events import AudioFormat
from wingman.pipeline.output import CallOutput
from wingman.realtime.gateway import Gateway
from wingman.realtime.lifecycle import CallLifecycle
from wingman.realtime.outgoing import CallEndedMessage, Outbox
from wingman.realtime.quotas import Quotas
from wingman.realtime.sink import InsightSink
from wingman.store.records import UserRecord, Viewer

MONO = AudioFormat(sample_rate=16000, encoding="f32le", channels=1)
WAIT_SECONDS = 10.0  # a bound for waits on events, never a figure the tests assert


@dataclass
class RecordingOutput:
    """The recording output port: every event each call sends, in order."""

    events: list[tuple[str, str, Any]] = field(default_factory=list)  # (call id, event, payload)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def __call__(self, call_id: str) -> CallOutput:
        """The output port of one call: the product's Socket.IO side (realtime/outgoing.py),
        its emits recorded instead of sent to the call's room."""
        return Outbox(RoomRecorder(self)).call(call_id)  # type: ignore[arg-type]

    async def record(self, call_id: str, event: str, payload: Any) -> None:
        async with self._changed:
            self.events.append((call_id, event, payload))
            self._changed.notify_all()

    def of(self, call_id: str, event: str) -> list[Any]:
        return [p for c, e, p in self.events if c == call_id and e == event]

    def finals(self, call_id: str) -> list[dict[str, Any]]:
        return [t for t in self.of(call_id, "transcript") if t["is_final"] and t["text"]]

    async def wait(self, check: Callable[[], object], *, what: str = "events") -> None:
        """Until `check()` is true, woken by each event (bounded by WAIT_SECONDS)."""

        async def until() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: bool(check()))

        try:
            await asyncio.wait_for(until(), WAIT_SECONDS)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None


class RoomRecorder:
    """Where the insight sink emits (a Socket.IO server's `emit(event, data, room=...)`):
    into the recording output, by the room's call id."""

    def __init__(self, output: RecordingOutput) -> None:
        self.output = output

    async def emit(self, event: str, data: Any, *, room: str = "", to: str = "") -> None:
        await self.output.record(room.removeprefix("call:") or to, event, data)


@dataclass
class CallHarness:
    container: Container
    lifecycle: CallLifecycle
    output: RecordingOutput
    _sids: int = 0

    async def user(self, name: str) -> Viewer:
        """A user with a workspace of their own (a tenant)."""
        return (await new_user(self.container, name))[1]

    def sid(self) -> str:
        """A new client connection id."""
        self._sids += 1
        return f"sid-{self._sids}"

    async def start(self, owner: Viewer, *, sid: str | None = None, title: str = "harness call") -> str:
        return await self.lifecycle.start(sid or self.sid(), owner, title, MONO)

    def push(self, call_id: str, start: float, end: float) -> None:
        """The call's audio from `start` to `end` seconds, in 100 ms frames."""
        live = self.lifecycle.get(call_id)
        assert live is not None, "the call is not live"
        for frame in audio_chunks(start, end):
            live.pipeline.push_chunk(frame)

    async def end(self, owner: Viewer, call_id: str) -> dict[str, Any]:
        """End the call; the `call-ended` payload its clients would get."""
        detail = await self.lifecycle.end(owner.workspace_id, owner.user_id, call_id)
        return CallEndedMessage.of(detail).wire()

    async def run_agents(self, agents: Sequence[Agent] = (ScriptedAgent(),)) -> None:
        """The real agent worker (with `agents`) and insight sink, in the background until
        the harness closes: blocks reach the agents, their insights this output."""
        c = self.container
        worker = AgentWorker(bus=c.bus, store=c.store, llm=c.llm, knowledge=c.knowledge,
                             web_search=None, settings=c.settings, agents=list(agents), writer=c.writer)
        sink = InsightSink(bus=c.bus, store=c.store, writer=c.writer,
                           outbox=Outbox(RoomRecorder(self.output)))  # type: ignore[arg-type]
        c.spawn(worker.run(), "harness-agents")
        c.spawn(sink.run(), "harness-sink")


@asynccontextmanager
async def _started(tmp_path: Path, script: Script, settings: dict[str, Any]) -> AsyncIterator[Container]:
    """The product's container over `script` (quiet settings: SQLite, memory bus), started."""
    container = scripted(script)(quiet_settings(tmp_path, **settings))
    await container.start()
    try:
        yield container
    finally:
        await container.aclose(write_seconds=5.0)


async def new_user(container: Container, name: str) -> tuple[UserRecord, Viewer]:
    """A user with a workspace of their own (a tenant), and how they view their calls."""
    user = await container.store.create_user(email=f"{name}@example.com", name=name, password_hash=None)
    assert user.workspace_id is not None
    return user, Viewer.owner(user.workspace_id, user.id)


@asynccontextmanager
async def call_harness(tmp_path: Path, script: Script, **settings: Any) -> AsyncIterator[CallHarness]:
    """A started container and call lifecycle over `script`; closed (calls flushed) on exit."""
    async with _started(tmp_path, script, settings) as container:
        output = RecordingOutput()
        quotas = Quotas(settings=container.settings, store=container.store)
        lifecycle = CallLifecycle(container=container, quotas=quotas, output=output)
        try:
            yield CallHarness(container=container, lifecycle=lifecycle, output=output)
        finally:
            with contextlib.suppress(Exception):
                await lifecycle.aclose(budget=5.0)


# -- the gateway too: the Socket.IO handler table over a loopback server ---------------------


@dataclass
class GatewayHarness:
    """The real Gateway (handlers, limiter, sessions, quotas, lifecycle, outbox) on a
    python-socketio server whose transport is in memory (tests/fakes/loopback_sio.py)."""

    container: Container
    gateway: Gateway
    sio: LoopbackServer

    async def user(self, name: str) -> tuple[Viewer, str]:
        """A user with a workspace of their own, and a token to connect with."""
        user, viewer = await new_user(self.container, name)
        token, _expires = self.container.auth.issue_token(user)
        return viewer, token

    async def client(self, token: str | None) -> LoopbackClient:
        return await self.sio.client(auth={"token": token} if token else {})

    @staticmethod
    async def stream(client: LoopbackClient, start: float, end: float) -> None:
        """Binary `audio-chunk` frames from `start` to `end` seconds of the test audio."""
        for frame in audio_chunks(start, end):
            await client.emit("audio-chunk", frame)


@asynccontextmanager
async def gateway_harness(tmp_path: Path, script: Script, **settings: Any) -> AsyncIterator[GatewayHarness]:
    """A started container and Gateway over `script`; closed (calls flushed) on exit."""
    async with _started(tmp_path, script, settings) as container:
        sio = LoopbackServer()
        gateway = Gateway(container=container, sio=sio)
        try:
            yield GatewayHarness(container=container, gateway=gateway, sio=sio)
        finally:
            with contextlib.suppress(Exception):
                await gateway.aclose()
