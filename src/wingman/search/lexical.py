"""Lexical side of the knowledge base: light stemming and tokens for BM25, passage sentences
for extractive answers, and the competitor and product names a knowledge base mentions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_STOPWORDS = frozenset(
    "a an and are as at be been being but by can could did do does doing for from had has have "
    "how i if in into is it its just me my of on or our ours so than that the their them then "
    "there these they this those to too us was we were what when where which while who whom why "
    "will with would you your yours about also any some very really".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def passage_sentences(body: str) -> list[str]:
    """A passage's sentences and list items (fragments under four words dropped)."""
    parts: list[str] = []
    for piece in re.split(r"\s+-\s+|\s+(?=\d\.\s)", body):
        parts.extend(_SENTENCE_END.split(piece.strip()))
    return [p.strip() for p in parts if len(p.split()) >= 4]


def stem(word: str) -> str:
    """A deliberately light stemmer: integrate/integrates/integration/integrated -> integrat."""
    w = word.lower().removesuffix("'s")
    for suffix, repl in (
        ("ations", "ate"),
        ("ation", "ate"),
        ("ies", "y"),
        ("ing", ""),
        ("ed", ""),
        ("es", "e"),
        ("s", ""),
    ):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not w.endswith("ss"):
            w = w[: -len(suffix)] + repl
            break
    return w[:-1] if len(w) > 4 and w.endswith("e") else w


def lexical_tokens(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]


@dataclass(frozen=True)
class KnowledgeEntity:
    """A competitor or product named in the knowledge base."""

    name: str
    kind: str  # "competitor" (it has a battlecard) | "product"
    document_id: str
    filename: str


_VERSUS = re.compile(r"(?:\bvs\.?|\bversus|\bbattlecard:?)\s+([A-Z][\w.&-]*(?:\s+[A-Z][\w.&-]*)?)\s*$")
_NAME = re.compile(r"^[A-Z][A-Za-z0-9.&-]*(?:\s[A-Z][A-Za-z0-9.&-]*){0,2}$")


def entities_of(index_rows: Sequence[tuple[str, str, str, str]]) -> dict[str, KnowledgeEntity]:
    """Competitors (battlecard titles) and products (brand-like section headings that also
    appear capitalized mid-sentence in the text) named in the knowledge base."""
    bodies = " ".join(row[3] for row in index_rows)
    found: dict[str, KnowledgeEntity] = {}
    for document_id, filename, heading, _body in index_rows:
        parts = [p.strip() for p in heading.split(" > ") if p.strip()]
        if not parts:
            continue
        m = _VERSUS.search(parts[0])
        if m and ("battlecard" in parts[0].lower() or "battlecard" in filename.lower()):
            name = m.group(1).strip()
            found[name.lower()] = KnowledgeEntity(name, "competitor", document_id, filename)
        for part in parts[1:]:
            for candidate in re.split(r",\s*|\s+and\s+|\s*/\s*|\s*&\s*", part):
                candidate = candidate.strip()
                if not _NAME.match(candidate) or (candidate.isupper() and len(candidate) <= 5):
                    continue
                # proper-noun evidence: capitalized right after a lower-case word
                if not re.search(rf"(?:\b[a-z]+|,)\s+{re.escape(candidate)}\b", bodies):
                    continue
                found.setdefault(
                    candidate.lower(), KnowledgeEntity(candidate, "product", document_id, filename)
                )
    return found
