"""Speaker labels for any one-channel SttStream: the same audio goes to the speech engine and
to an `OnlineDiarizer`, and each result comes out labelled "rep" or "customer".

- A final with word timings is split where the speaker changes (each part its own final; the
  first keeps the utterance id the interims were shown under, the others get ids derived from
  it, so a replay names them the same).
- A final whose words carry the engine's own speaker numbers (Deepgram `diarize=true`) is split
  on those numbers, and each number is mapped to a role by the diarizer's vote over its words
  (the same rule: the enrolled voice is the rep, else the first voice heard).
- A final without word timings gets approximate ones (its words spread over its speech frames)
  and is split the same way.
- A speaker change the diarizer places a few words off a sentence end the engine wrote is moved
  to that sentence end: people hand over the turn at the end of a sentence, and the voice is
  told apart only after some of it ("What made you take | this call? Chasing ..." becomes
  "What made you take this call? | Chasing ..."), so a sentence is not cut in two speakers.
- An interim takes the speaker of its last second: cheap, and replaced by its final anyway.
- Each turn change the diarizer hears goes to the engine (`SttStream.speaker_changed`): the
  local engine ends a final there, seconds before its text rules would; others ignore it.
The diarizer runs on the worker pool, in order, never on the event loop; a final waits at most
`max_wait` for it to catch up with the final's audio.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import replace

import numpy as np

from wingman.audio.pool import AudioWorkerPool
from wingman.events import WordTiming
from wingman.pipeline.aggregator import ends_sentence
from wingman.speakers.diarizer import OnlineDiarizer
from wingman.speakers.roles import CUSTOMER, REP
from wingman.stt.base import Pcm, StreamWrapper, SttResult, SttStream

_PART_IDS = uuid.UUID("6b1f0c52-8f57-4c1a-9d0e-5a3c2f1e7d90")
INTERIM_LOOKBACK_S = 1.0
# a speaker change at most this many words from a sentence end is moved to it
SNAP_WORDS = 3


def snap_to_sentences(
    texts: list[str], roles: list[str | None], *, within: int = SNAP_WORDS
) -> list[str | None]:
    """`roles` (one per word of `texts`) with each speaker change that falls inside a sentence
    moved to the nearest sentence end at most `within` words away (the later one on a tie); a
    change with no sentence end that close stays where the voices say."""
    out = list(roles)
    ends = [i + 1 for i, t in enumerate(texts[:-1]) if ends_sentence(t)]  # a change may go before i
    i = 1
    while i < len(out):
        if out[i] == out[i - 1] or (i in ends):
            i += 1
            continue
        before, after = out[i - 1], out[i]
        # never across another change: the words moved are all of one speaker
        near = [
            j for j in ends
            if (0 < j - i <= within and all(r == after for r in out[i:j]))
            or (0 < i - j <= within and all(r == before for r in out[j:i]))
        ]
        if not near:
            i += 1
            continue
        j = min(near, key=lambda j: (abs(j - i), -j))
        if j > i:
            out[i:j] = [out[i - 1]] * (j - i)  # the previous speaker ends the sentence
        else:
            out[j:i] = [out[i]] * (i - j)  # the next speaker started at the sentence end
        i = max(i, j) + 1
    return out


class DiarizedStream(StreamWrapper):
    """Wraps `inner` (one channel); results gain speakers. Closing it closes `inner`."""

    def __init__(
        self, *, inner: SttStream, diarizer: OnlineDiarizer, pool: AudioWorkerPool, max_wait: float = 0.5
    ) -> None:
        if inner.channels != 1:
            raise ValueError("diarization is for one-channel audio; stereo is labelled by channel")
        super().__init__(inner=inner)
        self.diarizer = diarizer
        self._pool = pool
        self._max_wait = max_wait
        self._chunks: asyncio.Queue[Pcm | None] = asyncio.Queue()
        self._heard = 0.0  # seconds of audio the diarizer has taken
        self._progress = asyncio.Event()
        self._engine_roles: dict[int, str] = {}  # Deepgram speaker number -> role
        self.cpu_seconds = 0.0  # thread CPU the diarizer used (for the figures)

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._diarize_loop())
            relay = tg.create_task(self._relay())
            while True:
                pcm = await self._next_audio()
                self._chunks.put_nowait(pcm)
                if pcm is None:
                    self.inner.end_input()
                    break
                self.inner.push_audio(pcm)
            await relay

    async def _diarize_loop(self) -> None:
        while (pcm := await self._chunks.get()) is not None:
            self.cpu_seconds += await self._pool.run(self._push, np.ascontiguousarray(pcm[:, 0]))
            self._heard = self.diarizer.position
            for at in self.diarizer.take_changes():
                self.inner.speaker_changed(at)
            self._progress.set()
        self._heard = float("inf")
        self._progress.set()

    def _push(self, mono: np.ndarray) -> float:
        t0 = time.thread_time()
        self.diarizer.push(mono)
        return time.thread_time() - t0

    async def _caught_up(self, until: float) -> None:
        deadline = asyncio.get_running_loop().time() + self._max_wait
        while self._heard < until:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return  # label with what it has: a late label beats a late final
            self._progress.clear()
            try:
                await asyncio.wait_for(self._progress.wait(), left)
            except TimeoutError:
                return

    async def _relay(self) -> None:
        async for result in self.inner:
            self.finalized_samples = self.inner.finalized_samples
            if not result.is_final:
                lo = max(result.start, result.end - INTERIM_LOOKBACK_S)
                self._emit(
                    replace(result, speaker=self.diarizer.label_span(lo, result.end) or result.speaker)
                )
                continue
            await self._caught_up(result.end)
            for part in self.label(result):
                self._emit(part)
        self.finalized_samples = self.inner.finalized_samples

    def label(self, result: SttResult) -> list[SttResult]:
        """The final with speakers: itself labelled, or its parts where the speaker changes."""
        words = [w for w in result.words if w.text.strip()] or self._spread(result)
        if not words or not result.text.strip():
            return [
                replace(result, speaker=self.diarizer.label_span(result.start, result.end) or result.speaker)
            ]
        if any(w.speaker is not None for w in words):
            roles = self._engine_speakers(words)
        else:
            roles = snap_to_sentences(
                [w.text for w in words], self.diarizer.label_words([(w.start, w.end) for w in words])
            )
        runs: list[tuple[str | None, list[WordTiming]]] = []
        for word, role in zip(words, roles, strict=True):
            if runs and runs[-1][0] == role:
                runs[-1][1].append(word)
            else:
                runs.append((role, [word]))
        if len(runs) == 1:
            return [replace(result, speaker=runs[0][0] or result.speaker)]
        parts = []
        for i, (role, ws) in enumerate(runs):
            parts.append(
                replace(
                    result,
                    text=" ".join(w.text.strip() for w in ws),
                    utterance_id=result.utterance_id
                    if i == 0
                    else str(uuid.uuid5(_PART_IDS, f"{result.utterance_id}/{i}")),
                    start=result.start if i == 0 else ws[0].start,
                    end=result.end if i == len(runs) - 1 else ws[-1].end,
                    speaker=role or result.speaker,
                    words=tuple(ws) if result.words else (),  # approximate timings stay inside
                )
            )
        return parts

    def _spread(self, result: SttResult) -> list[WordTiming]:
        """Approximate word timings for an engine that gives none: the words laid over the
        final's speech frames in order, each taking frames in proportion to its length (the
        parts are then split at speaker changes to within a word or two)."""
        texts = result.text.split()
        frames = self.diarizer.speech_frames(result.start, result.end)
        if len(texts) < 2 or frames.shape[0] < len(texts):
            return []
        weight = np.cumsum([len(t) + 1 for t in texts], dtype=np.float64)
        edges = np.concatenate([[0.0], weight / weight[-1]]) * frames.shape[0]
        out = []
        for i, text in enumerate(texts):
            lo = int(edges[i])
            hi = max(int(edges[i + 1]) - 1, lo)
            out.append(WordTiming(text=text, start=float(frames[lo]), end=float(frames[hi]) + 0.01))
        return out

    def _engine_speakers(self, words: list[WordTiming]) -> list[str | None]:
        """Roles for the engine's speaker numbers: each number gets the diarizer's majority
        role over its words (updated as more is heard); with no vote yet, the first number
        heard is the rep."""
        roles = self.diarizer.label_words([(w.start, w.end) for w in words])
        if not self.diarizer.tells_roles:
            roles = [None] * len(words)  # one voice so far and no print: its vote says nothing
        votes: dict[int, Counter[str]] = {}
        for w, role in zip(words, roles, strict=True):
            if w.speaker is not None and role is not None:
                votes.setdefault(w.speaker, Counter())[role] += 1
        for number, count in votes.items():
            self._engine_roles[number] = count.most_common(1)[0][0]
        out: list[str | None] = []
        for w in words:
            if w.speaker is None:
                out.append(None)
                continue
            if w.speaker not in self._engine_roles:
                self._engine_roles[w.speaker] = REP if not self._engine_roles else CUSTOMER
            out.append(self._engine_roles[w.speaker])
        return out
