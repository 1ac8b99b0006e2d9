"""The insight gate (dedup, priority-aware rate limit) and feedback preferences."""

from __future__ import annotations

from wingman.agents.feedback import FeedbackPreferences
from wingman.agents.gate import GateState, InsightGate
from wingman.events import Insight

NONE = FeedbackPreferences()


def _insight(kind: str, content: str, *, agent: str = "coach", priority: float = 0.7,
             entity: str | None = None) -> Insight:
    return Insight(call_id="c", user_id="u", agent=agent, category="x", kind=kind,
                   content=content, priority=priority, entity=entity)


def test_an_objection_restated_at_once_is_held_and_raised_again_later_passes() -> None:
    gate = InsightGate(per_minute=100, repeat_after_seconds=300, restate_seconds=20)
    state = GateState()
    assert gate.admit(_insight("objection.price", "Anchor on value."), state=state,
                      preferences=NONE, at=10).admitted
    assert state.times_shown("objection.price") == 1  # the coach's next tip index
    again = gate.admit(_insight("objection.price", "Ask about budget."), state=state,
                       preferences=NONE, at=20)
    assert not again.admitted and again.reason.startswith("duplicate kind")
    # raised again later: the coach's next tip (escalation) is shown, not silence
    later = gate.admit(_insight("objection.price", "Ask about budget."), state=state,
                       preferences=NONE, at=45)
    assert later.admitted and state.times_shown("objection.price") == 2


def test_other_kinds_and_entities_wait_for_the_repeat_window() -> None:
    gate = InsightGate(per_minute=100, repeat_after_seconds=300)
    state = GateState()
    assert gate.admit(_insight("nudge.talk_ratio", "Let them talk."), state=state,
                      preferences=NONE, at=10).admitted
    held = gate.admit(_insight("nudge.talk_ratio", "Ask an open question."), state=state,
                      preferences=NONE, at=100)
    assert (held.admitted, held.reason) == (False, "duplicate kind")
    assert gate.admit(_insight("nudge.talk_ratio", "Ask an open question."), state=state,
                      preferences=NONE, at=400).admitted
    assert gate.admit(_insight("competitor.aircall", "Aircall: a", agent="search",
                               entity="Aircall"), state=state, preferences=NONE, at=30).admitted
    by_entity = gate.admit(_insight("objection.competitor", "Aircall again", entity="aircall"),
                           state=state, preferences=NONE, at=31)
    assert by_entity.reason == "duplicate entity"


def test_near_duplicate_content_is_held_but_different_answers_pass() -> None:
    gate = InsightGate(per_minute=100)
    state = GateState()
    first = _insight("qa.implementation", "Most teams are live in about two weeks.", agent="qa")
    assert gate.admit(first, state=state, preferences=NONE, at=1).admitted
    same = _insight("qa.implementation", "Most teams are live in about two weeks!", agent="qa")
    assert not gate.admit(same, state=state, preferences=NONE, at=2).admitted
    porting = _insight("qa.implementation", "Porting takes 7 to 10 business days.", agent="qa")
    assert gate.admit(porting, state=state, preferences=NONE, at=3).admitted
    reworded = _insight("tone.hesitation", "most teams are live in about two weeks")
    assert gate.admit(reworded, state=state, preferences=NONE, at=4).reason == "near-duplicate content"


def test_the_budget_holds_minor_tips_only() -> None:
    gate = InsightGate(per_minute=3)
    state = GateState()
    minor = ["Smile.", "Slow down a little.", "Mention the newsletter.", "Breathe."]
    results = [gate.admit(_insight(f"tone.k{i}", tip, priority=0.6), state=state, preferences=NONE,
                          at=float(i)).admitted for i, tip in enumerate(minor)]
    assert results == [True, True, True, False]
    # the window is full, and still nothing that matters is held back
    major = [
        _insight("objection.price", "Acknowledge, then anchor on value.", priority=0.85),
        _insight("objection.authority", "Map the decision: who else signs?", priority=0.8),
        _insight("competitor.aircall", "Aircall: compare total cost.", agent="search",
                 priority=0.8, entity="Aircall"),
        _insight("qa.pricing", "Starter is 29 dollars a seat.", agent="qa", priority=0.9),
        _insight("signal.buying", "Close now: propose the pilot date.", priority=0.95),
    ]
    assert all(gate.admit(i, state=state, preferences=NONE, at=5).admitted for i in major)
    assert gate.admit(_insight("tone.late", "a later tip", priority=0.6), state=state,
                      preferences=NONE, at=61.5).admitted is False  # window still full of majors
    fresh = GateState()
    low = [gate.admit(_insight(f"low.{i}", tip, priority=0.3), state=fresh, preferences=NONE,
                      at=float(i)).admitted for i, tip in enumerate(minor[:2])]
    assert low == [True, False]  # the least important get half the budget


def test_a_new_objection_kind_passes_a_full_budget_even_when_demoted() -> None:
    gate = InsightGate(per_minute=1)
    disliked = FeedbackPreferences.from_counts({"objection.authority": (0, 2)})
    state = GateState()
    assert gate.admit(_insight("tone.hesitation", "Ask what would help.", priority=0.6),
                      state=state, preferences=NONE, at=1).admitted
    demoted = gate.admit(_insight("objection.authority", "Map the decision.", priority=0.8),
                         state=state, preferences=disliked, at=2)
    assert demoted.admitted and demoted.insight.priority < 0.7


def test_feedback_demotes_suppresses_and_promotes() -> None:
    prefs = FeedbackPreferences.from_counts({
        "objection.price": (0, 1), "tone.hesitation": (1, 3), "signal.buying": (3, 0),
        "objection.timing": (5, 4),
    })
    price = prefs.weight("objection.price")
    assert price is not None and price < 1
    assert prefs.weight("tone.hesitation") is None  # suppressed: 3 dislikes, more than likes
    buying = prefs.weight("signal.buying")
    assert buying is not None and buying > 1
    assert prefs.weight("objection.timing") is not None  # liked more than disliked: kept
    other = prefs.weight("objection.trust")  # its family is mixed: barely moves
    assert other is not None and 0.9 <= other <= 1.1
    assert FeedbackPreferences().weight("anything") == 1.0


def test_feedback_is_applied_through_the_gate() -> None:
    gate = InsightGate(per_minute=2)
    disliked = FeedbackPreferences.from_counts({"tone.hesitation": (0, 3), "objection.need": (0, 2)})
    state = GateState()
    hidden = gate.admit(_insight("tone.hesitation", "Ask what would help."), state=state,
                        preferences=disliked, at=1)
    assert (hidden.admitted, hidden.reason) == (False, "suppressed by feedback")
    demoted = gate.admit(_insight("objection.need", "Probe for pain."), state=state,
                         preferences=disliked, at=2)
    assert demoted.admitted and demoted.insight.priority < 0.5
    # a demoted tip now counts as minor: it no longer gets a slot once the minute is half used
    crowded = GateState()
    frowned = FeedbackPreferences.from_counts({"tone.frustration": (0, 2)})
    assert gate.admit(_insight("objection.price", "Anchor on value."), state=crowded,
                      preferences=frowned, at=1).admitted
    late = gate.admit(_insight("tone.frustration", "Slow down."), state=crowded,
                      preferences=frowned, at=2)
    assert (late.admitted, late.reason) == (False, "rate limited (minor tip)")
    neutral = gate.admit(_insight("objection.need", "Probe for pain."), state=GateState(),
                         preferences=NONE, at=2)
    assert neutral.admitted and neutral.insight.priority == 0.7
