"""CPU of the live diarizer per second of audio, all of the process's threads counted.

bench/speakers.py times the diarizer's own thread while the speech engine runs beside it; a
library's helper threads (OpenBLAS's, which spin after each call) escape that figure. Here the
diarizer (the real CAM++ embedder, speakers/fbank.py features) runs alone, in 0.1 s chunks as
a call feeds it, on the real two-reader phone call and the synthetic two-voice phone call:
process CPU (every thread) and the feeding thread's CPU, per audio second, and the same for
the filterbank alone on the diarizer's 1.5 s windows. CPU, not wall clock, but spinning
threads take more of it on a busy machine: run it under the bench lock and give the load.

    .venv/bin/python bench/diarizer_cpu.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import _common  # noqa: F401  (the repo on sys.path)
import numpy as np

from tests import audio_sets as sets
from wingman.speakers.diarizer import OnlineDiarizer
from wingman.speakers.embedder import SpeakerEmbedder
from wingman.speakers.fbank import fbank

CHUNK = 1600  # 0.1 s
RATE = 16000
WINDOW = 24000  # the diarizer's window (1.5 s) every hop (0.5 s)
HOP = 8000


def cpu(run: object, repeat: int) -> tuple[float, float]:
    """(process CPU, thread CPU) seconds of the fastest of `repeat` runs of `run()`."""
    best: tuple[float, float] | None = None
    for _ in range(repeat):
        p, t = time.process_time(), time.thread_time()
        run()  # type: ignore[operator]
        took = (time.process_time() - p, time.thread_time() - t)
        best = took if best is None or took[0] < best[0] else best
    assert best is not None
    return best


def main(repeat: int) -> None:
    embedder = SpeakerEmbedder()
    embedder.embed(np.zeros(RATE, np.float32))  # the model loaded
    totals = {"diarizer": [0.0, 0.0], "fbank": [0.0, 0.0]}
    seconds = 0.0
    for s in (sets.real_phone_call(), sets.synthetic_call()):
        mono = np.ascontiguousarray(sets.at16k(s).audio[:, 0])
        audio_s = mono.shape[0] / RATE

        def diarize(mono: np.ndarray = mono) -> None:
            diarizer = OnlineDiarizer(embed=embedder.embed)
            for i in range(0, mono.shape[0], CHUNK):
                diarizer.push(mono[i : i + CHUNK])

        def features(mono: np.ndarray = mono) -> None:
            for i in range(0, mono.shape[0] - WINDOW + 1, HOP):
                fbank(mono[i : i + WINDOW])

        for name, run in (("diarizer", diarize), ("fbank", features)):
            p, t = cpu(run, repeat)
            totals[name][0] += p
            totals[name][1] += t
            print(
                f"{s.name:26s} {name:8s} process {p / audio_s * 1000:6.2f} ms/audio-s, "
                f"thread {t / audio_s * 1000:6.2f} ms/audio-s ({audio_s:.0f} s of audio)"
            )
        seconds += audio_s
    (dp, dt), (fp, ft) = totals["diarizer"], totals["fbank"]
    print(
        f"diarizer_cpu process_ms_per_audio_s={dp / seconds * 1000:.2f} thread={dt / seconds * 1000:.2f} "
        f"fbank_process={fp / seconds * 1000:.2f} fbank_thread={ft / seconds * 1000:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the fastest counts")
    main(parser.parse_args().repeat)
