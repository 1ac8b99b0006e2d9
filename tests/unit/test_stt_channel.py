"""One channel of the local engine (wingman.stt.channel) on real speech with a scripted decoder.

The VAD is the real Silero model (small, ONNX); the decoder is scripted: it "hears" the words
of the reading's transcript whose times fall in the window it is given, with jittered times
and a period on its last word, as Whisper does. Over a 44 s reading without the pauses an
endpointer waits for, the finals must hold every word once, in order, none longer than 8 s.
"""

from __future__ import annotations

import concurrent.futures
import random

import numpy as np

from tests.audio_sets import TWO_CITIES, two_cities
from wingman.audio.vad import VadSegmenter
from wingman.stt.channel import ChannelDecoder, Out
from wingman.stt.commit import norm
from wingman.stt.whisper import F32, Transcript, Word

RATE = 16000


def script_words() -> list[Word]:
    """The reading's words, spread evenly over each clause's time."""
    out = []
    for start, end, text in TWO_CITIES:
        parts = text.split()
        step = (end - start - 0.2) / len(parts)
        for i, p in enumerate(parts):
            out.append(
                Word(p, round(start + 0.1 + i * step, 3), round(start + 0.1 + (i + 0.8) * step, 3), 0.9)
            )
    return out


class ScriptedWhisper:
    """Decodes a window into the script's words that end inside it (times relative to the
    window), jittered by up to 40 ms; the last one gets a period."""

    def __init__(self, channel: ChannelDecoder | None = None) -> None:
        self.channel = channel
        self.rng = random.Random(7)
        self.script = script_words()
        self.windows: list[tuple[int, int]] = []

    def submit(
        self, audio: F32, prompt: str | None, final: bool
    ) -> concurrent.futures.Future[Transcript | None]:
        assert self.channel is not None and self.channel.inflight is not None
        job = self.channel.inflight
        lo, hi = job.start / RATE, job.end / RATE
        assert audio.shape[0] == job.end - job.start
        self.windows.append((job.start, job.end))
        heard = []
        for w in self.script:
            if w.start >= lo - 0.05 and w.end <= hi:
                j = self.rng.uniform(-0.04, 0.04)
                heard.append(Word(w.text, max(w.start - lo + j, 0), max(w.end - lo + j, 0), 0.9))
        if heard and not heard[-1].text.endswith((".", "?", "!")):
            last = heard[-1]
            heard[-1] = Word(last.text.rstrip(",") + ".", last.start, last.end, last.probability)
        fut: concurrent.futures.Future[Transcript | None] = concurrent.futures.Future()
        text = " ".join(w.text for w in heard)
        fut.set_result(Transcript(text, -0.2, 0.01, hi - lo, tuple(heard)))
        return fut

    def withdraw(self) -> bool:
        return False  # decoded at once: nothing ever waits

    def tick(self) -> None:
        """100 ms of audio went by."""

    @property
    def waiting_any(self) -> bool:
        return False


