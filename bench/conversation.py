"""The local speech engine on conversations: continuous speech, one shared channel, real voices.

Streams each set of tests/audio_sets.py through LocalWhisperStt (100 ms chunks at real-time
pace; `--fast`: as fast as the engine settles, where delays mean nothing) and prints per set:

  WER       finals against the spoken turns; `alone`: the same model decoding each turn alone
            (with the same glossary prompt): the accuracy a streaming engine should approach
  delay     seconds from each sentence's end (truth) to the arrival of the final holding it
  longest   the longest final, seconds of audio
  dup       4-word phrases the finals hold more often than the truth (a repeated final)
  speakers  share of final words with the right speaker (fragment speaker vs truth by time);
            one-channel sets get speakers only with `--speakers`: the pipeline's diarizer
            (speakers/stream.py) on the audio at 16 kHz, as the pipeline resamples it
  cpu       CPU seconds of this process per second of audio

Sets: synthetic_phone (two espeak-ng voices, one telephone channel, 0.1-0.3 s turns, overlaps,
backchannels, 20 dB SNR), synthetic_wide (the same at 16 kHz VoIP band), real_phone (two real
readers answering each other on one telephone channel), two_cities (one real reader, 44 s
without a pause the endpointer waits for), demo (the stereo demo call, rep 0 / customer 1).

The last line is one comparable figure: delay over the one-channel two-voice sets, the worst
WER gap to decoding alone over every set, the longest final, duplicates, CPU:
    conversation delay_p50_s=0.71 p95_s=1.30 wer_gap_max=0.008 longest_final_s=7.6 dup=0 cpu=0.40
Run: .venv/bin/python bench/conversation.py [--fast] [--speakers] [--sets real_phone,demo] [--seeds 0,1,2]
     [--threads 2]
(`--seeds`: the synthetic and real_phone sets once per seed: other gaps, noise, speaking rates)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.audio_sets import (  # noqa: E402
    DEMO_SCRIPT,
    AudioSet,
    at16k,
    demo_call_set,
    demo_one_channel,
    real_phone_call,
    synthetic_call,
    two_cities_set,
)
from tests.speech_metrics import (  # noqa: E402
    alone_wer,
    diarized,
    duplicated_phrases,
    final_delays,
    longest_final,
    percentile,
    repeated_phrases,
    speaker_accuracy,
    stream_set,
    wer,
)
from wingman.speakers.embedder import SpeakerEmbedder  # noqa: E402
from wingman.stt.local import LocalWhisperStt  # noqa: E402
from wingman.stt.whisper import glossary_prompt  # noqa: E402

SETS: dict[str, Callable[[int], AudioSet]] = {
    "synthetic_phone": lambda seed: synthetic_call(seed),
    "synthetic_wide": lambda seed: synthetic_call(seed, wideband=True),
    "real_phone": lambda seed: real_phone_call(seed),
    "two_cities": lambda seed: two_cities_set(),
    "demo": lambda seed: demo_call_set(),
    "demo_mono": lambda seed: demo_one_channel(),
    "demo_phone": lambda seed: demo_one_channel(phone=True),
}
SEEDED = ("synthetic_phone", "synthetic_wide", "real_phone")  # gaps, noise and rates per seed
TWO_VOICE_MONO = ("synthetic_phone", "synthetic_wide", "real_phone")


def decode_alone(stt: LocalWhisperStt, audio: AudioSet, prompt: str | None) -> list[str]:
    return [stt.decoder.decode(audio.turn_audio(t), prompt=prompt).text for t in audio.spoken]


async def run(args: argparse.Namespace) -> None:
    stt = LocalWhisperStt(model=args.model, cpu_threads=args.threads, data_dir=args.data_dir)
    await stt.warm_up()
    embedder = SpeakerEmbedder()
    # the demo tenant's names, as a sales call on Wingman primes the engine with them
    vocabulary = list(json.loads(DEMO_SCRIPT.read_text())["vocabulary"])
    prompt = glossary_prompt(vocabulary)
    names = [s for s in args.sets.split(",") if s]
    seeds = [int(x) for x in args.seeds.split(",") if x]
    delays_mono: list[float] = []
    gaps: list[float] = []
    longest = 0.0
    dups = 0
    cpu = audio_s = 0.0
    pace = "fast" if args.fast else "real-time"
    print(f"model={args.model} threads={stt.cpu_threads} pace={pace} load={os.getloadavg()[0]:.2f}")
    print(
        f"{'set':16} {'dur':>5} {'WER':>6} {'alone':>6} {'delay p50':>9} {'p95':>5} "
        f"{'longest':>7} {'dup':>3} {'speakers':>8} {'cpu':>5} {'finals':>6}"
    )
    runs = [(name, seed) for name in names for seed in (seeds if name in SEEDED else [0])]
    for name, seed in runs:
        audio = SETS[name](seed)
        label = name if name not in SEEDED or seeds == [0] else f"{name}_s{seed}"
        wrap = None
        if args.speakers and audio.channels == 1:
            audio = at16k(audio)
            wrap = diarized(stt.pool, embedder.embed)
        result = await stream_set(stt, audio, realtime=not args.fast, vocabulary=vocabulary, wrap=wrap)
        finals = result.finals
        alone_texts = await stt.pool.run(decode_alone, stt, audio, prompt)
        alone = alone_wer(audio, alone_texts)
        streamed = wer(audio, finals)
        delays = final_delays(result) if not args.fast else []
        if name in TWO_VOICE_MONO:
            delays_mono += delays
        gaps.append(streamed - alone)
        longest = max(longest, longest_final(finals))
        dup = duplicated_phrases(audio, finals)
        dups += dup
        cpu += result.cpu_seconds
        audio_s += audio.duration
        print(
            f"{label:16} {audio.duration:5.1f} {streamed:6.3f} {alone:6.3f} "
            f"{percentile(delays, 50):9.2f} {percentile(delays, 95):5.2f} {longest_final(finals):7.1f} "
            f"{dup:3d} {speaker_accuracy(audio, finals):8.3f} {result.cpu_seconds / audio.duration:5.2f} "
            f"{len(finals):6d}"
        )
        if args.verbose:
            for phrase in repeated_phrases(audio, finals):
                print(f"    duplicated: {phrase}")
            for r in finals:
                print(f"    {r.start:6.2f}-{r.end:6.2f} [{r.speaker}] {r.text}")
            for t, text in zip(audio.spoken, alone_texts, strict=True):
                print(f"    alone {t.start:6.2f}-{t.end:6.2f} [{t.speaker}] {text}")
    await stt.aclose()
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (2 cores; other work makes figures noisy)")
    print(
        f"conversation delay_p50_s={percentile(delays_mono, 50):.2f} p95_s={percentile(delays_mono, 95):.2f} "
        f"wer_gap_max={max(gaps, default=float('nan')):.3f} longest_final_s={longest:.1f} dup={dups} "
        f"cpu={cpu / max(audio_s, 1e-9):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--threads", type=int, default=0, help="CTranslate2 threads per batch; 0 = auto")
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    parser.add_argument("--seeds", default="0", help="seeds of the synthetic and real_phone sets, e.g. 0,1,2")
    parser.add_argument("--fast", action="store_true", help="push as fast as the engine settles")
    parser.add_argument(
        "--speakers", action="store_true", help="label one-channel sets with the diarizer (at 16 kHz)"
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="print every final")
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="where base is assembled")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
