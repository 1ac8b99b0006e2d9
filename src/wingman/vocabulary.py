"""Per-tenant custom vocabulary: the names speech recognition must hear and the agents must know.

A user's vocabulary is built automatically and ranked, most relevant first:

1. ``user``: terms the user added (GET/PUT /api/vocabulary), in their order;
2. ``company``: the user's own company or product, i.e. a proper noun used in at least half of
   their knowledge-base documents (the demo's "Relay");
   The company profile's name comes first here, its products with the products below;
3. ``competitor``: competitors with a battlecard in the knowledge base, then the company
   profile's competitors (settings.competitors for a tenant without a profile);
4. ``product``: products the knowledge base names (integrations); settings.competitors that the
   knowledge base calls products (Salesforce is an integration for Relay) land here too;
5. ``knowledge``: other proper nouns and product terms in the documents: CamelCase words
   ("AppExchange"), words with digits, an acronym with its number ("SOC 2"), capitalized words
   used mid-sentence and never in lower case ("Frankfurt"). Terms the playbook uses too come
   first, then the ones spelled like nothing else (speech recognition needs help with those,
   not with "Starter"), each group by the number of passages using them;
6. ``playbook``: the same, found in the labels and tips of the workspace's playbook.

It is bounded (MAX_TERMS, Deepgram's keyterm limit); each speech engine then takes what fits its
own budget from the front: the local engine a short glossary prompt, Deepgram keyterms/keywords.
The documents' names and entities come from the knowledge base's own index (built once per
change of its documents, shared with the agents' search), the playbook from the workspaces'
playbooks (the coach's): nothing here reads or watches either again. The names found in them
are kept per change of the index and per playbook version, so a call start costs a small query.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from wingman import bounded
from wingman.agents.playbook import Playbook, PlaybookProvider
from wingman.errors import BadInput, ConfigError
from wingman.profile import ProfileService
from wingman.search.knowledge import IndexedTexts
from wingman.search.lexical import KnowledgeEntity, entities_of

log = logging.getLogger(__name__)

MAX_TERMS = 100  # Deepgram: at most 100 keyterms; the local glossary takes far fewer
MAX_USER_TERMS = 50
MAX_TERM_CHARS = 64  # the store's column
CACHED_TENANTS = 1024

Source = Literal["user", "company", "competitor", "product", "knowledge", "playbook"]


@dataclass(frozen=True)
class Term:
    text: str
    source: Source


@dataclass(frozen=True)
class Vocabulary:
    """One user's terms, most relevant first, at most MAX_TERMS."""

    terms: tuple[Term, ...] = ()
    user_terms: tuple[str, ...] = ()  # the user's own terms, as stored (all of them)

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(t.text for t in self.terms)


def clean_terms(raw: Iterable[str], *, limit: int = MAX_USER_TERMS) -> list[str]:
    """User terms as stored: whitespace collapsed, blanks dropped, the first spelling of a term
    kept (case-insensitive). BadInput for control characters, too long terms or too many."""
    out: dict[str, str] = {}
    for item in raw:
        term = " ".join(item.split())
        if not term:
            continue
        if any(unicodedata.category(c).startswith("C") for c in term):
            raise BadInput("a term cannot contain control characters", code="bad_term")
        if len(term) > MAX_TERM_CHARS:
            raise BadInput(f"a term can have at most {MAX_TERM_CHARS} characters", code="bad_term")
        out.setdefault(term.casefold(), term)
    if len(out) > limit:
        raise BadInput(f"at most {limit} terms of your own", code="too_many_terms")
    return list(out.values())


# -- proper nouns and product terms in text
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9&.'\u2019-]*[A-Za-z0-9]|[A-Za-z0-9]")
# sentence, list-item and bracket boundaries: the word after one proves nothing by its capital
_BOUNDARY = re.compile(r"(?<=[.!?:;])\s+|\n+|\s+[-\u2013\u2014*]\s+|[()\[\]|\"\u201c\u201d]")
_CAMEL = re.compile(r"[a-z][A-Z]")
_ACRONYM = re.compile(r"[A-Z]{2,6}")
_NUMBER = re.compile(r"\d{1,5}")
_ACRONYM_PLURAL = re.compile(r"[A-Z]{2,6}s")
_NOT_NAMES = frozenset(
    "i i'm i'll i've i'd ok okay mr mrs ms dr monday tuesday wednesday thursday friday saturday "
    "sunday january february march april may june july august september october november "
    "december".split()
)
MAX_RUN = 3  # words in one multi-word name ("Microsoft Teams", "Data Processing Agreement")


