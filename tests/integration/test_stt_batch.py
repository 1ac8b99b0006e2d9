"""Batched decoding (wingman.stt.batch) on real speech: a batch of utterances from different
"calls", with prompts of different lengths, gives each what decoding it alone gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.audio_sets import real_phone_call
from wingman.stt.whisper import WhisperDecoder, glossary_prompt, model_dir

pytestmark = pytest.mark.slow


def test_a_batch_decodes_each_utterance_as_alone() -> None:
    dec = WhisperDecoder(model_dir("tiny.en", data_dir=Path("data")), cpu_threads=2)
    audio = real_phone_call(0)
    turns = [t for t in audio.spoken if t.end - t.start < 6.5][:6]
    clips = [audio.turn_audio(t) for t in turns]
    glossary = glossary_prompt(["Relay", "Aircall", "HubSpot"])
    # two share a prompt length (one generate for them), the rest differ
    prompts = [glossary, glossary, None, f"{glossary} It was the best of times.", None, glossary]
    alone = [dec.decode(c, prompt=p, words=True) for c, p in zip(clips, prompts, strict=True)]
    requests = [dec.request(c, prompt=p, words=True) for c, p in zip(clips, prompts, strict=True)]
    batch = dec.decode_many(requests)
    assert [b.text for b in batch] == [a.text for a in alone]
    assert all(a.text for a in alone)
    for a, b in zip(alone, batch, strict=True):
        assert [w.text for w in b.words] == [w.text for w in a.words]
        assert all(abs(x.start - y.start) < 0.05 for x, y in zip(a.words, b.words, strict=True))
        assert b.avg_logprob == pytest.approx(a.avg_logprob, abs=0.05)

