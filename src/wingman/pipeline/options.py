"""What a `CallPipeline` is built from, besides the call itself.

- `PipelineOptions`: what every call of a node shares, its services and limits, built once
  from the container and settings (realtime/lifecycle.py).
- `ResumePoint`: where a call goes on. A new call starts at `ResumePoint()`; a call resumed
  on a new pipeline (the node that had it died, or this one restarted) goes on after its saved
  segments, so times continue, block numbers are not reused and talk time is not lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from wingman.audio.pool import AudioWorkerPool
from wingman.bus.base import EventBus
from wingman.sentiment.model import SentimentModel
from wingman.store.writer import StoreWriter
from wingman.stt.base import SpeechToText
from wingman.talktime import Spoken, TalkTime

# How long a final may wait for its segment to be saved before it is shown: with a healthy
# database the write takes milliseconds, so whatever the client saw as final survives a crash;
# with a sick one the call goes on and the write stays queued (and retried) in the StoreWriter.
PERSIST_WAIT_SECONDS = 0.5


@dataclass(frozen=True)
class PipelineOptions:
    """The services and limits every call of a node shares."""

    stt: SpeechToText
    pool: AudioWorkerPool
    writer: StoreWriter  # the process's journaled writer: segments and sentiment go through it
    bus: EventBus
    max_chunk_bytes: int
    language: str = "en"
    redact: Callable[[str], str] | None = None  # applied to every text before anything sees it
    max_call_seconds: float | None = None
    echo_gate: bool = False  # stereo calls remove the customer's echo from the rep's mic
    sentiment: SentimentModel | None = None  # scores the customer's final segments
    persist_wait: float = PERSIST_WAIT_SECONDS
    clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class ResumePoint:
    """The call time a pipeline's audio starts at, its first block seq and the talk time so
    far (wingman/talktime.py)."""

    time_offset: float = 0.0
    first_seq: int = 0
    talk_seconds: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def after(cls, segments: Sequence[Spoken]) -> ResumePoint:
        """Right after a call's saved segments."""
        return cls(
            time_offset=max((seg.end for seg in segments), default=0.0),
            # every block holds at least one segment, so this is above any seq already used
            first_seq=len(segments),
            talk_seconds=TalkTime.of(segments).totals,
        )
