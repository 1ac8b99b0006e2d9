"""Reading uploads off the live path: parsing in a child process that is killed at its time
cap, embedding on one dedicated thread in small batches under the same deadline.

A hostile document (a 4 KB PDF whose 20 pages point at one compressed stream, a 10 MB text
file) must not stall the live calls of the node. So:

- cheap refusals come first, in the request: an unsupported type, a text file that has more
  characters than the cap whatever its encoding (counted without decoding), and more than
  `max_waiting` uploads already waiting for a parser (QuotaExceeded, 429: a flood of uploads
  does not pile 10 MB bodies up in memory);
- parsing (pypdf, chunking) runs in a fresh child process per upload, at most
  `max_parallel` at once; past `parse_seconds` the child is killed (a thread cannot be
  stopped, a process can) and the upload gets Unprocessable (422). Pages, characters,
  passages and decompressed content are capped (ParseLimits: TooLarge, 413). The child is
  started on a thread of its own: starting it writes the whole upload into a pipe that the
  child reads only once its interpreter is up, which blocked the event loop (and every live
  call of the node) for seconds per 10 MB upload on a loaded machine (bench/attack.py).
- embedding runs on a single thread of its own, not the default pool that argon2 and the
  live embeddings use, in batches of `batch` passages with the deadline checked between
  batches, and without touching the live calls' embedding cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wingman.errors import BadInput, QuotaExceeded, TooLarge, Unprocessable
from wingman.search.documents import (
    Chunk,
    ParseLimits,
    _too_much_text,
    chunk_text,
    document_title,
    extract_text,
    file_kind,
)
from wingman.search.embeddings import Embedder
from wingman.store.records import DocumentRecord

log = logging.getLogger(__name__)

# not fork: the parent has threads (ONNX Runtime, asyncio's) that fork would copy mid-flight.
# forkserver: one clean single-threaded process, started once, that imported this module
# (not the server's __main__), forks each parser: a child costs milliseconds of CPU, where a
# spawned one re-imported the server's modules for ~1 s, at full CPU priority, per upload.
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload([__name__])
_CONTINUATION = bytes(range(0x80, 0xC0))  # UTF-8 continuation bytes: every other byte starts a character


@dataclass(frozen=True)
class ParsedDocument:
    """What the child process sends back: the file's kind, title and passages."""

    kind: str
    title: str
    chunks: list[Chunk]


def parse_document(
    filename: str, data: bytes, content_type: str | None, limits: ParseLimits
) -> ParsedDocument:
    """Extract and chunk one upload under `limits` (what the child process runs)."""
    kind, text = extract_text(filename, data, content_type, limits=limits)
    title = document_title(text, filename)
    chunks = chunk_text(text, markdown=kind == ".md", title=title)
    if not chunks:
        raise BadInput("no text found in the file", code="empty_document")
    if len(chunks) > limits.max_chunks:
        raise TooLarge(
            f"the document makes {len(chunks)} passages; at most {limits.max_chunks}: split it",
            code="too_many_chunks",
        )
    return ParsedDocument(kind=kind, title=title, chunks=chunks)


def precheck(filename: str, data: bytes, content_type: str | None, limits: ParseLimits) -> None:
    """The refusals that need no parsing: BadInput for an unsupported type, TooLarge for a
    text file with more than `limits.max_characters` characters in any encoding we read
    (UTF-8 has one character per non-continuation byte, cp1252 one per byte: both at least
    this count; a BOM is one more)."""
    if file_kind(filename, content_type) != ".pdf":
        if len(data.translate(None, _CONTINUATION)) - 1 > limits.max_characters:
            raise _too_much_text(limits)


def _child(
    conn: Connection, filename: str, data: bytes, content_type: str | None, limits: ParseLimits
) -> None:
    # the lowest CPU priority: on a busy node the live calls' speech and agents go first
    with contextlib.suppress(OSError):
        os.nice(19)
    try:
        result: tuple[str, Any] = ("ok", parse_document(filename, data, content_type, limits))
    except BadInput as e:  # TooLarge and friends: the message is for the client
        result = ("bad", (type(e).__name__, str(e), e.code))
    except Exception as e:  # a parser bug on odd input: a clear refusal, not a 500
        result = ("bad", ("BadInput", f"the file could not be read ({type(e).__name__})", "unreadable"))
    conn.send(result)
    conn.close()


def check_quota(
    existing: Sequence[DocumentRecord], size: int, *, max_documents: int | None, max_bytes: int | None
) -> None:
    """QuotaExceeded when one more document of `size` bytes would pass a tenant's quota."""
    if max_documents is not None and len(existing) >= max_documents:
        raise QuotaExceeded(
            f"the knowledge base holds its limit of {max_documents} documents: delete one first",
            code="documents_quota",
        )
    used = sum(d.size_bytes for d in existing)
    if max_bytes is not None and used + size > max_bytes:
        raise QuotaExceeded(
            f"the knowledge base would pass its limit of {max_bytes} bytes: delete documents first",
            code="storage_quota",
        )


