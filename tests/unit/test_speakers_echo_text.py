"""The text echo backstop (speakers/echo_text.py): which rep words echo the customer's, from
text and word timings, and the stream that holds a rep final until the customer's final of the
same moment has come."""

from __future__ import annotations

import asyncio

import numpy as np

from wingman.events import WordTiming
from wingman.speakers.echo_text import EchoTextStream, Word, echo_indices, normalize, without_echo
from wingman.stt.base import SttResult, SttStream


def words(text: str, start: float, step: float = 0.3) -> list[Word]:
    return [Word(normalize(t), start + i * step, start + (i + 1) * step) for i, t in enumerate(text.split())]


def final(text: str, start: float, channel: int, step: float = 0.3, uid: str = "") -> SttResult:
    ts = text.split()
    timed = tuple(
        WordTiming(text=t, start=start + i * step, end=start + (i + 1) * step) for i, t in enumerate(ts)
    )
    return SttResult(
        text=text, is_final=True, channel=channel, start=start, end=start + len(ts) * step,
        words=timed, **({"utterance_id": uid} if uid else {}),
    )


def test_the_customer_sentence_heard_on_the_mic_is_echo_despite_asr_differences() -> None:
    customer = words("I will need to check with my vice president before we sign anything", 51.3)
    rep = words("I was need to check with my my stranded and before we sign that", 51.5)
    # all but "that", timed here after the customer's last word (on the call it was inside)
    assert echo_indices(rep, customer) == set(range(len(rep) - 1))


def test_a_short_echo_in_the_first_second_is_caught() -> None:
    # the energy gate has not locked on yet: "Sure, happy." leaks onto the rep's channel
    assert echo_indices(words("Sure, happy.", 5.5), words("Sure, Happy to!", 5.3)) == {0, 1}


def test_the_reps_own_yes_after_the_customers_yes_is_kept() -> None:
    assert echo_indices(words("yes", 3.4), words("yes", 3.0)) == set()
    assert echo_indices(words("yes yes", 3.3), words("yes yes", 3.0)) == set()  # too few letters


def test_the_rep_repeating_the_customer_after_they_finish_is_kept() -> None:
    customer = words("do you integrate with hubspot", 10.0)  # ends at 11.5
    rep = words("do you integrate with hubspot yes we do", 11.8)
    assert echo_indices(rep, customer) == set()


def test_only_the_echoed_span_of_a_rep_final_is_dropped() -> None:
    customer = final("honestly the price seems high compared to what we pay now", 36.5, channel=1)
    rep = final(
        "I hear you honestly the price seems high compared to what we pay now", 35.6, channel=0, uid="u1"
    )
    cust = [Word(normalize(w.text), w.start, w.end) for w in customer.words]
    parts = without_echo(rep, cust)
    assert [p.text for p in parts] == ["I hear you"]
    assert parts[0].utterance_id == "u1" and parts[0].end == rep.words[2].end


def test_unrelated_speech_at_the_same_time_is_kept() -> None:
    customer = words("we use hubspot for that", 27.2)
    rep = words("how do you track customer history today", 27.0)
    assert echo_indices(rep, customer) == set()


class Replay(SttStream):
    """An inner stereo stream: takes all audio, then emits `results` `gap` seconds apart."""

    def __init__(self, results: list[SttResult], gap: float = 0.05) -> None:
        super().__init__(sample_rate=16000, channels=2, language="en")
        self.results = results
        self.gap = gap

    async def _run(self) -> None:
        while await self._next_audio() is not None:
            pass
        for r in self.results:
            self._emit(r)
            await asyncio.sleep(self.gap)


def stereo(seconds: float, customer_speaks: tuple[float, float] | None) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1e-4, (int(seconds * 16000), 2)).astype(np.float32)
    if customer_speaks is not None:
        a, b = (int(t * 16000) for t in customer_speaks)
        x[a:b, 1] += rng.normal(0, 0.1, b - a).astype(np.float32)
    return x


async def run(stream: EchoTextStream, pcm: np.ndarray) -> list[SttResult]:
    out: list[SttResult] = []

    async def consume() -> None:
        async for r in stream:
            out.append(r)

    task = asyncio.create_task(consume())
    stream.push_audio(pcm)
    stream.end_input()
    await task
    await stream.aclose()
    return out


async def test_a_rep_echo_that_comes_before_the_customer_final_waits_for_it_and_is_dropped() -> None:
    rep = final("Sure happy", 5.5, channel=0, uid="echo")
    customer = final("Sure happy to", 5.3, channel=1)
    stream = EchoTextStream(inner=Replay([rep, customer], gap=0.3), max_hold=5.0)
    out = await run(stream, stereo(8.0, (5.3, 6.2)))
    assert [(r.channel, r.text) for r in out] == [(1, "Sure happy to"), (0, "")]
    assert out[1].utterance_id == "echo" and out[1].is_final  # clears the interims shown
    assert stream.dropped_words == 2


async def test_a_rep_final_while_the_customer_is_quiet_passes_at_once() -> None:
    rep = final("Thanks for taking the time today", 1.0, channel=0)
    later = final("Sure happy to", 5.3, channel=1)
    stream = EchoTextStream(inner=Replay([rep, later], gap=0.3), max_hold=5.0)
    out = await run(stream, stereo(8.0, (5.3, 6.2)))
    assert [r.text for r in out] == [rep.text, later.text]


async def test_a_held_rep_final_goes_out_after_max_hold_when_no_customer_final_comes() -> None:
    rep = final("we have a native integration", 2.0, channel=0)
    stream = EchoTextStream(inner=Replay([rep], gap=1.0), max_hold=0.3)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    out = await run(stream, stereo(5.0, (2.0, 3.0)))
    assert [r.text for r in out] == [rep.text]
    assert loop.time() - t0 < 1.5
