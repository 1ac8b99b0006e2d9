"""Uploads: parsed in a killable child process under page/character/passage caps, embedded on
their own thread without evicting the live calls' cache; per-tenant document quotas and a
bounded index cache."""

from __future__ import annotations

import asyncio

import pytest
from pypdf import PageObject

from tests.fakes.agents import shared_embedder
from tests.fakes.hostile import pdf_bomb, pdf_pages, text_bomb
from tests.fakes.store import MemoryStore
from wingman.errors import BadInput, QuotaExceeded, TooLarge, Unprocessable
from wingman.search import uploads
from wingman.search.documents import ParseLimits, extract_text
from wingman.search.knowledge import KnowledgeBase
from wingman.search.uploads import UploadWorker

MD = b"# Pricing\n\nRelay costs 30 dollars per seat and month, billed yearly. " * 3


async def test_pdf_bomb_is_refused_before_its_text_is_extracted() -> None:
    worker = UploadWorker(embedder=shared_embedder(), limits=ParseLimits(max_content_bytes=1_000_000))
    bomb = pdf_bomb()
    assert len(bomb) < 8_000  # a few KB on the wire, 20 x 75 KB of page content
    with pytest.raises(TooLarge) as e:
        await worker.parse("bomb.pdf", bomb, "application/pdf")
    assert e.value.code == "too_much_content"


async def test_pdf_text_over_the_character_cap_is_refused() -> None:
    worker = UploadWorker(embedder=shared_embedder(), limits=ParseLimits(max_characters=5_000))
    pdf = pdf_pages(3, b"BT /F1 1 Tf 10 780 Td 1 TL " + b"(Relay Relay) ' " * 2_000 + b"ET", shared=False)
    with pytest.raises(TooLarge) as e:
        await worker.parse("long.pdf", pdf, None)
    assert e.value.code == "too_much_text"


async def test_pdf_with_too_many_pages_is_refused() -> None:
    worker = UploadWorker(embedder=shared_embedder(), limits=ParseLimits(max_pages=10))
    with pytest.raises(TooLarge) as e:
        await worker.parse("many.pdf", pdf_pages(11, b"BT /F1 12 Tf 72 720 Td (Relay) Tj ET"), None)
    assert e.value.code == "too_many_pages"


async def test_ten_megabytes_of_text_are_refused() -> None:
    worker = UploadWorker(embedder=shared_embedder())
    with pytest.raises(TooLarge) as e:
        await worker.parse("big.txt", text_bomb(10), "text/plain")
    assert e.value.code == "too_much_text"


async def test_text_over_the_character_cap_is_refused_before_a_child_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_child(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a child process was started")

    monkeypatch.setattr(uploads._CONTEXT, "Process", no_child)
    worker = UploadWorker(embedder=shared_embedder())
    with pytest.raises(TooLarge) as e:  # 10 MB of text: more characters than the cap in any encoding
        await worker.parse("big.txt", text_bomb(10), "text/plain")
    assert e.value.code == "too_much_text"
    with pytest.raises(BadInput) as wrong_type:
        await worker.parse("tool.exe", b"MZ" * 100, None)
    assert wrong_type.value.code == "unsupported_type"


def test_pages_sharing_one_content_stream_are_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    extracted: list[object] = []
    original = PageObject.extract_text

    def counted(self: PageObject, *args: object, **kwargs: object) -> str:
        extracted.append(self)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(PageObject, "extract_text", counted)
    with pytest.raises(TooLarge) as e:  # 20 pages x one stream of 64k characters
        extract_text("bomb.pdf", pdf_bomb(), limits=ParseLimits())
    assert e.value.code == "too_much_text" and len(extracted) == 1
    extracted.clear()
    separate = pdf_pages(3, b"BT /F1 12 Tf 10 700 Td (Hello page) Tj ET", shared=False)
    _kind, text = extract_text("p.pdf", separate)
    assert text.count("Hello page") == 3 and len(extracted) == 3  # separate streams: each read


async def test_a_flood_of_uploads_is_refused_past_the_waiting_line() -> None:
    worker = UploadWorker(embedder=shared_embedder(), max_waiting=2)
    results = await asyncio.gather(*(worker.parse(f"n{i}.md", MD, None) for i in range(3)),
                                   return_exceptions=True)
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert len(refused) == 1 and refused[0].code == "uploads_busy" and refused[0].retry_after
    assert sum(not isinstance(r, BaseException) for r in results) == 2  # the others were read


async def test_too_many_passages_are_refused() -> None:
    worker = UploadWorker(embedder=shared_embedder(), limits=ParseLimits(max_chunks=3))
    with pytest.raises(TooLarge) as e:
        await worker.parse("notes.txt", text_bomb(1)[:20_000], "text/plain")
    assert e.value.code == "too_many_chunks"


async def test_a_parse_past_its_time_cap_is_killed() -> None:
    # ~0.2 s of chunking on a quiet core (a forked parser starts in milliseconds)
    slow = b"# Pricing\n\n" + b"Relay costs forty dollars per seat and routes calls well. " * 15000
    worker = UploadWorker(embedder=shared_embedder(), parse_seconds=0.02)
    with pytest.raises(Unprocessable) as e:
        await worker.parse("notes.md", slow, None)
    assert e.value.code == "parse_timeout"
    assert worker.killed == 1
    # and the next upload is read normally
    worker.parse_seconds = 60.0
    parsed = await worker.parse("notes.md", MD, None)
    assert parsed.kind == ".md" and parsed.chunks


async def test_upload_embeddings_leave_the_live_cache_alone() -> None:
    embedder = shared_embedder()
    live = "how much does relay cost per seat"
    await embedder.embed_query(live)
    worker = UploadWorker(embedder=embedder, batch=4)
    texts = [f"passage number {i} about routing" for i in range(10)]
    vectors = await worker.embed(texts)
    assert vectors.shape == (10, embedder.dim)
    assert embedder.cached(live) is not None
    assert all(embedder.cached(t) is None for t in texts)


async def test_embedding_past_its_time_cap_stops() -> None:
    worker = UploadWorker(embedder=shared_embedder(), embed_seconds=1e-9, batch=2)
    with pytest.raises(Unprocessable) as e:
        await worker.embed([f"text {i}" for i in range(6)])
    assert e.value.code == "embed_timeout"


async def test_document_and_byte_quotas_per_tenant() -> None:
    kb = KnowledgeBase(store=MemoryStore(), embedder=shared_embedder(), max_documents=1)
    await kb.add_document("t1", "a.md", MD)
    with pytest.raises(QuotaExceeded) as e:
        await kb.add_document("t1", "b.md", MD + b"more")
    assert e.value.code == "documents_quota"
    await kb.add_document("t2", "b.md", MD)  # another tenant has its own quota
    kb = KnowledgeBase(store=MemoryStore(), embedder=shared_embedder(), max_tenant_bytes=len(MD) + 10)
    await kb.add_document("t1", "a.md", MD)
    with pytest.raises(QuotaExceeded) as e:
        await kb.add_document("t1", "b.md", MD + b"more")
    assert e.value.code == "storage_quota"


async def test_index_cache_is_bounded_per_process() -> None:
    kb = KnowledgeBase(store=MemoryStore(), embedder=shared_embedder(), max_indexes=2)
    for tenant in ("t1", "t2", "t3"):
        await kb.add_document(tenant, "a.md", MD)
        await kb.warm(tenant)
    assert kb.cached_tenants == 2
    assert await kb.retrieve("t1", "price per seat")  # rebuilt from the store when needed
