"""Spoken phrasings of common buyer questions, mapped to the words knowledge bases answer them
in ("can it talk to X" is about integrations, "could we walk away" about the contract), for the
Q&A agent's retrieval query; and how much less retrieval evidence a question in such a phrasing
needs."""

from __future__ import annotations

import re

from wingman.search.knowledge import Passage
from wingman.search.lexical import lexical_tokens

# (spoken phrasing, knowledge-base words): the words are added to the retrieval query (not to
# the answer), so passage and sentence ranking find documents written in the vendor's words
_PARAPHRASES = [
    (r"\bhow (?:long|quickly|fast|soon)\b", "takes days weeks"),
    (
        r"\b(?:up and running|go(?:ing)? live|get (?:\w+ ){0,2}live|be live|roll ?outs?|rolling out|"
        r"deploy\w*|implement\w*|onboard\w*|set ?up(?! fees?)|stand (?:it|this) up|switch over)\b",
        "setup rollout implementation live",
    ),
    (  # "can it talk to X": the product (not a person) working with another system
        r"\b(?:it|this|that|you|the app|the system|your \w+) (?:talks? to|works? with|connects? (?:to|with)|"
        r"hooks? (?:up )?(?:to|into|with)|plugs? into|plays? (?:nice|well) with|syncs? with|ties? into)\b",
        "integrates syncs with",
    ),
    (r"\b(?:slow (?:down|up)|bogs? down|heavy|lag\w*|performance|battery)\b", "performance processor"),
    (
        r"\b(?:stored|kept|hosted|resides?|where (?:is|are|does|do) (?:the |our |my )?data|"
        r"leaves? (?:the|our) (?:country|region|continent)|data cent(?:er|re)s?)\b",
        "stored hosted data",
    ),
    (  # "would the invoices end up in QuickBooks without retyping": an integration question
        r"\b(?:end up in|flow (?:in)?to|show up in|go straight (?:in)?to|land in|retyp\w*|re-?enter\w*|"
        r"double entry|copy (?:\w+ )?(?:over|across)|"
        r"(?:type|key|enter) (?:\w+ ){0,2}in (?:again|twice|by hand)|pull (?:\w+ ){0,3}(?:out of|from)|"
        # "is it me typing it all in again", "someone in the office keying in receipts"
        r"(?:typing|keying|entering) (?:\w+ ){0,2}in|keys? (?:\w+ ){0,2}in by hand)\b",
        "integrates syncs with",
    ),
    (  # "let people try it before they commit": the trial, pilot or proof of concept
        r"\b(?:try (?:it|this|you|things) out|try (?:it|this) (?:first|before)|test drive|"
        r"trial|pilot|before (?:we|they|i|you) (?:commit|sign|buy|pay))\b",
        "free trial pilot proof of concept",
    ),
    (  # "ten years of files in the old system, would we have to move it ourselves"
        r"\b(?:(?:old|previous|current|existing|legacy) (?:system|software|tool|provider)|"
        r"(?:move|moving|bring|carry|port|transfer)\b[^.?!]{0,30}\b(?:files|data|records|history|over)|"
        r"migrat\w*|import\w*|"
        # "if we moved, do we start from zero, or does all that come with us?"
        r"start(?:ing)? (?:again |over )?(?:from )?(?:zero|scratch)|start(?:ing)? (?:all )?over|"
        r"lose (?:all )?(?:our|my|the) history|"
        r"(?:come|comes|coming) (?:over |across )?with us|(?:come|comes|carry|carried) (?:over|across))\b",
        "migration import data from previous system",
    ),
    (  # "at eighteen seats, is there any kind of break?": a discount for volume
        r"\b(?:discount\w*|deal|cheaper|break on|savings?|"
        r"(?:any (?:kind of |sort of )?|(?:kind|sort) of (?:a )?|(?:is|was) there a )"
        r"break\b(?! ?(?:down|room))|"
        r"volume|bulk|multi-?(?:site|location|buildings?))\b",
        "discount off",
    ),
    # everyday idioms for a few topics every product's documents cover: stopping for a while,
    # the price, doing it from home, where the data lives
    (
        r"\b(?:on ice|put (?:\w+ ){0,3}on pause|pause\w*|freez\w*|skip a month|take a break from)\b",
        "pause freeze hold",
    ),
    (
        r"\bwhat(?:'s| is) the damage\b|\bhow much (?:are we|am i) looking at\b|\bballpark\b",
        "price dollars per month",
    ),
    (
        r"\bfrom (?:the |her |his |their |my |our )?"
        r"(?:couch|sofa|home|house|kitchen table|own phone|phone|laptop)\b|"
        r"\bremotely\b",
        "online from their own phone or computer",
    ),
    (  # "where do the members' details end up sitting", "where the patient stuff lives"
        r"\bwhere (?:(?:do|does|would|will|is|are) (?:[\w']+ ){0,4}|"
        r"(?:the|our|my|their|all) (?:[\w']+ ){0,3})"
        r"(?:sit|sits|sitting|live|lives|end up|ends up|kept|held|stored)\b",
        "stored hosted data",
    ),
    (  # "what's the cheapest way in", "is the monthly number based on apartments": the plans
        r"\b(?:cheapest|least expensive|entry[- ]level|starter plan|way in|smallest plan|basic plan|"
        r"(?:number|price|bill|fee|cost|charge|rate|pricing) (?:is |be )?based on|"
        r"how many (?:people|users|staff|logins?|seats) (?:\w+ ){0,2}log)\b",
        "price plans dollars per month billed per",
    ),
    (  # "would we be tied in for a year, or could we walk away": the contract's length and exit
        r"\b(?:cancel\w*|locked in|contract\w*|month to month|tied (?:in|into|down)|walk away|get out of|"
        r"notice period|lock-?in|"
        r"commit(?:ted|ment)? (?:to|for) (?:a|the|one|two|three) (?:year|years|term))\b",
        "contract long-term month to month annual cancel stop notice",
    ),
    (r"\b(?:safe|secure|security|protect\w*|encrypt\w*|hack\w*|breach\w*)\b", "security encrypted"),
    (  # "some bloke under the dash with a load of wires": fitting the hardware
        r"\b(?:under the (?:dash\w*|bonnet|hood|desk|counter)|wir(?:es|ing)|fitted|fitting|install\w*|"
        r"fit (?:it|them|the \w+)|(?:have|need) to do to (?:the|our|my) \w+)\b",
        "install fitting plugs in minutes no tools wiring",
    ),
    (  # "is a box plugged in the whole time going to leave me with a dead van": draining power
        r"\b(?:dead (?:van|car|truck|vehicle|battery|batteries|phone|device)|flat (?:battery|batteries)|"
        r"drain\w*|run (?:\w+ )?(?:down|flat))\b",
        "battery drain power",
    ),
    (  # "is the box a one-off, or wrapped up in the monthly", "before the VAT or after": what is charged
        r"\b(?:one-?off|wrapped (?:up )?in the (?:monthly|price|subscription|plan)|"
        r"vat|before tax|after tax|before the tax|after the tax)\b",
        "price per month plan fee one-off excluding tax",
    ),
    (  # "i don't want to be seeing where they go on a sunday": staff privacy outside work
        r"\b(?:privacy|private|spying|snooping|big brother|"
        r"(?:see|seeing|watch|watching|track|tracking) (?:\w+ ){0,2}where "
        r"(?:they|he|she|the \w+) (?:go|goes|went|are))\b",
        "privacy private personal outside working hours",
    ),
    (r"\b(?:train\w*|learn\w*|teach|get the hang)\b", "training learn"),
    (  # "half the day in boiler rooms with zero bars": no phone signal where they work
        r"\b(?:offline|no (?:signal|reception|internet|coverage)|(?:zero|no|any) bars|dead ?zones?|"
        r"out of range|without (?:a )?(?:signal|internet|connection|wifi))\b",
        "offline signal",
    ),
    (  # "several of our members mostly speak Portuguese": the languages the product speaks
        r"\b(?:speaks?|speaking|language|languages|translat\w*|bilingual|english|spanish|french|"
        r"portuguese|german|italian|chinese|mandarin|cantonese|vietnamese|arabic|polish)\b",
        "language languages available in english",
    ),
    (  # "when the heating goes out at two in the morning, does somebody get woken up"
        r"\b(?:middle of the night|after hours|out of hours|overnight|woken|wakes? (?:\w+ )?up|"
        r"(?:one|two|three|four|five|1|2|3|4|5) (?:am|a\.m\.|in the morning)|on-?call|"
        r"at night|(?:24|twenty-four)[ /-]?(?:7|seven|hours?))\b",
        "emergency on-call any hour",
    ),
    (  # "if we ever part ways, do we get to take our history with us": leaving with the data
        r"\b(?:part ways|take (?:our|my|the|all) (?:\w+ ){0,2}with (?:us|me)|locked up|held hostage|"
        r"get (?:our|my|the) (?:\w+ ){0,2}(?:back|out)|export\w*|download (?:our|my|the|all))\b",
        "export data after cancel",
    ),
    (  # "what if the wifi in the back corner cuts out": working without a connection
        r"\b(?:wi-?fi|internet|network|connection|signal|reception)\b[^.?!]{0,40}\b(?:cuts? out|drops?|"
        r"dropping|goes down|go down|is down|dies|fails|spotty|patchy|flaky|unreliable)\b",
        "offline wi-fi network drops keeps working",
    ),
    (  # "could we hand the insurer some kind of audit report": certifications and audits
        r"\b(?:audit\w*|certif\w*|complian\w*|soc ?(?:2|two)|iso|pen ?test\w*|insurer|insurance|"
        r"hipaa|gdpr|pci|ferpa|ccpa|"
        r"questionnaire|auditors?|regulators?)\b",
        "certified audit report compliance",
    ),
    (  # "could the offices see where their case is at without phoning": status and tracking
        r"\bwhere (?:[\w']+ ){1,4}(?:is|are) (?:at|up to)\b|\b(?:status|progress|how far along|"
        r"track (?:\w+ ){0,2}(?:orders?|cases?|jobs?|deliver\w*|parcels?|shipments?|packages?|"
        r"requests?|tickets?))\b",
        "status track progress",
    ),
    (  # "can I make it jump the line, so the guys see it first thing?": rushing one job
        r"\b(?:jump the (?:line|queue)|skip the (?:line|queue)|front of the (?:line|queue)|rush\w*|urgent\w*|"
        r"priorit\w*|fast-?track\w*|expedit\w*|bump (?:it|them|\w+) up)\b",
        "rush priority urgent first",
    ),
    (  # "the patient got a message saying we're ten minutes away": automatic notices
        r"\b(?:(?:message|text|sms|email|notification|alert)s? (?:\w+ ){0,3}(?:saying|telling|letting)|"
        r"(?:minutes|an hour|hours) away|on (?:the|our|my|their|his|her) way|heads-? ?up|"
        r"let (?:them|him|her|people|customers|patients|clients|the \w+) know (?:when|that|if))\b",
        "automatic text notification sms email",
    ),
    (  # "could I pull what we sent each month, to show the board?": reports
        # (the noun: "report a leak" asks for no report)
        r"\b(?:reports|reporting|(?:a|the|our|my|any|some|monthly|weekly|annual|yearly) report|dashboards?|"
        r"(?:monthly|weekly|yearly|annual|year-end) (?:summary|summaries|numbers|figures|totals)|"
        r"(?:see|pull|get|download|print|send) (?:\w+ ){0,3}(?:numbers|figures|totals|stats|statistics|"
        r"breakdowns?|summary|summaries)|"
        r"(?:show|hand|give) (?:\w+ ){0,3}(?:board|head office|council|auditors?|investors?)|year[- ]end|"
        r"paper trail|proof (?:of|that|for)|prove (?:to|that))\b",
        "report reports monthly dashboard totals",
    ),
    (  # "what happens if the crew misses us one week?": a missed or late visit of the service
        r"\b(?:miss(?:es|ed)? (?:a |the |our |us |one |my )?(?:\w+ )?(?:pickups?|pick-?ups?|collections?|"
        r"visits?|deliver(?:y|ies)|stops?|week)|(?:skip(?:s|ped)?|forget(?:s)?|forgot) (?:us|our)\b|"
        r"(?:doesn't|does not|didn't|did not|never|don't|do not) (?:show up|turn up|come|arrive)|"
        r"running late)\b",
        "missed late visit rescheduled",
    ),
    (  # "how often would you come by?": the schedule of a recurring service
        r"\b(?:how often|how frequently|how many times a|(?:once|twice|three times) a (?:day|week|fortnight)|"
        r"every other (?:day|week))\b",
        "schedule frequency weekly every",
    ),
    (  # "what if one of the bins gets damaged?": breakage and replacement
        # (not "any kind of break on the price", "what's the damage", "we are broke")
        r"\b(?:breaks? down|broken|broke down|damaged|stolen|goes wrong|stops? working|faulty|replac\w*)\b",
        "replacement repair damaged",
    ),
    (
        r"\b(?:how much|cost\w*|price\w*|pricing|charge\w*|per (?:seat|user|device|month)|"
        # "would my dentists have to buy something, or pay you guys?"
        r"(?:have|need|got) to (?:buy|pay)|pay (?:you|anything|extra|more|for)|for free|free of charge|"
        r"(?:would|will|does) (?:it|that|this) (?:come|comes|work out|add up) to|set (?:us|me) back|"
        r"pay (?:\w+ ){0,2}(?:up ?front|before|to start)|up-?front)\b",
        "price dollars per month plan fee",
    ),
]
_PARAPHRASE_PATTERNS = [(re.compile(p, re.I), words) for p, words in _PARAPHRASES]
# a question in a recognized buyer phrasing ("do you let people try it before they commit") needs
# less retrieval evidence: its topic is known, and the vendor's words were added to the query
RECOGNIZED_PHRASING_FLOOR = 0.25
# ... and less still when the best passage is written in those words (at least half of them, and
# two): "could we walk away?" and a passage on plans that run "month to month" with "30 days'
# notice" and "no long-term contract", however far apart the two are as wholes
VENDOR_WORDS_FLOOR = 0.22
VENDOR_WORDS_SHARE = 0.5


def vendor_words_held(query: str, question: str, passage: Passage) -> bool:
    """Whether `passage` holds most of the knowledge-base words `expand_question` added to
    `question` (the rest of `query`)."""
    added = set(lexical_tokens(query[len(question) :]))
    held = added & set(lexical_tokens(f"{passage.heading} {passage.body}"))
    return len(held) >= 2 and len(held) >= VENDOR_WORDS_SHARE * len(added)


def expand_question(question: str) -> str:
    """The retrieval query for `question`: its words plus the knowledge-base words for the
    spoken phrasings it uses ("can it talk to Xero" -> "... (integrates syncs with)")."""
    extra = [words for pattern, words in _PARAPHRASE_PATTERNS if pattern.search(question)]
    return f"{question} ({' '.join(extra)})" if extra else question
