"""Text helpers shared by the agents: normalization of spoken transcript text, sentence
splitting and question detection (explicit and implicit). Pure functions, no state."""

from __future__ import annotations

import re
from typing import Literal

QuestionKind = Literal["explicit", "implicit"]

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u201c": '"', "\u201d": '"'})
_FILLERS = re.compile(r"\b(?:um+|uh+|erm+|er|hmm+|mm+|uh-huh|mm-hmm|you know|i mean|like,)\s*,?\s*")
_CONTRACTIONS = [
    (re.compile(r"\bcan't\b"), "cannot"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bain't\b"), "is not"),
    (re.compile(r"\blet's\b"), "let us"),
    (re.compile(r"\b(it|that|what|there|here|who|how|where|he|she|this)'s\b"), r"\1 is"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"\bgonna\b"), "going to"),
    (re.compile(r"\bwanna\b"), "want to"),
    (re.compile(r"\bgotta\b"), "got to"),
    (re.compile(r"\bdunno\b"), "do not know"),
]
# a full stop after a title or an abbreviation ends no sentence ("Dr. Alvarez", "e.g. the
# tablets", "Acme Inc. signed", "No. 4 Mill Lane"; each width its own look-behind)
_SENTENCE = re.compile(
    r"(?<=[.!?])(?<!\b(?:dr|mr|ms|mx|st|vs)\.)(?<!\b(?:mrs|inc|e\.g|i\.e)\.)(?<!\bprof\.)"
    r"(?:(?<!\bno\.)\s+|\s+(?![\s\d]))",
    re.I,
)
# a capitalised word inside a sentence, in the speech engine's casing: a name ("Xero",
# "Priya"), not "I" or "OK"
NAME = re.compile(r"(?<!^)(?<![.!?] )\b(?!(?:I|I'm|I'll|I've|I'd|OK)\b)[A-Z][\w'-]+")


def normalize(text: str) -> str:
    """Lower case, straight quotes, contractions expanded, fillers dropped, spaces collapsed.

    Punctuation is kept: a question mark is evidence even when speech engines forget it.
    """
    t = text.translate(_APOSTROPHES).lower()
    for pattern, repl in _CONTRACTIONS:
        t = pattern.sub(repl, t)
    t = _FILLERS.sub("", t)
    return re.sub(r"\s+", " ", t).strip(" ,")


def sentences(text: str) -> list[str]:
    """Split on sentence punctuation (not a title's or an abbreviation's full stop); spoken
    text without punctuation stays one sentence."""
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


_LEAD = r"^(?:(?:so|and|but|also|okay|ok|well|just|actually|then|now|right|sorry|oh|yeah|and then),?\s+)*"
_AUX = (
    r"(?:do|does|did|is|are|was|were|can|could|will|would|should|shall|may|might|have|has|"
    r"had|am)"
)
_SUBJECT = (
    r"(?:you|we|i|it|they|there|this|that|your|the|our|these|those|he|she|a|an|any|"
    r"anyone|someone|anybody|everyone|all|my|their|its|each|every)"
)
_YES_NO = re.compile(
    rf"{_LEAD}(?:{_AUX}\s+(?:not\s+)?{_SUBJECT}\b|"
    # "does <a product name> integrate with ...": any name, a verb products are asked about
    r"(?:do|does|can|will)\s+\w+\s+(?:integrate|support|work|offer|include|connect|handle|"
    r"provide|allow|sync|comply|come with)\b)"
)
_WH = re.compile(rf"{_LEAD}(?:how|what|when|where|which|who|whom|whose|why)\b(?:\s+(\w+))?")
_WH_STATEMENT_NEXT = frozenset({"i", "we", "you", "they", "he", "she", "a", "an"})
_MODAL_ANY = re.compile(rf"{_LEAD}(?:can|could)\s+(?!not\b|be\b)\w+\s+\w+")
# "so for the setup, how does that work": a question after a comma. Not "which" or "who": after
# a comma they open a relative clause ("a two-year deal, which is why I'm hesitant")
_TRAILING_WH = re.compile(rf",\s*(?:how|what|when|where|why)\s+{_AUX}\b")
_POLITE = re.compile(rf"{_LEAD}(?:any chance|is it possible|would it be possible|how about|what about)\b")
_BACKCHANNEL = re.compile(
    r"^(?:right|okay|ok|yeah|you know|really|huh|sorry|no|yes|correct|"
    r"is that right|does that make sense|make sense|you see|see)\W*$"
)

