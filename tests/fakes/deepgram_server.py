"""A Deepgram `/v1/listen` stand-in on 127.0.0.1 that speaks the live streaming protocol.

It checks the `Authorization: Token <key>` handshake header (401 otherwise), reads linear16
audio, and answers from a `Script` with the documented message shapes: `Results` (interim, then
`is_final`/`speech_final`, `channel_index`, `start`/`duration` counted from the start of the
connection's own audio, words with `speaker` when diarizing), `SpeechStarted`, `UtteranceEnd`,
and `Metadata` before closing with 1000 after `CloseStream`. Like Deepgram it closes a socket
that gets neither audio nor `KeepAlive` for `idle_timeout` seconds (1011, NET-0001).
It records what the client sent: handshake headers, query parameters, audio, control messages,
and every transcript it answered with. Like Deepgram it honours `redact` (one value per
parameter): the entities of each group or type asked for are replaced in the transcript and the
words by their type and a per-connection counter ("[CREDIT_CARD_1]"): `pci` (card numbers),
`numbers`/`true` (runs of 3+ digits), `ssn`, `phone_number`, `email_address`.
Failures on demand: drop the TCP connection mid-call, refuse handshakes after the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.fakes.scripted_audio import BLOCK, SR, Script, Segment, first_frame
from tests.services import free_port

SERVER_LOG = logging.getLogger("tests.fakes.deepgram_server")
SERVER_LOG.setLevel(logging.INFO)

# redact value -> (entity label, what it matches), in the order they are applied
REDACTIONS: dict[str, tuple[str, re.Pattern[str]]] = {
    "email_address": ("EMAIL_ADDRESS", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    "pci": ("CREDIT_CARD", re.compile(r"\b\d(?:[ -]?\d){12,18}\b")),
    "ssn": ("SSN", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    "phone_number": (
        "PHONE_NUMBER",
        re.compile(r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\) ?|\b\d{3}[ .-]?)\d{3}[ .-]?\d{4}\b"),
    ),
    "numbers": ("NUMERICAL_PII", re.compile(r"\d{3,}")),
}
REDACTIONS["true"] = REDACTIONS["numbers"]


@dataclass
class Connection:
    """What one client connection sent and what happened to it."""

    index: int
    path: str
    query: list[tuple[str, str]]
    headers: Headers
    first_frame: int | None = None
    frames: int = 0
    audio_messages: int = 0
    controls: list[dict[str, Any]] = field(default_factory=list)
    keepalives: int = 0
    dropped: bool = False
    idle_closed: bool = False
    close_stream: bool = False
    finals: set[Segment] = field(default_factory=set)
    interims: set[Segment] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    transcripts: list[str] = field(default_factory=list)  # every transcript sent, interims too
    entities: dict[tuple[str, str], int] = field(default_factory=dict)  # (label, value) -> n

    def redact(self, text: str) -> str:
        """`text` with the entities this connection asked to redact replaced, Deepgram-style
        (the same value keeps its number, interims and final alike)."""
        asked = set(self.params("redact"))
        for value, (label, pattern) in REDACTIONS.items():
            if value not in asked:
                continue

            def placeholder(m: re.Match[str], label: str = label) -> str:
                key = (label, m.group(0))
                if key not in self.entities:
                    self.entities[key] = 1 + sum(1 for known, _v in self.entities if known == label)
                return f"[{label}_{self.entities[key]}]"

            text = pattern.sub(placeholder, text)
        return text

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)

    def params(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]

    @property
    def received_end(self) -> int:
        return (self.first_frame or 0) + self.frames


class FakeDeepgram:
    def __init__(
        self,
        script: Script,
        *,
        api_key: str = "dg-test-key-0123456789",
        drop_at: float | None = None,
        idle_timeout: float = 10.0,
        accept_connections: int | None = None,
        reject_status: int = 503,
        close_after_finalize: bool = True,
        samples_carry_time: bool = True,
    ) -> None:
        self.script = script
        self.api_key = api_key
        self.drop_at = drop_at
        self.idle_timeout = idle_timeout
        self.accept_connections = accept_connections
        self.reject_status = reject_status
        self.close_after_finalize = close_after_finalize
        # test audio carries block numbers in its samples (scripted_audio); real speech does
        # not: then a connection's time is simply how much audio it has received
        self.samples_carry_time = samples_carry_time
        self.handshakes = 0
        self.rejected: list[int] = []
        self.connections: list[Connection] = []
        self._server: Server | None = None
        self._changed = asyncio.Condition()
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/listen"

    async def __aenter__(self) -> Self:
        self._server = await serve(
            self._handler,
            "127.0.0.1",
            self.port,
            process_request=self._process_request,
            logger=SERVER_LOG,  # quiet: at DEBUG websockets logs the handshake, key included
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Until `predicate()` holds; it is checked whenever the stand-in's state changes."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    async def wait_keepalives(self, n: int, timeout: float = 5.0) -> None:
        """Until the current connection has received `n` KeepAlive messages."""
        await self.wait_until(
            lambda: bool(self.connections) and self.connections[-1].keepalives >= n, timeout
        )

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- handshake
    def _process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        self.handshakes += 1
        if request.headers.get("Authorization") != f"Token {self.api_key}":
            self.rejected.append(401)
            return ws.respond(HTTPStatus.UNAUTHORIZED, '{"err_code":"INVALID_AUTH"}\n')
        if self.accept_connections is not None and len(self.connections) >= self.accept_connections:
            self.rejected.append(self.reject_status)
            return ws.respond(self.reject_status, "unavailable\n")
        return None

    # -- one connection
    async def _handler(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request else ""
        conn = Connection(
            index=len(self.connections),
            path=urlsplit(path).path,
            query=parse_qsl(urlsplit(path).query),
            headers=ws.request.headers if ws.request else Headers(),
        )
        self.connections.append(conn)
        channels = int(conn.param("channels") or 1)
        while True:
            try:
                message = await asyncio.wait_for(ws.recv(), self.idle_timeout)
            except TimeoutError:
                conn.idle_closed = True
                await ws.close(1011, "NET-0001")
                await self._notify()
                return
            except ConnectionClosed:
                return
            if isinstance(message, bytes):
                if not await self._audio(ws, conn, message, channels):
                    return
                continue
            control = json.loads(message)
            conn.controls.append(control)
            if control.get("type") == "KeepAlive":
                conn.keepalives += 1
                await self._notify()
            elif control.get("type") == "CloseStream":
                conn.close_stream = True
                await self._finalize(ws, conn, channels)
                if self.close_after_finalize:
                    await ws.close(1000)
                    return

    async def _audio(self, ws: ServerConnection, conn: Connection, data: bytes, channels: int) -> bool:
        samples = np.frombuffer(data, dtype="<i2").reshape(-1, channels)
        if not samples.shape[0]:
            return True
        if not self.samples_carry_time:
            conn.first_frame = conn.first_frame or 0
        elif conn.first_frame is None:
            conn.first_frame = first_frame(samples[:, 0])
        else:
            expected = conn.received_end // BLOCK
            if int(samples[0, 0]) != expected:
                conn.errors.append(f"audio at frame {conn.received_end} is block {samples[0, 0]}")
        conn.frames += samples.shape[0]
        conn.audio_messages += 1
        if self.drop_at is not None and conn.index == 0 and conn.received_end >= self.drop_at * SR:
            conn.dropped = True
            # TCP closed without a WebSocket close frame (what a crashed server or a cut
            # connection looks like): the client reads what was sent, then an abnormal closure
            ws.transport.close()
            return False
        for seg in self.script.segments:
            if seg in conn.finals or seg.start_frame < (conn.first_frame or 0):
                continue
            if conn.received_end >= seg.end_frame:
                await self._final(ws, conn, seg, channels, seg.end_frame)
            elif seg.text and conn.received_end >= seg.mid_frame and seg not in conn.interims:
                conn.interims.add(seg)
                await ws.send(json.dumps(self._speech_started(conn, seg, channels)))
                await ws.send(json.dumps(self._results(conn, seg, channels, interim=True)))
        return True

    async def _final(
        self, ws: ServerConnection, conn: Connection, seg: Segment, channels: int, end_frame: int
    ) -> None:
        conn.finals.add(seg)
        await ws.send(json.dumps(self._results(conn, seg, channels, end_frame=end_frame)))
        if seg.text:
            await ws.send(
                json.dumps(
                    {
                        "type": "UtteranceEnd",
                        "channel": [seg.channel, channels],
                        "last_word_end": self._rel(conn, end_frame),
                    }
                )
            )

    async def _finalize(self, ws: ServerConnection, conn: Connection, channels: int) -> None:
        """CloseStream: whatever audio arrived becomes final, then Metadata."""
        first = conn.first_frame or 0
        with contextlib.suppress(ConnectionClosed):
            for seg in self.script.segments:
                if seg in conn.finals or seg.start_frame < first:
                    continue
                if seg.start_frame < conn.received_end:
                    await self._final(ws, conn, seg, channels, min(seg.end_frame, conn.received_end))
            await ws.send(
                json.dumps(
                    {
                        "type": "Metadata",
                        "transaction_key": "deprecated",
                        "request_id": str(uuid.uuid4()),
                        "sha256": "0" * 64,
                        "created": "2025-01-01T00:00:00.000Z",
                        "duration": conn.frames / SR,
                        "channels": channels,
                        "models": [str(uuid.uuid4())],
                        "model_info": {},
                    }
                )
            )

    # -- message shapes
    @staticmethod
    def _rel(conn: Connection, frame: int) -> float:
        return (frame - (conn.first_frame or 0)) / SR

    def _speech_started(self, conn: Connection, seg: Segment, channels: int) -> dict[str, Any]:
        return {
            "type": "SpeechStarted",
            "channel": [seg.channel, channels],
            "timestamp": self._rel(conn, seg.start_frame),
        }

    def _results(
        self,
        conn: Connection,
        seg: Segment,
        channels: int,
        *,
        interim: bool = False,
        end_frame: int | None = None,
    ) -> dict[str, Any]:
        end = seg.mid_frame if interim else (end_frame or seg.end_frame)
        start_s, end_s = self._rel(conn, seg.start_frame), self._rel(conn, end)
        words_text = conn.redact(seg.text).split()
        if interim:
            words_text = words_text[: max(1, len(words_text) // 2)]
        diarize = conn.param("diarize") == "true"
        words: list[dict[str, Any]] = []
        step = (end_s - start_s) / max(1, len(words_text))
        for i, w in enumerate(words_text):
            word: dict[str, Any] = {
                "word": w.strip(".,?!").lower(),
                "start": round(start_s + i * step, 3),
                "end": round(start_s + (i + 1) * step, 3),
                "confidence": 0.97,
                "punctuated_word": w,
            }
            if diarize and seg.speaker is not None:
                word["speaker"] = seg.speaker
                word["speaker_confidence"] = 0.9
            words.append(word)
        if words:
            words[0]["start"], words[-1]["end"] = start_s, end_s
        conn.transcripts.append(" ".join(words_text))
        return {
            "type": "Results",
            "channel_index": [seg.channel, channels],
            "duration": end_s - start_s,
            "start": start_s,
            "is_final": not interim,
            "speech_final": bool(not interim and seg.text),
            "from_finalize": conn.close_stream,
            "channel": {
                "alternatives": [{"transcript": " ".join(words_text), "confidence": 0.97, "words": words}]
            },
            "metadata": {
                "request_id": "fake",
                "model_info": {"name": "2-general-nova", "version": "fake", "arch": "nova-3"},
                "model_uuid": "fake",
            },
        }
