"""Speech level for bench/tips.py: a labelled call spoken by the repo's espeak-ng synthesizer
(scripts/make_conversation_audio.py: both voices on one channel, telephone band at 8 kHz or
with `wideband` the 100-7000 Hz of VoIP at 16 kHz, 0.1-0.3 s between turns, overlaps and
backchannels) and taken the way a call's pipeline takes one-channel audio: resampled to 16 kHz,
streamed through the local speech engine with the diarizer around it (each final labelled rep
or customer; no voiceprint, so the first voice heard is the rep), and the finals aggregated into
transcript blocks (pipeline/aggregator.py: a sentence end, a speaker change or a 1 s pause ends
a block; the pause is timed on the audio). Each block is scored against the labelled turn it
falls in (the spoken turn covering its middle, else the nearest)."""

from __future__ import annotations

import functools
from typing import Any

from tests.audio_sets import AudioSet, at16k, conversation
from tests.speech_metrics import diarized, stream_set
from wingman.events import TranscriptBlock, TranscriptFragment
from wingman.pipeline.aggregator import BlockAggregator
from wingman.profile import CompanyProfile
from wingman.speakers.embedder import SpeakerEmbedder
from wingman.speakers.roles import CUSTOMER
from wingman.stt.base import SttResult
from wingman.stt.local import LocalWhisperStt


@functools.cache
def _embedder() -> SpeakerEmbedder:
    """One speaker model for every call of a run (loading it takes a while)."""
    return SpeakerEmbedder()


def vocabulary(profile: CompanyProfile) -> list[str]:
    """The names a workspace primes the engine with: its company, products and competitors."""
    return [profile.name, *profile.products, *(c.name for c in profile.competitors)]


def _turn_of(turns: list[Any], mid: float) -> int:
    def distance(t: Any) -> float:
        return 0.0 if t.start <= mid <= t.end else min(abs(mid - t.start), abs(mid - t.end))

    return min(range(len(turns)), key=lambda i: distance(turns[i]))


async def speech_blocks(
    call: dict[str, Any],
    *,
    call_id: str,
    tenant: str,
    stt: LocalWhisperStt,
    profile: CompanyProfile,
    seed: int,
    wideband: bool = False,
) -> tuple[list[tuple[int, TranscriptBlock]], float]:
    """(labelled turn index, block) per transcript block of the spoken call, and its length in s."""
    script = [(t["speaker"], t["text"]) for t in call["turns"]]
    conv = conversation.mono_call(script, seed=seed, wideband=wideband)
    audio = at16k(AudioSet(call_id, conv.audio, conv.rate, conv.turns))
    run = await stream_set(
        stt, audio, realtime=False, vocabulary=vocabulary(profile), wrap=diarized(stt.pool, _embedder().embed)
    )
    spoken = [t for t in conv.turns if not t.backchannel]  # the script's turns, in order
    return blocks_of(run.finals, call_id=call_id, tenant=tenant, turns=spoken), audio.duration


def blocks_of(
    finals: list[SttResult], *, call_id: str, tenant: str, turns: list[Any]
) -> list[tuple[int, TranscriptBlock]]:
    """The finals through the pipeline's block aggregator (its pause timed on the audio), each
    block with the index of the spoken turn it falls in."""
    now = 0.0
    aggregator = BlockAggregator(call_id=call_id, user_id=tenant, clock=lambda: now)
    blocks: list[TranscriptBlock] = []
    for r in sorted(finals, key=lambda r: (r.start, r.end)):
        now = r.start
        blocks += aggregator.tick()  # the speaker went quiet for the aggregator's pause
        now = r.end
        blocks += aggregator.add(
            TranscriptFragment(
                id=r.utterance_id, call_id=call_id, text=r.text, is_final=True,
                speaker=r.speaker or CUSTOMER, start=r.start, end=r.end,
            )
        )
    blocks += aggregator.flush()
    return [(_turn_of(turns, (b.start + b.end) / 2), b) for b in blocks]