def _strip(token: str) -> str:
    token = re.sub(r"['\u2019]s$", "", token)
    return token.strip(".-'\u2019&")


def _strong(word: str) -> bool:
    """Spelled like nothing but a name: CamelCase, or letters with digits (Five9)."""
    return bool(_CAMEL.search(word)) or (word[:1].isalpha() and any(c.isdigit() for c in word))


def _capitalized(word: str) -> bool:
    if _ACRONYM_PLURAL.fullmatch(word):
        return False  # "SLAs": an acronym, said letter by letter
    return word[:1].isupper() and any(c.islower() for c in word) and word.lower() not in _NOT_NAMES


@dataclass
class _Found:
    first: int  # order of first use, for stable ranking
    passages: int = 0
    documents: set[str] = field(default_factory=set)


_OPENERS = frozenset(
    "the a an our your their this that these those in on for with every each all if when where "
    "how what why it we you they he she there and but or to as at by from".split()
)


def _segment_terms(words: list[str]) -> tuple[list[tuple[str, ...]], set[str]]:
    """Name-like runs in one sentence (as word tuples) and the words it uses in lower case.
    A capital letter proves nothing on a sentence's first word, unless the next word has one
    too ("Microsoft Teams is supported")."""
    runs: list[tuple[str, ...]] = []
    lower: set[str] = set()
    i = 0
    while i < len(words):
        word = words[i]
        if _ACRONYM.fullmatch(word) and i + 1 < len(words) and _NUMBER.fullmatch(words[i + 1]):
            runs.append((f"{word} {words[i + 1]}",))  # "SOC 2", "ISO 27001": one term
            i += 2
            continue
        j = i
        while j < len(words) and (_strong(words[j]) or _capitalized(words[j])):
            j += 1
        first = i
        if i == 0 and j > 0 and not _strong(word):
            # "Customers can": no name; "The Enterprise plan": the opener is no part of it;
            # "Then Priya called" or "Microsoft Teams is": either, the counts across passages decide
            first = 1 if word.lower() in _OPENERS or j == 1 else 0
            if first == 0 and j > 1:
                runs.append(tuple(words[1:j]))
        if j > first:
            runs.append(tuple(words[first:j]))
        if j > i:
            i = j
            continue
        if word.islower():
            lower.add(word)
        i += 1
    return runs, lower


def _count(table: dict[Any, _Found], keys: Iterable[Any], document_id: str) -> None:
    for key in keys:
        entry = table.get(key)
        if entry is None:
            entry = table[key] = _Found(first=len(table))
        entry.passages += 1
        entry.documents.add(document_id)


def proper_nouns(passages: Iterable[tuple[str, str]]) -> list[tuple[str, int, int]]:
    """(term, passages, documents) for the proper nouns and product terms in (document id,
    text) passages, most used first. A plain capitalized word must be used mid-sentence in two
    passages and never in lower case; a multi-word name must always appear whole."""
    singles: dict[str, _Found] = {}
    alone: dict[str, _Found] = {}  # used as a one-word name, not only inside a longer one
    runs: dict[tuple[str, ...], _Found] = {}
    lower: set[str] = set()
    for document_id, text in passages:
        seen_singles: set[str] = set()
        seen_alone: set[str] = set()
        seen_runs: set[tuple[str, ...]] = set()
        for sentence in _BOUNDARY.split(text):
            words = [w for w in (_strip(t) for t in _TOKEN.findall(sentence)) if w]
            found, lowered = _segment_terms(words)
            lower |= lowered
            for run in found:
                if len(run) > MAX_RUN:
                    continue  # a title-cased phrase, not a name
                seen_singles.update(run)
                if len(run) > 1:
                    seen_runs.add(run)
                else:
                    seen_alone.add(run[0])
        _count(singles, seen_singles, document_id)
        _count(alone, seen_alone, document_id)
        _count(runs, seen_runs, document_id)

    def ordinary(word: str) -> bool:
        return word.lower() in lower and not _strong(word)

    kept: dict[str, _Found] = {}
    whole: set[str] = set()
    for run, entry in runs.items():
        always_whole = all(singles[w].passages == entry.passages for w in run)
        if entry.passages >= 2 and always_whole and not all(ordinary(w) for w in run):
            kept[" ".join(run)] = entry
            whole.update(run)
    for word, entry in singles.items():
        if word in whole:
            continue
        used_alone = alone[word].passages if word in alone else 0
        if _strong(word) or " " in word or (used_alone >= 2 and not ordinary(word)):
            kept[word] = entry
    ranked = sorted(kept.items(), key=lambda kv: (-kv[1].passages, kv[1].first))
    return [(term, e.passages, len(e.documents)) for term, e in ranked]


