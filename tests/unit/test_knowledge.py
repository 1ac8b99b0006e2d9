"""Knowledge base: text extraction, chunking, hybrid retrieval, per-tenant cached index."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.agents import USER, sample_knowledge, shared_embedder
from tests.fakes.hostile import pdf_file
from tests.fakes.store import MemoryStore
from wingman.errors import BadInput, NotFound
from wingman.search.documents import chunk_text, extract_text, split_stored
from wingman.search.embeddings import DIM, Embedder, from_bytes
from wingman.search.knowledge import KnowledgeBase
from wingman.search.lexical import lexical_tokens, stem


def make_pdf(lines: list[str]) -> bytes:
    """A minimal one-page PDF (Helvetica) with `lines` of text."""
    text = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(
        f"({line.replace('(', '[').replace(')', ']')}) '" for line in lines) + " ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R"
        b" >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text.encode() + b"\nendstream",
    ]
    return pdf_file(objects)


def test_extracts_markdown_text_and_pdf() -> None:
    faq = "# FAQ\n\nRelay has callbacks."
    assert extract_text("faq.md", faq.encode()) == (".md", faq)
    assert extract_text("notes", "caf\u00e9 notes".encode(), "text/plain") == (".txt", "caf\u00e9 notes")
    kind, text = extract_text("sheet.pdf", make_pdf(["Relay supports call whispering.",
                                                      "Team leads can listen in."]))
    assert kind == ".pdf" and "call whispering" in text and "listen in" in text


@pytest.mark.parametrize(
    ("filename", "data", "code"),
    [
        ("deck.pptx", b"PK\x03\x04", "unsupported_type"),
        ("image.png", b"\x89PNG", "unsupported_type"),
        ("empty.md", b"   \n\n", "empty_document"),
        ("broken.pdf", b"%PDF-1.4 not really", "bad_pdf"),
        ("blank.pdf", make_pdf([]), "empty_document"),
    ],
)
def test_unusable_files_are_bad_input(filename: str, data: bytes, code: str) -> None:
    with pytest.raises(BadInput) as exc:
        extract_text(filename, data, None)
    assert exc.value.code == code


def test_chunks_keep_headings_and_size() -> None:
    para = " ".join(f"word{i}" for i in range(70)) + "."
    text = (f"# Guide\n\nIntro line.\n\n## Setup\n\n{para}\n\n{para}\n\n"
            "## Billing\n\n- Net 30 terms.\n- Card too.\n")
    chunks = chunk_text(text)
    assert [c.heading for c in chunks] == ["Guide", "Guide > Setup", "Guide > Setup", "Guide > Billing"]
    assert all(len(c.body.split()) <= 120 for c in chunks)
    assert split_stored(chunks[1].text) == chunks[1]
    long_sentence = " ".join(["blah"] * 300)
    assert max(len(c.body.split()) for c in chunk_text(long_sentence, markdown=False)) <= 120


def test_light_stemming_joins_word_forms() -> None:
    assert {stem(w) for w in ("integrate", "integrates", "integration", "integrated")} == {"integrat"}
    assert lexical_tokens("Does Relay integrate with the CRM?") == ["relay", "integrat", "crm"]


async def test_sample_loads_once_with_persisted_embeddings() -> None:
    kb, store = await sample_knowledge()
    docs = await kb.list_documents(USER)
    assert {d.filename for d in docs} >= {"pricing-and-discounts.md", "integrations.md",
                                         "implementation.md", "security-and-compliance.md",
                                         "battlecard-aircall.md", "battlecard-dialpad.md",
                                         "battlecard-ringcentral.md"}
    assert all(d.source == "sample" for d in docs)
    assert await kb.load_sample(USER) == 0  # once per user
    chunks = await store.list_chunks(workspace_id=USER)
    assert chunks and all(c.embedding and from_bytes(c.embedding).shape == (DIM,) for c in chunks)
    words = [len(split_stored(c.text).body.split()) for c in chunks]
    assert max(words) <= 120


@pytest.mark.parametrize(
    ("question", "document"),
    [
        ("Does Relay integrate with Salesforce?", "integrations.md"),
        ("How long does implementation usually take?", "implementation.md"),
        ("Is your platform SOC 2 compliant?", "security-and-compliance.md"),
        ("Do you offer a discount for annual billing?", "pricing-and-discounts.md"),
        ("How do we win against Aircall?", "battlecard-aircall.md"),
    ],
)
async def test_hybrid_search_finds_the_right_document(question: str, document: str) -> None:
    kb, _ = await sample_knowledge()
    hits = await kb.search(question, limit=3, user_id=USER)
    assert hits[0].path == document and hits[0].source == "knowledge"
    assert hits[0].document_id and 0 < hits[0].score <= 1


async def test_entities_found_in_the_knowledge_base() -> None:
    kb, _ = await sample_knowledge()
    entities = await kb.entities(USER)
    assert {e.name for e in entities.values() if e.kind == "competitor"} == {
        "Aircall", "Dialpad", "RingCentral"}
    assert entities["aircall"].filename == "battlecard-aircall.md"
    products = {e.name for e in entities.values() if e.kind == "product"}
    assert {"Salesforce", "HubSpot", "Zendesk", "Slack"} <= products
    assert "Pilot" not in products and "Relay" not in products


async def test_tenants_are_isolated_and_the_index_follows_adds_and_deletes() -> None:
    store = MemoryStore()
    kb = KnowledgeBase(store=store, embedder=shared_embedder())
    assert await kb.search("whisper", user_id="ana") == []
    doc = await kb.add_document("ana", "faq.md", b"# FAQ\n\nTeam leads can whisper to agents "
                                b"during live calls without the customer hearing.", "text/markdown")
    assert doc.chunk_count == 1 and doc.content_type == "text/markdown"
    assert (await kb.search("Can a supervisor whisper to an agent?", user_id="ana"))[0].path == "faq.md"
    assert await kb.search("Can a supervisor whisper to an agent?", user_id="bob") == []
    again = await kb.add_document("ana", "faq.md", b"# FAQ\n\nTeam leads can whisper to agents "
                                  b"during live calls without the customer hearing.", None)
    assert again.id == doc.id  # the same file twice is kept once
    builds = store.calls_of_list_chunks
    await kb.search("whisper", user_id="ana")
    assert store.calls_of_list_chunks == builds  # cached index
    await kb.delete_document("ana", doc.id)
    assert await kb.search("whisper", user_id="ana") == []
    with pytest.raises(NotFound):
        await kb.delete_document("ana", doc.id)
    with pytest.raises(NotFound):
        await kb.delete_document("bob", "no-such-id")


async def test_oversized_and_nameless_uploads_are_refused() -> None:
    kb = KnowledgeBase(store=MemoryStore(), embedder=shared_embedder(), max_document_bytes=10)
    with pytest.raises(BadInput) as exc:
        await kb.add_document("ana", "big.md", b"x" * 11, None)
    assert exc.value.code == "too_large"
    with pytest.raises(BadInput):
        await kb.add_document("ana", "", b"# hi", None)


async def test_embedder_caches_and_shares_one_run_per_text() -> None:
    embedder = shared_embedder()
    import asyncio

    a, b = await asyncio.gather(embedder.embed_query("a brand new sentence 123"),
                                embedder.embed_query("a brand new sentence 123"))
    assert (a == b).all() and abs(float(a @ a) - 1.0) < 1e-4
    assert embedder.cached("a brand new sentence 123") is not None
    close = await embedder.embed_query("Does Relay integrate with Salesforce?")
    near = await embedder.embed_query("Is there a Salesforce integration?")
    far = await embedder.embed_query("The weather is lovely today.")
    assert float(close @ near) > float(close @ far) + 0.3


async def test_embedder_runs_texts_asked_for_while_busy_in_one_batch() -> None:
    import asyncio

    embedder = Embedder(cache_size=0)  # own instance: every text goes to the model
    runs: list[int] = []
    real_run = embedder._run

    def counting_run(texts: list[str]) -> Any:
        runs.append(len(texts))
        return real_run(texts)

    embedder._run = counting_run  # type: ignore[method-assign]
    texts = [f"Customer sentence number {i} about pricing and integrations." for i in range(20)]
    together = await asyncio.gather(*(embedder.embed_query(t) for t in texts))
    assert sum(runs) == 20 and len(runs) <= 3, runs  # the first alone, the rest batched
    one_by_one = [await embedder.embed_query(t) for t in texts[:3]]
    assert runs[-3:] == [1, 1, 1]  # an idle embedder does not wait to fill a batch
    for a, b in zip(together[:3], one_by_one, strict=True):
        assert float(a @ b) > 0.999  # batching (padding) does not change the vectors


async def test_embedder_failure_reaches_every_waiter_and_the_next_run_works() -> None:
    import asyncio

    embedder = Embedder(cache_size=0)
    real_run = embedder._run
    broken = True

    def flaky_run(texts: list[str]) -> Any:
        if broken:
            raise RuntimeError("model crashed")
        return real_run(texts)

    embedder._run = flaky_run  # type: ignore[method-assign]
    results = await asyncio.gather(*(embedder.embed_query(f"text {i}") for i in range(4)),
                                   return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    broken = False
    assert (await embedder.embed_query("text 0")).shape == (384,)


async def test_another_process_adding_a_document_is_noticed() -> None:
    store = MemoryStore()
    here = KnowledgeBase(store=store, embedder=shared_embedder(), revalidate_seconds=0.0)
    there = KnowledgeBase(store=store, embedder=shared_embedder())  # another worker process
    await here.add_document("ana", "a.md", b"# Hours\n\nSupport is open from eight to six.", None)
    assert [h.path for h in await here.search("When is support open?", user_id="ana")] == ["a.md"]
    await there.add_document("ana", "b.md", b"# Whisper\n\nTeam leads can whisper to agents.", None)
    paths = [h.path for h in await here.search("Can team leads whisper?", user_id="ana")]
    assert paths[0] == "b.md"


async def test_rerank_puts_the_passage_whose_one_sentence_answers_first() -> None:
    kb = KnowledgeBase(store=MemoryStore(), embedder=shared_embedder())
    tablets = (
        "# Tablets\n\nThe tablets come in grey or blue. Each one has a ten-inch screen and a "
        "rubber case. Labs order them with the first invoice. They keep working for three days "
        "when the internet connection goes down. Screens can be cleaned with alcohol wipes."
    )
    network = (
        "# Network\n\nThe office router should be on a wired connection. Our support team can "
        "help configure the network, the firewall and the wifi access points for a new lab."
    )
    await kb.add_document("ana", "tablets.md", tablets.encode(), "text/markdown")
    await kb.add_document("ana", "network.md", network.encode(), "text/markdown")
    query = "What happens when the internet goes out?"
    passages = await kb.retrieve("ana", query, limit=4)
    assert sorted(p.filename for p in passages) == ["network.md", "tablets.md"]
    reranked = await kb.rerank(query, passages)
    assert [p.filename for p in reranked] == ["tablets.md", "network.md"]
    best = reranked[0]
    assert best.dense < reranked[1].dense  # by whole-passage similarity alone it comes second
    assert best.sentence is not None and best.sentence > best.dense  # one sentence, not the whole
    assert all(p.sentence is None for p in passages)  # retrieve leaves it unset
    assert await kb.rerank(query, []) == []
