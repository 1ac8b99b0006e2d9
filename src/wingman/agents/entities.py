"""Find competitor and product names in transcript text, even when speech-to-text mishears them.

Speech engines split and bend brand names: "air called" or "Ericall" for Aircall, "hub spot" for
HubSpot, "ring central" for RingCentral. We compare every word n-gram, squashed to lower-case
letters and digits, with each name, and score the best evidence:

- exact (1.0): the name as written; split (0.95): the name as separate words ("hub spot");
- fuzzy (0.95 x RapidFuzz ratio, at least 85): a letter or two off ("Aircald", "Nendesk");
- phonetic (0.85): spelled differently but the same sound (metaphone, with a leading vowel
  standing for any vowel: "Ericall" and "Aircall" both sound A-R-K-L) and a ratio of 75 or more;
- proper noun (0.95 x the mean of spelling and sound similarity, 0.8 to 0.85): a word the speech
  engine capitalized mid-sentence, which it does for names it does not know, that sounds like the
  name with a spelling ratio of 65 or more. "Ericall" qualifies; "Eric called" does not.

What keeps ordinary words out: short names (Gong, Slack) only match exactly, because "going"
sounds like "gong"; a name spoken as ordinary words after "our"/"the" ("our sales force is forty
people") is not the product; n-grams that start or end on a function word ("their call") are
never names; a name heard as several words must line up word by word ("air called" is Aircall,
"car call" is not) unless the engine capitalized one of them mid-sentence ("using Central");
and the proper-noun rule needs the capital letter where no sentence starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import jellyfish
from rapidfuzz import fuzz

_WORD = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9'&.-]*[A-Za-z0-9])?")
_POSSESSIVE = re.compile(r"['\u2019]s$")  # "Dialpad's" is Dialpad
_SENTENCE_END = re.compile(r"[.?!:;\n]")
_DETERMINERS = frozenset("our your their the a an whole entire his her my its".split())
_FUNCTION_WORDS = _DETERMINERS | frozenset(
    "i we you they it he she is are was were be to in on for with and or at by from as so but "
    "not no yes of this that some any".split()
)
SHORT = 5  # names this short (after squashing) must match exactly
_VOWELS = "AEIOU"


@dataclass(frozen=True)
class EntityMatch:
    name: str  # canonical spelling, e.g. "Aircall"
    surface: str  # the words as transcribed, e.g. "air called"
    confidence: float
    method: str  # "exact" | "split" | "fuzzy" | "phonetic" | "proper-noun"
    start: int  # word offsets in the text
    end: int


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", _POSSESSIVE.sub("", text.lower()))


@lru_cache(maxsize=4096)
def _sound(key: str) -> str:
    """Metaphone with any leading vowel written "A": Whisper swaps the first vowel of an
    unknown name freely ("Ericall", "Eircall" for Aircall), and metaphone keeps it."""
    code = str(jellyfish.metaphone(key))
    return "A" + code[1:] if code[:1] in _VOWELS else code


@dataclass(frozen=True)
class _Name:
    canonical: str
    key: str
    sound: str
    words: int


@dataclass(frozen=True)
class _Token:
    text: str
    lowered: str
    sentence_start: bool  # first word of the text or of a sentence

    @property
    def capitalized(self) -> bool:
        return self.text[:1].isupper()


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    last = 0
    for m in _WORD.finditer(text):
        gap = text[last : m.start()]
        starts = not out or bool(_SENTENCE_END.search(gap))
        out.append(_Token(m.group(), m.group().lower().strip(".'"), starts))
        last = m.end()
    return out


class EntityMatcher:
    """Matches a fixed set of names (plus optional aliases) in text."""

    def __init__(
        self,
        names: Iterable[str],
        *,
        aliases: Mapping[str, Iterable[str]] | None = None,
        min_confidence: float = 0.8,
        fuzzy_ratio: float = 85.0,
        proper_noun_ratio: float = 65.0,
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
            self._names.append(_Name(canonical, key, _sound(key), len(spelling.split())))
        self._min_confidence = min_confidence
        self._fuzzy = fuzzy_ratio
        self._proper_noun = proper_noun_ratio
        self._max_n = max((n.words for n in self._names), default=1) + 1

    @property
    def names(self) -> list[str]:
        return sorted({n.canonical for n in self._names})

    def _score(
        self, name: _Name, gram: str, n_words: int, *, proper: bool, marked: bool, first: str
    ) -> tuple[float, str]:
        if gram == name.key:
            return (1.0, "exact") if n_words <= name.words else (0.95, "split")
        if len(name.key) <= SHORT or abs(len(gram) - len(name.key)) > 3:
            return 0.0, ""
        if n_words > name.words and not (marked or _aligned(name.key, gram, first)):
            return 0.0, ""  # more words than the name: they must line up, or look like a name
        ratio = fuzz.ratio(gram, name.key)
        if ratio >= self._fuzzy:
            return round(0.95 * ratio / 100, 3), "fuzzy"
        if ratio < min(75.0, self._proper_noun) or _sound(gram) != name.sound:
            return 0.0, ""
        if ratio >= 75:
            return 0.85, "phonetic"
        if proper:
            return round(min(0.85, 0.95 * (ratio + 100) / 200), 3), "proper-noun"
        return 0.0, ""

    def find(self, text: str) -> list[EntityMatch]:
        """Every name mentioned in `text`, best match per span, in order of appearance."""
        tokens = _tokens(text)
        candidates: list[EntityMatch] = []
        for start in range(len(tokens)):
            for n in range(1, self._max_n + 1):
                end = start + n
                if end > len(tokens):
                    break
                span = tokens[start:end]
                if n > 1 and (span[0].lowered in _FUNCTION_WORDS or span[-1].lowered in _FUNCTION_WORDS):
                    continue  # "our sales force" is not a misheard "Salesforce"
                gram = "".join(_squash(t.text) for t in span)
                if len(gram) < 3:
                    continue
                # a capital letter where no sentence starts: the engine took it for a name
                proper = not span[0].sentence_start and all(t.capitalized for t in span)
                marked = any(t.capitalized and not t.sentence_start for t in span)
                first = _squash(span[0].text)
                for name in self._names:
                    confidence, method = self._score(name, gram, n, proper=proper, marked=marked, first=first)
                    if confidence < self._min_confidence:
                        continue
                    if self._ordinary(name, span, start, tokens, method):
                        continue
                    surface = " ".join(t.text for t in span)
                    candidates.append(EntityMatch(name.canonical, surface, confidence, method, start, end))
        chosen: list[EntityMatch] = []
        for m in sorted(candidates, key=lambda m: (-m.confidence, m.end - m.start)):
            if all(m.end <= c.start or m.start >= c.end for c in chosen):
                chosen.append(m)
        best: dict[str, EntityMatch] = {}
        for m in sorted(chosen, key=lambda m: m.start):
            if m.name not in best or m.confidence > best[m.name].confidence:
                best[m.name] = m
        return sorted(best.values(), key=lambda m: m.start)

    @staticmethod
    def _ordinary(name: _Name, span: list[_Token], start: int, tokens: list[_Token], method: str) -> bool:
        """Ordinary words that happen to spell or sound like the name, by their context."""
        before = tokens[start - 1].lowered if start > 0 else ""
        # heard as more words than the name has (capitalized or not: "our Salem force")
        spoken_as_words = len(span) > name.words
        if (spoken_as_words or len(name.key) <= SHORT) and before in _DETERMINERS and method != "exact":
            return True  # "our sales force", "the ring central office"
        # "pick up the slack"
        return len(name.key) <= SHORT and before in {"the", "a"} and span[0].text.islower()


def _aligned(key: str, gram: str, first: str) -> bool:
    """A name heard as more words than it has: the first word must be the start of the name and
    the rest must look or sound like the rest of it. "air called" is Aircall; "car call",
    "talk does" and "deal paid" are not (their letters are as close, but in the wrong places)."""
    if not first or not key.startswith(first) or len(first) >= len(key):
        return False
    rest, key_rest = gram[len(first) :], key[len(first) :]
    return fuzz.ratio(rest, key_rest) >= 80 or _sound(rest) == _sound(key_rest)


@lru_cache(maxsize=64)
def matcher_for(names: tuple[str, ...]) -> EntityMatcher:
    """A shared matcher per set of names (tenants with the same knowledge base share one)."""
    return EntityMatcher(names)
