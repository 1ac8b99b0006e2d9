"""Stereo with the customer's voice echoed into the rep's mic (laptop speakers), through the real
local engine: with the energy gate and the text backstop each customer sentence appears once,
as the customer, also the first one, spoken before the gate has locked on; every rep sentence
is still there."""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest

from tests.audio_sets import Turn, synthetic_stereo
from wingman.speakers.echo import EchoGate
from wingman.speakers.echo_text import EchoTextStream
from wingman.stt.base import SttResult
from wingman.stt.local import LocalWhisperStt

pytestmark = pytest.mark.slow
CHUNK = 1600


def norm(text: str) -> set[str]:
    return set(words(text))


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split()


def echoed_pairs(finals: list[SttResult], turn: Turn) -> set[tuple[str, str]]:
    """Pairs of consecutive words of the customer's turn that the rep's channel also carries,
    said while the turn was (the echo lags by at most 0.4 s)."""
    rep = [
        t
        for r in finals
        if r.channel == 0
        for w in r.words
        if turn.start - 0.2 <= (w.start + w.end) / 2 <= turn.end + 0.5
        for t in words(w.text)
    ]
    said = words(turn.text)
    return set(zip(rep, rep[1:], strict=False)) & set(zip(said, said[1:], strict=False))


def heard(finals: list[SttResult], channel: int, turn: Turn) -> float:
    """Share of the turn's words among the channel's words said within a second of it."""
    got = {
        t
        for r in finals
        if r.channel == channel
        for w in r.words
        if turn.start - 1.0 <= (w.start + w.end) / 2 <= turn.end + 1.0
        for t in norm(w.text)
    }
    said = norm(turn.text)
    return len(said & got) / len(said)


async def test_each_customer_sentence_appears_once_as_the_customer(engine: LocalWhisperStt) -> None:
    call = synthetic_stereo(echo=True)
    pcm = np.ascontiguousarray(call.audio, dtype=np.float32)
    assert call.rate == 16000
    gate = EchoGate()
    inner = engine.stream(sample_rate=16000, channels=2)
    stream = EchoTextStream(inner=inner)
    finals: list[SttResult] = []

    async def consume() -> None:
        async for r in stream:
            if r.is_final and r.text.strip():
                finals.append(r)

    task = asyncio.create_task(consume())
    for i in range(0, pcm.shape[0], CHUNK):
        stream.push_audio(gate.process(pcm[i : i + CHUNK]))
        await inner.settle()
    stream.end_input()
    await task
    await stream.aclose()

    customer = [t for t in call.spoken if t.speaker == "customer"]
    assert customer[0].start < 6.0  # spoken before the gate's first estimate locks on
    for turn in customer:
        assert heard(finals, 1, turn) >= 0.5, turn.text
        assert not echoed_pairs(finals, turn), turn.text  # not even two words also as the rep
    for turn in (t for t in call.spoken if t.speaker == "rep"):
        assert heard(finals, 0, turn) >= 0.5, turn.text
    assert stream.dropped_words > 0  # the backstop had the first sentence's echo to drop
