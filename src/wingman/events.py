"""Everything that crosses the socket, the bus or HTTP: frozen pydantic models.

Bus messages are one discriminated union (`BusEvent`, on the `type` field) so a consumer decodes
them without trusting a class name from the wire.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

Encoding = Literal["f32le", "s16le"]
FeedbackStatus = Literal["liked", "disliked", "none"]


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Tenanted(Frozen):
    """An event of one user's call in one workspace (the tenant). `workspace_id` is empty in
    events made before workspaces existed: their tenant is the user id, which is also the id
    migration 0004 gave every existing user's workspace."""

    user_id: str
    workspace_id: str = ""

    @property
    def tenant(self) -> str:
        """The workspace the event belongs to: every data lookup is scoped to it."""
        return self.workspace_id or self.user_id


class AudioFormat(Frozen):
    """What the client declared in `start-call`."""

    sample_rate: int = Field(16000, ge=8000, le=48000)
    encoding: Encoding = "f32le"
    channels: Literal[1, 2] = 1


class WordTiming(Frozen):
    """One recognised word with its place in the call's audio (seconds)."""

    text: str
    start: float
    end: float
    probability: float | None = None
    speaker: int | None = None  # the engine's own speaker number, when it diarizes (Deepgram)


class TranscriptFragment(Frozen):
    """One interim or final piece of transcript from a speech engine (per channel)."""

    type: Literal["transcript.fragment"] = "transcript.fragment"
    id: str = Field(default_factory=new_id)  # interims of one utterance share the final's id
    call_id: str
    text: str
    is_final: bool
    speaker: str | None = None  # "rep"/"customer" for stereo calls, else a speaker id or None
    channel: int = 0
    start: float  # seconds of call audio
    end: float
    confidence: float | None = None
    # word timings when the engine gives them (finals); lets speaker labels split a final
    words: tuple[WordTiming, ...] = ()
    # monotonic time (time.monotonic()) the audio chunk holding this utterance's end arrived at
    # the gateway (pipeline/call.py); used only to measure latency, never persisted
    audio_end_at: float | None = None


class Hops(Frozen):
    """Wall-clock stamps (epoch seconds) of a block's way from the speech engine through the
    bus to the agents and back, plus its trace context (W3C traceparent): read by the metrics
    (wingman/metrics.py) and traces (wingman/tracing.py) only, never persisted."""

    audio_end: float | None = None  # the gateway heard the utterance end (its chunk arrived)
    final_shown: float | None = None  # the block's last final was emitted
    block_sent: float | None = None  # the gateway published the block
    insight_sent: float | None = None  # an agent published the insight
    trace: dict[str, str] = Field(default_factory=dict)


class TranscriptBlock(Tenanted):
    """Final fragments aggregated into a semantic unit: what the agents read."""

    type: Literal["transcript.block"] = "transcript.block"
    id: str = Field(default_factory=new_id)
    call_id: str
    seq: int  # per call, increasing: agents use it to stay idempotent
    text: str
    speaker: str | None
    start: float
    end: float
    segment_ids: tuple[str, ...] = ()
    audio_end_at: float | None = None
    # conversation so far, for metrics: seconds each speaker has talked up to this block
    talk_seconds: dict[str, float] = Field(default_factory=dict)
    hops: Hops | None = None  # operations: metrics and traces (wingman/metrics.py)


class Insight(Tenanted):
    """A tip for the rep. Saved as a Recommendation and emitted as `insight`."""

    type: Literal["insight"] = "insight"
    id: str = Field(default_factory=new_id)
    call_id: str
    block_id: str | None = None
    agent: Literal["coach", "search", "qa", "system"]
    category: str  # "Objection Handling", "Closing", "Knowledge Base", "Competitor", ...
    kind: str  # a stable key for dedup and feedback, e.g. "objection.price", "competitor.aircall"
    content: str
    context_snippet: str = ""
    source: str | None = None  # document path or URL the content came from
    entity: str | None = None  # the competitor/product matched, if any
    confidence: float | None = None
    priority: float = 0.5
    provider: str = "local"
    created_at: datetime = Field(default_factory=utcnow)
    audio_end_at: float | None = None
    block_end: float | None = None  # seconds of call audio where the block it answers ends
    hops: Hops | None = None  # operations: metrics and traces (wingman/metrics.py)


class AgentRun(Tenanted):
    """One agent decision about one block, "nothing to say" included, kept for review."""

    type: Literal["agent.run"] = "agent.run"
    id: str = Field(default_factory=new_id)
    call_id: str
    block_id: str
    agent: str
    input: str
    rule_or_prompt: str
    output: str
    provider: str
    latency_ms: float
    error: str | None = None
    insight_ids: tuple[str, ...] = ()
    created_at: datetime = Field(default_factory=utcnow)


class CallMetrics(Tenanted):
    """Live conversation metrics for the talk-ratio gauge and nudges."""

    type: Literal["call.metrics"] = "call.metrics"
    call_id: str
    rep_talk_ratio: float | None
    rep_seconds: float
    customer_seconds: float
    longest_monologue_seconds: float
    rep_questions: int
    customer_questions: int


class CallStarted(Tenanted):
    type: Literal["call.started"] = "call.started"
    call_id: str
    title: str
    started_at: datetime = Field(default_factory=utcnow)


class CallEnded(Tenanted):
    type: Literal["call.ended"] = "call.ended"
    call_id: str
    summary: str = ""
    ended_at: datetime = Field(default_factory=utcnow)


class Feedback(Tenanted):
    type: Literal["feedback"] = "feedback"
    id: str  # the recommendation's id
    status: FeedbackStatus


BusEvent = Annotated[
    TranscriptFragment
    | TranscriptBlock
    | Insight
    | AgentRun
    | CallMetrics
    | CallStarted
    | CallEnded
    | Feedback,
    Field(discriminator="type"),
]
BUS_EVENT: TypeAdapter[BusEvent] = TypeAdapter(BusEvent)

# Bus topics
TOPIC_BLOCKS = "transcript.blocks"  # gateway -> agents (key: call id)
TOPIC_INSIGHTS = "insights"  # agents -> gateway: Insight, AgentRun, CallMetrics (key: call id)
TOPIC_CALLS = "calls"  # gateway -> agents: CallStarted, CallEnded, Feedback (key: call id)
