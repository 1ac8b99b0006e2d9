"""Whether a sentence points back at what was said before it ("is there a way round that?",
"does any of this end up in there?"). Pure functions, no state.

Two readers ask this. The Q&A agent (`qa.with_context`) searches a short question together
with the sentence before it, and only for a pointer at a thing or a place: a question with "is
there" or "they" in it is usually a question of its own ("is there a discount for charities?").
The notes (`notes.needs_context`) keep the sentence before a customer's question whenever it
leans on anything said earlier, a person or an existential "there" included. Each caller keeps
its own word limit (Q&A counts the spoken words, the notes count the tidied ones)."""

from __future__ import annotations

import re

# the thing just said: "can you switch that off?", "what would those cost?"
_THING = r"that|this|it|those|these|them"
# a place just named: "does it go straight in there?"
PLACE = re.compile(r"\b(?:in|into|to|from|with|on) there\b", re.I)
THING = re.compile(rf"\b(?:{_THING})\b", re.I)
# anything said before, a person or an existential "there" as well: "is there one?", "can she?"
ANY = re.compile(rf"\b(?:there|{_THING}|they|one|he|she|him|her)\b", re.I)


def points_at_thing(sentence: str) -> bool:
    """Whether `sentence` points at a thing or a place said before it (the Q&A agent's test)."""
    return THING.search(sentence) is not None or PLACE.search(sentence) is not None


def refers_back(sentence: str) -> bool:
    """Whether `sentence` points at anything said before it (the notes' test); every sentence
    that `points_at_thing` does as well."""
    return ANY.search(sentence) is not None
