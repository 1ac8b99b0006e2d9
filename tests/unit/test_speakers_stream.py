"""DiarizedStream: finals labelled, split at a speaker change by their word timings, engine
speaker numbers (Deepgram) mapped to roles; audio reaches the inner engine unchanged."""

from __future__ import annotations

import asyncio

import numpy as np

from tests.unit.test_speakers_diarizer import TURNS, call, scripted_embed
from wingman.audio.pool import AudioWorkerPool
from wingman.events import WordTiming
from wingman.speakers.diarizer import CUSTOMER, REP, OnlineDiarizer
from wingman.speakers.stream import DiarizedStream, snap_to_sentences
from wingman.stt.base import SttResult, SttStream


class Recorder(SttStream):
    """Emits each result it was given once it has heard its audio and half a second more, as
    an engine would."""

    provider = "scripted"

    def __init__(self, results: list[SttResult]) -> None:
        super().__init__(sample_rate=16000, channels=1, language="en")
        self.results = results
        self.frames = 0
        self.changes: list[float] = []  # voice changes the wrapper handed on

    def speaker_changed(self, at: float) -> None:
        self.changes.append(at)

    async def _run(self) -> None:
        pending = list(self.results)
        while (pcm := await self._next_audio()) is not None:
            self.frames += pcm.shape[0]
            while pending and self.frames >= (pending[0].end + 0.5) * 16000:
                self._emit(pending.pop(0))
        for r in pending:
            self._emit(r)


def words(spec: list[tuple[str, float, float]], speaker: int | None = None) -> tuple[WordTiming, ...]:
    return tuple(WordTiming(text=t, start=s, end=e, speaker=speaker) for t, s, e in spec)


async def stream_through(results: list[SttResult], audio: np.ndarray) -> tuple[list[SttResult], Recorder]:
    pool = AudioWorkerPool(max_workers=1)
    inner = Recorder(results)
    stream = DiarizedStream(inner=inner, diarizer=OnlineDiarizer(embed=scripted_embed()), pool=pool)
    out: list[SttResult] = []

    async def consume() -> None:
        async for r in stream:
            out.append(r)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(consume())
        for i in range(0, audio.shape[0], 1600):
            stream.push_audio(audio[i : i + 1600, None])
            await asyncio.sleep(0.002)  # a live call's pace, for a scripted model: the diarizer keeps up
        stream.end_input()
    await stream.aclose()
    pool.shutdown()
    return out, inner


def final_of(spec: list[tuple[str, float, float]]) -> SttResult:
    """One final "u1" of the timed words in `spec`, spanning them."""
    return SttResult(
        text=" ".join(t for t, _, _ in spec), is_final=True, channel=0,
        start=spec[0][1] - 0.2, end=spec[-1][2] + 0.3, utterance_id="u1", words=words(spec),
    )


async def test_a_final_spanning_a_turn_change_is_split_in_two() -> None:
    audio, truth = call(TURNS)
    # the customer's second turn: a new voice is told apart after about 2 s of it
    (s0, e0, _), (s1, e1, _) = truth[3], truth[4]
    final = final_of([("hello", s0 + 0.2, s0 + 0.8), ("there.", s0 + 1.5, e0 - 0.2),
                      ("sure", s1 + 0.2, s1 + 0.7), ("thing", s1 + 1.0, e1 - 0.3)])
    s0, e1 = final.start, final.end
    out, inner = await stream_through([final], audio)
    assert inner.frames == audio.shape[0]  # the engine heard everything
    assert [(r.text, r.speaker) for r in out] == [("hello there.", CUSTOMER), ("sure thing", REP)]
    assert out[0].utterance_id == "u1" and out[1].utterance_id != "u1"
    assert out[0].start == s0 and out[1].end == e1
    assert out[0].end <= out[1].start
    again, _ = await stream_through([final], audio)
    assert again[1].utterance_id == out[1].utterance_id  # a replay names the part the same


