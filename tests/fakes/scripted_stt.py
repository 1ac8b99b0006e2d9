"""A scripted local speech engine: a real SpeechToText subclass that "recognizes" the
self-describing test audio of scripted_audio.py.

It stands in for the local engine as a failover target. Like any engine it only knows its own
stream's clock (0 = the first frame it was given), so the failover must shift its times; it
records which call frame its audio started at so a test can check the replay had no gap.
"""

from __future__ import annotations

import time
from typing import Unpack

from tests.fakes.scripted_audio import SR, Script, Segment, first_frame, to_int16
from wingman.stt.base import SpeechToText, StreamOptions, SttResult, SttStream


class ScriptedStt(SpeechToText):
    name = "local"

    def __init__(self, script: Script) -> None:
        self.script = script
        self.streams: list[ScriptedStream] = []
        self.warmed = False

    async def warm_up(self) -> None:
        self.warmed = True


class ScriptedStream(SttStream, engine=ScriptedStt):
    provider = "local"

    def __init__(self, owner: ScriptedStt, /, **options: Unpack[StreamOptions]) -> None:
        super().__init__(**options)
        owner.streams.append(self)
        self.script = owner.script
        self.first_frame: int | None = None
        self.frames = 0
        self.errors: list[str] = []
        self._done: set[Segment] = set()

    async def _run(self) -> None:
        while (pcm := await self._next_audio()) is not None:
            samples = to_int16(pcm)[:, 0]
            if not samples.size:
                continue
            if self.first_frame is None:
                self.first_frame = first_frame(samples)
            elif int(samples[0]) != (self.first_frame + self.frames) // 160:
                self.errors.append(f"gap or overlap at stream frame {self.frames}")
            self.frames += samples.size
            self._recognize(final_only_complete=True)
        self._recognize(final_only_complete=False)

    def _recognize(self, *, final_only_complete: bool) -> None:
        first = self.first_frame or 0
        end = first + self.frames
        for seg in self.script.segments:
            if seg in self._done or not seg.text or seg.start_frame < first:
                continue
            if seg.end_frame <= end or (not final_only_complete and seg.start_frame < end):
                self._done.add(seg)
                stop = min(seg.end_frame, end)
                self.finalized_samples = stop - first
                self._emit(
                    SttResult(
                        text=seg.text,
                        is_final=True,
                        channel=seg.channel,
                        start=(seg.start_frame - first) / SR,
                        end=(stop - first) / SR,
                        # like a real engine: when the audio the final covers was all in
                        audio_end_at=time.monotonic(),
                    )
                )
