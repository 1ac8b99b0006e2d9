"""Decoding several utterances in one CTranslate2 call: the core of `WhisperDecoder.decode`.

`decode_batch` takes requests (audio, prompt tokens, language) from any calls and runs the mel
spectrograms, ONE encoder call over the batch (features padded to the batch's longest window),
ONE greedy `generate` per group of requests whose prompts have the same length (CTranslate2
needs <|startoftranscript|> at the same position in every row; padding a prompt with filler
tokens changed the text of half the utterances on our sets, so prompts are never padded), and
ONE word alignment over the batch. A batch of one is exactly the single decode.

A request whose prompt may be shortened (`Request.context`: the conversation so far, after the
glossary) loses up to a third of it, at most MAX_TRIM tokens, the oldest first, when that puts
it in another request's generate call: the fewest calls that cover every request's allowed
lengths (10 calls each with its own context rarely have equal prompts; on 2 cores a batch of 4
in one generate cost ~0.57 s of CPU against ~0.71 s in four). Whisper keeps only the last 223
prompt tokens itself; what it hears last matters most: 63 turns of the real and synthetic phone
sets, each decoded alone after the 30 words said before it, had a WER of 0.483 with the whole
prompt and 0.467 with it shortened so.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from wingman.stt.whisper import F32, HOP, MAX_FRAMES, SAMPLE_RATE, Transcript, Word, drop_loops

MAX_TRIM = 12  # prompt tokens (~9 words of the oldest context) a request may lose to share a call
PREPEND_PUNCTUATION = "\"'“¿([{-"  # faster-whisper's defaults: attached to the next word
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"  # ... to the previous one


@dataclass(frozen=True)
class Request:
    """One utterance to decode: prompt and suppressed tokens from `WhisperDecoder._prompt`."""

    audio: F32
    tokens: tuple[int, ...]
    suppress: tuple[int, ...]
    tokenizer: Any
    words: bool
    context: tuple[int, int] = (0, 0)  # tokens[a:b]: previous text that may lose its oldest

    def shortest(self) -> int:
        """The fewest prompt tokens this request may be decoded with (see the module docstring)."""
        a, b = self.context
        return len(self.tokens) - min(MAX_TRIM, (b - a) // 3)

    def shortened(self, size: int) -> tuple[int, ...]:
        """The prompt with its oldest context tokens dropped down to `size` tokens."""
        cut = len(self.tokens) - size
        if cut <= 0:
            return self.tokens
        a = self.context[0]
        return self.tokens[:a] + self.tokens[a + cut :]


def prompt_groups(requests: Sequence[Request]) -> dict[tuple[int, tuple[int, ...]], list[int]]:
    """(prompt length, suppressed tokens) -> the requests decoded in one generate call: each
    length is the longest its requests share (each request may shorten its prompt down to
    `Request.shortest`), as few calls as cover them all."""
    order = sorted(range(len(requests)), key=lambda i: len(requests[i].tokens))
    groups: dict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(list)
    left = set(order)
    for i in order:
        if i not in left:
            continue
        size = len(requests[i].tokens)
        rows = [
            j
            for j in sorted(left)  # in batch order: the encoder output's rows
            if requests[j].suppress == requests[i].suppress
            and requests[j].shortest() <= size <= len(requests[j].tokens)
        ]
        groups[(size, requests[i].suppress)] = rows
        left -= set(rows)
    return groups


N_FFT = 400  # Whisper's STFT: 25 ms windows every HOP samples


@functools.cache
def _mel_bands(n_mels: int) -> tuple[npt.NDArray[np.intp], F32, F32]:
    """Whisper's mel filterbank as, for each band, the FFT bins it spans (a run of at most 14
    of the 201 for 80 bands) and their weights; and the Hann window."""
    from faster_whisper.feature_extractor import FeatureExtractor

    filters = FeatureExtractor.get_mel_filters(SAMPLE_RATE, N_FFT, n_mels=n_mels).astype(np.float32)
    bins = filters.shape[1]
    spans = [np.flatnonzero(band) for band in filters]
    width = max(len(s) for s in spans)
    first = [min(int(s[0]) if len(s) else 0, bins - width) for s in spans]
    index = np.array([np.arange(f, f + width) for f in first], dtype=np.intp)
    weights = np.take_along_axis(filters, index, axis=1)
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    return index, weights, window


def log_mel(audio: F32, n_mels: int = 80) -> F32:
    """Whisper's log-mel features of 16 kHz audio, shape (n_mels, len/HOP): what faster-whisper's
    FeatureExtractor gives (to float32 rounding), at a quarter of its CPU. It computes the STFT
    in float64 and projects it on the 80 bands with a BLAS matmul, which OpenBLAS spreads over
    threads that then spin against the decoder's; here the FFT is float32 and each band sums
    only the bins it spans (no BLAS call). Not bit-exact: int8 Whisper turns differences of
    1e-7 into other (as likely) texts now and then."""
    index, weights, window = _mel_bands(n_mels)
    x = np.pad(
        np.concatenate([audio.astype(np.float32, copy=False), np.zeros(HOP, np.float32)]),
        N_FFT // 2,
        mode="reflect",
    )
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP][:-1]
    spec = np.fft.rfft(frames * window, axis=-1)
    power = (spec.real**2 + spec.imag**2).T  # (bins, frames)
    mel: F32 = np.einsum("bkn,bk->bn", power[index], weights)
    log = np.log10(np.maximum(mel, np.float32(1e-10)))
    log = np.maximum(log, log.max() - np.float32(8.0))
    out: F32 = (log + np.float32(4.0)) / np.float32(4.0)
    return out


def _storage(x: Any) -> Any:
    import ctranslate2

    return ctranslate2.StorageView.from_array(np.ascontiguousarray(x, dtype=np.float32))


def decode_batch(
    model: Any, requests: Sequence[Request], *, min_frames: int, pad_frames: int
) -> list[Transcript]:
    """Transcribe every request (see the module docstring); `model` is a faster-whisper
    WhisperModel. Each request gets what a decode of it alone gives, but for the silence its
    features are padded with up to the batch's longest window."""
    if not requests:
        return []
    audios = [r.audio[: MAX_FRAMES * HOP] for r in requests]
    n_mels = model.feature_extractor.mel_filters.shape[0]
    feats = [log_mel(a, n_mels) for a in audios]
    lengths = [f.shape[1] for f in feats]
    frames = min(MAX_FRAMES, max(min_frames, max(lengths) + pad_frames))
    batch = np.stack([np.pad(f, ((0, 0), (0, frames - f.shape[1])))[:, :frames] for f in feats])
    encoded = model.model.encode(_storage(batch))
    whole = len(requests) == 1
    enc_np = None if whole else np.asarray(encoded)
    subset: Callable[[list[int]], Any] = lambda rows: (  # noqa: E731
        encoded if whole or len(rows) == len(requests) else _storage(enc_np[rows])  # type: ignore[index]
    )
    seconds = [a.shape[0] / SAMPLE_RATE for a in audios]
    ids: list[list[int]] = [[] for _ in requests]
    scores = [0.0] * len(requests)
    no_speech = [0.0] * len(requests)
    for (size, suppress), rows in prompt_groups(requests).items():
        # a cap on tokens: a confused model cannot loop for long (speech is < 5 tokens/s)
        caps = {i: min(int(seconds[i] * 8) + 12, 440 - size) for i in rows}
        results = model.model.generate(
            subset(rows),
            [list(requests[i].shortened(size)) for i in rows],
            beam_size=1,
            max_length=size + max(caps.values()),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=list(suppress),
        )
        for i, res in zip(rows, results, strict=True):
            eot = requests[i].tokenizer.eot
            # greedy: a longer cap gives the same first tokens; a row cut here keeps the
            # score of the longer run (only for a decode that hit its cap: a loop)
            ids[i] = [t for t in res.sequences_ids[0] if t < eot][: caps[i]]
            scores[i], no_speech[i] = float(res.scores[0]), float(res.no_speech_prob)
    timed = _align_rows(model, requests, ids, subset, lengths, seconds)
    out = []
    for i, r in enumerate(requests):
        n = len(ids[i])
        avg_logprob = scores[i] * n / (n + 1) if n else -10.0
        if i not in timed:
            text = " ".join(r.tokenizer.decode(ids[i]).split())
            out.append(Transcript(text, avg_logprob, no_speech[i], seconds[i]))
            continue
        words = drop_loops(timed[i])
        text = " ".join(w.text for w in words)
        out.append(Transcript(text, avg_logprob, no_speech[i], seconds[i], tuple(words)))
    return out