_ERRORS: dict[str, type[BadInput]] = {e.__name__: e for e in (BadInput, TooLarge, Unprocessable)}


class UploadWorker:
    """Bounded, cancellable parsing and embedding of knowledge-base uploads."""

    def __init__(
        self,
        *,
        embedder: Embedder,
        limits: ParseLimits | None = None,
        parse_seconds: float = 20.0,
        embed_seconds: float = 120.0,
        max_parallel: int = 1,
        max_waiting: int = 4,
        batch: int = 16,
    ) -> None:
        self.embedder = embedder
        self.limits = limits or ParseLimits()
        self.parse_seconds = parse_seconds
        self.embed_seconds = embed_seconds
        self.batch = batch
        self._slots = asyncio.Semaphore(max_parallel)
        self.max_waiting = max_waiting
        self._waiting = 0  # uploads parsing or waiting for a parser slot
        # starting a child writes the upload into its pipe: on a thread, not the event loop
        self._starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-start")
        # one thread: an upload's embeddings queue behind each other, never beside the live ones
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-embed")
        self.killed = 0  # parses stopped at their time cap (tests and logs)

    async def parse(self, filename: str, data: bytes, content_type: str | None) -> ParsedDocument:
        """Parse in a child process; Unprocessable when it runs past `parse_seconds`,
        QuotaExceeded (code "uploads_busy") when `max_waiting` uploads wait already."""
        precheck(filename, data, content_type, self.limits)
        if self._waiting >= self.max_waiting:
            raise QuotaExceeded(
                "too many uploads are being read right now: try again in a minute",
                code="uploads_busy",
                retry_after=self.parse_seconds,
            )
        self._waiting += 1
        try:
            async with self._slots:
                return await self._parse_in_child(filename, data, content_type)
        finally:
            self._waiting -= 1

    async def _parse_in_child(self, filename: str, data: bytes, content_type: str | None) -> ParsedDocument:
        loop = asyncio.get_running_loop()
        receiver, sender = _CONTEXT.Pipe(duplex=False)
        process = _CONTEXT.Process(
            target=_child, args=(sender, filename, data, content_type, self.limits), daemon=True
        )

        def start() -> None:
            process.start()  # blocks until the child has read the upload from its pipe
            sender.close()  # the child holds the only writer: EOF when it dies

        started = loop.run_in_executor(self._starter, start)
        try:
            await asyncio.shield(started)
        except asyncio.CancelledError:  # the request went away: the child must not outlive it
            with contextlib.suppress(Exception):
                await started
            process.kill()
            receiver.close()
            raise
        ready: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(receiver.fileno(), readable)
        try:
            async with asyncio.timeout(self.parse_seconds):
                await ready
            try:
                status, payload = receiver.recv()
            except EOFError:
                message = "the file could not be read (the reader stopped)"
                raise Unprocessable(message, code="unreadable") from None
        except TimeoutError:
            self.killed += 1
            log.warning("upload parse stopped at its time cap", extra={"seconds": self.parse_seconds})
            raise Unprocessable(
                f"the file takes more than {self.parse_seconds:g} s to read: upload a simpler copy",
                code="parse_timeout",
            ) from None
        finally:
            loop.remove_reader(receiver.fileno())
            receiver.close()
            if process.is_alive():
                process.kill()
            process.join(1.0)  # the child has sent its answer or been killed: this reaps it
        if status == "ok":
            assert isinstance(payload, ParsedDocument)
            return payload
        kind, message, code = payload
        raise _ERRORS.get(kind, BadInput)(message, code=code)

    async def embed(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed an upload's passages in batches on the upload thread, within `embed_seconds`."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.embed_seconds
        parts: list[NDArray[np.float32]] = []
        for start in range(0, len(texts), self.batch):
            if time.monotonic() > deadline:
                raise Unprocessable(
                    f"embedding the document takes more than {self.embed_seconds:g} s: split it",
                    code="embed_timeout",
                )
            batch = texts[start : start + self.batch]
            parts.append(await loop.run_in_executor(self._executor, self._embed_batch, batch))
        return np.concatenate(parts) if parts else np.zeros((0, self.embedder.dim), dtype=np.float32)

    def _embed_batch(self, texts: list[str]) -> NDArray[np.float32]:
        return self.embedder.embed(texts, remember=False)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._starter.shutdown(wait=False, cancel_futures=True)
