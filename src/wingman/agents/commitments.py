"""Action items from what either side committed to on a call: "I'll post two units to you by
Friday" (the rep's), "I'll sit down with Jen on Sunday" (the customer's), "send me two of the
boxes" or "can you get five to me before the bank holiday?" answered "yes" (the rep's). Each
item names its owner and, when one was said, its date. Pure functions, no state."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from wingman.agents.text import sentences

# what a commitment does ("I will send ...", "we'll switch on the trial ...")
ACTS = (
    r"send|set up|schedule|book|share|follow up|get back|email|e-mail|call|ring|phone|text|"
    r"give (?:you|them|him|her) a (?:ring|call|bell|buzz)|loop in|introduce|prepare|"
    r"put together|pull together|gather|collect|compile|draft|write up|review|check|confirm|"
    r"arrange|organi[sz]e|start|run|get|pick|talk|speak|discuss|look|come back|bring|ask|show|"
    r"forward|post|mail|courier|drop (?:off|round|over)|dig out|find|work out|sort out|figure out|"
    r"line up|sit down|go through|walk (?:you |them )?through|chase|pass|put|order|sign|try|test|"
    r"install|fit|plug|invite|reach out|let (?:you|them|him|her) know|"
    r"switch (?:\w+ )?on|turn (?:\w+ )?on|activate|pull|set (?:[\w'-]+ ){1,3}up|"
    r"take (?:it|this|that|them) (?:to|up with)|raise (?:it|this|that) with|present|flag|"
    # "I'll have your trial account in your inbox by Wednesday": something made ready or sent
    r"have (?=(?:your|the|a|an|it|them|that|this|those|these|some|our|my|everything|all)\b"
    r"[^.?!]*?\b(?:in|into|over|ready|done|set up|sent|back|to you|with you|for you|by)\b)"
)
# an acknowledgement, an interjection or a discourse marker before the commitment itself
_LEAD = (
    r"^(?:(?:ok(?:ay)?|so|great|good|sure|and|then|right|yeah|yes|yep|lovely|perfect|brilliant|"
    r"cool|fine|alright|all right|cheers|nice|excellent|go on(?: then)?|fair enough|in that case)"
    r"[,.!]?\s+)*"
)
_COMMITMENT = re.compile(
    rf"{_LEAD}(?:i will|i'll|we will|we'll|i am going to|i'm going to|we are going to|we're going to|"
    r"let me|i can|we can|i need to|we need to|i have to|we have to)\s+(?:also\s+|just\s+|then\s+)?"
    # "I'll try not to add to it": what someone will not do is no step
    rf"(?P<action>(?!speak up\b|talk louder\b|try not\b)(?:{ACTS})\b.*)",
    re.I,
)
# a pronoun standing for the whole object ("send it to you", "put that together")
_PRONOUN = r"(?:it|them|that|this|those|these)"
# "switch on the trial Friday and send a setup checklist tomorrow": two actions of one owner;
# not "dig out the end date and send it to you" or "check and come back to you" (one action)
_AND_THEN = re.compile(
    rf",?\s+and\s+(?:then\s+)?(?=(?:{ACTS})\b)(?!(?:{ACTS})\s+{_PRONOUN}\b)"
    r"(?!(?:come|get|report) back\b)",
    re.I,
)
_SEND_ME = re.compile(rf"{_LEAD}(?:please\s+)?send (?:me|us) (?P<action>.+)", re.I)
# "can you get five of the boxes to me before the bank holiday?": a request the rep may accept
_CAN_YOU = re.compile(
    rf"{_LEAD}(?:can|could|would|will) you (?:please |just |also )?(?P<action>(?:{ACTS})\b[^?]*)\??$",
    re.I,
)
_YES = re.compile(
    r"^\W*(?:yes|yeah|yep|sure|of course|absolutely|definitely|certainly|no problem|will do|can do|"
    r"done|consider it done)\b",
    re.I,
)
_DAYS = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_MONTHS = r"january|february|march|april|may|june|july|august|september|october|november|december"
_ORDINAL = (
    r"(?:(?:twenty|thirty)[- ])?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)|"
    r"tenth|eleventh|twelfth|(?:thir|four|fif|six|seven|eigh|nine)teenth|twentieth|thirtieth|"
    r"\d{1,2}(?:st|nd|rd|th)"
)
DATE = re.compile(
    r"\b(today|tonight|tomorrow(?: morning| afternoon)?|this week|next week|this month|next month|"
    r"end of (?:the )?(?:day|week|month|quarter)|(?:the )?week after next|"
    # "the week of January twelfth", "on January fifth", "on the fourteenth"
    rf"(?:the )?week of (?:(?:{_MONTHS})(?: the)? (?:{_ORDINAL})|the (?:{_ORDINAL})|(?:{_MONTHS}))|"
    rf"(?:on |by |before |after |until )?(?:{_MONTHS})(?: the)? (?:{_ORDINAL})|"
    rf"(?:on |by |before |after |until )the (?:{_ORDINAL})(?: of (?:{_MONTHS}))?|"
    rf"(?:on |by |this |next |before |after )?(?:{_DAYS})(?: week)?|"
    rf"(?:in |by |after |before |end of |early |mid-?|late )?(?:{_MONTHS})|"
    r"(?:before |by |after )?the (?:bank holiday|weekend|holidays|new year)|"
    r"(?:before |by |after )?(?:christmas|easter|new year)|"
    r"in (?:a|one|two|three|a few|a couple of) (?:days|weeks|months))\b",
    re.I,
)
# ", so you've got them": why, not what; dropped from the item
_PURPOSE = re.compile(r",?\s+so (?:that )?(?:you|your|we|our|i|my|they|their|he|she)\b.*$", re.I)
# ", but I wouldn't count on it": a hedge, not part of what is to be done
_HEDGE = re.compile(r",?\s+(?:but\s+(?:i|we)|rather than|instead of)\b.*$", re.I)
# ", it's a spreadsheet,", ", he's the computer guy": an aside about a thing or a person
_ASIDE = re.compile(r",\s*(?:it|he|she|they)(?:'s|'re| is| are| was)\s[^,]*(?:,|$)", re.I)
_CLAUSE = re.compile(
    r",?\s+and\s+(?=(?:i|we)\b)|,\s+(?=(?:i|we)(?:\s+will|'ll|\s+need|\s+can|\s+am going)\b)|"
    # "our meeting is on the fourteenth, so I'll put it to them then": the step after its occasion
    r",\s+(?=so (?:i|we)(?:\s+will|'ll|'m going|\s+am going)\b)",
    re.I,
)
# "put that together", "send it over": nothing a reader can act on
_VAGUE = re.compile(
    rf"^(?:{ACTS})\s+{_PRONOUN}"
    r"(?:\s+(?:together|over|up|out|back|through|in|on|off|across|round|around|done|for you))*\W*$",
    re.I,
)
# "our partners' meeting is on the fourteenth": an occasion and its date
_OCCASION = re.compile(r"^\W*(?P<event>.+?)(?:'s|\s+is|\s+are)\s+(?P<when>.+)$", re.I)


@dataclass(frozen=True)
class Turn:
    speaker: str | None  # "rep", "customer" or None (not diarized)
    text: str


class Spoken(Protocol):
    """A turn of the call: a Turn, or a stored transcript segment."""

    @property
    def speaker(self) -> str | None: ...

    @property
    def text(self) -> str: ...


def clauses(sentence: str) -> list[str]:
    """`sentence` split where a second commitment starts ("send me X and I will look at it")."""
    return [part for part in _CLAUSE.split(sentence) if part.strip()]


# "you" as a subject: before a verb form ("you're still good", "you have") or after a
# conjunction ("what you pay now", "until you decide")
_YOU_BEFORE = r"(?='re\b|'ve\b|'ll\b|'d\b|\s+(?:are|were|have|had|will|would|can|could|should|do|don't)\b)"
_YOU_AFTER = "|".join(
    rf"(?<=\b{word} )"
    for word in ("what", "when", "so", "that", "and", "how", "once", "until", "if", "where", "whether")
)
_YOU_SUBJECT = re.compile(rf"\byou{_YOU_BEFORE}|(?:{_YOU_AFTER})you\b(?=\s+\w)", re.I)
_VERB_FOR_ONE = {
    "'re": " is",
    "'ve": " has",
    " are": " is",
    " were": " was",
    " have": " has",
    " do": " does",
    " don't": " doesn't",
}  # "you're" said to the rep is "the rep is"
_FORM = re.compile(r"^(?:'re|'ve|'ll|'d|\s+\w+(?:'t)?)", re.I)
_AUXILIARY = frozenset({"will", "would", "can", "could", "should", "had", "'ll", "'d"})


def _third_person(verb: str) -> str:
    """ "pay" as said of one person: "pays" ("until the rep pays")."""
    low = verb.lower()
    if low in ("have", "do", "go"):
        return {"have": "has", "do": "does", "go": "goes"}[low]
    if low.endswith(("s", "sh", "ch", "x", "z")):
        return verb + "es"
    if low.endswith("y") and low[-2:-1] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _you_as_rep(action: str) -> str:
    """Subject "you" in the customer's item is the rep, one person: "until you decide" is "until
    the rep decides", "you're" is "the rep is"."""
    out, last = [], 0
    for found in _YOU_SUBJECT.finditer(action):
        form = _FORM.match(action[found.end() :])
        word = form.group(0) if form else ""
        low = word.lower()
        if low in _VERB_FOR_ONE:
            verb = _VERB_FOR_ONE[low]
        elif low.strip() in _AUXILIARY or not word.strip():
            verb = word
        else:
            verb = " " + _third_person(word.strip())
        out += [action[last : found.start()], "the rep", verb]
        last = found.end() + len(word)
    return "".join([*out, action[last:]])


