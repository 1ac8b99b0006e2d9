"""Server -> client Socket.IO payloads, typed, and the one place they are emitted.

Beside realtime/messages.py (what clients send), this module holds every event and ack the
server sends: one pydantic model each, built from the event or record it reports (`of`), and
`Outbox`, the only code that calls `sio.emit`. `CallSocket` is the pipeline's output port
(pipeline/output.py) for one call. The latency histograms that end "at the client"
(wingman/metrics.py) are observed here, right after the payload is handed to Socket.IO.
Field names are the keys on the wire: snake_case, as in the REST API. web/src/api/types.ts is
generated from these models (scripts/gen_types.py).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import socketio
from pydantic import BaseModel, ConfigDict

from wingman import metrics
from wingman.errors import Busy, QuotaExceeded, WingmanError
from wingman.events import CallMetrics, Insight, TranscriptFragment
from wingman.health import ProviderEvent
from wingman.sentiment.model import Label
from wingman.sentiment.tracker import Scored
from wingman.store.records import CallDetail, KeyMoment


def room(call_id: str) -> str:
    """The Socket.IO room of one call: every socket showing it (resumed tabs included)."""
    return f"call:{call_id}"


class ServerMessage(BaseModel):
    """A payload the server sends; `wire()` is its JSON body."""

    model_config = ConfigDict(frozen=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class ServerEvent(ServerMessage):
    """A payload sent as its own event (not an ack); `event` is its Socket.IO name."""

    event: ClassVar[str]


class TranscriptMessage(ServerEvent):
    """`transcript`: interims of one utterance share the final's id; an empty final takes
    back the interims shown under that id."""

    event: ClassVar[str] = "transcript"
    id: str
    text: str
    is_final: bool
    speaker: str | None
    start: float  # seconds of call audio
    end: float

    @classmethod
    def of(cls, fragment: TranscriptFragment) -> TranscriptMessage:
        return cls(id=fragment.id, text=fragment.text, is_final=fragment.is_final,
                   speaker=fragment.speaker, start=round(fragment.start, 3), end=round(fragment.end, 3))


class InsightMessage(ServerEvent):
    """`insight`: a tip for the rep, saved as a recommendation before it is sent."""

    event: ClassVar[str] = "insight"
    id: str
    content: str
    category: str
    agent: str
    context_snippet: str
    created_at: str
    kind: str
    source: str | None
    entity: str | None
    confidence: float | None
    provider: str
    # seconds of call audio where the block it answers ends (null: not from a block); clients
    # time the tip from when they sent that audio (latency-report)
    audio_end: float | None = None

    @classmethod
    def of(cls, insight: Insight) -> InsightMessage:
        end = None if insight.block_end is None else round(insight.block_end, 3)
        return cls(id=insight.id, content=insight.content, category=insight.category,
                   agent=insight.agent, context_snippet=insight.context_snippet,
                   created_at=insight.created_at.isoformat(), kind=insight.kind,
                   source=insight.source, entity=insight.entity, confidence=insight.confidence,
                   provider=insight.provider, audio_end=end)


class MetricsMessage(ServerEvent):
    """`metrics`: the call's talk time and questions so far."""

    event: ClassVar[str] = "metrics"
    rep_talk_ratio: float | None
    rep_seconds: float
    customer_seconds: float
    longest_monologue_seconds: float
    rep_questions: int
    customer_questions: int

    @classmethod
    def of(cls, m: CallMetrics) -> MetricsMessage:
        return cls(rep_talk_ratio=m.rep_talk_ratio, rep_seconds=round(m.rep_seconds, 1),
                   customer_seconds=round(m.customer_seconds, 1),
                   longest_monologue_seconds=round(m.longest_monologue_seconds, 1),
                   rep_questions=m.rep_questions, customer_questions=m.customer_questions)


class SentenceSentiment(ServerMessage):
    score: float
    label: Label


class SentimentMessage(ServerEvent):
    """`sentiment`: one final customer segment scored (id = the segment's id)."""

    event: ClassVar[str] = "sentiment"
    id: str
    score: float
    label: Label
    start: float
    end: float
    sentences: list[SentenceSentiment]

    @classmethod
    def of(cls, scored: Scored) -> SentimentMessage:
        return cls(id=scored.segment_id, score=scored.sentiment.score, label=scored.sentiment.label,
                   start=round(scored.start, 3), end=round(scored.end, 3),
                   sentences=[SentenceSentiment(score=s.score, label=s.label) for s in scored.sentences])