def _playbook_texts(raw: Any) -> Iterable[str]:
    """The labels and tips of a parsed playbook (whatever its rules are called)."""
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key in ("tips", "label") and isinstance(value, list | str):
                yield from [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]
            else:
                yield from _playbook_texts(value)
    elif isinstance(raw, list):
        for value in raw:
            yield from _playbook_texts(value)


def playbook_terms(playbook: Playbook | Path) -> list[str]:
    """Proper nouns and product terms in a playbook's labels and tips, most used first (none
    for a playbook file that cannot be read or is no valid playbook)."""
    if isinstance(playbook, Path):
        try:
            playbook = Playbook.load(playbook)
        except ConfigError:
            return []
    texts = _playbook_texts(playbook.model_dump(mode="json"))
    return [term for term, _, _ in proper_nouns(("playbook", t) for t in texts)]


# -- building one user's vocabulary
@dataclass(frozen=True)
class KnowledgeTerms:
    """What a knowledge base contributes, computed once per change of its documents."""

    entities: Mapping[str, KnowledgeEntity]
    nouns: tuple[tuple[str, int, int], ...]  # proper_nouns() output
    documents: int

    @classmethod
    def of(cls, texts: IndexedTexts) -> KnowledgeTerms:
        """From the knowledge base's index of a tenant (its entities as they are)."""
        nouns = proper_nouns(zip(texts.document_ids, texts.bodies, strict=True))
        return cls(texts.entities, tuple(nouns), len(set(texts.document_ids)))

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, str, str, str]]) -> KnowledgeTerms:
        """From (document id, filename, heading, body) passages."""
        nouns = proper_nouns((r[0], r[3]) for r in rows)
        return cls(entities_of(rows), tuple(nouns), len({r[0] for r in rows}))


def build_vocabulary(
    *,
    user_terms: Sequence[str] = (),
    company: Sequence[str] = (),
    products: Sequence[str] = (),
    competitors: Sequence[str] = (),
    knowledge: KnowledgeTerms | None = None,
    playbook: Sequence[str] = (),
    limit: int = MAX_TERMS,
) -> Vocabulary:
    """Rank and bound the terms (see the module docstring); repeats keep their best rank."""
    knowledge = knowledge or KnowledgeTerms({}, (), 0)
    kinds = {e.name.casefold(): e.kind for e in knowledge.entities.values()}
    ranked: list[Term] = [Term(t, "user") for t in user_terms]
    ranked += [Term(t, "company") for t in company]  # the company profile's own names first
    for noun, _, documents in knowledge.nouns:
        if noun.casefold() not in kinds and documents >= 2 and 2 * documents >= knowledge.documents:
            ranked.append(Term(noun, "company"))
    entities = [e.name for e in knowledge.entities.values()]
    kind_sources: tuple[Source, Source] = ("competitor", "product")
    for source in kind_sources:
        for name in [*entities, *competitors]:
            if kinds.get(name.casefold(), "competitor") == source:
                ranked.append(Term(name, source))
        if source == "competitor":
            ranked += [Term(p, "product") for p in products]
    # a term the playbook uses too is one reps say; a spelling like nothing else (CamelCase,
    # digits, several words) is one speech recognition needs help with; then by use
    in_playbook = {p.casefold() for p in playbook}
    nouns = sorted(
        (noun for noun, _, _ in knowledge.nouns),
        key=lambda n: (n.casefold() not in in_playbook, not (_strong(n) or " " in n)),
    )
    ranked += [Term(noun, "knowledge") for noun in nouns]
    ranked += [Term(noun, "playbook") for noun in playbook]
    out: list[Term] = []
    seen: set[str] = set()
    for item in ranked:
        text = " ".join(item.text.split())
        key = text.casefold()
        if not text or key in seen or len(text) > MAX_TERM_CHARS:
            continue
        seen.add(key)
        out.append(Term(text, item.source))
        if len(out) >= limit:
            break
    return Vocabulary(tuple(out), tuple(user_terms))


class VocabularyStore(Protocol):
    """The Store methods the vocabulary uses (wingman.store.repos.Store has them)."""

    async def list_vocabulary_terms(self, *, workspace_id: str) -> list[str]: ...

    async def set_vocabulary_terms(
        self, *, workspace_id: str, user_id: str, terms: Sequence[str]
    ) -> list[str]: ...