def _voice(action: str, owner: str, *, asked: bool) -> str:
    """The action in a note's words: "you" is the other side; in what the customer asked for
    ("get five to me"), "me" is the customer; in the customer's own item, "my nephew" and "our
    board" are theirs."""
    other = "the customer" if owner == "Rep" else "the rep"
    if owner == "Rep":
        # "what you pay now", "to check you're still good": the customer as a subject is "they"
        action = _YOU_SUBJECT.sub("they", action)
    else:
        action = _you_as_rep(action)
        action = re.sub(r"\b(?:my|our)\b", "their", action, flags=re.I)
        action = re.sub(r"\b(?:me|us)\b", "them", action, flags=re.I)
        action = re.sub(r"\bI(?:'m| am)\b", "they're", action)
        action = re.sub(r"\bI was\b", "they were", action)
        action = re.sub(r"\b(?:I|we)\b", "they", action, flags=re.I)
    # "your trial account in your inbox": "the customer's trial account in their inbox"
    action = re.sub(r"\byour\b", f"{other}'s", action, count=1, flags=re.I)
    action = re.sub(r"\byour\b", "their", action, flags=re.I)
    action = re.sub(r"\byou\b", other, action, flags=re.I)
    if asked:
        action = re.sub(r"\b(?:me|us)\b", "the customer", action, flags=re.I)
        action = re.sub(r"\b(?:my|our)\b", "the customer's", action, flags=re.I)
    return action


