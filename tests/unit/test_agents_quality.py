"""Precision and recall of each agent on the labelled utterances (tests/data/utterances.yaml).

The figures are printed (run with -s to see them). The playbook patterns were written while
looking at utterances.yaml, so its figures are optimistic; so are those of utterances_dev.yaml,
customer lines written to tune the playbook's examples and the nearest-example matcher.
utterances_holdout.yaml was written afterwards and is not used for tuning: its figures are the
honest estimate, asserted with lower bars where the local engine is known to be weaker
(objections phrased in unforeseen words).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import PurePath
from typing import Any

import pytest

from tests.fakes.agents import block, catalog_for, sample_knowledge, shared_embedder, utterances
from wingman.agents.base import CallContext
from wingman.agents.coach import SalesCoach
from wingman.agents.examples import ExampleMatcher, clauses
from wingman.agents.metrics import DetectionScore
from wingman.agents.playbook import Playbook, PlaybookSource
from wingman.agents.qa import QaAgent
from wingman.agents.search import SearchAgent
from wingman.agents.text import question_kind, sentences
from wingman.llm.local import LocalLlm
from wingman.settings import DATA_DIR


class Score(DetectionScore):
    """DetectionScore that prints each mismatch (run with -s to read them)."""

    def add(self, expected: set[str], got: set[str], text: str) -> list[str]:
        misses = super().add(expected, got, text)
        if misses:
            print(f"  {sorted(expected)} != {sorted(got)}: {text}")
        return misses


def _expected_coach(item: dict[str, Any]) -> set[str]:
    objections = item.get("objection", [])
    objections = [objections] if isinstance(objections, str) else objections
    kinds = {f"objection.{o}" for o in objections}
    if "signal" in item:
        kinds.add(f"signal.{item['signal']}")
    if "tone" in item:
        kinds.add(f"tone.{item['tone']}")
    return kinds


def _answers(item: dict[str, Any]) -> set[str]:
    answer = item.get("answer", [])
    return {answer} if isinstance(answer, str) else set(answer)


async def evaluate(name: str, *, coach_only: bool = False) -> dict[str, Score]:
    kb, _ = await sample_knowledge()
    catalog = await catalog_for(kb)
    llm = LocalLlm()
    coach = SalesCoach(
        playbook=PlaybookSource(DATA_DIR / "playbook.yaml"), llm=llm, embedder=shared_embedder()
    )
    await coach.start()  # embeds the playbook's examples, as the worker does at start-up
    search = SearchAgent(knowledge=kb, web_search=None, llm=llm)
    qa = QaAgent(knowledge=kb, llm=llm)
    scores: dict[str, Score] = defaultdict(Score)
    for seq, item in enumerate(utterances(name)):
        b = block(item["text"], speaker=item["speaker"], seq=seq)
        ctx = CallContext(call_id=b.call_id, user_id=b.user_id, catalog=catalog)
        customer = item["speaker"] == "customer"
        # coach: objections, signals and tone in customer speech
        if customer:
            found = {f.kind for f in await coach.detect(b, ctx, deconflict=False)}
            expected = _expected_coach(item)
            for family in ("objection", "signal", "tone"):
                scores[f"coach {family}"].add(
                    {k for k in expected if k.startswith(family)},
                    {k for k in found if k.startswith(family)},
                    item["text"],
                )
            scores["coach (all)"].add(expected, found, item["text"])
        if coach_only:  # the dev set labels coach findings only
            continue
        # search: names, even misheard, on every line
        names = {m.name for m in catalog.matcher.find(item["text"])}
        scores["search entities"].add(set(item.get("entities", [])), names, item["text"])
        if customer:
            outcome = await search.handle(b, ctx)
            briefed = {i.entity for i in outcome.insights if i.entity}
            competitors = {
                e
                for e in item.get("entities", [])
                if e in catalog.documents and catalog.kinds.get(e) == "competitor"
            }
            scores["search competitor briefs"].add(
                competitors, {e for e in briefed if e in competitors | set(catalog.competitors)}, item["text"]
            )
        # qa: question detection and answers that cite the right document
        if customer:
            asked = {"question"} if question_kind(item["text"]) else set()
            scores["qa question detection"].add(
                {"question"} if "question" in item else set(), asked, item["text"]
            )
            outcome = await qa.handle(b, ctx)
            cited = {PurePath(i.source or "").stem for i in outcome.insights}
            want = _answers(item)
            if want:
                hit = cited & want
                scores["qa answers"].add(
                    {"right document"}, {"right document"} if hit else set(), item["text"]
                )
                if cited - want and not hit:
                    scores["qa answers"].fp += 1
            elif cited:
                scores["qa answers"].add(set(), {"answer"}, item["text"])
    print(f"\n== {name}")
    for key in sorted(scores):
        print(scores[key].line(key))
    return scores


async def test_agents_on_labelled_utterances() -> None:
    items = utterances()
    assert len(items) >= 150
    scores = await evaluate("utterances.yaml")
    for key in (
        "coach objection",
        "coach signal",
        "coach tone",
        "search entities",
        "search competitor briefs",
        "qa question detection",
        "qa answers",
    ):
        assert scores[key].precision >= 0.85, scores[key].errors
        assert scores[key].recall >= 0.85, scores[key].errors


async def test_coach_on_dev_utterances() -> None:
    scores = await evaluate("utterances_dev.yaml", coach_only=True)
    for key in ("coach objection", "coach signal", "coach tone"):
        assert scores[key].precision >= 0.85, scores[key].errors
        assert scores[key].recall >= 0.85, scores[key].errors


async def test_agents_on_holdout_utterances() -> None:
    scores = await evaluate("utterances_holdout.yaml")
    for key in ("search entities", "qa question detection"):
        assert scores[key].precision >= 0.85, scores[key].errors
        assert scores[key].recall >= 0.85, scores[key].errors
    # the local engine's known weak spot: objections in words nobody foresaw (measured once
    # after tuning on utterances.yaml and utterances_dev.yaml: all 0.93/0.74, objections
    # 0.90/0.69, buying signals 1.00/0.86, tone 1.00/0.80)
    bars = {
        "coach (all)": (0.85, 0.65),
        "coach objection": (0.8, 0.6),
        "coach signal": (0.85, 0.7),
        "coach tone": (0.85, 0.6),
    }
    for key, (precision, recall) in bars.items():
        assert scores[key].precision >= precision, scores[key].errors
        assert scores[key].recall >= recall, scores[key].errors


def test_long_sentences_are_also_matched_clause_by_clause() -> None:
    said = "I like the demo, but finance will never approve that spend. Okay."
    assert clauses(sentences(said)) == [
        "I like the demo, but finance will never approve that spend.",
        "Okay.",
        "I like the demo",
        "finance will never approve that spend.",
    ]



def test_a_condition_is_not_matched_as_a_clause_of_its_own() -> None:
    said = "If the reference call goes well, I'd like one clinic running on it before March."
    assert clauses(sentences(said)) == [said, "I'd like one clinic running on it before March."]


@pytest.mark.parametrize("name", ["utterances.yaml", "utterances_dev.yaml", "utterances_holdout.yaml"])
def test_labels_are_well_formed(name: str) -> None:
    allowed = {"speaker", "text", "objection", "question", "answer", "entities", "signal", "tone"}
    docs = {p.stem for p in (DATA_DIR / "sample" / "knowledge").glob("*.md")}
    for item in utterances(name):
        assert set(item) <= allowed, item
        assert item["speaker"] in ("rep", "customer")
        if "answer" in item:
            assert _answers(item) <= docs, item
            assert "question" in item, item
        assert item.get("question") in (None, "explicit", "implicit")


async def test_a_complaint_about_the_current_setup_is_a_pain_not_an_objection() -> None:
    # sentences none of the playbook's examples holds: the probe, not a copy, tells them apart
    playbook = Playbook.load(DATA_DIR / "playbook.yaml")
    matcher = ExampleMatcher(playbook, shared_embedder())
    await matcher.warm()
    embed = shared_embedder().embed_query
    for pain in (
        "The supplier we have now keeps shipping the wrong parts.",
        "Our current payroll provider got it wrong three months running.",
        "We lose about a day a month reconciling the two systems by hand.",
    ):
        assert matcher.is_pain(await embed(pain)), pain
    for defence in (
        "Our existing supplier gives us a good deal and we like them.",
        "We already pay for something that does most of this.",
        "Seems steep for a team our size.",
    ):
        assert not matcher.is_pain(await embed(defence)), defence
    # a playbook without pain examples calls nothing a pain
    bare = ExampleMatcher(playbook.model_copy(update={"pain_examples": []}), shared_embedder())
    await bare.warm()
    assert not bare.is_pain(await embed("The supplier we have now keeps shipping the wrong parts."))


async def test_no_time_to_learn_a_tool_is_timing_not_need() -> None:
    kb, _ = await sample_knowledge()
    coach = SalesCoach(
        playbook=PlaybookSource(DATA_DIR / "playbook.yaml"), llm=LocalLlm(), embedder=shared_embedder()
    )
    await coach.start()
    b = block("With the busy season starting, nobody has time to learn a new tool.")
    ctx = CallContext(call_id=b.call_id, user_id=b.user_id, catalog=await catalog_for(kb))
    kinds = {f.kind for f in await coach.detect(b, ctx, deconflict=False)}
    assert "objection.timing" in kinds
    assert "objection.need" not in kinds
