"""One live call's audio, written to disk frame by frame as the pipeline decodes it.

The file is raw 16-bit little-endian PCM at 16 kHz, interleaved channels, and every frame is
written at the byte offset of its call time. So:

- a frame is in the kernel the moment it is written (`os.pwrite`, no user-space buffer): a
  process killed with SIGKILL loses nothing it had written; the recordings loop fdatasyncs
  open files every second, so a machine that loses power loses at most that second;
- a resumed call (same node or another, after a crash or a restart) goes on in the same file
  from the time the client resends from: the first frame of a new recorder cuts the file at its
  own offset, so audio is neither doubled nor shifted, and the transcript's times stay the
  recording's times.

Writing is on the event loop: converting 100 ms of audio and one pwrite take microseconds.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000  # what the pipeline hands over (stt.base.SAMPLE_RATE)
MAX_PENDING_SECONDS = 120.0  # audio held in memory while the workspace's choice is looked up


def to_int16(pcm: npt.NDArray[np.float32]) -> bytes:
    """float32 in [-1, 1] (frames, channels) -> interleaved little-endian int16, the inverse of
    audio/pcm.py's s16le decoding (x / 32768): 16-bit audio is recorded bit for bit."""
    scaled = np.rint(pcm.astype(np.float64) * 32768.0)
    return bytes(np.clip(scaled, -32768, 32767).astype("<i2").tobytes())


class CallRecorder:
    """The pipeline's frame sink for one call (`write` per decoded frame, `close` at the end).

    It starts undecided while the service looks up whether the workspace records (a database
    read): frames meanwhile wait in memory, then go to the file, or are dropped if it does not.
    """

    def __init__(self, *, call_id: str, channels: int, on_close: Callable[[CallRecorder], None]) -> None:
        self.call_id = call_id
        self.channels = channels
        self._frame_bytes = 2 * channels
        self._on_close = on_close
        self._lock = threading.Lock()  # the loop writes, the sync thread fdatasyncs
        self._fd: int | None = None
        self._decided = False
        self._pending: list[tuple[float, bytes]] = []
        self._pending_bytes = 0
        self._first = True
        self._dirty = False
        self.closed = False
        self.end_seconds = 0.0  # call time just after the last frame written

    # -- the pipeline's side
    def write(self, pcm: npt.NDArray[np.float32], *, at: float) -> None:
        """Record `pcm` (frames, channels) that starts at `at` seconds of call time."""
        if self.closed or pcm.shape[0] == 0:
            return
        data = to_int16(pcm)
        if not self._decided:
            if self._pending_bytes + len(data) <= MAX_PENDING_SECONDS * SAMPLE_RATE * self._frame_bytes:
                self._pending.append((at, data))
                self._pending_bytes += len(data)
            else:
                log.warning("recording audio dropped: the workspace's choice is unknown",
                            extra={"call_id": self.call_id})
            return
        if self._fd is not None:
            self._pwrite(at, data)

    def close(self) -> None:
        """The pipeline ended (the call ended, or this node lets it go): flush and close."""
        if self.closed:
            return
        self.closed = True
        self._pending.clear()
        with self._lock:
            if self._fd is not None:
                try:
                    os.fdatasync(self._fd)
                finally:
                    os.close(self._fd)
                    self._fd = None
        self._on_close(self)

    # -- the service's side
    def start(self, path: Path) -> None:
        """The workspace records: open (or reopen) the call's file and write what waited."""
        self._decided = True
        if self.closed:
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        for at, data in self._pending:
            self._pwrite(at, data)
        self._pending.clear()
        self._pending_bytes = 0

    def skip(self) -> None:
        """The workspace does not record: forget what waited, ignore what comes."""
        self._decided = True
        self._pending.clear()
        self._pending_bytes = 0

    def sync(self) -> None:
        """fdatasync if anything was written since the last time (run in a thread)."""
        with self._lock:
            if self._fd is not None and self._dirty:
                self._dirty = False
                os.fdatasync(self._fd)

    def _pwrite(self, at: float, data: bytes) -> None:
        assert self._fd is not None
        offset = round(max(0.0, at) * SAMPLE_RATE) * self._frame_bytes
        with self._lock:
            if self._first:
                # a resume: whatever the file holds past this point is resent by the client
                self._first = False
                if os.fstat(self._fd).st_size > offset:
                    os.ftruncate(self._fd, offset)
            os.pwrite(self._fd, data, offset)  # past the end: the gap reads back as silence
            self._dirty = True
        self.end_seconds = (offset + len(data)) / self._frame_bytes / SAMPLE_RATE
