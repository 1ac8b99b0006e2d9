"""Final-transcript latency of the local speech engine on the demo call, at real-time pace.

Streams src/wingman/data/demo/sample_call.wav (stereo: rep, customer) through LocalWhisperStt in
100 ms chunks, each pushed when a live microphone would have delivered it. For every utterance
of the script, latency = when its final arrived - when its last word was spoken (the script's
end time mapped to wall time). Also: how much of that is the endpointer waiting for silence,
CPU-seconds per audio-second (the whole process), word error rate, interims per utterance.

The last line is one comparable figure:
    stt_final_latency_p50_s=0.71 p95=0.93 cpu_per_audio_s=0.35

Numbers depend on the machine and on what else runs on it: on a shared 2-core box they are noisy.
Run: .venv/bin/python bench/stt_latency.py [--model tiny.en] [--threads 2] [--chunk-ms 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from importlib import resources
from pathlib import Path
from typing import Any

import jiwer
import numpy as np

from wingman.audio.pcm import read_wav
from wingman.stt.base import SttResult
from wingman.stt.local import LocalWhisperStt

NUMBERS = {"2": "two", "30": "thirty", "40": "forty"}


def normalize(text: str) -> str:
    text = text.lower().replace("$30", "thirty dollars")
    text = re.sub(r"\bsoc2\b", "soc 2", text)
    words = re.sub(r"[^\w\s']", " ", text).split()
    return " ".join(NUMBERS.get(w, w) for w in words)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


async def run(args: argparse.Namespace) -> None:
    demo = resources.files("wingman") / "data" / "demo"
    script: dict[str, Any] = json.loads((demo / "sample_call.json").read_text())
    with resources.as_file(demo / "sample_call.wav") as path:
        pcm, rate = read_wav(path)
    stt = LocalWhisperStt(model=args.model, cpu_threads=args.threads, data_dir=args.data_dir)
    await stt.warm_up()
    stream = stt.stream(sample_rate=rate, channels=pcm.shape[1], vocabulary=script["vocabulary"])
    got: list[tuple[float, SttResult]] = []

    async def consume() -> None:
        async for result in stream:
            got.append((time.monotonic(), result))

    chunk = int(rate * args.chunk_ms / 1000)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(consume())
        t0 = time.monotonic()
        cpu0 = time.process_time()
        for k, i in enumerate(range(0, pcm.shape[0], chunk)):
            # a chunk leaves the microphone when its last sample has been captured
            await asyncio.sleep(max(0.0, t0 + (k + 1) * chunk / rate - time.monotonic()))
            stream.push_audio(pcm[i : i + chunk])
        stream.end_input()
    cpu = time.process_time() - cpu0
    await stream.aclose()
    await stt.aclose()

    finals = [(at, r) for at, r in got if r.is_final]
    latencies, endpoint, refs, hyps = [], [], [], []
    print(f"{'#':>2} {'speaker':8} {'end':>6} {'final':>6} {'latency':>7} {'vad':>5}  text")
    for u in script["utterances"]:
        mine = [
            (at, r)
            for at, r in finals
            if r.channel == u["channel"] and r.end > u["start"] and r.start < u["end"]
        ]
        refs.append(normalize(u["text"]))
        hyps.append(normalize(" ".join(r.text for _, r in mine)))
        if not mine:
            print(f"{u['index']:>2} {u['speaker']:8} {u['end']:6.2f}  (no final)")
            continue
        at, last = mine[-1]
        spoken = t0 + u["end"]
        latencies.append(at - spoken)
        if last.audio_end_at is not None:
            endpoint.append(last.audio_end_at - spoken)
        print(
            f"{u['index']:>2} {u['speaker']:8} {u['end']:6.2f} {at - t0:6.2f} {at - spoken:7.2f} "
            f"{(last.audio_end_at or at) - spoken:5.2f}  {' | '.join(r.text for _, r in mine)}"
        )
    interims = sum(1 for _, r in got if not r.is_final)
    wer = jiwer.wer(refs, hyps)
    audio_s = pcm.shape[0] / rate
    print(
        f"\nmodel={args.model} threads={stt.cpu_threads} utterances={len(script['utterances'])} "
        f"finals={len(finals)} interims={interims} wer={wer:.3f}"
    )
    print(
        f"endpoint wait (end of speech -> VAD end) p50={statistics.median(endpoint):.2f}s; "
        f"decode after endpoint p50="
        f"{statistics.median([a - b for a, b in zip(latencies, endpoint, strict=False)]):.2f}s; "
        f"decodes: finals={stt.scheduler.decoded_finals} interims={stt.scheduler.decoded_interims}"
        f" dropped={stt.scheduler.dropped_interims}"
    )
    print("note: other work on this machine makes these figures noisy")
    print(
        f"stt_final_latency_p50_s={percentile(latencies, 50):.2f} "
        f"p95={percentile(latencies, 95):.2f} cpu_per_audio_s={cpu / audio_s:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--threads", type=int, default=0, help="CTranslate2 threads per batch; 0 = auto")
    parser.add_argument("--chunk-ms", type=int, default=100)
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="where base is assembled")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
