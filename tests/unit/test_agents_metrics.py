"""Conversation metrics and the coach's talk-time nudges."""

from __future__ import annotations

from tests.fakes.agents import block
from wingman.agents.base import CallContext
from wingman.agents.coach import SalesCoach
from wingman.agents.metrics import ConversationMetrics
from wingman.agents.playbook import PlaybookSource
from wingman.events import TranscriptBlock
from wingman.llm.local import LocalLlm
from wingman.settings import DATA_DIR


def _b(seq: int, speaker: str, start: float, end: float, text: str = "We do a lot of things.",
       talk: dict[str, float] | None = None) -> TranscriptBlock:
    return TranscriptBlock(call_id="c", user_id="u", seq=seq, text=text, speaker=speaker,
                           start=start, end=end, talk_seconds=talk or {})


def test_talk_ratio_from_talk_seconds_and_questions() -> None:
    m = ConversationMetrics()
    m.observe(_b(0, "rep", 0, 10, "Hi! How are you? What made you look now?",
                 {"rep": 10, "customer": 0}))
    m.observe(_b(1, "customer", 10, 40, "Well, our phones drop calls. Can you fix that?",
                 {"rep": 10, "customer": 30}))
    m.observe(_b(1, "customer", 10, 40, "duplicate delivery", {"rep": 10, "customer": 30}))
    snap = m.snapshot(call_id="c", user_id="u")
    assert snap.rep_talk_ratio == 0.25
    assert (snap.rep_seconds, snap.customer_seconds) == (10, 30)
    assert (snap.rep_questions, snap.customer_questions) == (2, 1)


def test_durations_are_used_without_talk_seconds_and_backchannels_keep_the_floor() -> None:
    m = ConversationMetrics()
    m.observe(_b(0, "rep", 0, 40))
    m.observe(_b(1, "customer", 40, 41, "mm-hmm"))  # a backchannel: the monologue goes on
    m.observe(_b(2, "rep", 41, 100))
    assert m.longest_monologue_seconds == 100
    m.observe(_b(3, "customer", 100, 110, "Sure, but what about our reporting needs here?"))
    m.observe(_b(4, "rep", 110, 120))
    assert m.current_monologue_seconds == 10 and m.longest_monologue_seconds == 100
    assert m.rep_talk_ratio == round(109 / 120, 4)


async def test_nudges_fire_once_and_rearm() -> None:
    coach = SalesCoach(playbook=PlaybookSource(DATA_DIR / "playbook.yaml"), llm=LocalLlm())
    ctx = CallContext(call_id="c", user_id="u")
    kinds: list[str] = []
    talk = {"rep": 0.0, "customer": 0.0}
    t = 0.0
    for seq in range(12):  # the rep talks 95% of a two-minute call, in one long stretch
        talk["rep"] += 9.5
        talk["customer"] += 0.5
        b = TranscriptBlock(call_id="c", user_id="u", seq=seq, text="And another feature is this.",
                            speaker="rep", start=t, end=t + 10, talk_seconds=dict(talk))
        t += 10
        ctx.metrics.observe(b)
        kinds += [i.kind for i in (await coach.handle(b, ctx)).insights]
    assert kinds.count("nudge.talk_ratio") == 1
    assert kinds.count("nudge.monologue") == 1
    again = await coach.handle(block("And one more thing.", speaker="rep", seq=99), ctx)
    assert "nudge.talk_ratio" not in {i.kind for i in again.insights}
    # the customer talks for a while: the ratio falls below the threshold, the nudge re-arms
    talk["customer"] += 200
    b = TranscriptBlock(call_id="c", user_id="u", seq=50, text="Let me tell you about our setup.",
                        speaker="customer", start=t, end=t + 200, talk_seconds=dict(talk))
    ctx.metrics.observe(b)
    await coach.handle(b, ctx)
    assert ctx.metrics.ratio_nudged is False


async def test_question_nudge_after_four_minutes_without_questions() -> None:
    coach = SalesCoach(playbook=PlaybookSource(DATA_DIR / "playbook.yaml"), llm=LocalLlm())
    ctx = CallContext(call_id="c", user_id="u")
    b = TranscriptBlock(call_id="c", user_id="u", seq=1, text="So that is our product.",
                        speaker="rep", start=239, end=245, talk_seconds={"rep": 100, "customer": 140})
    ctx.metrics.observe(b)
    outcome = await coach.handle(b, ctx)
    tips = {i.kind: i.content for i in outcome.insights}
    assert "0 discovery questions" in tips["nudge.questions"]