def _trim(action: str) -> str:
    """The action without its purpose, a hedge or an aside, unless that holds the date."""
    for pattern in (_ASIDE, _PURPOSE, _HEDGE):
        action = pattern.sub(lambda m: m.group(0) if DATE.search(m.group(0)) else " ", action)
    return action


# what comes before a date at the end of an action: ", probably Thursday", "for the week of ..."
_BEFORE_DATE = r",?\s*(?:(?:probably|maybe|hopefully|ideally)\s+)?(?:(?:for|from|starting)\s+)?"
_DUE_ON = re.compile(r"^(?:on|by)\s+", re.I)  # "(due: Friday)", not "(due: by Friday)"
_DETERMINER = re.compile(r"^(?:our|my|the|their|your|his|her)\b", re.I)


def item(owner: str, action: str, *, asked: bool = False, occasion: str | None = None) -> str:
    """ "Rep: send the proposal (due: Friday)": the owner, the action and its date when said;
    `occasion` is the clause before the action, which may hold its date ("our meeting is on the
    fourteenth, so I'll put it to them then": "put it to them at our meeting")."""
    action = _trim(action.strip()).strip().rstrip(".!?,")
    dates = list(DATE.finditer(action))
    # "a calendar invite for April and a proposal by Friday": the deadline is the date due
    date = next((d for d in dates if d.group(1).lower().startswith("by ")), dates[0] if dates else None)
    if date is None and occasion and not _COMMITMENT.search(occasion) and (when := DATE.search(occasion)):
        date = when
        event = _OCCASION.match(occasion)
        if event and DATE.search(event.group("when")):
            name = event.group("event")
            place = "at " + (name[:1].lower() + name[1:] if _DETERMINER.match(name) else name)
        else:
            place = when.group(1)
        action = re.sub(r"\bthen$", place, action)
    due = ""
    if date is not None:
        said = date.group(1).strip()
        # "send a proposal on Friday": "send a proposal (due: Friday)", the date said once
        action = re.sub(rf"{_BEFORE_DATE}{re.escape(said)}$", "", action, flags=re.I) or action
        due = f" (due: {_DUE_ON.sub('', said)})"
    action = _voice(" ".join(action.split()), owner, asked=asked)
    return f"{owner}: {action[:1].upper()}{action[1:]}{due}"


