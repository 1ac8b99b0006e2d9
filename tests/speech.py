"""Streaming a recorded clip through the local speech engine, for tests and benchmarks."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np

from wingman.stt.local import LocalWhisperStt

CHUNK = 1600  # 100 ms at 16 kHz


async def final_text(engine: LocalWhisperStt, pcm: np.ndarray, vocabulary: Sequence[str] = ()) -> str:
    """The finals of one mono 16 kHz clip, streamed as fast as the engine takes it (each chunk
    once the engine has settled the previous one), joined."""
    stream = engine.stream(sample_rate=16000, channels=1, vocabulary=vocabulary)
    finals: list[str] = []

    async def consume() -> None:
        async for r in stream:
            if r.is_final and r.text:
                finals.append(r.text)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(consume())
        for i in range(0, len(pcm), CHUNK):
            stream.push_audio(pcm[i : i + CHUNK].reshape(-1, 1))
            await stream.settle()
        stream.end_input()
    await stream.aclose()
    return " ".join(finals)
