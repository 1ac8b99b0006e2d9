"""The Socket.IO gateway: one per process, the handler table of the real-time protocol.

Each handler validates its message and calls one method of the call lifecycle
(realtime/lifecycle.py, the owner of this node's live calls) or of a container service (feedback:
wingman/feedback.py). Results reach clients through rooms (`call:<id>`), so with the Redis
manager any node can emit to any call.

Every event passes the per-connection limiter (realtime/limits.py) before anything else, and
every handler answers: an ack or an `error {code, message}`, never silence, whatever the payload
(unknown events included). Calls are looked up with the caller's user id, so another tenant's
call id behaves exactly like a missing one (`not_found`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import socketio

from wingman import metrics
from wingman.audio.pcm import bytes_per_frame
from wingman.container import Container
from wingman.errors import BadInput, Busy, NotFound, QuotaExceeded, Unauthorized, WingmanError
from wingman.events import AudioFormat
from wingman.health import ProviderEvent
from wingman.realtime.lag import LoopLagMonitor
from wingman.realtime.lifecycle import CallLifecycle, LiveCall
from wingman.realtime.limits import AUDIO, CONTROL, EVENTS, REPORTS, SAMPLES, ClientLimiter, RateLimited
from wingman.realtime.messages import (
    EndCall,
    FeedbackMessage,
    LatencyReport,
    ReceivedMessage,
    StartCall,
    check_id,
    clean_title,
    parse,
)
from wingman.realtime.outgoing import (
    FEATURES,
    CallEndedMessage,
    ErrorAck,
    ErrorMessage,
    FeedbackAck,
    LatencyReportAck,
    Outbox,
    ProviderStatusMessage,
    StartCallAck,
    room,
)
from wingman.realtime.quotas import Quotas
from wingman.realtime.sessions import TokenSessions
from wingman.store.records import Viewer

log = logging.getLogger(__name__)

Handler = Callable[[str, Any], Awaitable[Any]]


def error_ack(exc: WingmanError) -> dict[str, Any]:
    """The ack of a refused request: `{error: {code, message}}`."""
    return ErrorAck(error=ErrorMessage.of(exc)).wire()


class Gateway:
    """Socket.IO handlers: connections, sign-in and the events of a call."""

    def __init__(
        self,
        *,
        container: Container,
        sio: socketio.AsyncServer,
        abandon_after_seconds: float | None = None,
    ) -> None:
        self.c = container
        self.sio = sio
        self.outbox = Outbox(sio)  # every emit (realtime/outgoing.py)
        self.limiter = ClientLimiter.from_settings(container.settings)
        self.quotas = Quotas(settings=container.settings, store=container.store)
        # the one owner of this node's live calls (registry, admission, start/resume, end, upkeep)
        self.lifecycle = CallLifecycle(
            container=container,
            quotas=self.quotas,
            output=self.outbox.call,
            abandon_after_seconds=abandon_after_seconds,
        )
        # the token each socket signed in with: a logout closes the sockets open with it
        self.sessions = TokenSessions(store=container.store, sign_out=self._sign_out)
        container.auth.on_logout(self.sessions.revoke)
        sio.on("connect", self.on_connect)
        sio.on("disconnect", self.on_disconnect)
        sio.on("start-call", self._guarded("start-call", self.on_start_call, control=True, ack=True))
        sio.on("audio-chunk", self._guarded("audio-chunk", self.on_audio_chunk, control=False, ack=False))
        sio.on("feedback", self._guarded("feedback", self.on_feedback, control=True, ack=True))
        sio.on("end-call", self._guarded("end-call", self.on_end_call, control=True, ack=True))
        sio.on("latency-report",
               self._guarded("latency-report", self.on_latency_report, control=False, ack=True))
        sio.on("received", self._guarded("received", self.on_received, control=False, ack=False))
        sio.on("*", self.on_unknown)
        container.health.subscribe(self._on_provider_event)

    @property
    def calls(self) -> Mapping[str, LiveCall]:
        """The calls live on this node (read-only; the lifecycle owns them)."""
        return self.lifecycle.calls

    @property
    def lag(self) -> LoopLagMonitor:
        return self.lifecycle.lag

    async def _on_provider_event(self, event: ProviderEvent) -> None:
        """LLM or search failover affects every call on this node: tell each of them.
        (Speech failover is per call and is sent by that call's pipeline.)"""
        if event.part == "stt":
            return
        for call_id in list(self.lifecycle.calls):
            await self.outbox.to_call(call_id, ProviderStatusMessage.of(event))

    # -- helpers
    async def _session(self, sid: str) -> dict[str, Any]:
        session: dict[str, Any] = await self.sio.get_session(sid)
        return session

    async def _error(self, sid: str, exc: WingmanError) -> None:
        if isinstance(exc, RateLimited) and not self.limiter.should_report(sid, exc.bucket):
            return  # told within the last second already: a flood gets no flood back
        await self.outbox.to_socket(sid, ErrorMessage.of(exc))

    def _guarded(self, event: str, handler: Handler, *, control: bool, ack: bool) -> Handler:
        """`handler` behind the per-connection limiter, answering even when it breaks:
        whatever arrives (extra arguments included) gets an ack or an `error` event."""

        async def guarded(sid: str, *args: Any) -> Any:
            try:
                self.limiter.check(sid, EVENTS)
                if control:
                    self.limiter.check(sid, CONTROL)
            except RateLimited as exc:
                await self._error(sid, exc)
                return refusal(exc)
            if self.sessions.refused(sid):  # signed out, being disconnected
                return refusal(Unauthorized("this session was signed out"))
            try:
                return await handler(sid, args[0] if args else None)
            except Exception as exc:  # a bug or an outage must not leave the client waiting
                log.error("socket event failed", extra={"event": event, "error": type(exc).__name__})
                failure = WingmanError("the server could not handle this event; try again")
                await self._error(sid, failure)
                return refusal(failure)

        def refusal(exc: WingmanError) -> dict[str, Any] | None:
            if not ack:
                return None
            # the same shape as the handler's own errors: feedback acks carry ok: false
            return ErrorAck(error=ErrorMessage.of(exc), ok=False if event == "feedback" else None).wire()

        return guarded

    async def on_unknown(self, *args: Any) -> dict[str, Any]:
        """Any event we do not know: a clear error (rate limited like the rest).
        python-socketio calls a catch-all with (event, sid, *data), but with (sid, *data) when
        the event is literally named "*": tell them apart by which argument is a live sid."""
        connected = self.sio.manager.is_connected
        if len(args) >= 2 and isinstance(args[1], str) and connected(args[1], "/"):
            sid = args[1]
        elif args and isinstance(args[0], str) and connected(args[0], "/"):
            sid = args[0]
        else:
            return {"error": {"code": "unknown_event", "message": "unknown event"}}
        return await self._unknown(sid)

    async def _unknown(self, sid: str) -> dict[str, Any]:
        exc: WingmanError
        try:
            self.limiter.check(sid, EVENTS)
            self.limiter.check(sid, CONTROL)
            exc = BadInput("unknown event", code="unknown_event")
        except RateLimited as limited:
            exc = limited
        await self._error(sid, exc)
        return error_ack(exc)

    def _client_sent(self, sid: str) -> bool:
        """True when a *client* emitted an event named "connect" or "disconnect":
        python-socketio dispatches those to the lifecycle handlers, but while a real connect
        or disconnect runs it holds the sid as pending (not connected)."""
        return bool(self.sio.manager.is_connected(sid, "/"))

    # -- handlers
    async def on_connect(self, sid: str, environ: Any = None, auth: Any = None, *_extra: Any) -> Any:
        if self._client_sent(sid):
            return await self._unknown(sid)  # never a new identity for a live connection
        token = auth.get("token") if isinstance(auth, dict) else None
        if token is not None and not isinstance(token, str):
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        try:
            user, jti = await self.c.auth.session_for_token(token)
            expires_at = self.c.auth.token_expiry(token) if token else None
        except Unauthorized:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized") from None
        try:
            await self.quotas.open_socket(sid, user.id, user.workspace_id)
        except QuotaExceeded as e:
            # the client's connect_error gets {message, data: {code, message}}
            raise socketio.exceptions.ConnectionRefusedError(str(e), ErrorMessage.of(e).wire()) from None
        await self.sio.save_session(
            sid, {"user_id": user.id, "workspace_id": user.workspace_id, "call_id": None}
        )
        if jti is not None:
            self.sessions.add(sid, jti, expires_at)

    async def _sign_out(self, sid: str, why: str) -> None:
        """The socket's token was revoked or expired: say so, then disconnect (its call is
        detached, not lost)."""
        await self.outbox.to_socket(sid, ErrorMessage.of(Unauthorized(why)))
        await self.sio.disconnect(sid)

    async def on_disconnect(self, sid: str, *args: Any) -> Any:
        if self._client_sent(sid):
            return await self._unknown(sid)  # it would detach its call and reset its limits
        self.limiter.forget(sid)
        self.sessions.forget(sid)
        with contextlib.suppress(KeyError):  # a socket refused at connect has no session
            session = await self._session(sid)
            await self.quotas.close_socket(sid, session["user_id"], session["workspace_id"])
        self.lifecycle.detach(sid)

    async def on_start_call(self, sid: str, data: Any = None) -> dict[str, Any]:
        try:
            msg = parse(StartCall, data, event="start-call")
            title = clean_title(msg.title, self.c.settings.max_title_chars)
            fmt = AudioFormat(sample_rate=msg.sample_rate, encoding=msg.encoding, channels=msg.channels)
            session = await self._session(sid)
            owner = Viewer.owner(session["workspace_id"], session["user_id"])
            if msg.call_id is not None:
                check_id(msg.call_id, "start-call: call_id")
                call_id = await self.lifecycle.resume(sid, owner, msg.call_id, fmt)
            else:
                call_id = await self.lifecycle.start(sid, owner, title, fmt)
        except WingmanError as exc:
            if isinstance(exc, Busy):  # an event too: clients may retry here later, or elsewhere
                await self._error(sid, exc)
            return error_ack(exc)
        session["call_id"] = call_id
        await self.sio.save_session(sid, session)
        await self.sio.enter_room(sid, room(call_id))
        at = self.lifecycle.audio_seconds(call_id)
        if msg.call_id is None or at is None:
            return StartCallAck(call_id=call_id, features=FEATURES).wire()
        # a resume: the client goes on sending audio from where this node has it up to
        return StartCallAck(call_id=call_id, audio_seconds=round(at, 3), features=FEATURES).wire()

    async def _live_for(self, sid: str) -> LiveCall:
        session = await self._session(sid)
        call_id = session.get("call_id")
        live = self.lifecycle.get(call_id)
        if live is None:
            raise BadInput("no call in progress: send start-call first", code="no_call")
        return live

    async def on_audio_chunk(self, sid: str, data: Any = None) -> None:
        try:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise BadInput("audio-chunk expects binary PCM", code="bad_payload")
            live = await self._live_for(sid)
            fmt = live.pipeline.fmt
            self.limiter.check(sid, AUDIO, cost=len(data) / (bytes_per_frame(fmt) * fmt.sample_rate))
            live.pipeline.push_chunk(bytes(data))
        except WingmanError as exc:
            # audio has no ack: one error a second per reason is enough, a client streaming
            # into a refused call is not flooded back
            if isinstance(exc, RateLimited) or self.limiter.should_report(sid, f"audio:{exc.code}"):
                await self._error(sid, exc)

    async def on_feedback(self, sid: str, data: Any = None) -> dict[str, Any]:
        try:
            msg = parse(FeedbackMessage, data, event="feedback")
            check_id(msg.id, "feedback: id")
            session = await self._session(sid)
            rec = await self.c.feedback.give(
                workspace_id=session["workspace_id"],
                user_id=session["user_id"],
                recommendation_id=msg.id,
                status=msg.status,
            )
            if rec is None:
                raise NotFound("no such recommendation")
        except WingmanError as exc:
            await self._error(sid, exc)
            return ErrorAck(error=ErrorMessage.of(exc), ok=False).wire()
        return FeedbackAck().wire()

    async def on_latency_report(self, sid: str, data: Any = None) -> dict[str, Any]:
        """Delays the client measured (messages.py:LatencyReport) into the client-reported
        histograms. Only a socket streaming a call on this node may report; its reports and
        the samples in them are rate-limited (realtime/limits.py); a refused batch is dropped
        whole and counted."""
        try:
            self.limiter.check(sid, REPORTS)
            msg = parse(LatencyReport, data, event="latency-report")
            live = await self._live_for(sid)
            if msg.samples:
                self.limiter.check(sid, SAMPLES, cost=msg.samples)
        except WingmanError as exc:
            metrics.client_report_refused(exc.code)
            await self._error(sid, exc)
            return error_ack(exc)
        # a batch resent (after a reconnect, maybe through another node) is recorded once
        # per call: realtime/batches.py
        if msg.batch is not None and not await self.c.report_batches.first(live.pipeline.call_id, msg.batch):
            metrics.client_report_duplicate()
            return LatencyReportAck(accepted=0, duplicate=True).wire()
        metrics.client_reported(msg.client, transcript=msg.transcript, insight=msg.insight)
        return LatencyReportAck(accepted=msg.samples).wire()

    async def on_received(self, sid: str, data: Any = None) -> None:
        """A client got a final or an insight (messages.py:ReceivedMessage), timed on this
        node's clock: a final this gateway emitted; an insight of the call this socket streams
        here, by the block end it answers (`audio_end`), whichever gateway emitted it. The
        client's own delay in sending the ack (`held`) is taken off. No answer: a bad ack is
        counted as invalid, one this node cannot time as unknown."""
        try:
            msg = parse(ReceivedMessage, data, event="received")
        except BadInput:
            metrics.client_acked("invalid", "")
            return
        call_id = None
        if msg.event == "insight" and metrics.enabled():
            with contextlib.suppress(KeyError):
                call_id = (await self._session(sid)).get("call_id")
        metrics.client_acked(msg.event, msg.id, call_id=call_id, audio_end=msg.audio_end, held=msg.held)

    async def on_end_call(self, sid: str, data: Any = None) -> dict[str, Any]:
        try:
            session = await self._session(sid)
            user_id: str = session["user_id"]
            named = EndCall.read(data).call_id
            call_id = named if named is not None else session.get("call_id")
            if call_id:
                check_id(call_id, "end-call: call_id")
            if not call_id:
                raise BadInput("no call in progress: send start-call first", code="no_call")
            ended = CallEndedMessage.of(await self.lifecycle.end(session["workspace_id"], user_id, call_id))
        except WingmanError as exc:
            await self._error(sid, exc)
            return error_ack(exc)
        await self.outbox.to_call(call_id, ended)
        return ended.wire()

    async def aclose(self) -> None:
        """Flush every live call within most of settings.shutdown_seconds (under systemd's stop
        timeout), leaving the calls open for their clients to resume elsewhere; the writes
        still queued are the container's to apply or keep on disk (Container.aclose)."""
        await self.lifecycle.aclose(budget=self.c.settings.shutdown_seconds * 0.6)
        await self.quotas.aclose()  # this node's socket leases expire on their own