def commitment(sentence: str, speaker: str | None, *, occasion: str | None = None) -> list[str]:
    """The action items one sentence (or clause: `occasion` is the clause before it) commits its
    speaker to (or the rep, for "send me ...")."""
    own = _COMMITMENT.search(sentence)
    if own:
        owner = "Rep" if speaker == "rep" else "Customer"
        action = own.group("action")
    elif speaker != "rep" and (asked := _SEND_ME.search(sentence)):
        owner, action = "Rep", "send " + asked.group("action")
    else:
        return []
    parts = [part for part in _AND_THEN.split(action) if part.strip()]
    items = [
        item(owner, part, asked=own is None, occasion=occasion)
        for part in parts
        if not (_VAGUE.match(part) and DATE.search(part) is None)
    ]
    # "I'll find out", "let me check": no what, no when, nothing a CRM reader can act on
    return [i for i in items if len(i.split()) > 3 or "(due:" in i]


def accepted_request(sentence: str, reply: str | None) -> list[str]:
    """ "Can you get five of the boxes to me before Friday?" answered "Yes": the rep's item."""
    asked = _CAN_YOU.search(sentence.strip())
    if asked is None or reply is None or not _YES.match(reply):
        return []
    return [item("Rep", asked.group("action"), asked=True)]


def commits(text: str) -> bool:
    """Whether `text` commits its own speaker to something to act on ("I'll post two units by
    Friday"; not a bare "I'll find out")."""
    return any(_COMMITMENT.search(part) and commitment(part, "rep") for part in _split(text))


def _split(text: str) -> list[str]:
    return [part for _, part in _parts(text)]


def _parts(text: str) -> list[tuple[str | None, str]]:
    """Each clause of `text` with the clause before it in its sentence (None for the first)."""
    out: list[tuple[str | None, str]] = []
    for sentence in sentences(text):
        said = clauses(sentence)
        out += [(said[j - 1] if j else None, part) for j, part in enumerate(said)]
    return out


def action_items(turns: Sequence[Turn]) -> list[tuple[int, str, list[str]]]:
    """(turn index, sentence, items) for every sentence of `turns` that commits someone.

    What the customer asks for ("send me two of the boxes") is the rep's item only when the
    rep's reply makes no commitment of its own: the rep's words carry what, how and when."""
    out: list[tuple[int, str, list[str]]] = []
    for i, turn in enumerate(turns):
        reply = rep_reply(i, turns)
        for occasion, part in _parts(turn.text):
            items = commitment(part, turn.speaker, occasion=occasion)
            own = _COMMITMENT.search(part) is not None
            if turn.speaker != "rep" and not own:
                if not items:
                    items = accepted_request(part, reply)
                if items and reply is not None and commits(reply):
                    items = []
            if items:
                out.append((i, part, items))
    return out


def rep_reply(
    index: int, turns: Sequence[Spoken], *, stop: Callable[[str], bool] | None = None
) -> str | None:
    """What the rep said right after turn `index`, if the rep spoke next (within two turns);
    None after a turn with no speaker, or, with `stop`, after a customer turn `stop` holds for
    (the customer asked something else first: the reply answers that)."""
    for turn in turns[index + 1 : index + 3]:
        if turn.speaker == "rep":
            return turn.text.strip()
        if turn.speaker is None or (stop is not None and stop(turn.text)):
            return None
    return None