def _align_rows(
    model: Any,
    requests: Sequence[Request],
    ids: list[list[int]],
    subset: Callable[[list[int]], Any],
    lengths: list[int],
    seconds: list[float],
) -> dict[int, list[Word]]:
    """Word timings (cross-attention alignment, as faster-whisper's word_timestamps) of the
    rows that asked for them and have text, one `align` per tokenizer, without the words
    Whisper places in the silence padded after the audio."""
    from faster_whisper.transcribe import merge_punctuations

    by_tok: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(requests):
        if r.words and ids[i]:
            by_tok[id(r.tokenizer)].append(i)
    timed: dict[int, list[Word]] = {}
    for rows in by_tok.values():
        tok = requests[rows[0]].tokenizer
        texts, frames = [ids[i] for i in rows], [lengths[i] for i in rows]
        alignments = model.find_alignment(tok, texts, subset(rows), frames)
        for i, alignment in zip(rows, alignments, strict=True):
            merge_punctuations(alignment, PREPEND_PUNCTUATION, APPEND_PUNCTUATION)
            words = []
            for w in alignment:
                text = w["word"].strip()
                if not text:
                    continue
                start, end = float(w["start"]), float(w["end"])
                if start >= seconds[i] - 0.05:
                    break  # in the padding: nothing was said there
                prob = round(float(w["probability"]), 3)
                words.append(Word(text, round(start, 3), round(min(end, seconds[i]), 3), prob))
            timed[i] = words
    return timed
