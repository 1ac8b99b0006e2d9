"""Speech level for bench/tips.py: a labelled call spoken by the repo's espeak-ng synthesizer
(scripts/make_conversation_audio.py: both voices on one channel, telephone band at 8 kHz or
with `wideband` the 100-7000 Hz of VoIP at 16 kHz, 0.1-0.3 s between turns, overlaps and
backchannels) and streamed through the local speech engine, whose
diarizer labels each final rep or customer. Each final becomes one transcript block, scored
against the labelled turn it falls in (the spoken turn covering its middle, else the nearest)."""

from __future__ import annotations

from typing import Any

from tests.audio_sets import AudioSet, conversation
from tests.speech_metrics import stream_set
from wingman.events import TranscriptBlock
from wingman.profile import CompanyProfile
from wingman.stt.local import LocalWhisperStt


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
    """(labelled turn index, block) per final of the spoken call, and the call's length in s."""
    script = [(t["speaker"], t["text"]) for t in call["turns"]]
    conv = conversation.mono_call(script, seed=seed, wideband=wideband)
    audio = AudioSet(call_id, conv.audio, conv.rate, conv.turns)
    run = await stream_set(stt, audio, realtime=False, vocabulary=vocabulary(profile))
    spoken = [t for t in conv.turns if not t.backchannel]  # the script's turns, in order
    talk = {"rep": 0.0, "customer": 0.0}
    out = []
    for seq, r in enumerate(sorted(run.finals, key=lambda r: (r.start, r.end))):
        speaker = r.speaker if r.speaker in talk else "customer"
        talk[speaker] += r.end - r.start
        block = TranscriptBlock(
            call_id=call_id, user_id=tenant, seq=seq, text=r.text, speaker=speaker,
            start=r.start, end=r.end, talk_seconds=dict(talk),
        )
        out.append((_turn_of(spoken, (r.start + r.end) / 2), block))
    return out, audio.duration
