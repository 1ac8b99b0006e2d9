"""Spoken sentences as CRM note phrases, and what a customer's sentence tells the notes.

`tidy` drops what a reader of the notes does not need (openers such as "Look, I'll be honest
with you,", fillers such as ", like," or "um", a trailing ", mate"); the patterns say whether a
sentence introduces the customer, states a need, a pain or a concern, or is small talk. Pure
functions, no state."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rapidfuzz import fuzz

from wingman.agents.anaphora import refers_back
from wingman.agents.text import NAME, question_kind, sentences

_OPENERS = (
    r"so|and|but|okay|ok|right|yeah|yep|well|look|listen|honestly|oh|ah|hm+|mm+|um+|uh+|erm|er|"
    r"sorry|great|good|nice|lovely|perfect|brilliant|cheers|fair enough|alright|all right|hang on|"
    r"go on(?: then)?|to be (?:honest|fair)|(?:the )?thing is|i should say|actually|basically|anyway|"
    r"i mean|(?:you know|tell you) what|you know|mate|see(?=\s*,)|"
    r"i'll be honest(?: with you)?|i will be honest(?: with you)?|"
    r"i have to be (?:straight|honest) with you(?: though)?|in fairness|"
    # "I'll be straight with you so we don't waste each other's time: it's been rock solid"
    r"i(?:'ll| will) be (?:straight|frank|upfront) with you(?: so we don't waste [\w' ]+)?"
)
_OPENER = re.compile(rf"^(?:(?:{_OPENERS})\b(?:\s*[,.!?:]+\s*|\s+))+", re.I)
# "Yeah, do that, because in the end it's Gary who signs": the agreement before the reason
_AGREED = re.compile(r"^(?:do that|do it|sounds good|that works),?\s+(?:because|'cause|cause)\s+", re.I)
_FILLER = r"um+|uh+|erm|like|you know|i mean|mate|god help me|if you can believe it|what|sort of|kind of"
_INLINE = re.compile(rf",\s*(?:{_FILLER}),\s*", re.I)
# ", actually, a bloke came out", "and honestly nobody's touching it": a comma's worth
_ASIDE = (
    r"actually|honestly|frankly|basically|to be honest(?: with you)?|to be fair|in fairness|I think|"
    r"I guess"
)
_ASIDE_COMMAS = re.compile(rf",\s*(?:{_ASIDE}),\s*", re.I)
_ASIDE_AFTER = re.compile(rf"\b(and|but|so) (?:{_ASIDE}),? ", re.I)
_TRAILING = re.compile(rf",\s*(?:{_FILLER})\s*(?=[.!?]?$)", re.I)
_HESITATION = re.compile(r",?\s*\b(?:um+|uh+|erm)\b[,.]?(?:\s+|$)", re.I)
# a stutter repeats a little word ("I, I think", "we've got, we've got"); "in the pan, pan on the
# shelf" is said on purpose
_LITTLE = (
    r"i|i'm|i've|i'd|we|we're|we've|we'd|you|you're|they|they're|it|it's|that|that's|there|there's|"
    r"this|he|she|the|a|an|and|but|so|or|to|of|in|on|at|is|was|my|our|your|if|we'll|i'll"
)
_REPEAT = re.compile(rf"\b((?:{_LITTLE})(?: \w+'?\w*)?),? \1\b", re.I)
# "and it's, you know, it eats the whole afternoon": a restart keeps its second start
_RESTART = re.compile(r"\b(?:it's|it is|that's|there's),? (?=(?:it|that|there)\b)", re.I)
_COUNT = re.compile(
    r"\b(?:\d[\d,]*|a dozen|(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|"
    r"sixty|seventy|eighty|ninety|hundred)(?:[- ](?:one|two|three|four|five|six|seven|eight|nine|"
    r"hundred|thousand))*)\s+(?:[a-z-]+\s+)?[a-z-]+s\b",
    re.I,
)
INTRO = re.compile(
    # "I'm the office manager at ...", "I'm Dana from ...", not "I'm just pulling in"
    r"\b(i(?: am|'m) (?:the|a|an|one of|in charge|responsible|(?-i:[A-Z]))|i run|i own|i manage|i lead|"
    r"i look after|i head|we are|we're|we run|we have|we own|"
    r"we manage|we look after|we operate|we do|our (?:company|firm|team|practice|district|group)|"
    # "Cedar Paws is just me, two nurses and a receptionist"
    r"(?:is|it's|it is) (?:just |only )?(?:me|us|the (?:two|three|four|five) of us) and|"
    r"(?:is|it's|it is) (?:just |only )?me,)",
    re.I,
)
SIZE = re.compile(
    r"\b(staff|agents|employees|people|technicians|plumbers|accountants|preparers|devices|laptops|"
    r"locations|restaurants|schools|clients|seats|users|sites|stores|offices|units|apartments|doors|"
    r"buildings|properties|nurses|vets|doctors|receptionists?|members|clinics|hospitals|warehouses|"
    r"vehicles|vans|trucks|lorries|drivers|riders|bikes|beds)\b",
    re.I,
)
NEED = re.compile(
    r"\b(we need|we want|we would like|we'd like|we're looking for|we are looking for|looking for|"
    r"what matters|is important|must have|we're evaluating|we are evaluating|matters most|"
    r"(?:they|we|i) (?:want|need) to (?:know|see|be able)|(?:have|has|need|needs) to be able to)\b",
    re.I,
)
PAIN = re.compile(
    r"\b(problem|headache|pain|chaos|lose|lost|losing|miss|missed|late|manual(?:ly)?|by hand|wrong|"
    r"waste[sd]?|scare|hate|struggl\w*|drops? (?:calls?|out)|calls? drop\w*|dropped|weak|slow|"
    r"spreadsheets?|whiteboard|overspen\w*|"
    r"arguments?|takes? (?:\w+ )?(?:hours|weeks|days)|never know|criss-cross\w*|back and forth|"
    r"phishing|breach\w*|hacked|attack\w*|got through|nightmare|mess|mistakes?|errors?|no-?shows?|"
    r"no shows|eats (?:up )?(?:most|all|half|a lot|the whole)|no (?:real |good |easy )?way (?:of|to)|"
    r"half the time|sticky notes|drift\w* off|no idea|can't tell|cannot tell|through the roof|"
    r"nothing to show|no proof|dented|on at me|chasing|every (?:\w+ )?minutes|out the door|queues?|"
    r"type (?:it|them|everything) (?:up|in)|retyp\w*|dig(?:s|ging)? through|"
    r"(?:going|wading|digging|sifting) through (?:the |all the |every |piles of |stacks of )?\w+s\b|"
    r"(?:till|until|past) (?:\w+ )?(?:at night|midnight)|"
    r"(?:is|are|am|'s|'re|'m) (?:just |always |constantly |stuck )?on the phone|"
    # "The other thing is the callbacks." (what it is comes in the next sentence)
    r"(?:the )?(?:other|main|big|biggest|real) (?:thing|problem|issue|headache|worry) is|"
    r"(?:calls?|ring\w*|phon\w*) (?:\w+ )?(?:twice|three times|again and again)|"
    r"(?:people|customers|clients) (?:ringing|calling|phoning)(?: up)?)\b",
    re.I,
)
# a worry the customer states ("I'm a bit wary of getting stung again"), flagged live or not
CONCERN = re.compile(
    r"(?<!don't )(?<!not )(?<!no )\b(wary|worried|worry|worries|nervous|gun-shy|twitchy|burn(?:ed|t)|stung|"
    r"went bust|hesitant|"
    r"concerned|sceptical|skeptical|not convinced)\b",
    re.I,
)
# a courtesy ("No problem.", "Not a problem at all") says nothing of the customer's pains
_COURTESY = re.compile(r"^\W*(?:no|not a) (?:problem|worries)\b[^.?!]{0,12}[.!]?\W*$", re.I)
# "Sorry I missed you yesterday", "Sorry, it's a bit noisy here": small talk, not a pain
_SMALL_TALK = re.compile(r"^\W*(?:sorry|apologies|excuse)\b", re.I)
# the rep acknowledging before answering ("Fair question.", "I understand, budget's tight")
_ACK = re.compile(
    r"^\W*(?:good|great|fair|fair (?:question|enough|point)|that's (?:a )?(?:good|fair|great)"
    r"(?: question| point)?|i understand|understood|completely get it|i get (?:it|that)|"
    r"of course|sure|absolutely|totally|makes sense|no rush|oh no|ha|perfect|lovely|right|okay|ok|"
    r"got it|one page, got it|brilliant|nice|that's fair(?: enough)?)\b",
    re.I,
)


def tidy(text: str) -> str:
    """`text` as a note phrase: openers, fillers and hesitations dropped, one line, capitalized."""
    text = " ".join(text.split())
    text = _HESITATION.sub(" ", text)
    text = _INLINE.sub(" ", text)
    text = _ASIDE_COMMAS.sub(", ", text)
    text = _ASIDE_AFTER.sub(r"\1 ", text)
    text = _TRAILING.sub("", text)
    text = _REPEAT.sub(r"\1", text)
    text = _RESTART.sub("", text)
    text = _AGREED.sub("", _OPENER.sub("", text)).strip(" ,;")
    return text[:1].upper() + text[1:]


# "Yeah, do that, because ...": an imperative, though it opens like "do that ...?"
_IMPERATIVE = re.compile(
    r"^\W*(?:(?:yeah|yes|okay|ok|right|so),?\s+)*do (?:that|it|this|so)\b[^?]*[.!]?$", re.I
)
AUTHORITY = re.compile(
    r"\b(who signs|signs? off on|final say|decision-?maker|get past (?:her|him|them)|"
    r"run (?:it|this) by|(?:has|have|needs?) to approve|(?:have|has|need|needs) to sign (?:it )?off|"
    r"(?:both|all|each) (?:have|need) to (?:sign|agree|approve)|not my (?:call|decision))\b",
    re.I,
)


def is_question(sentence: str) -> bool:
    return question_kind(sentence) == "explicit" and not _IMPERATIVE.match(sentence)


# "twelve months", "twenty years": a length of time, not the size of the customer
_TIME = re.compile(r"\b(?:seconds|minutes|hours|days|nights|weeks|months|years|decades|times)$", re.I)


def is_intro(sentence: str) -> bool:
    """Who the customer is: "we're Harbourside Couriers", "I run three gyms" (a name or a size,
    not "I'm just pulling in", nor "if you put the twelve months in writing, we're there")."""
    counted = any(not _TIME.search(m.group(0)) for m in _COUNT.finditer(sentence))
    return bool(INTRO.search(sentence)) and bool(NAME.search(sentence) or counted or SIZE.search(sentence))


def introduces(said: Sequence[str], k: int) -> bool:
    """Whether sentence `k` of a turn says who the customer is, by itself or after the speaker's
    role ("I'm the practice manager. Hollins Vets, in Leeds, six vets and four nurses.")."""
    if is_intro(said[k]):
        return True
    role = k > 0 and bool(INTRO.search(said[k - 1])) and not is_intro(said[k - 1])
    return role and bool(NAME.search(said[k])) and is_size(said[k])


def is_size(sentence: str) -> bool:
    """How big the customer is: "nine vans, eleven drivers"."""
    return bool(_COUNT.search(sentence) and SIZE.search(sentence))


def opens_with_count(text: str) -> bool:
    """ "Nine vans, eleven drivers": a count first (written lower case after a semicolon)."""
    return bool(_COUNT.match(text))


# "Say I try it and I hate it.": a supposition leading to a question, not a pain
_SUPPOSITION = re.compile(r"^\W*(?:say|suppose|supposing|imagine|let's say)\b", re.I)


def is_pain(sentence: str) -> bool:
    return (
        bool(PAIN.search(sentence))
        and not _COURTESY.match(sentence)
        and not _SMALL_TALK.match(sentence)
        and not _SUPPOSITION.match(tidy(sentence))
        and not is_question(sentence)
    )


# the customer defending what they have today: an objection (need, or the incumbent), not a pain
DEFENCE = re.compile(
    r"\b(rock solid|never (?:goes|went|breaks|broke|falls|fell) (?:down|over)|"
    r"(?:it|that|this|which|the \w+|ours)(?:'s| has| have) (?:always )?"
    r"(?:worked|been (?:fine|great|solid|reliable|good to us))|"
    r"(?:something|anything|what|a system) that works|"
    r"if it ain't broke|works (?:fine|well|for us)|does the job|does (?:what|everything) we need|"
    r"never (?:once )?let us down|(?:we've|we have|i've|i have) (?:had )?no complaints|"
    r"(?:we're|we are|i'm|i am) (?:quite |pretty |really |very )?(?:happy|fine) with (?:it|what we|our|the)|"
    r"(?:don't|do not|never) (?:lose|miss|drop) (?:cases|jobs|orders|anything|a thing|track))\b",
    re.I,
)


# "let's just try it", "set us up with the trial", "put me down for the pilot": the customer signs up
SIGN_UP = re.compile(
    r"\b(let's (?:just )?(?:try|do|go (?:for|with|ahead)|get (?:going|started|it going|this going))|"
    r"(?:set|sign) (?:us|me) up|put (?:us|me) down for|count (?:us|me) in|where do (?:i|we) sign|"
    r"book (?:us|me) in|(?:we'll|i'll) take it|i'm sold|"
    r"send (?:me|us) the (?:paperwork|contract|agreement|order form))\b",
    re.I,
)


_BUT = re.compile(r",?\s+but\s+", re.I)


def defends(sentence: str) -> bool:
    """ "It's been rock solid for us": what they have works (DEFENCE); not "it never goes down,
    but it's slow at month end", a pain after the praise."""
    before, *after = _BUT.split(sentence, maxsplit=1)
    if after and DEFENCE.search(before) and is_pain(after[0]):
        return False
    return states(DEFENCE, sentence)


