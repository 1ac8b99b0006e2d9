"""Recordings: each live call's audio kept on disk when its workspace opted in, finished into
Ogg/Opus (or FLAC) when the call ends, played back on the call page, deleted with the call,
by the workspace's retention period or by hand.

- `recorder()` gives the call pipeline its frame sink (recorder.py) without waiting: whether
  the workspace records is looked up in the background while the first frames wait in memory.
- `run()` is each node's loop: fdatasync the open files every second; finish the recordings of
  ended calls whose raw audio is on this node's disk (ended here, abandoned, or left by a
  crash); and every few minutes delete recordings past retention and those whose call is gone.
- `link()` / `verify()`: the player's `<audio src>` cannot send the bearer token, so the API
  hands it a short-lived signed URL for this one recording (HTTP Range requests work on it).

Files live under `<data_dir>/recordings/<workspace>/<call>.{raw,ogg,flac,wav}`; the disk is
named by a random id kept in that directory, so a restarted process (another pid, the same
disk) finishes what its previous life left. Several gateways must share that directory (a
network volume) for a call resumed on another node to be one recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wingman.errors import BadInput
from wingman.events import utcnow
from wingman.recordings.codec import SUFFIX, Codec, encode, usable
from wingman.recordings.recorder import SAMPLE_RATE, CallRecorder
from wingman.signing import Signer
from wingman.store.recordings import (
    DELETED,
    FAILED,
    READY,
    RECORDING,
    RecordingRecord,
    RecordingRepo,
    RecordingSettings,
)
from wingman.store.repos import Store

log = logging.getLogger(__name__)

LINK_TTL_SECONDS = 15 * 60  # a page left open longer asks for a new link
DECIDE_ATTEMPTS = 14  # ~100 s of retries, within what the recorder holds in memory
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _checked(value: str) -> str:
    if not _SAFE_ID.match(value):
        raise BadInput("not an id", code="bad_id")
    return value


class RecordingService:
    """Recording settings, live recorders, finishing, deletion and playback links."""

    def __init__(
        self,
        *,
        store: Store,
        root: Path,
        secret: str,
        codec: Codec = "opus",
        sync_seconds: float = 1.0,
        sweep_seconds: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.repo = RecordingRepo(store)
        self.root = root
        self.codec: Codec = usable(codec)  # WAV when the machine has no encoder for it
        self._links = Signer(
            secret, label=b"recording-link", audience="recording", ttl_seconds=LINK_TTL_SECONDS
        )
        self._sync_seconds = sync_seconds
        self._sweep_seconds = sweep_seconds
        self._clock = clock
        self._open: dict[str, CallRecorder] = {}
        self._deciding: set[asyncio.Task[None]] = set()
        self._finishing: dict[str, asyncio.Lock] = {}
        self._node: str | None = None

    # -- the disk's identity
    @property
    def node(self) -> str:
        if self._node is None:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            marker = self.root / "disk-id"
            if not marker.exists():
                with contextlib.suppress(FileExistsError):
                    with marker.open("x") as f:
                        f.write(uuid.uuid4().hex)
            self._node = marker.read_text().strip()
        return self._node

    def raw_path(self, workspace_id: str, call_id: str) -> Path:
        return self.root / _checked(workspace_id) / f"{_checked(call_id)}.raw"

    def file_of(self, record: RecordingRecord) -> Path:
        return self.root / record.path

    # -- settings
    async def settings(self, workspace_id: str) -> RecordingSettings:
        return await self.repo.settings(workspace_id=workspace_id)

    async def save_settings(
        self, *, workspace_id: str, enabled: bool, retention_days: int | None, updated_by: str
    ) -> RecordingSettings:
        return await self.repo.save_settings(
            workspace_id=workspace_id, enabled=enabled, retention_days=retention_days,
            updated_by=updated_by, now=self._clock(),
        )

    # -- live calls
    def recorder(self, *, call_id: str, workspace_id: str, user_id: str, channels: int) -> CallRecorder:
        """The frame sink for a call's pipeline (new or resumed); it records only if the
        workspace opted in, which is looked up now, in the background."""
        rec = CallRecorder(call_id=call_id, channels=channels, on_close=self._closed)
        self._open[call_id] = rec
        task = asyncio.get_running_loop().create_task(
            self._decide(rec, workspace_id, user_id), name=f"recording-{call_id}"
        )
        self._deciding.add(task)
        task.add_done_callback(self._deciding.discard)
        return rec

    async def _decide(self, rec: CallRecorder, workspace_id: str, user_id: str) -> None:
        # the database may be away for a while: the frames wait in memory (up to
        # recorder.MAX_PENDING_SECONDS) while the lookup is retried
        for attempt in range(DECIDE_ATTEMPTS):
            try:
                chosen = await self.repo.settings(workspace_id=workspace_id)
                if not chosen.enabled:
                    rec.skip()
                    return
                raw = self.raw_path(workspace_id, rec.call_id)
                await self.repo.start(RecordingRecord(
                    call_session_id=rec.call_id, workspace_id=workspace_id, user_id=user_id,
                    status=RECORDING, node=self.node, path=str(raw.relative_to(self.root)),
                    media_type="audio/L16", sample_rate=SAMPLE_RATE, channels=rec.channels,
                    size_bytes=0, seconds=0.0, created_at=self._clock(),
                ))
                rec.start(raw)
                return
            except Exception:
                log.warning("recording choice not read yet",
                            extra={"call_id": rec.call_id, "attempt": attempt})
                await asyncio.sleep(min(2.0**attempt, 10.0))
        log.error("call not recorded: the database stayed away", extra={"call_id": rec.call_id})
        rec.skip()

    async def wait_decided(self) -> None:
        """Until every recorder handed out knows whether its workspace records."""
        while self._deciding:
            await asyncio.gather(*self._deciding, return_exceptions=True)

    def _closed(self, rec: CallRecorder) -> None:
        if self._open.get(rec.call_id) is rec:
            del self._open[rec.call_id]

    # -- finishing, deleting
    async def finish(self, record: RecordingRecord) -> RecordingRecord:
        """Encode an ended call's raw audio into the file that is played (idempotent: the API
        and the loop may ask at once; one encodes, the other gets its result)."""
        lock = self._finishing.setdefault(record.call_session_id, asyncio.Lock())
        try:
            async with lock:
                fresh = await self.repo.get(workspace_id=record.workspace_id, call_id=record.call_session_id)
                return await self._finish(fresh) if fresh is not None else record
        finally:
            if not lock.locked():
                self._finishing.pop(record.call_session_id, None)

    async def _finish(self, record: RecordingRecord) -> RecordingRecord:
        if record.status != RECORDING or record.call_session_id in self._open:
            return record
        raw = self.file_of(record)
        if not raw.exists():
            return record  # on another node's disk, or finished by a concurrent pass
        out = raw.with_suffix(SUFFIX[self.codec])
        try:
            done = await asyncio.to_thread(
                encode, raw, out, sample_rate=record.sample_rate, channels=record.channels, codec=self.codec
            )
        except Exception:
            log.exception("recording not encoded", extra={"call_id": record.call_session_id})
            await self.repo.update(workspace_id=record.workspace_id, call_id=record.call_session_id,
                                   status=FAILED, finished_at=self._clock())
            return record.model_copy(update={"status": FAILED})
        values = {
            "status": READY, "path": str(out.relative_to(self.root)), "media_type": done.media_type,
            "size_bytes": done.size_bytes, "seconds": round(done.seconds, 3), "finished_at": self._clock(),
        }
        now = await self.repo.get(workspace_id=record.workspace_id, call_id=record.call_session_id)
        if now is None or now.status != RECORDING:  # deleted (by hand, or with its call) meanwhile
            self._remove_files(record)
            return now or record
        await self.repo.update(workspace_id=record.workspace_id, call_id=record.call_session_id, **values)
        raw.unlink(missing_ok=True)  # after the row points at the finished file
        log.info("recording finished", extra={"call_id": record.call_session_id, "bytes": done.size_bytes})
        return record.model_copy(update=values)

    async def delete(self, record: RecordingRecord, *, reason: str) -> None:
        """Delete the audio (both the raw and the finished file); the row says when and why."""
        self._remove_files(record)
        await self.repo.update(workspace_id=record.workspace_id, call_id=record.call_session_id,
                               status=DELETED, deleted_reason=reason, deleted_at=self._clock(),
                               size_bytes=0)

    def _remove_files(self, record: RecordingRecord) -> None:
        for path in {self.file_of(record), self.raw_path(record.workspace_id, record.call_session_id)}:
            for candidate in (path, *(path.with_suffix(s) for s in SUFFIX.values())):
                candidate.unlink(missing_ok=True)

    # -- playback links
    def link(self, record: RecordingRecord, *, now: float | None = None) -> tuple[str, datetime]:
        """A signed URL of the recording's audio (and when it expires)."""
        token, expires = self._links.sign(
            {"c": record.call_session_id, "w": record.workspace_id}, now=now
        )
        at = datetime.fromtimestamp(expires, tz=UTC)
        return f"/api/recordings/{record.call_session_id}/audio?token={token}", at

    def verify(self, token: str, *, call_id: str) -> str:
        """The workspace of a valid link for `call_id`; BadInput otherwise."""
        claims = self._links.verify(
            token, refused="this playback link expired or is not ours: reload the page", code="bad_link"
        )
        if claims.get("c") != call_id:
            raise BadInput("this playback link is for another recording", code="bad_link")
        return str(claims["w"])

    # -- the node's loop
    async def run(self) -> None:
        """Sync open files every `sync_seconds`; finish ended calls; sweep now and then."""
        last_sweep = -float("inf")
        while True:
            try:
                for rec in list(self._open.values()):
                    await asyncio.to_thread(rec.sync)
                for record in await self.repo.ended(node=self.node):
                    await self.finish(record)
                if time.monotonic() - last_sweep >= self._sweep_seconds:
                    last_sweep = time.monotonic()
                    await self.sweep()
            except Exception:  # the database is away: the next pass retries
                log.exception("recordings pass failed")
            await asyncio.sleep(self._sync_seconds)

    async def sweep(self) -> int:
        """Delete recordings past their workspace's retention and those whose call is gone."""
        removed = 0
        for record in await self.repo.orphans():
            self._remove_files(record)
            await self.repo.forget(workspace_id=record.workspace_id, call_id=record.call_session_id)
            removed += 1
        for record in await self.repo.expired(now=self._clock()):
            await self.delete(record, reason="retention")
            removed += 1
        if removed:
            log.info("recordings swept", extra={"recordings": removed})
        return removed

    def retention_ends(self, record: RecordingRecord, settings: RecordingSettings) -> datetime | None:
        """When retention deletes this recording (None: kept as long as the call)."""
        if settings.retention_days is None:
            return None
        return record.created_at + timedelta(days=settings.retention_days)
