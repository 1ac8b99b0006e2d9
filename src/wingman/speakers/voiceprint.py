"""The rep's voiceprint: enrolled once from a short voice check, remembered per user, and the
diarizer each one-channel call gets (seeded with it).

Enrollment takes 16-bit PCM WAV (any rate, the first channel), keeps its speech (the
diarizer's energy rule), and needs at least `MIN_SPEECH_SECONDS` of it. The print is the mean of
1.5 s window embeddings; if those windows split into two distant voices (someone else talked
too) the check is refused, so a bad print never mislabels the calls after it.
"""

from __future__ import annotations

import asyncio
import io
import logging
import wave
from collections.abc import Callable
from datetime import datetime

import numpy as np

from wingman.audio.pool import AudioWorkerPool
from wingman.audio.resample import resample
from wingman.errors import BadInput, WingmanError
from wingman.events import utcnow
from wingman.speakers.diarizer import (
    FRAME,
    SAMPLE_RATE,
    DiarizerParams,
    OnlineDiarizer,
    farthest_pair,
    kmeans,
)
from wingman.speakers.embedder import EMBEDDING_DIM, MODEL_NAME, SpeakerEmbedder, normalize
from wingman.store.repos import Store
from wingman.store.voiceprints import VoiceprintRecord

log = logging.getLogger(__name__)

MIN_SPEECH_SECONDS = 3.0
MAX_AUDIO_SECONDS = 60.0
MAX_WAV_BYTES = int(MAX_AUDIO_SECONDS * 48000 * 2 * 2) + 1024  # a minute of 48 kHz 16-bit stereo
ENROLL_WINDOW = int(1.5 * SAMPLE_RATE)
READ_TIMEOUT_SECONDS = 1.0  # a call never waits longer than this for the print


def read_wav_bytes(data: bytes) -> np.ndarray:
    """16-bit PCM WAV bytes -> float32 mono at 16 kHz (the first channel). BadInput otherwise."""
    if not data:
        raise BadInput("no audio: send a 16-bit PCM WAV file", code="audio_empty")
    if len(data) > MAX_WAV_BYTES:
        raise BadInput(f"the voice check may last at most {MAX_AUDIO_SECONDS:.0f} s", code="audio_too_large")
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise BadInput("not a WAV file: send 16-bit PCM WAV", code="audio_format") from exc
    if width != 2:
        raise BadInput("only 16-bit PCM WAV is supported", code="audio_format")
    if not 8000 <= rate <= 48000:
        raise BadInput("the sample rate must be 8000 to 48000 Hz", code="audio_format")
    pcm = np.frombuffer(raw[: len(raw) // (2 * channels) * 2 * channels], dtype="<i2")
    mono = pcm.reshape(-1, channels)[:, :1].astype(np.float32) / np.float32(32768.0)
    if mono.shape[0] / rate > MAX_AUDIO_SECONDS:
        raise BadInput(f"the voice check may last at most {MAX_AUDIO_SECONDS:.0f} s", code="audio_too_large")
    return (
        np.ascontiguousarray(resample(mono, rate, SAMPLE_RATE)[:, 0]) if rate != SAMPLE_RATE else mono[:, 0]
    )


def speech_only(audio: np.ndarray, params: DiarizerParams | None = None) -> np.ndarray:
    """The frames of `audio` the diarizer counts as speech, joined."""
    p = params or DiarizerParams()
    n = audio.shape[0] // FRAME
    frames = audio[: n * FRAME].reshape(n, FRAME)
    energy = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    floor = float(np.percentile(energy, 10)) if n else 0.0
    keep = (energy > floor + p.floor_db) & (energy > -60.0)
    return np.ascontiguousarray(frames[keep].reshape(-1))


def make_print(
    embedder: SpeakerEmbedder, audio: np.ndarray, params: DiarizerParams | None = None
) -> tuple[np.ndarray, float]:
    """(unit embedding, seconds of speech) of one voice; BadInput when too short or two voices."""
    p = params or DiarizerParams()
    speech = speech_only(audio, p)
    seconds = speech.shape[0] / SAMPLE_RATE
    if seconds < MIN_SPEECH_SECONDS:
        raise BadInput(
            f"heard {seconds:.1f} s of speech; the voice check needs {MIN_SPEECH_SECONDS:.0f} s: "
            "read the sentence aloud, close to the microphone",
            code="voice_too_short",
        )
    windows = [
        speech[i : i + ENROLL_WINDOW] for i in range(0, speech.shape[0] - ENROLL_WINDOW // 2, ENROLL_WINDOW)
    ]
    embs = np.stack([embedder.embed(w) for w in windows])
    if embs.shape[0] >= 2 * 2:
        labels, halves = kmeans(embs, farthest_pair(embs))
        if np.bincount(labels, minlength=2).min() >= 2 and float(halves[0] @ halves[1]) < p.split_below:
            raise BadInput("more than one voice was heard: record the voice check alone", code="voice_mixed")
    return normalize(embs.sum(axis=0)), seconds


class VoiceprintService:
    """Enrollment, lookup and per-call diarizers. Built once by the container."""

    def __init__(
        self,
        *,
        store: Store,
        pool: AudioWorkerPool,
        embedder: SpeakerEmbedder | None = None,
        params: DiarizerParams | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._pool = pool
        self.embedder = embedder or SpeakerEmbedder()
        self.params = params or DiarizerParams()
        self._clock = clock

    async def enroll(self, workspace_id: str, user_id: str, wav: bytes) -> VoiceprintRecord:
        """Make and save the user's voiceprint from a WAV voice check (replacing any older one)."""
        audio = read_wav_bytes(wav)
        emb, seconds = await self._pool.run(make_print, self.embedder, audio, self.params)
        record = VoiceprintRecord(
            user_id, MODEL_NAME, emb.astype("<f4").tobytes(), round(seconds, 2), self._clock()
        )
        await self._store.put_voiceprint(record, workspace_id=workspace_id)
        log.info("voiceprint enrolled", extra={"user_id": user_id, "seconds": record.seconds})
        return record

    async def get(self, workspace_id: str, user_id: str) -> VoiceprintRecord | None:
        """The user's voiceprint if it was made by the model in use (older models' are ignored)."""
        record = await self._store.get_voiceprint(workspace_id=workspace_id, user_id=user_id)
        return record if record is not None and record.model == MODEL_NAME else None

    async def delete(self, workspace_id: str, user_id: str) -> bool:
        return await self._store.delete_voiceprint(workspace_id=workspace_id, user_id=user_id)

    async def diarizer_for(self, workspace_id: str, user_id: str) -> OnlineDiarizer:
        """A fresh diarizer for one call of this user, seeded with their print when there is
        one (read within READ_TIMEOUT_SECONDS: a slow database only costs the print)."""
        rep_print = None
        try:
            record = await asyncio.wait_for(self.get(workspace_id, user_id), READ_TIMEOUT_SECONDS)
        except (TimeoutError, WingmanError, OSError):
            log.warning(
                "voiceprint not read; the first voice is taken as the rep", extra={"user_id": user_id}
            )
            record = None
        if record is not None:
            vec = np.frombuffer(record.embedding, dtype="<f4")
            rep_print = vec.astype(np.float32) if vec.shape[0] == EMBEDDING_DIM else None
        return OnlineDiarizer(embed=self.embedder.embed, rep_print=rep_print, params=self.params)