def run_channel(audio: F32, whisper: ScriptedWhisper | None = None) -> tuple[list[Out], ScriptedWhisper]:
    whisper = whisper or ScriptedWhisper()
    outs: list[Out] = []
    errors: list[BaseException] = []
    ch = ChannelDecoder(
        index=0,
        segmenter=VadSegmenter(),
        submit=whisper.submit,
        emit=outs.append,
        fail=errors.append,
        interim_every=lambda: int(0.6 * RATE),
        withdraw=whisper.withdraw,
    )
    whisper.channel = ch
    for i in range(0, audio.shape[0], RATE // 10):
        ch.feed(np.ascontiguousarray(audio[i : i + RATE // 10]))
        whisper.tick()
    ch.finish()
    while whisper.waiting_any:
        whisper.tick()
    assert not errors and ch.idle
    return outs, whisper


def test_finals_hold_every_word_once_while_the_reader_keeps_going() -> None:
    audio, _ = two_cities()
    outs, whisper = run_channel(audio)
    finals = [o for o in outs if o.is_final and o.text]
    said = [norm(w.text) for w in script_words()]
    assert [norm(w) for o in finals for w in o.text.split()] == said
    assert len(finals) >= 8  # committed as it went, not one final per long VAD span
    assert all(o.end - o.start <= 8.0 for o in finals)
    assert all(a.end <= b.start + 1e-6 for a, b in zip(finals, finals[1:], strict=False))
    # word timings on every final, in call seconds, inside the final
    for o in finals:
        assert o.words and all(o.start - 0.05 <= w.start and w.end <= o.end + 0.05 for w in o.words)
    # interims and finals share ids; nothing comes after its final
    done: set[str] = set()
    for o in outs:
        assert o.utterance_id not in done
        if o.is_final:
            done.add(o.utterance_id)
    # decode windows stay short: each costs the encoder's minimum
    assert max(b - a for a, b in whisper.windows) <= 9.5 * RATE


def test_silence_gives_no_decode_and_no_final() -> None:
    rng = np.random.default_rng(0)
    outs, whisper = run_channel((rng.standard_normal(10 * RATE) * 1e-3).astype(np.float32))
    assert outs == [] and whisper.windows == []


class QueuedWhisper(ScriptedWhisper):
    """An interim waits in a queue for three chunks (300 ms) before it is decoded; the
    channel may withdraw it meanwhile, as the shared scheduler allows."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: list[tuple[int, concurrent.futures.Future[Transcript | None], Transcript | None]] = []
        self.kinds: list[str] = []
        self.withdrawn = 0
        self.after_withdraw: list[str] = []

    def submit(
        self, audio: F32, prompt: str | None, final: bool
    ) -> concurrent.futures.Future[Transcript | None]:
        assert self.channel is not None and self.channel.inflight is not None
        kind = self.channel.inflight.kind
        if self.kinds and self.kinds[-1] == "withdrawn":
            self.after_withdraw.append(kind)
        self.kinds.append(kind)
        decoded = super().submit(audio, prompt, final)
        if kind != "interim":
            return decoded
        fut: concurrent.futures.Future[Transcript | None] = concurrent.futures.Future()
        self.waiting.append((3, fut, decoded.result()))
        return fut

    def withdraw(self) -> bool:
        if not self.waiting:
            return False
        _, fut, _ = self.waiting.pop()
        self.withdrawn += 1
        self.kinds.append("withdrawn")
        fut.set_result(None)
        return True

    @property
    def waiting_any(self) -> bool:
        return bool(self.waiting)

    def tick(self) -> None:
        due = [(n - 1, f, r) for n, f, r in self.waiting]
        self.waiting = [x for x in due if x[0] > 0]
        for n, fut, result in due:
            if n <= 0:
                fut.set_result(result)


def test_an_interim_still_queued_at_a_pause_gives_way_to_the_urgent_decode() -> None:
    audio, _ = two_cities()
    outs, whisper = run_channel(audio, QueuedWhisper())
    assert isinstance(whisper, QueuedWhisper)
    assert whisper.withdrawn >= 3
    # a withdrawn interim makes way for the pause or final decode at once
    assert whisper.after_withdraw and all(k in ("pause", "final") for k in whisper.after_withdraw)
    finals = [o for o in outs if o.is_final and o.text]
    said = [norm(w.text) for w in script_words()]
    assert [norm(w) for o in finals for w in o.text.split()] == said


class ContextDeafWhisper(ScriptedWhisper):
    """Whisper on a voice change: a window that starts before the last commit hears its context
    audio and stops there, with no word of the speech after the commit."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[tuple[str, int, int, int, int]] = []  # kind, start, end, done_at, new words

    def submit(
        self, audio: F32, prompt: str | None, final: bool
    ) -> concurrent.futures.Future[Transcript | None]:
        assert self.channel is not None and self.channel.inflight is not None
        job, done = self.channel.inflight, self.channel.done_at
        tr = super().submit(audio, prompt, final).result()
        assert tr is not None
        heard = tr.words
        if job.start < done:
            heard = tuple(w for w in heard if job.start / RATE + w.end <= done / RATE)
        new = sum(job.start / RATE + w.end > done / RATE + 0.05 for w in heard)
        self.jobs.append((job.kind, job.start, job.end, done, new))
        fut: concurrent.futures.Future[Transcript | None] = concurrent.futures.Future()
        fut.set_result(Transcript(" ".join(w.text for w in heard), -0.2, 0.01, tr.seconds, heard))
        return fut


def test_an_interim_that_hears_only_the_context_is_decoded_again_from_the_commit() -> None:
    audio, _ = two_cities()
    outs, whisper = run_channel(audio, ContextDeafWhisper())
    assert isinstance(whisper, ContextDeafWhisper)
    # after an interim that heard 2 s+ of speech past the commit and no word of it, the next
    # interim decodes from the commit (the context only in the prompt), and hears the words
    stuck = 0
    for (kind, start, end, done, new), nxt in zip(whisper.jobs, whisper.jobs[1:], strict=False):
        if kind == "interim" and start < done and new == 0 and end - done >= 2 * RATE and nxt[3] == done:
            stuck += 1
            assert nxt[1] == done and (nxt[0] == "final" or nxt[4] > 0), nxt
    assert stuck >= 1
    # nothing repeated, all in order (this decoder loses a word across a window's start, and
    # "it was the season of" said twice loses its second time to strip_repeat, as before)
    finals = [o for o in outs if o.is_final and o.text]
    said = iter(norm(w.text) for w in script_words())
    assert all(any(w == s for s in said) for w in (norm(w) for o in finals for w in o.text.split()))
    assert all(o.end - o.start <= 8.0 for o in finals)


def run_with_changes(changes: list[float], *, cuts: bool) -> tuple[list[Out], list[tuple[float, Out]]]:
    """The reading through the channel with a voice change reported 1 s after each time in
    `changes` (as the diarizer hears them); returns every result and, per change, the first
    final emitted while the change was being reported."""
    from wingman.stt.commit import CommitPolicy

    audio, _ = two_cities()
    whisper = ScriptedWhisper()
    outs: list[Out] = []
    ch = ChannelDecoder(
        index=0,
        segmenter=VadSegmenter(),
        submit=whisper.submit,
        emit=outs.append,
        fail=lambda exc: (_ for _ in ()).throw(exc),
        interim_every=lambda: int(0.6 * RATE),
        policy=CommitPolicy(turn_cuts=cuts),
    )
    whisper.channel = ch
    pending = sorted(changes)
    at_change: list[tuple[float, Out]] = []
    for i in range(0, audio.shape[0], RATE // 10):
        now = (i + RATE // 10) / RATE
        while pending and pending[0] + 1.0 <= now:
            change = pending.pop(0)
            before = len(outs)
            ch.speaker_changed(int(change * RATE))
            at_change += [(change, o) for o in outs[before:] if o.is_final and o.text]
        ch.feed(np.ascontiguousarray(audio[i : i + RATE // 10]))
    ch.finish()
    assert ch.idle
    return outs, at_change


def inner_commas() -> list[float]:
    """Just after the commas inside the reading's clauses (no pause there), as if another
    voice took over at each: "belief," "us," "short," ..."""
    words = script_words()
    ends = {e for _, e, _ in TWO_CITIES}
    return [w.end + 0.05 for w in words if w.text.endswith(",") and all(abs(w.end - e) > 0.3 for e in ends)]


def test_a_voice_change_commits_what_was_said_before_it_at_once() -> None:
    changes = inner_commas()
    assert len(changes) >= 4
    outs, at_change = run_with_changes(changes, cuts=True)
    # where the last decode went on past a change, its words before it are a final at once,
    # ending at the comma; else the next decode that does cuts there (or none, when the
    # pause rule cut nearby first or two decodes disagree there)
    assert at_change and all(abs(o.end - c) <= 0.3 and o.text.endswith(",") for c, o in at_change)
    finals = [o for o in outs if o.is_final and o.text]
    cut = [c for c in changes if any(abs(o.end - c) <= 0.3 and o.text.endswith(",") for o in finals)]
    assert len(cut) >= 3
    # nothing repeated, nothing dropped, in order
    said = [norm(w.text) for w in script_words()]
    assert [norm(w) for o in finals for w in o.text.split()] == said
    assert all(a.end <= b.start + 1e-6 for a, b in zip(finals, finals[1:], strict=False))


def test_voice_changes_change_nothing_unless_the_policy_cuts_there() -> None:
    changes = inner_commas()
    outs, at_change = run_with_changes(changes, cuts=False)
    plain, _ = run_with_changes([], cuts=False)
    assert at_change == []
    assert [(o.text, o.is_final, o.start, o.end) for o in outs] == [
        (o.text, o.is_final, o.start, o.end) for o in plain
    ]
