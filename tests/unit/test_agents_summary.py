"""The local reasoning engine and the end-of-call summary."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import BaseModel

from tests.fakes.agents import SAMPLE_CALL
from wingman.agents.coach import CoachTip
from wingman.agents.qa import QaAnswer
from wingman.agents.summary import CallSummary, summarize_call
from wingman.errors import ProviderError, ProviderResponseError, ProviderTimeout
from wingman.events import Insight
from wingman.llm.base import Llm, LlmRequest, T
from wingman.llm.local import LocalLlm


@dataclass
class Segment:
    speaker: str | None
    text: str
    start: float


def _segments() -> list[Segment]:
    return [Segment(speaker, text, i * 5.0) for i, (speaker, text) in enumerate(SAMPLE_CALL)]


def _insight(kind: str, content: str, snippet: str, **extra: str) -> Insight:
    return Insight(call_id="c", user_id="u", agent="coach", category="x", kind=kind,
                   content=content, context_snippet=snippet, **extra)


async def test_local_engine_coach_and_qa_tasks() -> None:
    llm = LocalLlm()
    tip = await llm.complete(LlmRequest(task="coach", system="", prompt="", schema=CoachTip,
                                        context={"tips": ["First {ratio:.0%}", "Second"],
                                                 "tip_index": 2, "values": {"ratio": 0.7}}),
                             timeout=1)
    assert tip.tip == "First 70%"
    sentences = [
        {"text": "Most teams are live in about two weeks", "source": "implementation.md",
         "passage": 0, "position": 0, "score": 0.6},
        {"text": "There is no hardware to install.", "source": "implementation.md",
         "passage": 0, "position": 1, "score": 0.55},
        {"text": "Porting takes longer abroad.", "source": "implementation.md",
         "passage": 1, "position": 0, "score": 0.2},
    ]
    answer = await llm.complete(LlmRequest(
        task="qa", system="", prompt="", schema=QaAnswer,
        context={"confidence": 0.5, "min_confidence": 0.3, "sentences": sentences}), timeout=1)
    assert answer.answerable and answer.source == "implementation.md"
    assert answer.answer == "Most teams are live in about two weeks. There is no hardware to install."
    unsure = await llm.complete(LlmRequest(
        task="qa", system="", prompt="", schema=QaAnswer,
        context={"confidence": 0.2, "min_confidence": 0.3, "sentences": sentences}), timeout=1)
    assert not unsure.answerable and unsure.answer == ""
    with pytest.raises(ProviderResponseError):
        await llm.complete(LlmRequest(task="poetry", system="", prompt="", schema=CoachTip),
                           timeout=1)


async def test_extractive_summary_of_the_sample_call() -> None:
    insights = [
        _insight("competitor.aircall", "Aircall: ...", "We're also talking to Aircall.",
                 entity="Aircall"),
        _insight("objection.price", "Anchor on value.", "Honestly, your price seems high."),
        _insight("qa.integrations", "Relay has a native Salesforce integration.",
                 "Does Relay integrate with Salesforce?"),
        _insight("objection.authority", "Map the decision.",
                 "I would also need to check with my VP before we sign anything."),
        _insight("signal.buying", "Close.", "This sounds promising."),
    ]
    summary = await summarize_call(llm=LocalLlm(), call_id="c", segments=_segments(),
                                   insights=insights)
    lines = dict(line.split(": ", 1) for line in summary.summary.splitlines())
    assert list(lines) == ["Customer", "Pains", "Objections", "Competitors", "Questions", "Buying signals",
                           "Next steps"]
    assert "forty agents" in lines["Customer"] and "drops calls" in lines["Pains"]
    # each objection with the rep's answer, each question with the answer the rep gave, in note
    # words: no quotes, no "Honestly," before it
    assert "Price: Your price seems high. It's more than we budgeted for this year" in lines["Objections"]
    assert "\u2192 Can I ask what budget you had in mind?" in lines["Objections"]
    assert '"' not in summary.summary and "Honestly" not in summary.summary
    # the rep's next words answered the SOC 2 question asked after it, not the authority objection
    authority = "Authority: I would also need to check with my VP before we sign anything."
    assert lines["Objections"].endswith(authority)
    assert "Aircall (We're also talking to Aircall)" in lines["Competitors"]
    assert "How long does implementation usually take? \u2192 Most teams are live in about two weeks" \
        in lines["Questions"]
    assert ".md" not in summary.summary and "integrations" not in summary.summary  # no file names
    assert summary.action_items == [  # two actions of one sentence, each with its own date
        "Rep: Send a proposal (due: Friday)", "Rep: Set up a pilot for the customer's team"]
    moments = {(m.kind, m.at) for m in summary.key_moments}
    assert ("competitor", 15.0) in moments and ("objection", 25.0) in moments
    assert len({m.at for m in summary.key_moments}) == len(summary.key_moments)  # one per moment
    assert ("next_step", 75.0) in moments
    step = next(m for m in summary.key_moments if m.kind == "next_step")
    assert step.text == "; ".join(summary.action_items)  # the items, owner and date included
    assert any(m.kind == "question" and "implementation" in m.text.lower()
               for m in summary.key_moments)  # a question no agent answered still counts
    assert [m.at for m in summary.key_moments] == sorted(m.at for m in summary.key_moments)


class _Generative(Llm):
    name = "scripted"

    def __init__(self, answer: BaseModel | None) -> None:
        self.answer = answer
        self.requests: list[LlmRequest[BaseModel]] = []

    async def complete(self, request: LlmRequest[T], *, timeout: float) -> T:
        self.requests.append(request)  # type: ignore[arg-type]
        if self.answer is None:
            raise ProviderTimeout("slow")
        return request.schema.model_validate(self.answer.model_dump())


async def test_generative_summary_is_used_and_failures_keep_the_draft() -> None:
    written = CallSummary(summary="Dana (support, 40 agents) is comparing Relay with Aircall.")
    llm = _Generative(written)
    result = await summarize_call(llm=llm, call_id="c", segments=_segments(), insights=[])
    assert result.summary == written.summary
    assert "Transcript:" in llm.requests[0].prompt and "Dana" in llm.requests[0].prompt
    failing = _Generative(None)
    draft = await summarize_call(llm=failing, call_id="c", segments=_segments(), insights=[])
    assert "send a proposal on Friday" in draft.summary
    assert isinstance(ProviderTimeout("x"), ProviderError)


async def test_empty_call() -> None:
    summary = await summarize_call(llm=LocalLlm(), call_id="c", segments=[], insights=[])
    assert summary.key_moments == [] and summary.action_items == []
    assert "empty" in summary.summary


async def test_next_steps_of_both_sides_get_owner_and_date() -> None:
    segments = [
        Segment("customer", "We run two clinics with thirty staff.", 0.0),
        Segment("rep", "Great. I will follow up by email on Monday with the pricing.", 5.0),
        Segment("customer", "Sure, send me the contract and I will look at it after April.", 10.0),
        Segment("customer", "I need to check with our board next week.", 15.0),
    ]
    summary = await summarize_call(llm=LocalLlm(), call_id="c", segments=segments, insights=[])
    assert summary.action_items == [
        "Rep: Follow up by email on Monday with the pricing (due: Monday)",
        "Rep: Send the contract",
        "Customer: Look at it (due: after April)",
        "Customer: Check with their board (due: next week)",
    ]
    two = [Segment("rep", "I'll switch on the trial Friday and send a setup checklist tomorrow.", 0.0)]
    summary = await summarize_call(llm=LocalLlm(), call_id="c", segments=two, insights=[])
    assert summary.action_items == [
        "Rep: Switch on the trial (due: Friday)",
        "Rep: Send a setup checklist (due: tomorrow)",
    ]


async def test_who_the_customer_is_and_their_pains_in_their_own_words() -> None:
    segments = [
        Segment("rep", "Thanks for taking the call, how is the week going?", 0.0),
        Segment("customer", "Harbour Dental is just me, two hygienists and a receptionist.", 5.0),
        Segment("rep", "Sorry, I'll speak up, the line is quiet.", 10.0),
        Segment("customer", "No problem.", 12.0),
        Segment("customer", "We phone every patient the day before, which eats most of the morning.", 15.0),
        Segment("customer", "And we still get a dozen no-shows a month.", 20.0),
    ]
    summary = await summarize_call(llm=LocalLlm(), call_id="c", segments=segments, insights=[])
    assert "Customer: Harbour Dental is just me, two hygienists and a receptionist." in summary.summary
    pains = next(line for line in summary.summary.splitlines() if line.startswith("Pains:"))
    assert "eats most of the morning" in pains and "no-shows" in pains
    assert "No problem" not in pains  # a courtesy is not a pain
    assert summary.action_items == []  # "I'll speak up" is no next step
