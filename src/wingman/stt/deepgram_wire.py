"""Deepgram's live streaming wire format: the `/v1/listen` URL and its query parameters,
vocabulary within the documented limits, linear16 audio, control messages and small readers of
`Results` fields. No I/O here: deepgram.py owns the socket.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt

from wingman.errors import (
    ProviderConnectionError,
    ProviderError,
)
from wingman.events import WordTiming
from wingman.http_errors import status_error
from wingman.stt.base import Pcm

KEEPALIVE = json.dumps({"type": "KeepAlive"})
CLOSE_STREAM = json.dumps({"type": "CloseStream"})
# Documented limits: keyterm (Nova-3) up to 100 terms and 500 tokens in all; keywords (older
# models) up to 100, single words.
MAX_KEYTERMS = 100
MAX_KEYTERM_TOKENS = 500
MAX_KEYWORDS = 100
CLOSE_POLICY_VIOLATION = 1008  # Deepgram: the audio or a message could not be decoded


class WsConnection(Protocol):
    """The part of a websockets ClientConnection we use."""

    async def send(self, message: str | bytes) -> None: ...

    async def recv(self) -> str | bytes: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


Connect = Callable[..., Awaitable[WsConnection]]


def approx_tokens(term: str) -> int:
    """A conservative token count for Deepgram's keyterm budget (about 3 characters a token)."""
    return max(len(term.split()), math.ceil(len(term) / 3))


def keyterms(vocabulary: Sequence[str]) -> list[str]:
    """Vocabulary as Nova-3 keyterms: deduplicated, at most 100 and 500 tokens in all."""
    out: list[str] = []
    seen: set[str] = set()
    budget = MAX_KEYTERM_TOKENS
    for raw in vocabulary:
        term = " ".join(raw.split())
        if not term or term.casefold() in seen or len(out) >= MAX_KEYTERMS:
            continue
        cost = approx_tokens(term)
        if cost > budget:
            continue
        budget -= cost
        seen.add(term.casefold())
        out.append(term)
    return out


def keywords(vocabulary: Sequence[str]) -> list[str]:
    """Vocabulary as keywords for pre-Nova-3 models: single words only, at most 100."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in vocabulary:
        word = raw.strip().strip(".,;:!?\"'")
        if not word or any(c.isspace() for c in word) or word.casefold() in seen:
            continue
        seen.add(word.casefold())
        out.append(word)
        if len(out) >= MAX_KEYWORDS:
            break
    return out


def listen_url(
    base: str,
    *,
    model: str,
    sample_rate: int,
    channels: int,
    language: str,
    endpointing_ms: int,
    utterance_end_ms: int,
    vocabulary: Sequence[str] = (),
    redact: Sequence[str] = (),
) -> str:
    """The `/v1/listen` URL with every query parameter we rely on; `redact` names Deepgram's
    redaction groups or entity types (one `redact=` each), so its transcripts never hold them."""
    params: list[tuple[str, str]] = [
        ("model", model),
        ("language", language),
        ("encoding", "linear16"),
        ("sample_rate", str(sample_rate)),
        ("channels", str(channels)),
        ("interim_results", "true"),
        ("endpointing", str(endpointing_ms)),
        ("utterance_end_ms", str(utterance_end_ms)),
        ("smart_format", "true"),
        ("vad_events", "true"),
    ]
    params.append(("multichannel", "true") if channels > 1 else ("diarize", "true"))
    if model.startswith("nova-3"):
        params += [("keyterm", t) for t in keyterms(vocabulary)]
    else:
        params += [("keywords", w) for w in keywords(vocabulary)]
    params += [("redact", r) for r in redact]
    parts = urlsplit(base)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit(parts._replace(query=query))


def to_linear16(pcm: Pcm) -> bytes:
    """float32 (frames, channels) in [-1, 1] -> interleaved little-endian int16."""
    samples: npt.NDArray[np.int16] = np.rint(np.clip(pcm, -1.0, 1.0) * 32767.0).astype("<i2")
    return samples.tobytes()


def handshake_error(status: int) -> ProviderError:
    """The error for an HTTP status that refused the WebSocket upgrade."""
    if not 400 <= status < 600:  # no HTTP error at all (a proxy's page instead of the upgrade)
        return ProviderConnectionError(f"deepgram unavailable (HTTP {status})")
    # a 4xx is bad query parameters (retrying the same URL cannot help); 429: too many streams
    return status_error("deepgram", status, refused="the stream", timeouts=False)


def channel_of(value: Any) -> int:
    """Deepgram sends channels as [index, count]."""
    if isinstance(value, list) and value and isinstance(value[0], int):
        return value[0]
    return 0


def majority_speaker(words: list[dict[str, Any]]) -> str | None:
    """The diarized speaker who said most of the words (by time)."""
    talk: dict[int, float] = {}
    for w in words:
        speaker = w.get("speaker")
        if isinstance(speaker, int):
            duration = float(w.get("end", 0.0)) - float(w.get("start", 0.0))
            talk[speaker] = talk.get(speaker, 0.0) + max(duration, 1e-3)
    if not talk:
        return None
    return f"speaker_{max(talk, key=lambda s: talk[s])}"


def word_timings(words: list[dict[str, Any]], offset: float) -> tuple[WordTiming, ...]:
    """Deepgram's words (with `speaker` numbers when diarizing) as call-time word timings, so
    speakers/stream.py can split a final where the speaker changes."""
    out = []
    for w in words:
        text = w.get("punctuated_word") or w.get("word")
        start, end = w.get("start"), w.get("end")
        timed = isinstance(start, int | float) and isinstance(end, int | float)
        if not isinstance(text, str) or not timed:
            continue
        speaker = w.get("speaker")
        confidence = w.get("confidence")
        out.append(
            WordTiming(
                text=text,
                start=offset + float(start),  # type: ignore[arg-type]
                end=offset + float(end),  # type: ignore[arg-type]
                probability=float(confidence) if isinstance(confidence, int | float) else None,
                speaker=speaker if isinstance(speaker, int) else None,
            )
        )
    return tuple(out)
