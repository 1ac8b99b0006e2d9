"""The life of every call this node carries, in one owner: `CallLifecycle`.

It alone holds the registry of live calls (call id -> `LiveCall`) and changes it: admission
(node capacity, loop lag, quotas), start, resume from a `ResumePoint`, attaching and
detaching clients, end-once with finalize, the owner lease, and shutdown. Its `upkeep`
(realtime/upkeep.py: lease renewal, the abandoned-call reaper, the orphan sweep) reads the
registry and acts only through the methods here.

Nothing here knows Socket.IO: a call's events leave through the output its owner (the
gateway) hands in per call, so the whole life of a call runs in-process in tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from wingman.container import Container
from wingman.errors import BadInput, Busy, NotFound
from wingman.events import TOPIC_CALLS, AudioFormat, CallStarted
from wingman.pipeline.call import CallPipeline
from wingman.pipeline.finalize import finalize_call
from wingman.pipeline.options import PipelineOptions, ResumePoint
from wingman.pipeline.output import CallOutput
from wingman.privacy import redact_text
from wingman.realtime.lag import LoopLagMonitor
from wingman.realtime.quotas import Quotas
from wingman.realtime.upkeep import CallUpkeep
from wingman.speakers.diarizer import OnlineDiarizer
from wingman.store.records import CallDetail, Viewer

log = logging.getLogger(__name__)

Output = Callable[[str], CallOutput]  # call id -> that call's output port (realtime/outgoing.py)


@dataclass
class LiveCall:
    """A call this node carries: its pipeline and the clients attached to it."""

    pipeline: CallPipeline
    sids: set[str] = field(default_factory=set)
    detached_at: float | None = None  # monotonic time its last client left


class CallLifecycle:
    """Registry, admission, start/resume, end-once, leases and upkeep of this node's calls."""

    def __init__(
        self,
        *,
        container: Container,
        quotas: Quotas,
        output: Output,
        abandon_after_seconds: float | None = None,
    ) -> None:
        self.c = container
        self.quotas = quotas
        self._output = output
        self._calls: dict[str, LiveCall] = {}
        self._starting = 0  # calls admitted whose store writes are still awaited
        # keyed by (user, call): one tenant never waits on, nor sees, another's end-of-call
        self._finishing: dict[tuple[str, str], asyncio.Task[CallDetail]] = {}
        self.lag = LoopLagMonitor()  # its run() is spawned by the app; read by admission
        s = container.settings
        self.options = PipelineOptions(
            stt=container.stt,
            pool=container.pool,
            writer=container.writer,
            bus=container.bus,
            max_chunk_bytes=s.max_chunk_bytes,
            language=s.stt_language,
            redact=redact_text if s.redact else None,
            max_call_seconds=s.max_call_seconds,
            echo_gate=s.echo_gate,
            sentiment=container.sentiment,
        )
        if abandon_after_seconds is None:
            abandon_after_seconds = s.abandon_call_seconds
        self.upkeep = CallUpkeep(container=container, calls=self, abandon_after_seconds=abandon_after_seconds)

    # -- the registry (read-only outside this class)
    @property
    def calls(self) -> Mapping[str, LiveCall]:
        """The calls live on this node, by id (a read-only view)."""
        return MappingProxyType(self._calls)

    def get(self, call_id: str | None) -> LiveCall | None:
        return self._calls.get(call_id) if call_id else None

    def audio_seconds(self, call_id: str) -> float | None:
        """Call time up to which this node has the call's audio (None: not live here)."""
        live = self._calls.get(call_id)
        if live is None:
            return None
        return live.pipeline.time_offset + live.pipeline.received_seconds

    def detach(self, sid: str) -> None:
        """A client left: its calls wait for it (or are reaped after the abandon timeout)."""
        for call_id, live in self._calls.items():
            if sid in live.sids:
                live.sids.discard(sid)
                if not live.sids:
                    live.detached_at = time.monotonic()
                    log.info("call detached", extra={"call_id": call_id})

    async def drop(self, call_id: str) -> None:
        """Stop carrying a call without finalizing it (another node took it over, or it was
        deleted meanwhile)."""
        live = self._calls.get(call_id)
        if live is not None:
            await live.pipeline.abort()
            self._calls.pop(call_id, None)

    # -- admission
    @property
    def load(self) -> int:
        """Calls this node carries, those being started included."""
        return len(self._calls) + self._starting

    @property
    def accepting(self) -> bool:
        """Whether a new call would be admitted now."""
        try:
            self.admit(quiet=True)
        except Busy:
            return False
        return True

    def admit(self, *, quiet: bool = False) -> None:
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

    # -- start and resume
    async def start(self, sid: str, owner: Viewer, title: str, fmt: AudioFormat) -> str:
        """A new call for `owner`, admitted (node, quotas) or refused with Busy/QuotaExceeded."""
        self.admit()
        await self.quotas.check_minutes(owner.workspace_id)
        self._starting += 1  # counted by admission while its store writes are awaited
        try:
            # open calls on every node counted and the call inserted atomically
            async with self.quotas.call_slot(owner.workspace_id) as admit:
                call = await self.c.store.create_call(
                    workspace_id=owner.workspace_id, user_id=owner.user_id, title=title, admit=admit
                )
            pipeline = await self._pipeline(call.id, owner, fmt, ResumePoint())
            self._calls[call.id] = LiveCall(pipeline, {sid})
        finally:
            self._starting -= 1
        await self._hold(call.id, take_over=False)
        await self.c.bus.publish(
            TOPIC_CALLS,
            CallStarted(call_id=call.id, user_id=owner.user_id, workspace_id=owner.workspace_id, title=title),
            key=call.id,
        )
        log.info("call started", extra={"call_id": call.id})
        return call.id

    async def resume(self, sid: str, owner: Viewer, call_id: str, fmt: AudioFormat) -> str:
        """`sid` carries on `owner`'s open call: attached to its pipeline here, or to a new one
        from where the saved transcript ends."""
        call = await self.c.store.get_call(viewer=owner, call_id=call_id)
        if call is None:
            raise NotFound("no such call")
        if call.end_time is not None:
            raise BadInput("this call has ended", code="call_ended")
        live = self._calls.get(call.id)
        if live is None or live.pipeline.finishing:
            self.admit()  # a new pipeline on this node: as costly as a new call
            segments = await self.c.store.list_segments(viewer=owner, call_id=call.id)
            live = LiveCall(await self._pipeline(call.id, owner, fmt, ResumePoint.after(segments)))
            self._calls[call.id] = live
        live.sids.add(sid)
        live.detached_at = None
        await self._hold(call.id, take_over=True)  # a node still holding it lets go
        log.info("call resumed", extra={"call_id": call.id})
        return call.id

    async def _pipeline(self, call_id: str, owner: Viewer, fmt: AudioFormat, at: ResumePoint) -> CallPipeline:
        # the names its speech engine primes, and the rep's voice (a resumed call re-learns the
        # other voices afresh)
        vocabulary = await self.c.vocabulary.for_call(owner.workspace_id)
        diarizer = await self._diarizer(owner, fmt)
        pipeline = CallPipeline(
            call_id=call_id,
            user_id=owner.user_id,
            workspace_id=owner.workspace_id,
            fmt=fmt,
            options=self.options,
            output=self._output(call_id),
            vocabulary=vocabulary or tuple(self.c.settings.competitors),
            resume=at,
            diarizer=diarizer,
            recorder=self.c.recordings.recorder(  # records only if the workspace opted in
                call_id=call_id, workspace_id=owner.workspace_id, user_id=owner.user_id, channels=fmt.channels
            ),
        )
        pipeline.start()
        return pipeline

    async def _diarizer(self, owner: Viewer, fmt: AudioFormat) -> OnlineDiarizer | None:
        """Speaker labels for a one-channel call (stereo is labelled by channel)."""
        if fmt.channels != 1 or not self.c.settings.diarize:
            return None
        return await self.c.voiceprints.diarizer_for(owner.workspace_id, owner.user_id)

    # -- owner leases (realtime/lease.py)
    async def _hold(self, call_id: str, *, take_over: bool) -> None:
        """This node carries `call_id` now (started here, or its client resumed it here)."""
        try:
            if take_over:
                await self.c.leases.take_over(call_id)
            else:
                await self.c.leases.claim(call_id)
        except Exception:  # Redis away: the next renewal claims it
            log.warning("call lease not taken", extra={"call_id": call_id})

    # -- the end
    async def end(self, workspace_id: str, user_id: str, call_id: str) -> CallDetail:
        """Finish a call once; concurrent or repeated calls share the same result (the call
        as saved, summary included: the `call-ended` event reports it)."""
        key = (user_id, call_id)
        task = self._finishing.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._end(workspace_id, user_id, call_id))
            self._finishing[key] = task
            task.add_done_callback(lambda _t: self._finishing.pop(key, None))
        return await asyncio.shield(task)

    async def _end(self, workspace_id: str, user_id: str, call_id: str) -> CallDetail:
        live = self._calls.get(call_id)
        if live is not None and live.pipeline.user_id != user_id:
            raise NotFound("no such call")
        audio_seconds: float | None = None
        if live is not None:
            await live.pipeline.finish()
            audio_seconds = live.pipeline.time_offset + live.pipeline.received_seconds
            self._calls.pop(call_id, None)
        await self.c.writer.drain(user_id=user_id)  # this tenant's writes: others' shards may be down
        detail = await finalize_call(
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
        return detail

    async def aclose(self, budget: float) -> None:
        """Flush every live call's audio and saved segments, all calls at once, within
        `budget` seconds, but leave the calls open: their clients reconnect to another node (or
        this one, restarted) and resume them."""

        async def flush(call_id: str, live: LiveCall) -> None:
            try:
                await live.pipeline.finish(timeout=budget)
            except Exception:
                log.exception("call not flushed at shutdown", extra={"call_id": call_id})
            with contextlib.suppress(Exception):  # else it expires: the call is free sooner
                await self.c.leases.release(call_id)

        await asyncio.gather(*(flush(call_id, live) for call_id, live in list(self._calls.items())))
        self._calls.clear()