class KnowledgeIndex(Protocol):
    """What the vocabulary reads of the knowledge base (wingman.search.knowledge.KnowledgeBase)."""

    async def texts(self, tenant: str) -> IndexedTexts: ...


class VocabularyService:
    """Every workspace's vocabulary: its own terms, its profile, its knowledge base's index and
    its playbook."""

    def __init__(
        self,
        *,
        store: VocabularyStore,
        knowledge: KnowledgeIndex | None = None,
        playbooks: PlaybookProvider | None = None,
        competitors: Sequence[str] = (),
        max_terms: int = MAX_TERMS,
        profiles: ProfileService | None = None,
    ) -> None:
        self._store = store
        self._knowledge_base = knowledge
        self._playbooks = playbooks
        self._profiles = profiles
        self._competitors = tuple(competitors)
        self.max_terms = max_terms
        # per tenant, what was derived from the index (by its signature) and the playbook (by
        # identity: the providers hand out a new object for each version), least recent first
        self._knowledge: OrderedDict[str, tuple[tuple[tuple[str, int], ...], KnowledgeTerms]] = OrderedDict()
        self._playbook: OrderedDict[str, tuple[Playbook, list[str]]] = OrderedDict()

    async def _playbook_terms(self, tenant: str) -> list[str]:
        if self._playbooks is None:
            return []
        playbook = await self._playbooks.for_tenant(tenant)
        cached = self._playbook.get(tenant)
        if cached is None or cached[0] is not playbook:  # sales managers edit it while we run
            cached = (playbook, await asyncio.to_thread(playbook_terms, playbook))
            _keep(self._playbook, tenant, cached)
        self._playbook.move_to_end(tenant)
        return cached[1]

    async def _knowledge_terms(self, tenant: str) -> KnowledgeTerms:
        if self._knowledge_base is None:
            return KnowledgeTerms({}, (), 0)
        texts = await self._knowledge_base.texts(tenant)
        cached = self._knowledge.get(tenant)
        if cached is not None and cached[0] == texts.signature:
            self._knowledge.move_to_end(tenant)
            return cached[1]
        terms = await asyncio.to_thread(KnowledgeTerms.of, texts)
        _keep(self._knowledge, tenant, (texts.signature, terms))
        log.info("vocabulary built", extra={"tenant": tenant, "terms": len(terms.nouns)})
        return terms

    async def get(self, tenant: str) -> Vocabulary:
        """The workspace's vocabulary, most relevant first."""
        user_terms = await self._store.list_vocabulary_terms(workspace_id=tenant)
        knowledge = await self._knowledge_terms(tenant)
        profile = await self._profiles.get(tenant) if self._profiles is not None else None
        return build_vocabulary(
            user_terms=user_terms,
            company=[profile.name] if profile else (),
            products=profile.products if profile else (),
            competitors=profile.competitor_names if profile else self._competitors,
            knowledge=knowledge,
            playbook=await self._playbook_terms(tenant),
            limit=self.max_terms,
        )

    async def set_user_terms(self, tenant: str, terms: Sequence[str], *,
            added_by: str | None = None) -> Vocabulary:
        """Replace the workspace's own terms (see clean_terms), recorded as added by user
        `added_by` (default: the tenant id, as in KnowledgeBase.add_document); returns the new
        vocabulary."""
        await self._store.set_vocabulary_terms(
            workspace_id=tenant, user_id=added_by or tenant, terms=clean_terms(terms)
        )
        return await self.get(tenant)

    async def for_call(self, tenant: str, *, timeout: float = 1.0) -> tuple[str, ...]:
        """The terms a new call's speech engine is biased with. Never fails and never holds a
        call start up for long: on a slow or failing store, the competitor list."""
        try:
            async with asyncio.timeout(timeout):
                return (await self.get(tenant)).texts
        except Exception as e:  # a call must start even when the vocabulary cannot be read
            log.warning("vocabulary unavailable; competitors used", extra={"error": type(e).__name__})
            return build_vocabulary(competitors=self._competitors, limit=self.max_terms).texts


def _keep(cache: OrderedDict[str, Any], tenant: str, value: Any) -> None:
    """Remember `value` as the most recent; forget the least recent tenants beyond the bound."""
    bounded.put(cache, tenant, value, limit=CACHED_TENANTS, refresh=True)