_IMPLICIT = [
    re.compile(
        r"\bi (?:am|was) (?:not sure|unsure|unclear|curious|wondering)\b(?: on| about)?"
        r"\s+(?:how|what|whether|if|about|when|why|which|who|where)\b"
    ),
    re.compile(
        r"\bi (?:am|was) (?:not (?:totally |really |entirely |quite )?(?:sure|clear)|unclear)"
        r" (?:on|about) "
    ),
    re.compile(r"^(?:not sure|unsure|unclear|no idea) (?:if|whether|how|what|about|on|when|why)\b"),
    re.compile(r"\bi wonder(?:ed)? (?:if|whether|how|what|why|when|who|where)\b"),
    re.compile(
        r"\b(?:i|we) (?:would|will|might|also)(?: also| really| still| first)? "
        r"(?:want|need|like|love|have) to "
        r"(?:know|understand|learn|see how|hear|find out|figure out|get a sense|confirm)\b"
    ),
    re.compile(
        r"\b(?:i|we) (?:need|want|have) to (?:know|understand|confirm|figure out|"
        r"find out|make sure)\b"
    ),
    re.compile(
        r"^(?:can you |could you |please )?(?:tell|walk|show) (?:me|us) (?:about|more|how|"
        r"what|through|whether|if)\b"
    ),
    re.compile(r"\bcurious (?:about|how|what|whether|if|to (?:know|hear|see))\b"),
    re.compile(r"\b(?:i would|i will) be interested (?:in|to) (?:hear|know|learn|see)"),
    re.compile(r"\bhelp (?:me|us) understand\b"),
    re.compile(r"\bi am trying to (?:understand|figure out|work out)\b"),
    re.compile(
        r"\b(?:our|the|my) (?:security|legal|it|finance|procurement|compliance|infosec|"
        r"privacy) (?:team|folks|people|department|officer|lead)s? (?:will|would|is going to|"
        r"are going to|always) (?:ask|want to know|need to know|want to see|want)\b"
    ),
    # "the auditors, they are going to ask me straight off about encryption": a topic somebody the
    # customer answers to will raise, for the rep to answer now
    re.compile(
        r"\b(?:they|he|she|(?:our|the|my|their) \w+(?: \w+)?) (?:are|is|will|would)(?: going to| definitely| "
        r"probably| always| first)? ask(?: me| us)?(?: \w+){0,2} about\b"
    ),
    # "the laptops are already slow, I cannot put anything heavy on them": a constraint the rep
    # should answer (how light the product is, whether it works offline ...)
    re.compile(
        r"\b(?:i|we) (?:cannot|can not|could not|do not want to|will not) (?:put|have|run|install|add|"
        r"load) (?:anything|something|software|an agent|a tool) (?:heavy|slow|bulky|big|that slows)\b"
    ),
    re.compile(
        r"\bwe (?:would|will) (?:need|have|want) to (?:keep|have|support|integrate|connect|"
        r"migrate|port|sync|use|bring)\b"
    ),  # "I would need the invoices to end up in QuickBooks": a requirement the rep should answer
    re.compile(
        r"\b(?:i|we) (?:would|will|also) (?:need|want) (?:the |our |my |all |all the |all our )?"
        r"\w+(?: \w+)? to (?:end up in|sync|show up in|flow into|go into|work with|connect|"
        r"integrate|talk to)\b"
    ),
]


