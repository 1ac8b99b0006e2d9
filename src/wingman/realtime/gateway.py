"""The Socket.IO gateway: one per process. Owns the live calls of this node.

Handlers validate, look up the caller's call, and hand work to the CallPipeline. Results reach
clients through rooms (`call:<id>`), so with the Redis manager any node can emit to any call.

Every event passes the per-connection limiter (realtime/limits.py) before anything else, and
every handler answers: an ack or an `error {code, message}`, never silence, whatever the payload
(unknown events included). Calls are looked up with the caller's user id, so another tenant's
call id behaves exactly like a missing one (`not_found`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from wingman.audio.pcm import bytes_per_frame
from wingman.container import Container
from wingman.errors import BadInput, Busy, NotFound, QuotaExceeded, Unauthorized, WingmanError
from wingman.events import TOPIC_CALLS, AudioFormat, CallStarted, Feedback
from wingman.health import ProviderEvent
from wingman.pipeline.call import CallPipeline
from wingman.pipeline.finalize import finalize_call
from wingman.pipeline.writer import StoreWriter
from wingman.privacy import redact_text
from wingman.realtime.lag import LoopLagMonitor
from wingman.realtime.limits import AUDIO, CONTROL, EVENTS, ClientLimiter, RateLimited
from wingman.realtime.messages import FeedbackMessage, StartCall, check_id, clean_title, parse
from wingman.realtime.quotas import Quotas
from wingman.realtime.sessions import TokenSessions
from wingman.realtime.upkeep import CallUpkeep, LiveCall
from wingman.speakers.diarizer import OnlineDiarizer
from wingman.speakers.echo import EchoGate
from wingman.store.records import Viewer

log = logging.getLogger(__name__)

Handler = Callable[[str, Any], Awaitable[Any]]


SPILL_DIR = "spill"  # the writer's journal, under the data dir


def room(call_id: str) -> str:
    return f"call:{call_id}"


def error_payload(exc: WingmanError) -> dict[str, Any]:
    payload: dict[str, Any] = {"code": exc.code, "message": str(exc)}
    if isinstance(exc, (Busy, QuotaExceeded)) and exc.retry_after is not None:
        payload["retryAfter"] = exc.retry_after
    return payload


class Gateway:
    """Socket.IO handlers and the registry of calls live on this node."""

    def __init__(
        self,
        *,
        container: Container,
        sio: socketio.AsyncServer,
        abandon_after_seconds: float | None = None,
    ) -> None:
        self.c = container
        self.sio = sio
        # journaled in the data dir: a kill -9 or a shutdown with the database away loses nothing
        self.writer = StoreWriter(store=container.store, spill_dir=container.settings.data_dir / SPILL_DIR)
        self.calls: dict[str, LiveCall] = {}
        if abandon_after_seconds is None:
            abandon_after_seconds = container.settings.abandon_call_seconds
        # owner leases, abandoned calls and orphans (realtime/upkeep.py)
        self.upkeep = CallUpkeep(
            container=container,
            calls=self.calls,
            end_call=self.end_call,
            abandon_after_seconds=abandon_after_seconds,
        )
        self.limiter = ClientLimiter.from_settings(container.settings)
        self.quotas = Quotas(settings=container.settings, store=container.store)
        self.lag = LoopLagMonitor()  # its run() is spawned by the app; read by admission control
        self._starting = 0
        # the token each socket signed in with: a logout closes the sockets open with it
        self.sessions = TokenSessions(store=container.store, sign_out=self._sign_out)
        container.auth.on_logout(self.sessions.revoke)
        # keyed by (user, call): one tenant never waits on, nor sees, another's end-of-call
        self._finishing: dict[tuple[str, str], asyncio.Task[dict[str, Any]]] = {}
        sio.on("connect", self.on_connect)
        sio.on("disconnect", self.on_disconnect)
        sio.on("start-call", self._guarded("start-call", self.on_start_call, control=True, ack=True))
        sio.on("audio-chunk", self._guarded("audio-chunk", self.on_audio_chunk, control=False, ack=False))
        sio.on("feedback", self._guarded("feedback", self.on_feedback, control=True, ack=True))
        sio.on("end-call", self._guarded("end-call", self.on_end_call, control=True, ack=True))
        sio.on("*", self.on_unknown)
        container.health.subscribe(self._on_provider_event)

    async def _on_provider_event(self, event: ProviderEvent) -> None:
        """LLM or search failover affects every call on this node: tell each of them.
        (Speech failover is per call and is sent by that call's pipeline.)"""
        if event.part == "stt":
            return
        for call_id in list(self.calls):
            await self.sio.emit("provider-status", event.payload(), room=room(call_id))

    # -- helpers
    async def _session(self, sid: str) -> dict[str, Any]:
        session: dict[str, Any] = await self.sio.get_session(sid)
        return session

    async def _error(self, sid: str, exc: WingmanError) -> None:
        if isinstance(exc, RateLimited) and not self.limiter.should_report(sid, exc.bucket):
            return  # told within the last second already: a flood gets no flood back
        await self.sio.emit("error", error_payload(exc), to=sid)

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
            answer: dict[str, Any] = {"error": error_payload(exc)}
            # the same shape as the handler's own errors: feedback acks carry ok: false
            return {"ok": False, **answer} if event == "feedback" else answer

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
        return {"error": error_payload(exc)}

    def _emitter(self, call_id: str) -> Any:
        async def emit(event: str, data: dict[str, Any]) -> None:
            await self.sio.emit(event, data, room=room(call_id))

        return emit

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
            self.quotas.open_socket(sid, user.id, user.workspace_id)
        except QuotaExceeded as e:
            # the client's connect_error gets {message, data: {code, message}}
            raise socketio.exceptions.ConnectionRefusedError(str(e), error_payload(e)) from None
        await self.sio.save_session(
            sid, {"user_id": user.id, "workspace_id": user.workspace_id, "call_id": None}
        )
        if jti is not None:
            self.sessions.add(sid, jti, expires_at)

    async def _sign_out(self, sid: str, why: str) -> None:
        """The socket's token was revoked or expired: say so, then disconnect (its call is
        detached, not lost)."""
        await self.sio.emit("error", error_payload(Unauthorized(why)), to=sid)
        await self.sio.disconnect(sid)

    async def on_disconnect(self, sid: str, *args: Any) -> Any:
        if self._client_sent(sid):
            return await self._unknown(sid)  # it would detach its call and reset its limits
        self.limiter.forget(sid)
        self.sessions.forget(sid)
        with contextlib.suppress(KeyError):  # a socket refused at connect has no session
            session = await self._session(sid)
            self.quotas.close_socket(sid, session["user_id"], session["workspace_id"])
        for call_id, live in self.calls.items():
            if sid in live.sids:
                live.sids.discard(sid)
                if not live.sids:
                    live.detached_at = time.monotonic()
                    log.info("call detached", extra={"call_id": call_id})

    async def on_start_call(self, sid: str, data: Any = None) -> dict[str, Any]:
        try:
            msg = parse(StartCall, data, event="start-call")
            title = clean_title(msg.title, self.c.settings.max_title_chars)
            session = await self._session(sid)
            owner = Viewer.owner(session["workspace_id"], session["user_id"])
            if msg.call_id is not None:
                check_id(msg.call_id, "start-call: callId")
                call_id = await self._resume(sid, owner, msg)
            else:
                self._admit()
                running = [(c.pipeline.user_id, c.pipeline.workspace_id) for c in self.calls.values()
                           if not c.pipeline.finishing]
                self.quotas.check_new_call(owner.user_id, owner.workspace_id, running)
                await self.quotas.check_minutes(owner.workspace_id)
                self._starting += 1  # counted by admission while its store writes are awaited
                try:
                    call_id = await self._start(sid, owner, title, msg)
                finally:
                    self._starting -= 1
        except WingmanError as exc:
            if isinstance(exc, Busy):  # an event too: clients may retry here later, or elsewhere
                await self._error(sid, exc)
            return {"error": error_payload(exc)}
        session["call_id"] = call_id
        await self.sio.save_session(sid, session)
        await self.sio.enter_room(sid, room(call_id))
        live = self.calls.get(call_id)
        if msg.call_id is None or live is None:
            return {"callId": call_id}
        # a resume: the client goes on sending audio from where this node has it up to
        at = live.pipeline.time_offset + live.pipeline.received_seconds
        return {"callId": call_id, "audioSeconds": round(at, 3)}

    def _new_pipeline(
        self,
        call_id: str,
        owner: Viewer,
        msg: StartCall,
        time_offset: float = 0.0,
        first_seq: int = 0,
        talk_seconds: dict[str, float] | None = None,
        vocabulary: tuple[str, ...] = (),
        diarizer: OnlineDiarizer | None = None,
    ) -> CallPipeline:
        s = self.c.settings
        pipeline = CallPipeline(
            call_id=call_id,
            user_id=owner.user_id,
            workspace_id=owner.workspace_id,
            fmt=AudioFormat(sample_rate=msg.sample_rate, encoding=msg.encoding, channels=msg.channels),
            stt=self.c.stt,
            pool=self.c.pool,
            store=self.c.store,
            writer=self.writer,
            bus=self.c.bus,
            emit=self._emitter(call_id),
            max_chunk_bytes=s.max_chunk_bytes,
            language=s.stt_language,
            vocabulary=vocabulary or tuple(s.competitors),
            time_offset=time_offset,
            first_seq=first_seq,
            talk_seconds=talk_seconds,
            redact=redact_text if s.redact else None,
            max_call_seconds=s.max_call_seconds,
            diarizer=diarizer,
            echo_gate=EchoGate() if s.echo_gate and msg.channels == 2 else None,
            sentiment=self.c.sentiment,
        )
        pipeline.start()
        return pipeline

    @property
    def load(self) -> int:
        """Calls this node carries, those being started included."""
        return len(self.calls) + self._starting

    @property
    def accepting(self) -> bool:
        """Whether a new call would be admitted now."""
        try:
            self._admit(quiet=True)
        except Busy:
            return False
        return True

    def _admit(self, *, quiet: bool = False) -> None:
        """Refuse a new call on a node at capacity (settings.max_calls_per_node, or event-loop
        lag sustained over settings.max_loop_lag_seconds): overload then refuses new calls
        instead of slowing every live one, and the client can try another node."""
        s = self.c.settings
        if s.max_calls_per_node is not None and self.load >= s.max_calls_per_node:
            reason = f"this node carries its maximum of {s.max_calls_per_node} calls"
        elif s.max_loop_lag_seconds is not None and self.lag.sustained > s.max_loop_lag_seconds:
            reason = "this node is overloaded"
        else:
            return
        if not quiet:
            log.warning("call refused: node busy", extra={"calls": self.load, "lag": self.lag.sustained})
        raise Busy(f"{reason}; try again shortly", retry_after=s.busy_retry_after_seconds)

    async def _diarizer(self, user_id: str, msg: StartCall) -> OnlineDiarizer | None:
        """Speaker labels for a one-channel call (stereo is labelled by channel)."""
        if msg.channels != 1 or not self.c.settings.diarize:
            return None
        return await self.c.voiceprints.diarizer_for(user_id)  # the rep's own voice

    async def _start(self, sid: str, owner: Viewer, title: str, msg: StartCall) -> str:
        call = await self.c.store.create_call(
            workspace_id=owner.workspace_id, user_id=owner.user_id, title=title
        )
        # the names its speech engine primes
        vocabulary = await self.c.vocabulary.for_call(owner.workspace_id)
        diarizer = await self._diarizer(owner.user_id, msg)
        pipeline = self._new_pipeline(call.id, owner, msg, vocabulary=vocabulary, diarizer=diarizer)
        self.calls[call.id] = LiveCall(pipeline, {sid})
        await self.upkeep.hold(call.id, take_over=False)
        await self.c.bus.publish(
            TOPIC_CALLS,
            CallStarted(call_id=call.id, user_id=owner.user_id, workspace_id=owner.workspace_id, title=title),
            key=call.id,
        )
        log.info("call started", extra={"call_id": call.id})
        return call.id

    async def _resume(self, sid: str, owner: Viewer, msg: StartCall) -> str:
        assert msg.call_id is not None
        call = await self.c.store.get_call(viewer=owner, call_id=msg.call_id)
        if call is None:
            raise NotFound("no such call")
        if call.end_time is not None:
            raise BadInput("this call has ended", code="call_ended")
        live = self.calls.get(call.id)
        if live is None or live.pipeline.finishing:
            self._admit()  # a new pipeline on this node: as costly as a new call
            # The node that had this call died, or this node restarted: carry on from the last
            # saved segment, so times continue and nothing already saved is repeated.
            segments = await self.c.store.list_segments(viewer=owner, call_id=call.id)
            offset = max((seg.end for seg in segments), default=0.0)
            talk: dict[str, float] = {}
            for seg in segments:
                who = seg.speaker or "unknown"
                talk[who] = talk.get(who, 0.0) + max(0.0, seg.end - seg.start)
            # every block holds at least one segment, so this is above any seq already used
            vocabulary = await self.c.vocabulary.for_call(owner.workspace_id)
            diarizer = await self._diarizer(owner.user_id, msg)  # starts afresh: voices re-learnt
            live = LiveCall(self._new_pipeline(call.id, owner, msg, time_offset=offset,
                                               first_seq=len(segments), talk_seconds=talk,
                                               vocabulary=vocabulary, diarizer=diarizer))
            self.calls[call.id] = live
        live.sids.add(sid)
        live.detached_at = None
        await self.upkeep.hold(call.id, take_over=True)  # a node still holding it lets go
        log.info("call resumed", extra={"call_id": call.id})
        return call.id

    async def _live_for(self, sid: str) -> LiveCall:
        session = await self._session(sid)
        call_id = session.get("call_id")
        live = self.calls.get(call_id) if call_id else None
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
            user_id: str = session["user_id"]
            workspace_id: str = session["workspace_id"]
            rec = await self.c.store.set_feedback(
                workspace_id=workspace_id, user_id=user_id, recommendation_id=msg.id, status=msg.status
            )
            if rec is None:
                raise NotFound("no such recommendation")
            await self.c.bus.publish(
                TOPIC_CALLS,
                Feedback(id=msg.id, user_id=user_id, workspace_id=workspace_id, status=msg.status),
                key=str(getattr(rec, "call_session_id", msg.id)),
            )
        except WingmanError as exc:
            await self._error(sid, exc)
            return {"ok": False, "error": error_payload(exc)}
        return {"ok": True}

    async def on_end_call(self, sid: str, data: Any = None) -> dict[str, Any]:
        try:
            session = await self._session(sid)
            user_id: str = session["user_id"]
            call_id = session.get("call_id")
            if isinstance(data, dict) and isinstance(data.get("callId"), str):
                call_id = data["callId"]
            if call_id:
                check_id(call_id, "end-call: callId")
            if not call_id:
                raise BadInput("no call in progress: send start-call first", code="no_call")
            payload = await self.end_call(session["workspace_id"], user_id, call_id)
        except WingmanError as exc:
            await self._error(sid, exc)
            return {"error": error_payload(exc)}
        await self.sio.emit("call-ended", payload, room=room(call_id))
        return payload

    async def end_call(self, workspace_id: str, user_id: str, call_id: str) -> dict[str, Any]:
        """Finish a call once; concurrent or repeated calls share the same result."""
        key = (user_id, call_id)
        task = self._finishing.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._end_call(workspace_id, user_id, call_id))
            self._finishing[key] = task
            task.add_done_callback(lambda _t: self._finishing.pop(key, None))
        return await asyncio.shield(task)

    async def _end_call(self, workspace_id: str, user_id: str, call_id: str) -> dict[str, Any]:
        live = self.calls.get(call_id)
        if live is not None and live.pipeline.user_id != user_id:
            raise NotFound("no such call")
        audio_seconds: float | None = None
        if live is not None:
            await live.pipeline.finish()
            audio_seconds = live.pipeline.time_offset + live.pipeline.received_seconds
            self.calls.pop(call_id, None)
        await self.writer.drain(user_id=user_id)  # this tenant's writes: others' shards may be down
        payload = await finalize_call(
            store=self.c.store,
            llm=self.c.llm,
            bus=self.c.bus,
            workspace_id=workspace_id,
            user_id=user_id,
            call_id=call_id,
            audio_seconds=audio_seconds,
            profile=await self.c.profiles.get(workspace_id),
        )
        try:  # rows only: the CRM writes run in the background worker (crm/worker.py)
            await self.c.crm.after_call(tenant_id=workspace_id, call_id=call_id)
        except Exception:  # the database hiccuped: the call ended anyway; "sync now" queues it
            log.exception("crm sync not queued", extra={"call_id": call_id})
        try:
            await self.c.leases.release(call_id)
        except Exception:  # it expires on its own
            log.warning("call lease not released", extra={"call_id": call_id})
        return payload

    async def aclose(self) -> None:
        """Flush every live call's audio and saved segments, all calls at once, but leave the
        calls open: their clients reconnect to another node (or this one, restarted) and
        resume them. Within settings.shutdown_seconds (under systemd's stop timeout): what
        the store has not taken by then stays in the writer's journal for the next start."""
        budget = self.c.settings.shutdown_seconds
        started = time.monotonic()

        async def flush(call_id: str, live: LiveCall) -> None:
            try:
                await live.pipeline.finish(timeout=budget * 0.6)
            except Exception:
                log.exception("call not flushed at shutdown", extra={"call_id": call_id})
            with contextlib.suppress(Exception):  # else it expires: the call is free sooner
                await self.c.leases.release(call_id)

        await asyncio.gather(*(flush(call_id, live) for call_id, live in list(self.calls.items())))
        self.calls.clear()
        await self.writer.aclose(timeout=max(0.5, budget - (time.monotonic() - started)))