def states(pattern: re.Pattern[str], sentence: str) -> bool:
    """Whether `sentence` says what `pattern` finds (DEFENCE, SIGN_UP) as a statement, not a question."""
    return bool(pattern.search(sentence)) and not is_question(sentence)


# "And the price.": a topic named before the question about it
_TOPIC = re.compile(
    r"^\W*(?:(?:and|so|now|then|okay|ok|right)\W+)*(?:what about |as for |about |on )?"
    r"the\s+[\w' -]{2,30}[.!]?$",
    re.I,
)


def is_topic(sentence: str) -> bool:
    return bool(_TOPIC.match(sentence)) and len(sentence.split()) <= 5


# "That would be amazing.": a reaction to what the rep said, nothing for a question to lean on
_REACTION = re.compile(
    r"^(?:that|this|it)(?:'s| is| would be| sounds| looks| seems)(?: (?:really|so|very|pretty))? "
    r"(?:amazing|great|good|brilliant|lovely|perfect|nice|interesting|helpful|handy|useful|cool|ideal)\W*$",
    re.I,
)


def is_reaction(sentence: str) -> bool:
    return bool(_REACTION.match(tidy(sentence)))


def needs_context(sentence: str) -> bool:
    """A short sentence that leans on the one before ("the other thing is the arguments", "is
    there a way round that?", "does any of this end up in there?")."""
    words = len(tidy(sentence).split())
    if is_question(sentence):  # "is there a way round that?", not "does Relay sync with Xero?"
        return words <= 18 and refers_back(sentence) and not NAME.search(sentence)
    return words <= 7


def gist(reply: str, *, limit: int = 2) -> str:
    """The rep's answer without the acknowledgement before it: up to `limit` sentences."""
    said = [s for s in sentences(reply) if tidy(s)]
    content = [s for s in said if not (_ACK.match(s) and len(s.split()) <= 12)]
    return " ".join(tidy(s) for s in (content or said)[:limit])


def sentence_of(snippet: str, text: str) -> int | None:
    """The index of the sentence of `text` that `snippet` was taken from."""
    probe = snippet.rstrip("\u2026").strip().lower()
    best, found = 0.0, None
    for i, sentence in enumerate(sentences(text)):
        # a snippet is its sentence, or the sentence's start cut with an ellipsis
        score = fuzz.ratio(probe, sentence.lower()[: len(probe)]) if probe else 0.0
        if score > best:
            best, found = score, i
    return found if best >= 70 else None
