"""A real python-socketio server with the network taken out: the Engine.IO layer under it is
replaced by an in-memory one, so the gateway's handlers run exactly as in production (the
server's own packet decoding, connect with auth, handler dispatch, acks, rooms, sessions,
binary attachments) while a test client hands it packets and reads what it sends back.

    sio = LoopbackServer()
    gateway = Gateway(container=container, sio=sio)
    client = await sio.client(auth={"token": token})
    ack = await client.call("start-call", {"title": "t"})
    await client.emit("audio-chunk", frame_bytes)
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import engineio
import socketio
from socketio import packet

WAIT_SECONDS = 15.0  # a bound on waits for the server's answer, never a figure tests assert


class LoopbackEngine(engineio.AsyncServer):  # type: ignore[misc]
    """Engine.IO without sockets: `send` hands each packet to the client that owns the sid."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)  # async_mode and the rest as the Socket.IO server passes them
        self.clients: dict[str, LoopbackClient] = {}
        self._sessions: dict[str, dict[str, Any]] = {}

    async def send(self, sid: str, data: Any) -> None:
        client = self.clients.get(sid)
        if client is not None:
            client.receive(data)

    async def send_packet(self, sid: str, pkt: Any) -> None:
        """A packet encoded once for a room's every member: its Socket.IO payload."""
        await self.send(sid, pkt.data)

    async def get_session(self, sid: str) -> dict[str, Any]:
        if sid not in self._sessions:
            raise KeyError("Session not found")
        return self._sessions[sid]

    async def save_session(self, sid: str, session: dict[str, Any]) -> None:
        self._sessions[sid] = session

    async def disconnect(self, sid: str | None = None) -> None:
        """The server closed the connection (a sign-out): the client sees it end."""
        for eio_sid in [sid] if sid is not None else list(self.clients):
            client = self.clients.pop(eio_sid, None)
            self._sessions.pop(eio_sid, None)
            if client is not None:
                client.closed = True
                await self._trigger_event("disconnect", eio_sid, "server disconnect", run_async=False)


class LoopbackServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's AsyncServer over `LoopbackEngine`."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(async_mode="asgi", **kw)

    def _engineio_server_class(self) -> type[LoopbackEngine]:
        return LoopbackEngine

    async def client(self, *, auth: dict[str, Any] | None = None,
                     environ: dict[str, Any] | None = None) -> LoopbackClient:
        """A connected client (ConnectionRefusedError with the server's reason otherwise)."""
        client = LoopbackClient(self)
        await client.connect(auth or {}, environ or {"REMOTE_ADDR": "127.0.0.1"})
        return client


_eio_ids = itertools.count(1)


class LoopbackClient:
    """One Socket.IO client of a LoopbackServer: what it receives is kept in `events`."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.eio_sid = f"eio-{next(_eio_ids)}"
        self.events: list[tuple[str, Any]] = []
        self.closed = False
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._connected: asyncio.Future[Any] | None = None
        self._binary: packet.Packet | None = None
        self._changed = asyncio.Event()

    @property
    def engine(self) -> LoopbackEngine:
        engine: LoopbackEngine = self.server.eio
        return engine

    # -- what the server hands us
    def receive(self, data: Any) -> None:
        if self._binary is not None:  # an attachment of the packet before
            if not self._binary.add_attachment(data):
                return
            pkt, self._binary = self._binary, None
        else:
            pkt = packet.Packet(encoded_packet=data)
            if pkt.attachment_count:
                self._binary = pkt
                return
        if pkt.packet_type == packet.CONNECT and self._connected is not None:
            self._connected.set_result(pkt.data)
        elif pkt.packet_type == packet.CONNECT_ERROR and self._connected is not None:
            self._connected.set_exception(ConnectionRefusedError(pkt.data))
        elif pkt.packet_type in (packet.ACK, packet.BINARY_ACK):
            future = self._acks.pop(pkt.id, None)
            if future is not None and not future.done():
                future.set_result(pkt.data[0] if len(pkt.data) == 1 else tuple(pkt.data) or None)
        elif pkt.packet_type in (packet.EVENT, packet.BINARY_EVENT):
            event, *args = pkt.data
            self.events.append((event, args[0] if len(args) == 1 else tuple(args) or None))
            self._changed.set()
        elif pkt.packet_type == packet.DISCONNECT:
            self.closed = True

    # -- what we send
    async def _send(self, pkt: packet.Packet) -> None:
        encoded = pkt.encode()
        for piece in encoded if isinstance(encoded, list) else [encoded]:
            await self.engine._trigger_event("message", self.eio_sid, piece, run_async=False)

    async def connect(self, auth: dict[str, Any], environ: dict[str, Any]) -> None:
        self.engine.clients[self.eio_sid] = self
        self.engine._sessions[self.eio_sid] = {}
        await self.engine._trigger_event("connect", self.eio_sid, environ, run_async=False)
        self._connected = asyncio.get_running_loop().create_future()
        await self._send(packet.Packet(packet.CONNECT, data=auth))
        await asyncio.wait_for(self._connected, WAIT_SECONDS)

    async def emit(self, event: str, data: Any = None) -> None:
        """Send an event without asking for an ack (like `audio-chunk`)."""
        await self._send(packet.Packet(packet.EVENT, data=[event, data]))

    async def call(self, event: str, data: Any = None) -> Any:
        """Send an event and wait for the server's ack."""
        ack_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        await self._send(packet.Packet(packet.EVENT, data=[event, data], id=ack_id))
        return await asyncio.wait_for(future, WAIT_SECONDS)

    async def disconnect(self) -> None:
        """The client goes away (a closed tab)."""
        self.engine.clients.pop(self.eio_sid, None)
        await self.engine._trigger_event("disconnect", self.eio_sid, "client disconnect", run_async=False)
        self.engine._sessions.pop(self.eio_sid, None)
        self.closed = True

    # -- reading
    def of(self, name: str) -> list[Any]:
        return [data for event, data in self.events if event == name]

    @property
    def finals(self) -> list[dict[str, Any]]:
        return [t for t in self.of("transcript") if t.get("is_final") and t.get("text")]

    async def wait(self, check: Callable[[], object], *, what: str = "events") -> None:
        """Until `check()` is true, woken by each event received (bounded by WAIT_SECONDS)."""

        async def until() -> None:
            while not check():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(until(), WAIT_SECONDS)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None
