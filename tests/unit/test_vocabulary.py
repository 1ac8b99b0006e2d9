"""The per-tenant vocabulary: terms found in documents and the playbook, ranking and bounds."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from wingman.errors import BadInput
from wingman.sample import sample_profile
from wingman.search.documents import chunk_text, document_title
from wingman.settings import DATA_DIR, Settings
from wingman.vocabulary import (
    MAX_TERM_CHARS,
    KnowledgeTerms,
    build_vocabulary,
    clean_terms,
    playbook_terms,
    proper_nouns,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "names"


def knowledge_of(*paths: Path) -> KnowledgeTerms:
    rows: list[tuple[str, str, str, str]] = []
    for path in paths:
        text = path.read_text()
        for chunk in chunk_text(text, markdown=True, title=document_title(text, path.name)):
            rows.append((path.stem, path.name, chunk.heading, chunk.body))
    return KnowledgeTerms.from_rows(rows)


@cache
def sample_knowledge() -> KnowledgeTerms:
    sample = sorted((DATA_DIR / "sample" / "knowledge").glob("*.md"))
    return knowledge_of(*sample, FIXTURES / "battlecard-talkdesk.md")


def nouns(*texts: str) -> list[str]:
    return [term for term, _, _ in proper_nouns((f"d{i}", t) for i, t in enumerate(texts))]


def test_proper_nouns_and_product_terms() -> None:
    found = nouns(
        "We log calls from Relay to HubSpot. Our audits cover SOC 2 and ISO 27001.",
        "Teams moving off Five9 pick Relay for Microsoft Teams and the AppExchange app.",
        "Microsoft Teams users get Relay inside their chat.",
    )
    assert found[0] == "Relay"  # three passages
    assert {"HubSpot", "SOC 2", "ISO 27001", "Five9", "Microsoft Teams", "AppExchange"} <= set(found)
    assert "Microsoft" not in found and "Teams" not in found  # the words of a name always used whole


def test_ordinary_capitalized_words_are_not_terms() -> None:
    found = nouns(
        "Customers love it. Reporting is included. Our Reporting team reviews reporting weekly.",
        "Customers call on Monday. The API and CRM sync. SLAs are in the contract.",
        "Our Reporting tools and the Denver office. Denver is where support sits.",
        "Most agents work from Denver these days.",
        "Support Ticket Routing Rules Explained In Full Detail Here",
    )
    assert "Customers" not in found  # only ever first in a sentence
    assert "Reporting" not in found  # also used in lower case
    assert "Monday" not in found and "API" not in found and "SLAs" not in found
    assert "Denver" in found  # capitalized mid-sentence in two passages, never lower case
    assert not any("Routing" in t for t in found)  # a title-cased line is no name


def test_a_plain_capitalized_word_used_once_is_not_enough() -> None:
    assert nouns("We met Priya at the fair.") == []
    assert nouns("We met Priya at the fair.", "Then Priya called back.") == ["Priya"]


def test_the_sample_knowledge_base_gives_names_in_a_useful_order() -> None:
    vocabulary = build_vocabulary(
        competitors=sample_profile().competitor_names,
        knowledge=sample_knowledge(),
        playbook=playbook_terms(Settings().effective_playbook_path),
    )
    sources = {t.text: t.source for t in vocabulary.terms}
    assert vocabulary.texts[0] == "Relay" and sources["Relay"] == "company"  # in most documents
    # battlecards first (in document order, the upload last), then the rest of the competitor list
    assert [t.text for t in vocabulary.terms if t.source == "competitor"] == [
        "Aircall", "Dialpad", "RingCentral", "Talkdesk", "Gong"]
    products = [t.text for t in vocabulary.terms if t.source == "product"]
    assert {"Salesforce", "HubSpot", "Zendesk", "Microsoft Teams", "Slack"} <= set(products)
    assert "SOC 2" in sources and "AppExchange" in sources
    assert len(vocabulary.texts) == len({t.casefold() for t in vocabulary.texts})


def test_ranking_user_terms_first_and_bounded() -> None:
    knowledge = sample_knowledge()
    vocabulary = build_vocabulary(user_terms=["Nextiva", "aircall"], competitors=["Aircall", "Gong"],
                                  knowledge=knowledge, playbook=["Relay", "Champion"], limit=8)
    assert [(t.text, t.source) for t in vocabulary.terms[:3]] == [
        ("Nextiva", "user"), ("aircall", "user"), ("Relay", "company")]
    assert len(vocabulary.terms) == 8
    assert "Aircall" not in vocabulary.texts  # the user's spelling stands for it
    assert vocabulary.user_terms == ("Nextiva", "aircall")
    assert build_vocabulary().terms == ()
    assert build_vocabulary(playbook=["Champion"]).terms[0].source == "playbook"


def test_settings_competitors_the_knowledge_base_calls_products_are_products() -> None:
    vocabulary = build_vocabulary(competitors=["Salesforce", "Gong"], knowledge=sample_knowledge())
    sources = {t.text: t.source for t in vocabulary.terms}
    assert sources["Salesforce"] == "product" and sources["Gong"] == "competitor"


def test_clean_terms() -> None:
    assert clean_terms(["  Talk   desk ", "", "Nextiva", "talk desk", "NEXTIVA"]) == ["Talk desk", "Nextiva"]
    with pytest.raises(BadInput) as e:
        clean_terms(["bad\x07term"])
    assert e.value.code == "bad_term"
    with pytest.raises(BadInput):
        clean_terms(["x" * (MAX_TERM_CHARS + 1)])
    with pytest.raises(BadInput) as e:
        clean_terms([f"Term {i}" for i in range(4)], limit=3)
    assert e.value.code == "too_many_terms"


def test_playbook_terms(tmp_path: Path) -> None:
    shipped = playbook_terms(Settings().effective_playbook_path)
    # the template names no company: its terms are the playbook's own words
    assert not {"Relay", "Aircall", "Dialpad", "RingCentral", "SOC 2"} & set(shipped)
    broken = tmp_path / "playbook.yaml"
    broken.write_text("objections: [unclosed")
    assert playbook_terms(broken) == [] and playbook_terms(tmp_path / "missing.yaml") == []