async def test_finals_and_interims_without_words_are_labelled_by_their_time() -> None:
    audio, truth = call(TURNS)
    (s1, e1, _) = truth[3]
    results = [
        SttResult(text="sure", is_final=False, channel=0, start=s1, end=s1 + 1.2),
        SttResult(text="sure thing", is_final=True, channel=0, start=s1, end=e1),
    ]
    out, _ = await stream_through(results, audio)
    assert [(r.is_final, r.speaker) for r in out] == [(False, CUSTOMER), (True, CUSTOMER)]


async def test_engine_speaker_numbers_split_and_map_to_roles() -> None:
    audio, truth = call(TURNS)
    (s0, e0, _), (s1, e1, _), (s2, e2, _) = truth[:3]
    # Deepgram numbered the customer 0 and the rep 1: the diarizer's vote decides the roles
    final = SttResult(
        text="a b c",
        is_final=True,
        channel=0,
        start=s0,
        end=e2,
        words=words([("a", s0 + 0.5, e0 - 0.5)], 1) + words([("b", s1 + 0.5, e1 - 0.5)], 0)
        + words([("c", s2 + 0.5, e2 - 0.5)], 1),
    )
    out, _ = await stream_through([final], audio)
    assert [(r.text, r.speaker) for r in out] == [("a", REP), ("b", CUSTOMER), ("c", REP)]


async def test_a_speaker_change_inside_a_sentence_moves_to_its_end() -> None:
    """The engine wrote where the sentence ends; the voices placed the change two words early
    (the tail of the customer's sentence was timed into the rep's turn): the sentence stays the
    customer's, and the rep's part starts at the next sentence."""
    audio, truth = call(TURNS)
    (s0, e0, _), (s1, e1, _) = truth[3], truth[4]
    final = final_of([("hello", s0 + 0.2, s0 + 0.8), ("there", s0 + 1.5, e0 - 0.2),
                      ("my", s1 + 0.2, s1 + 0.4), ("friend.", s1 + 0.5, s1 + 0.7),
                      ("sure", s1 + 1.0, s1 + 1.3), ("thing", s1 + 1.5, e1 - 0.3)])
    out, _ = await stream_through([final], audio)
    assert [(r.text, r.speaker) for r in out] == [("hello there my friend.", CUSTOMER), ("sure thing", REP)]


def test_speaker_changes_snap_to_the_nearest_sentence_end() -> None:
    r, c = REP, CUSTOMER
    # the customer's voice was told apart two words before the rep's question ended
    assert snap_to_sentences("What made you take this call? Chasing clients".split(),
                             [r, r, r, r, c, c, c, c]) == [r, r, r, r, r, r, c, c]
    # ... or the rep's voice held on one word into the customer's sentence
    assert snap_to_sentences("Thanks. Sure we are".split(), [r, r, c, c]) == [r, c, c, c]
    # a change at a sentence end, or with no sentence end near it, stays where the voices put it
    assert snap_to_sentences("Hello there. Sure thing".split(), [r, r, c, c]) == [r, r, c, c]
    assert snap_to_sentences("a b c d e f g h.".split(), [r, r, c, c, c, c, c, c]) == [r, r, c, c, c, c, c, c]
    # a short reply with its own sentence is kept
    kept = [r, r, r, c, r, r]
    assert snap_to_sentences("we could start. Yes. In March".split(), kept) == kept
    # an abbreviation or a trailing ellipsis is not a sentence end
    assert snap_to_sentences("I asked Dr. Smith about it".split(), [r, r, r, c, c, c]) == [r, r, r, c, c, c]
    assert snap_to_sentences([], []) == []


async def test_turn_changes_reach_the_engine() -> None:
    audio, truth = call(TURNS, gap=0.25)
    _, inner = await stream_through([], audio)
    changes = [(e0 + s1) / 2 for (_, e0, _), (s1, _, _) in zip(truth, truth[1:], strict=False)]
    assert len(inner.changes) >= len(changes) - 1
    assert all(min(abs(c - at) for c in changes) <= 0.4 for at in inner.changes)