def _is_explicit(sentence: str) -> bool:
    s = sentence.strip()
    if not s or _BACKCHANNEL.match(s):
        return False
    if s.endswith("?"):
        return len(s.split()) >= 2 or s.rstrip("?") not in {"right", "okay", "ok", "yeah"}
    if _YES_NO.match(s) or _POLITE.match(s) or _MODAL_ANY.match(s) or _TRAILING_WH.search(s):
        return True
    m = _WH.match(s)
    if m:
        nxt = m.group(1)
        return nxt is not None and nxt not in _WH_STATEMENT_NEXT
    return False


def question_kind(text: str) -> QuestionKind | None:
    """'explicit' for a question, 'implicit' for an information need phrased as a statement
    ("I'm not sure how long setup takes"), else None. `text` may hold several sentences."""
    found: QuestionKind | None = None
    for sentence in sentences(normalize(text)):
        if _is_explicit(sentence):
            return "explicit"
        if found is None and any(p.search(sentence) for p in _IMPLICIT):
            found = "implicit"
    return found


def question_sentences(text: str) -> list[tuple[str, QuestionKind]]:
    """The sentences of `text` (original wording) that are questions, with their kind."""
    out: list[tuple[str, QuestionKind]] = []
    for original in sentences(text):
        kind = question_kind(original)
        if kind is not None:
            out.append((original, kind))
    return out


# greetings, thanks and goodbyes, optionally with a name: "cheers, priya.", "speak soon.",
# "lovely, thanks.", "take care, dean."
_SOCIAL_WORD = (
    r"(?:cheers|thanks|thank you|thanks a lot|many thanks|ta|bye|goodbye|bye now|bye for now|hi|hello|hiya|"
    r"okay|ok|right|"
    r"morning|good morning|afternoon|good afternoon|lovely|great|perfect|brilliant|cool|nice|"
    r"speak soon|talk soon|speak (?:to you )?(?:soon|later|then|next week)|"
    r"talk (?:to you )?(?:soon|later|then)|"
    r"take care|have a good (?:one|day|weekend|evening|week)|all the best|see you|see you (?:soon|then)|"
    r"catch you later|good luck|enjoy|you too|and you|same to you|no worries|no problem)"
)
_SOCIAL = re.compile(rf"^(?:{_SOCIAL_WORD}[\s,.!]*)+(?:\w+[.!]*)?$")
# the customer taking on a small task of their own: "and i'll ask round the pharmacies which of
# them would want the texts", "we will dig out last month's numbers"
_OWN_TASK = re.compile(
    r"^(?:and |so |then |okay,? |right,? )?(?:i|we) (?:will|am going to|are going to|can) "
    r"(?:ask round|ask around|find out|dig out|pull|put together|send|email|forward|count|"
    r"work out|look up|get you|check which|check how many|gather|collect)\b"
)


def is_social(sentence: str) -> bool:
    """A greeting, thanks or goodbye (with at most a name): never an objection or a signal, nor
    a note of the call."""
    return bool(_SOCIAL.match(normalize(sentence)))


def is_own_task(sentence: str) -> bool:
    """The customer promising to gather or send something: a next step, not a concern."""
    return bool(_OWN_TASK.match(normalize(sentence)))


# the customer's own running costs climbing: "the fuel bill's gone through the roof", "our
# energy costs have doubled" (a pain the product may relieve, not a complaint about its price)
_OWN_COSTS_RISING = re.compile(
    r"\b(?:our|the|my) (?:\w+ ){1,2}(?:bill|bills|costs?|spend)(?:'s| is| are| has| have)? "
    r"(?:gone|going|went|shot|doubled|tripled|rising|risen|climbing|crept)\b"
)


def is_own_costs_rising(sentence: str) -> bool:
    """A sentence about the customer's own costs going up (its fuel, energy, phone bill)."""
    return bool(_OWN_COSTS_RISING.search(normalize(sentence)))
