"""Batched decoding (wingman.stt.batch) on real speech: a batch of utterances from different
"calls", with prompts of different lengths, gives each what decoding it alone gives."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.audio_sets import real_phone_call
from wingman.stt.batch import prompt_groups
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



def test_prompts_a_few_context_words_apart_share_a_call() -> None:
    """Four "calls" whose conversation so far differs by a few words run in ONE generate call
    (wingman.stt.batch.prompt_groups): each hears what it hears alone with its prompt shortened
    to the shared length (its oldest context words gone, the glossary kept)."""
    dec = WhisperDecoder(model_dir("tiny.en", data_dir=Path("data")), cpu_threads=2)
    audio = real_phone_call(0)
    turns = [t for t in audio.spoken if t.end - t.start < 6.5][:4]
    clips = [audio.turn_audio(t) for t in turns]
    glossary = glossary_prompt(["Relay", "Aircall", "HubSpot"])
    assert glossary is not None
    said = (
        "Thanks for taking the time today. We looked at a few tools last quarter and the team "
        "wants one place for calls and notes, so I would like to hear how the rollout works."
    ).split()
    prompts = [f"{glossary} {' '.join(said[k:])}" for k in (0, 2, 4, 1)]
    requests = [
        dec.request(c, prompt=p, words=True, keep=glossary) for c, p in zip(clips, prompts, strict=True)
    ]
    assert len({len(r.tokens) for r in requests}) == 4
    groups = prompt_groups(requests)
    assert list(groups.values()) == [[0, 1, 2, 3]]
    ((size, _),) = groups
    head = dec.request(clips[0], prompt=glossary).tokens[:-2]  # <|startofprev|> and the glossary
    short = [dataclasses.replace(r, tokens=r.shortened(size), context=(0, 0)) for r in requests]
    assert all(r.tokens[: len(head)] == head and len(r.tokens) == size for r in short)
    assert [r.tokens[-8:] for r in short] == [r.tokens[-8:] for r in requests]  # newest context kept
    alone = [dec.decode_many([r])[0] for r in short]
    batch = dec.decode_many(requests)
    assert all(a.text for a in alone)
    assert [b.text for b in batch] == [a.text for a in alone]
