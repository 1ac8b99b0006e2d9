"""The sales playbook: objections, buying signals, tone and talk-time nudges, from editable YAML.

Sales managers change `playbook.yaml` (settings.playbook_path); a running worker picks up the
change on its next block (the file is re-read when its modification time changes, and an
invalid edit keeps the previous playbook). Detection is deterministic: regular expressions over
normalized transcript text, with competitor and product names (matched even when misheard)
replaced by `<competitor>` and `<product>` first, so one pattern covers every competitor.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from wingman.agents.entities import EntityMatch
from wingman.agents.text import normalize
from wingman.errors import ConfigError

log = logging.getLogger(__name__)

COMPETITOR_TOKEN = "<competitor>"
PRODUCT_TOKEN = "<product>"


class Rule(BaseModel):
    """One objection, signal or tone rule."""

    model_config = ConfigDict(extra="forbid")

    label: str
    category: str
    priority: float = Field(0.5, ge=0, le=1)
    speakers: list[str] = Field(default_factory=lambda: ["customer"])
    patterns: list[str]
    exclude: list[str] = Field(default_factory=list)
    tips: list[str] = Field(min_length=1)
    examples: list[str] = Field(default_factory=list)
    _compiled: list[re.Pattern[str]] = PrivateAttr(default_factory=list)
    _excluded: list[re.Pattern[str]] = PrivateAttr(default_factory=list)

    def compile(self, where: str) -> None:
        try:
            self._compiled = [re.compile(p) for p in self.patterns]
            self._excluded = [re.compile(p) for p in self.exclude]
        except re.error as e:
            raise ConfigError(f"playbook {where}: bad pattern: {e}") from e

    def applies_to(self, speaker: str | None) -> bool:
        # mono calls have no rep/customer split: every rule applies
        return speaker not in ("rep", "customer") or speaker in self.speakers

    def excluded(self, text: str) -> bool:
        """Whether an exclusion pattern vetoes this rule on normalized `text`."""
        return any(p.search(text) for p in self._excluded)

    def match(self, text: str) -> int | None:
        """Index of the first pattern matching normalized `text`, unless an exclusion does."""
        if self.excluded(text):
            return None
        for i, pattern in enumerate(self._compiled):
            if pattern.search(text):
                return i
        return None


class Nudge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str
    category: str
    priority: float = Field(0.5, ge=0, le=1)
    tips: list[str] = Field(min_length=1)


class TalkRatioNudge(Nudge):
    max_ratio: float = 0.65
    min_seconds: float = 60


class MonologueNudge(Nudge):
    max_seconds: float = 90


class QuestionsNudge(Nudge):
    after_seconds: float = 240
    min_questions: int = 3


class Matching(BaseModel):
    """How the nearest-example matcher decides (see examples.py)."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(3, ge=1)  # a kind's score is the mean similarity of its k nearest examples
    threshold: float = Field(0.45, ge=0, le=1)
    margin: float = Field(0.0, ge=0, le=1)  # over the neutral examples' score
    rule_margin: float = Field(0.0, ge=0, le=1)  # over the runner-up rule's score


class Nudges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    talk_ratio: TalkRatioNudge
    monologue: MonologueNudge
    questions: QuestionsNudge


@dataclass(frozen=True)
class Detection:
    kind: str  # "objection.price", "signal.buying", "tone.frustration"
    rule: Rule
    pattern_index: int

    @property
    def family(self) -> str:
        return self.kind.split(".", 1)[0]

    @property
    def why(self) -> str:
        """For the agent-run record: which rule fired (never the transcript text)."""
        return f"{self.kind} pattern #{self.pattern_index}: {self.rule.patterns[self.pattern_index]}"


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    objections: dict[str, Rule]
    signals: dict[str, Rule] = Field(default_factory=dict)
    tone: dict[str, Rule] = Field(default_factory=dict)
    neutral_examples: list[str] = Field(default_factory=list)
    matching: Matching = Field(default_factory=Matching)
    nudges: Nudges

    @classmethod
    def load(cls, path: Path) -> Playbook:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            playbook = cls.model_validate(raw)
        except (OSError, yaml.YAMLError, ValidationError) as e:
            raise ConfigError(f"playbook {path}: {e}") from e
        for kind, rule in playbook.rules():
            rule.compile(kind)
        return playbook

    def rules(self) -> Iterator[tuple[str, Rule]]:
        for family, rules in (("objection", self.objections), ("signal", self.signals), ("tone", self.tone)):
            for key, rule in rules.items():
                yield f"{family}.{key}", rule

    def rule(self, kind: str) -> Rule | None:
        family, _, key = kind.partition(".")
        rules = {"objection": self.objections, "signal": self.signals, "tone": self.tone}
        return rules.get(family, {}).get(key)

    def detect(
        self,
        text: str,
        *,
        speaker: str | None,
        entities: Sequence[EntityMatch] = (),
        competitors: frozenset[str] = frozenset(),
    ) -> list[Detection]:
        """Every rule that fires on `text` said by `speaker`."""
        prepared = prepare(text, entities, competitors)
        found: list[Detection] = []
        for kind, rule in self.rules():
            if not rule.applies_to(speaker):
                continue
            index = rule.match(prepared)
            if index is not None:
                found.append(Detection(kind, rule, index))
        return found


def prepare(text: str, entities: Sequence[EntityMatch], competitors: frozenset[str]) -> str:
    """Normalized text with entity mentions replaced by <competitor> / <product>."""
    for match in sorted(entities, key=lambda m: -len(m.surface)):
        token = COMPETITOR_TOKEN if match.name in competitors else PRODUCT_TOKEN
        words = [re.escape(w) for w in match.surface.split()]
        text = re.sub(r"\b" + r"[\s-]+".join(words) + r"\b", f" {token} ", text, flags=re.I)
    return normalize(text)


class PlaybookSource:
    """The current playbook of a file, re-read when the file changes (checked every few s)."""

    def __init__(self, path: Path, *, check_every: float = 5.0) -> None:
        self._path = path
        self._check_every = check_every
        self._playbook = Playbook.load(path)  # a broken playbook at start-up is a ConfigError
        self._mtime = self._stat()
        self._checked = time.monotonic()

    def _stat(self) -> float:
        try:
            return self._path.stat().st_mtime
        except OSError:
            return 0.0

    def current(self) -> Playbook:
        now = time.monotonic()
        if now - self._checked >= self._check_every:
            self._checked = now
            mtime = self._stat()
            if mtime != self._mtime:
                self._mtime = mtime
                try:
                    self._playbook = Playbook.load(self._path)
                    log.info("playbook reloaded", extra={"path": str(self._path)})
                except ConfigError:
                    log.exception("playbook edit rejected; keeping the previous one")
        return self._playbook
