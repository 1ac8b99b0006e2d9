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
    r"switch (?:\w+ )?on|turn (?:\w+ )?on|activate"
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
    rf"(?P<action>(?!speak up\b|talk louder\b)(?:{ACTS})\b.*)",
    re.I,
)
# "switch on the trial Friday and send a setup checklist tomorrow": two actions of one owner;
# not "dig out the end date and send it to you" or "check and come back to you" (one action)
_AND_THEN = re.compile(
    rf",?\s+and\s+(?:then\s+)?(?=(?:{ACTS})\b)(?!(?:{ACTS})\s+(?:it|them|that|this|those|these)\b)"
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
_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december"
)
DATE = re.compile(
    r"\b(today|tonight|tomorrow(?: morning| afternoon)?|this week|next week|this month|next month|"
    r"end of (?:the )?(?:day|week|month|quarter)|(?:the )?week after next|"
    rf"(?:on |by |this |next |before |after )?(?:{_DAYS})(?: week)?|"
    rf"(?:in |by |after |before |end of |early |mid-?|late )?(?:{_MONTHS})|"
    r"(?:before |by |after )?the (?:bank holiday|weekend|holidays|new year)|"
    r"(?:before |by |after )?(?:christmas|easter|new year)|"
    r"in (?:a|one|two|three|a few|a couple of) (?:days|weeks|months))\b",
    re.I,
)
# ", so you've got them": why, not what; dropped from the item
_PURPOSE = re.compile(r",?\s+so (?:that )?(?:you|we|i|they|he|she)\b.*$", re.I)
_CLAUSE = re.compile(
    r",?\s+and\s+(?=(?:i|we)\b)|,\s+(?=(?:i|we)(?:\s+will|'ll|\s+need|\s+can|\s+am going)\b)", re.I
)


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


def _voice(action: str, owner: str, *, asked: bool) -> str:
    """The action in a note's words: "you" is the other side; in what the customer asked for
    ("get five to me"), "me" is the customer."""
    other = "the customer" if owner == "Rep" else "the rep"
    # "what you pay now": "you" as a subject is "they" (the customer) in the rep's item
    if owner == "Rep":
        subject = r"\b(what|if|when|so|that|and|where|how|whether|once|until) you\b"
        action = re.sub(subject, r"\1 they", action)
    action = re.sub(r"\byour\b", f"{other}'s", action, flags=re.I)
    action = re.sub(r"\byou\b", other, action, flags=re.I)
    if asked:
        action = re.sub(r"\b(?:me|us)\b", "the customer", action, flags=re.I)
    return action


def item(owner: str, action: str, *, asked: bool = False) -> str:
    """ "Rep: send the proposal (due: Friday)": the owner, the action and its date when said."""
    date = DATE.search(action)
    action = _PURPOSE.sub("", action.strip()).strip().rstrip(".!?,")
    action = _voice(" ".join(action.split()), owner, asked=asked)
    due = f" (due: {date.group(1).strip()})" if date else ""
    return f"{owner}: {action[:1].upper()}{action[1:]}{due}"


def commitment(sentence: str, speaker: str | None) -> list[str]:
    """The action items one sentence commits its speaker to (or the rep, for "send me ...")."""
    own = _COMMITMENT.search(sentence)
    if own:
        owner = "Rep" if speaker == "rep" else "Customer"
        action = own.group("action")
    elif speaker != "rep" and (asked := _SEND_ME.search(sentence)):
        owner, action = "Rep", "send " + asked.group("action")
    else:
        return []
    items = [item(owner, part, asked=own is None) for part in _AND_THEN.split(action) if part.strip()]
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
    return [part for sentence in sentences(text) for part in clauses(sentence)]


def action_items(turns: Sequence[Turn]) -> list[tuple[int, str, list[str]]]:
    """(turn index, sentence, items) for every sentence of `turns` that commits someone.

    What the customer asks for ("send me two of the boxes") is the rep's item only when the
    rep's reply makes no commitment of its own: the rep's words carry what, how and when."""
    out: list[tuple[int, str, list[str]]] = []
    for i, turn in enumerate(turns):
        reply = rep_reply(i, turns)
        for part in _split(turn.text):
            items = commitment(part, turn.speaker)
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