class ProviderStatusMessage(ServerEvent):
    """`provider-status`: a part (stt, llm, search) moved to, or back from, its fallback."""

    event: ClassVar[str] = "provider-status"
    part: str
    provider: str  # in use from now on
    degraded: bool
    message: str

    @classmethod
    def of(cls, event: ProviderEvent) -> ProviderStatusMessage:
        return cls(part=event.part, provider=event.provider, degraded=event.degraded, message=event.message)


class ErrorMessage(ServerEvent):
    """`error` (and the `error` of a refused ack): safe to show; the socket and call go on.
    `retry_after`: seconds after which a refused new call (busy, over quota) may succeed."""

    event: ClassVar[str] = "error"
    code: str
    message: str
    retry_after: float | None = None

    @classmethod
    def of(cls, exc: WingmanError) -> ErrorMessage:
        retry = exc.retry_after if isinstance(exc, (Busy, QuotaExceeded)) else None
        return cls(code=exc.code, message=str(exc), retry_after=retry)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class CallEndedMessage(ServerEvent):
    """`call-ended` (also the end-call ack): the saved summary of the call."""

    event: ClassVar[str] = "call-ended"
    call_id: str
    summary: str
    key_moments: list[KeyMoment]
    action_items: list[str]

    @classmethod
    def of(cls, detail: CallDetail) -> CallEndedMessage:
        return cls(call_id=detail.id, summary=detail.summary or "",
                   key_moments=list(detail.key_moments), action_items=list(detail.action_items))


# -- acks (the return value of a handler: the client's callback gets them)

# what this server takes beside the base protocol, named in every start-call answer: a client
# sends an optional event only to a server that lists it (an older gateway, mid rolling upgrade,
# would answer each one with unknown_event)
Feature = Literal["received"]
FEATURES: tuple[Feature, ...] = ("received",)


class StartCallAck(ServerMessage):
    """start-call's answer; a resume's carries up to where (call seconds) the server has the
    call's audio, so the client sends the rest (no gap, no overlap). `features`: the optional
    client events this server handles (`received`: messages.py:ReceivedMessage)."""

    call_id: str
    audio_seconds: float | None = None
    features: tuple[Feature, ...] | None = None

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class FeedbackAck(ServerMessage):
    ok: Literal[True] = True


class LatencyReportAck(ServerMessage):
    """latency-report's answer: how many delays were recorded."""

    ok: Literal[True] = True
    accepted: int  # 0 for a batch already recorded (sent again): the client may drop it
    duplicate: bool = False


class ErrorAck(ServerMessage):
    """A refused request's answer (feedback's carries `ok: false` too)."""

    error: ErrorMessage
    ok: Literal[False] | None = None

    def wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error.wire()}
        return body if self.ok is None else {"ok": False, **body}


# -- emitting

class Outbox:
    """Every server -> client emit goes through here (rooms reach a call's sockets on any node
    when the Redis manager is on)."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self._sio = sio

    async def to_call(self, call_id: str, message: ServerEvent) -> None:
        await self._sio.emit(message.event, message.wire(), room=room(call_id))

    async def to_socket(self, sid: str, message: ServerEvent) -> None:
        await self._sio.emit(message.event, message.wire(), to=sid)

    async def insight(self, insight: Insight) -> None:
        """Show an insight (redelivery filtering is the caller's) and time its way here."""
        await self.to_call(insight.call_id, InsightMessage.of(insight))
        metrics.insight_shown(insight)

    def call(self, call_id: str) -> CallSocket:
        return CallSocket(self, call_id)


class CallSocket:
    """The Socket.IO side of one call's output port (pipeline/output.py `CallOutput`)."""

    def __init__(self, outbox: Outbox, call_id: str) -> None:
        self._outbox = outbox
        self.call_id = call_id

    async def on_fragment(self, fragment: TranscriptFragment, *, live: bool = True) -> None:
        await self._outbox.to_call(self.call_id, TranscriptMessage.of(fragment))
        if fragment.text:  # a take-back is not a final anyone reads: neither counted nor timed
            metrics.final_shown(fragment, live=live)

    async def on_sentiment(self, scored: Scored) -> None:
        await self._outbox.to_call(self.call_id, SentimentMessage.of(scored))

    async def on_error(self, error: WingmanError) -> None:
        await self._outbox.to_call(self.call_id, ErrorMessage.of(error))

    async def on_provider_status(self, event: ProviderEvent) -> None:
        await self._outbox.to_call(self.call_id, ProviderStatusMessage.of(event))
