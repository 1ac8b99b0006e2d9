"""Find competitor and product names in transcript text, even when speech-to-text mishears them.

Speech engines split and bend brand names: "air called" for Aircall, "hub spot" for HubSpot,
"ring central" for RingCentral. We compare every word n-gram, squashed to lower-case letters and
digits, with each name: exact (1.0), split into words (0.95), close in edit distance (RapidFuzz
ratio) or identical in sound (jellyfish metaphone). Short names (Gong, Slack) only match exactly,
because "going" sounds like "gong"; a name spoken as ordinary words after "our"/"the" ("our sales
force is forty people") is not the product.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import jellyfish
from rapidfuzz import fuzz

_WORD = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9'&.-]*[A-Za-z0-9])?")
_DETERMINERS = frozenset("our your their the a an whole entire his her my its".split())
_FUNCTION_WORDS = _DETERMINERS | frozenset(
    "i we you they it he she is are was were be to in on for with and or at by from as so but "
    "not no yes of this that some any".split()
)
SHORT = 5  # names this short (after squashing) must match exactly


@dataclass(frozen=True)
class EntityMatch:
    name: str  # canonical spelling, e.g. "Aircall"
    surface: str  # the words as transcribed, e.g. "air called"
    confidence: float
    method: str  # "exact" | "split" | "fuzzy" | "phonetic"
    start: int  # word offsets in the text
    end: int


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass(frozen=True)
class _Name:
    canonical: str
    key: str
    sound: str
    words: int


class EntityMatcher:
    """Matches a fixed set of names (plus optional aliases) in text."""

    def __init__(
        self,
        names: Iterable[str],
        *,
        aliases: Mapping[str, Iterable[str]] | None = None,
        min_confidence: float = 0.8,
        fuzzy_ratio: float = 85.0,
    ) -> None:
        self._names: list[_Name] = []
        seen: set[str] = set()
        spellings = [(n, n) for n in names]
        for canonical, alts in (aliases or {}).items():
            spellings.extend((canonical, a) for a in alts)
        for canonical, spelling in spellings:
            key = _squash(spelling)
            if not key or key in seen:
                continue
            seen.add(key)
            self._names.append(_Name(canonical, key, jellyfish.metaphone(key), len(spelling.split())))
        self._min_confidence = min_confidence
        self._fuzzy = fuzzy_ratio
        self._max_n = max((n.words for n in self._names), default=1) + 1

    @property
    def names(self) -> list[str]:
        return sorted({n.canonical for n in self._names})

    def _score(self, name: _Name, gram: str, n_words: int) -> tuple[float, str]:
        if gram == name.key:
            return (1.0, "exact") if n_words <= name.words else (0.95, "split")
        if len(name.key) <= SHORT or abs(len(gram) - len(name.key)) > 3:
            return 0.0, ""
        ratio = fuzz.ratio(gram, name.key)
        if ratio >= self._fuzzy:
            return round(0.95 * ratio / 100, 3), "fuzzy"
        if ratio >= 75 and _sound(gram) == name.sound:
            return 0.85, "phonetic"
        return 0.0, ""

    def find(self, text: str) -> list[EntityMatch]:
        """Every name mentioned in `text`, best match per span, in order of appearance."""
        tokens = _WORD.findall(text)
        lowered = [t.lower().strip(".'") for t in tokens]
        candidates: list[EntityMatch] = []
        for start in range(len(tokens)):
            for n in range(1, self._max_n + 1):
                end = start + n
                if end > len(tokens):
                    break
                if n > 1 and (lowered[start] in _FUNCTION_WORDS or lowered[end - 1] in _FUNCTION_WORDS):
                    continue  # "our sales force" is not a misheard "Salesforce"
                gram = "".join(_squash(t) for t in tokens[start:end])
                if len(gram) < 3:
                    continue
                for name in self._names:
                    confidence, method = self._score(name, gram, n)
                    if confidence < self._min_confidence:
                        continue
                    spoken_as_words = n > name.words and all(t.islower() for t in tokens[start:end])
                    if (
                        (spoken_as_words or len(name.key) <= SHORT)
                        and start > 0
                        and lowered[start - 1] in _DETERMINERS
                        and method != "exact"
                    ):
                        continue  # "our sales force", "the ring central office"
                    if (
                        len(name.key) <= SHORT
                        and start > 0
                        and lowered[start - 1] in {"the", "a"}
                        and tokens[start].islower()
                    ):
                        continue  # "pick up the slack"
                    candidates.append(
                        EntityMatch(
                            name.canonical, " ".join(tokens[start:end]), confidence, method, start, end
                        )
                    )
        chosen: list[EntityMatch] = []
        for m in sorted(candidates, key=lambda m: (-m.confidence, m.end - m.start)):
            if all(m.end <= c.start or m.start >= c.end for c in chosen):
                chosen.append(m)
        best: dict[str, EntityMatch] = {}
        for m in sorted(chosen, key=lambda m: m.start):
            if m.name not in best or m.confidence > best[m.name].confidence:
                best[m.name] = m
        return sorted(best.values(), key=lambda m: m.start)


@lru_cache(maxsize=4096)
def _sound(key: str) -> str:
    return str(jellyfish.metaphone(key))


@lru_cache(maxsize=64)
def matcher_for(names: tuple[str, ...]) -> EntityMatcher:
    """A shared matcher per set of names (tenants with the same knowledge base share one)."""
    return EntityMatcher(names)
