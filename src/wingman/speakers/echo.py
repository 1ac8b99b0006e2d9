"""Echo gate for stereo calls: the customer's voice that the rep's laptop speakers play into
the rep's microphone is silenced on channel 0 before speech recognition, so each customer
sentence is transcribed once, from channel 1, as the customer.

The browser's echoCancellation does not remove audio from another tab, so the echo arrives as
a delayed, softer, band-limited copy of channel 1. Per 10 ms frame:
- the delay is where the log-energy envelopes of the two channels correlate best (0-400 ms,
  re-estimated every 0.5 s over the last 6 s); below `min_correlation` there is no echo (a
  headset, or the rep alone) and nothing is touched;
- the echo's gain is a low percentile of mic energy over delayed customer energy while the
  customer talks;
- a mic frame is echo when the customer spoke `delay` earlier and the mic holds no more energy
  than that echo would (plus `margin_db`): it is attenuated. When the rep talks over the
  customer (double talk) the mic holds more, the frame passes, and nothing the rep really said
  is dropped.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from wingman.audio.levels import frame_power, percentile

F32 = npt.NDArray[np.float32]
FRAME = 160  # 10 ms at 16 kHz
HISTORY = 600  # frames the delay is estimated over (6 s)
MAX_DELAY = 40  # frames (400 ms)
ESTIMATE_EVERY = 50  # frames (0.5 s)
_WINDOW = np.arange(5)


class EchoGate:
    """One stereo call's gate; `process` each 16 kHz (frames, 2) chunk in order."""

    def __init__(
        self,
        *,
        min_correlation: float = 0.5,
        margin_db: float = 6.0,
        active_db: float = 15.0,
        attenuation: float = 0.01,
    ) -> None:
        self.min_correlation = min_correlation
        self.margin = 10 ** (margin_db / 10)
        self.active_db = active_db
        self.attenuation = np.float32(attenuation)
        self._mic = np.zeros(0, dtype=np.float64)  # frame powers, last HISTORY + MAX_DELAY
        self._far = np.zeros(0, dtype=np.float64)
        self._far_db = np.zeros(0, dtype=np.float64)  # 10 log10(_far), kept beside it
        self._since = 0
        self.delay: int | None = None  # frames; None: no echo found
        self.gain = 0.0
        self.gated_frames = 0

    def process(self, pcm: F32) -> F32:
        """The chunk with echo-only frames of channel 0 attenuated (same shape)."""
        if pcm.ndim != 2 or pcm.shape[1] != 2 or pcm.shape[0] == 0:
            return pcm
        n = -(-pcm.shape[0] // FRAME)
        pad = n * FRAME - pcm.shape[0]
        x = np.pad(pcm, ((0, pad), (0, 0))) if pad else pcm
        power = frame_power(x.reshape(n, FRAME, 2)) + 1e-12
        keep = HISTORY + MAX_DELAY + n
        self._mic = np.concatenate([self._mic, power[:, 0]])[-keep:]
        self._far = np.concatenate([self._far, power[:, 1]])[-keep:]
        # each frame's dB once, not the whole history's per chunk
        self._far_db = np.concatenate([self._far_db, 10 * np.log10(power[:, 1])])[-keep:]
        self._since += n
        if self._since >= ESTIMATE_EVERY:
            self._since = 0
            self._estimate()
        if self.delay is None:
            return pcm
        echo = self._echo_frames(n)
        if not echo.any():
            return pcm
        self.gated_frames += int(echo.sum())
        gains = np.where(echo, self.attenuation, np.float32(1.0)).astype(np.float32)
        out = pcm.copy()
        out[:, 0] *= np.repeat(gains, FRAME)[: pcm.shape[0]]
        return out

    def _estimate(self) -> None:
        mic = 10 * np.log10(self._mic[-HISTORY:])
        far_all = self._far_db
        if mic.shape[0] < HISTORY // 2 or far_all.shape[0] < mic.shape[0] + MAX_DELAY:
            return
        floor = percentile(far_all, 20) + self.active_db
        # every delay at once: row d is the customer's envelope `d` frames before the mic's
        total, h = far_all.shape[0], mic.shape[0]
        rows = np.lib.stride_tricks.sliding_window_view(far_all[total - h - MAX_DELAY : total], h)
        far_d = rows[::-1]  # far_d[d] = far_all[total - h - d : total - d]
        on = far_d > floor
        count = on.sum(axis=1)
        if int(count.min()) < 30:
            return  # the customer hardly spoke lately: keep what we had
        # only while the customer talks: when they are quiet the mic holds the rep, whose
        # envelope has nothing to do with the customer's. Masked Pearson correlation per delay:
        w = on.astype(np.float64)
        wf = w * far_d
        sm, sf = w @ mic, wf.sum(axis=1)
        smm, sff, smf = w @ (mic * mic), (wf * far_d).sum(axis=1), wf @ mic
        cov = smf - sm * sf / count
        var = np.maximum(smm - sm * sm / count, 0.0) * np.maximum(sff - sf * sf / count, 0.0)
        corr = cov / (np.sqrt(var) + 1e-9)
        best_d = int(np.argmax(corr))
        best, best_on = float(corr[best_d]), on[best_d]
        if best < self.min_correlation:
            # hysteresis: a weak second (the rep talking over the customer) keeps the estimate
            if best < self.min_correlation - 0.2:
                self.delay = None
            return
        far_p = self._far[self._far.shape[0] - mic.shape[0] - best_d : self._far.shape[0] - best_d]
        self.delay = best_d
        self.gain = percentile(self._mic[-HISTORY:][best_on] / far_p[best_on], 30)

    def _echo_frames(self, n: int) -> npt.NDArray[np.bool_]:
        """Which of the last `n` mic frames hold nothing but the echo."""
        assert self.delay is not None
        far = self._far
        total = far.shape[0]
        t = np.arange(total - n, total) - self.delay
        # a reverberant room smears the echo: the loudest of the neighbouring far frames
        # (only the last `n` frames' windows: the whole history's view cost more than the rest)
        padded = np.concatenate([np.zeros(3), far, np.zeros(1)])  # padded[t:t+5] = far[t-3:t+2]
        near = padded[np.clip(t, 0, total - 1)[:, None] + _WINDOW].max(axis=1)
        floor = percentile(self._far_db, 20)
        loud = 10 * np.log10(near + 1e-30) >= floor + self.active_db
        mic = self._mic[self._mic.shape[0] - n :]
        echo: npt.NDArray[np.bool_] = (t >= 2) & loud & (mic <= self.margin * self.gain * near)
        return echo
