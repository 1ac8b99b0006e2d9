"""Nearest-example matching: the playbook's `examples` catch objections and signals phrased
in words no pattern anticipated ("finance will push back on that number").

Each customer sentence, and each clause of a long one ("I like it, but finance will balk"), is
embedded (MiniLM, cached) and compared with every example; a rule's score is the mean cosine
similarity of its k nearest examples. The best rule fires when its score reaches the threshold,
beats the neutral examples by the margin and the runner-up rule by the rule margin (a sentence
halfway between two rules is ambiguous, and says nothing). Patterns stay the precise path; this
is the recall path, tuned for precision on tests/data/utterances_dev.yaml. A question is judged
whole: a piece of one ("and the setup fee, is that every year?") is never an objection alone;
nor is a wish ("i'd love it if my manager didn't have to sign every timesheet"). Kinds the
coach rules out for a sentence (a competitor objection naming no alternative) are no candidates.

Similarity sees the topic, not which way the customer leans on it: "our system is a nightmare"
sits next to "our system does what we need". A linear probe (ridge regression on the same
embeddings: the examples of the kinds in `matching.pain_probe` against the playbook's
`pain_examples`) tells a complaint about the current setup from its defence: a match of those
kinds on the complaint side is a pain the rep can build on, and says nothing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from wingman.agents.playbook import Playbook
from wingman.agents.text import question_kind
from wingman.search.embeddings import Embedder

NEUTRAL = "neutral"
_OBJECTION = "objection."
_PROBE_RIDGE = 1.0  # the probe's L2 penalty (unit-length embeddings, a few hundred examples)
# where a spoken sentence splits into clauses that can carry their own objection or signal
_CLAUSE = re.compile(r"\s*(?:[,;:]|\b(?:but|so|because|though)\b)\s*", re.IGNORECASE)
_MIN_CLAUSE_WORDS = 3
# a condition ("if the reference call goes well", "once we sign") is not a claim of its own: it
# is matched only within its sentence, never as a clause by itself
_CONDITION = re.compile(
    r"^(?:and |or |but |so )?(?:if|unless|once|as long as|provided|assuming|whether)\b", re.I
)
# a wish: "i'd love for nobody to retype the orders", "it would be great if the drivers..."
_WISH = re.compile(
    r"^(?:(?:and|so|but|okay|honestly|look|yeah),?\s+)*(?:(?:i|we)(?:['’]d| would)? (?:really |just )?"
    r"(?:love|wish)\b|(?:it|that)(?:['’]d| would) be (?:amazing|great|lovely|brilliant|fantastic|"
    r"ideal|nice|a dream|a relief)\b)",
    re.IGNORECASE,
)


def clauses(sentence_list: Sequence[str]) -> list[str]:
    """The sentences, then the clauses of those that have several (each of 3+ words, not a
    condition standing alone)."""
    return [text for text, _ in _clauses_of(sentence_list)]


def _clauses_of(sentence_list: Sequence[str]) -> list[tuple[str, bool]]:
    """clauses(), each with whether it is a piece of a question (not the question whole)."""
    found = {s: False for s in sentence_list}
    for sentence in sentence_list:
        parts = [p for p in _CLAUSE.split(sentence) if len(p.split()) >= _MIN_CLAUSE_WORDS]
        if len(parts) > 1:
            asks = question_kind(sentence) == "explicit"
            for p in parts:
                if p not in found and not _CONDITION.match(p):
                    found[p] = asks
    return list(found.items())


@dataclass(frozen=True)
class ExampleMatch:
    kind: str
    score: float
    example: str  # the nearest example of that kind (playbook text, safe to log)


class ExampleMatcher:
    """Scores sentences against one playbook's examples. Build once per playbook."""

    def __init__(self, playbook: Playbook, embedder: Embedder) -> None:
        self._playbook = playbook
        self._embedder = embedder
        labels: list[str] = []
        texts: list[str] = []
        for kind, rule in playbook.rules():
            labels.extend([kind] * len(rule.examples))
            texts.extend(rule.examples)
        labels.extend([NEUTRAL] * len(playbook.neutral_examples))
        texts.extend(playbook.neutral_examples)
        self._labels = np.array(labels)
        self._texts = texts
        self._kinds = sorted(set(labels))
        self._pains = list(playbook.pain_examples)
        self._probed = frozenset(playbook.matching.pain_probe)
        self._probed_rows = np.array([label in self._probed for label in labels])
        self._matrix: NDArray[np.float32] | None = None
        self._probe: tuple[NDArray[np.float64], float] | None = None
        self._lock = asyncio.Lock()

    @property
    def playbook(self) -> Playbook:
        return self._playbook

    async def _examples(self) -> NDArray[np.float32]:
        if self._matrix is None:
            async with self._lock:
                if self._matrix is None:
                    # small batches, so live queries get the model between them
                    texts = [*self._texts, *self._pains]
                    parts = [
                        await self._embedder.embed_many(texts[i : i + 8]) for i in range(0, len(texts), 8)
                    ]
                    every = np.concatenate(parts) if parts else np.zeros((0, 384), np.float32)
                    examples, pains = every[: len(self._texts)], every[len(self._texts) :]
                    self._probe = _fit_probe(examples[self._probed_rows], pains)
                    self._matrix = examples
        return self._matrix

    @property
    def ready(self) -> bool:
        """Whether the examples are embedded (matching never waits for that on the live path)."""
        return self._matrix is not None

    async def warm(self) -> None:
        await self._examples()

    def is_pain(self, vector: NDArray[np.float32]) -> bool:
        """Whether the probe puts this sentence on the complaint side (False without pains)."""
        if self._probe is None:
            return False
        weights, bias = self._probe
        return float(vector @ weights) + bias < 0

    def score(
        self,
        matrix: NDArray[np.float32],
        vector: NDArray[np.float32],
        *,
        ruled_out: frozenset[str] = frozenset(),
    ) -> ExampleMatch | None:
        """The rule `vector` fires, if any; the kinds in `ruled_out` cannot apply to this text
        and are neither candidates nor runners-up."""
        if not self._texts:
            return None
        m = self._playbook.matching
        sims = matrix @ vector
        best: ExampleMatch | None = None
        neutral = -1.0
        runner_up = -1.0
        for kind in self._kinds:
            if kind in ruled_out:
                continue
            mask = self._labels == kind
            kind_sims = sims[mask]
            top = np.sort(kind_sims)[::-1][: m.k]
            value = float(top.mean())
            if kind == NEUTRAL:
                neutral = value
            elif best is None or value > best.score:
                runner_up = best.score if best is not None else runner_up
                nearest = int(np.flatnonzero(mask)[int(np.argmax(kind_sims))])
                best = ExampleMatch(kind, value, self._texts[nearest])
            else:
                runner_up = max(runner_up, value)
        if (
            best is None
            or best.score < m.threshold_for(best.kind)
            or best.score - neutral < m.margin
            or best.score - runner_up < m.rule_margin
            or (best.kind in self._probed and self.is_pain(vector))
        ):
            return None
        return best

    async def match(
        self, sentences: Sequence[str], *, ruled_out: frozenset[str] = frozenset()
    ) -> list[ExampleMatch]:
        """The example matches of `sentences` and their clauses (one per text at most), never
        of the kinds in `ruled_out`."""
        if not sentences or not self._texts:
            return []
        matrix = await self._examples()
        texts = _clauses_of(sentences)
        vectors = await asyncio.gather(*(self._embedder.embed_query(s) for s, _ in texts))
        found = [self.score(matrix, v, ruled_out=ruled_out) for v in vectors]
        # a question is judged whole: in "and the setup fee, is that every year or just the
        # once?" the piece "and the setup fee" sounds like a complaint about a fee, the question
        # only asks about it; a piece of a question can still hold a signal ("..., because we'd
        # want to start soon?")
        # a wish ("i'd love for nobody to retype the orders") says what they want: a need to
        # build on, whatever objection its words are near
        return [
            f
            for f, (text, piece_of_question) in zip(found, texts, strict=True)
            if f is not None
            and not (f.kind.startswith(_OBJECTION) and (piece_of_question or _WISH.match(text)))
        ]


def _fit_probe(
    objections: NDArray[np.float32], pains: NDArray[np.float32]
) -> tuple[NDArray[np.float64], float] | None:
    """Ridge regression of +1 (objection) against -1 (pain), each class weighted to half the
    total: the weights and bias of the line between them (None without both classes)."""
    if not len(objections) or not len(pains):
        return None
    x = np.concatenate([objections, pains]).astype(np.float64)
    x = np.hstack([x, np.ones((len(x), 1))])  # the bias column
    y = np.concatenate([np.ones(len(objections)), -np.ones(len(pains))])
    c = np.concatenate(
        [
            np.full(len(objections), 0.5 / len(objections)),
            np.full(len(pains), 0.5 / len(pains)),
        ]
    )
    penalty = np.eye(x.shape[1]) * _PROBE_RIDGE / len(x)
    penalty[-1, -1] = 0.0  # the bias is not penalised
    solution = np.linalg.solve(x.T @ (x * c[:, None]) + penalty, x.T @ (c * y))
    return solution[:-1], float(solution[-1])
