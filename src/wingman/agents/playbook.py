"""The sales playbook: objections, buying signals, tone and talk-time nudges, from editable YAML.

`parse_playbook` turns YAML text or a dict into a validated Playbook, or raises PlaybookError
naming each bad trigger ("objections.price.patterns[3]: bad regular expression ..."); an editor
calls it before saving. The coach asks a `PlaybookProvider` for each tenant's playbook: the
shipped template (`PlaybookSource`, settings.playbook_path) is re-read when the file changes,
and an invalid edit keeps the previous playbook. Detection is deterministic: regular expressions over
normalized transcript text, with competitor and product names (matched even when misheard)
replaced by `<competitor>` and `<product>` first, so one pattern covers every competitor.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

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
    # what a sentence must hold for the examples alone to fire this rule (any one pattern): a
    # competitor objection names an alternative, whatever it sounds like ("set us up with the
    # trial" sits next to "we're halfway through a trial with someone else")
    examples_require: list[str] = Field(default_factory=list)
    # a knowledge-base query for the workspace's own facts this tip needs (its pilot, discounts,
    # entry plan...): the best matching sentence is added to the tip, citing its document
    facts: str | None = None
    _compiled: list[re.Pattern[str]] = PrivateAttr(default_factory=list)
    _excluded: list[re.Pattern[str]] = PrivateAttr(default_factory=list)
    _required: list[re.Pattern[str]] = PrivateAttr(default_factory=list)

    def compile(self, where: str) -> list[str]:
        """Compile the patterns; returns one message per bad one (empty when all are good)."""
        problems: list[str] = []
        compiled: dict[str, list[re.Pattern[str]]] = {"patterns": [], "exclude": [], "examples_require": []}
        for name, patterns in (
            ("patterns", self.patterns),
            ("exclude", self.exclude),
            ("examples_require", self.examples_require),
        ):
            for i, pattern in enumerate(patterns):
                try:
                    compiled[name].append(re.compile(pattern))
                except re.error as e:
                    problems.append(f"{where}.{name}[{i}]: bad regular expression ({e})")
        self._compiled, self._excluded = compiled["patterns"], compiled["exclude"]
        self._required = compiled["examples_require"]
        return problems

    def applies_to(self, speaker: str | None) -> bool:
        # mono calls have no rep/customer split: every rule applies
        return speaker not in ("rep", "customer") or speaker in self.speakers

    def excluded(self, text: str) -> bool:
        """Whether an exclusion pattern vetoes this rule on normalized `text`."""
        return any(p.search(text) for p in self._excluded)

    def examples_may_fire(self, text: str) -> bool:
        """Whether normalized `text` holds what `examples_require` asks for (True without it)."""
        return not self._required or any(p.search(text) for p in self._required)

    def match(self, text: str) -> tuple[int, str] | None:
        """(index, matched words) of the first pattern matching normalized `text`, unless an
        exclusion vetoes it."""
        if self.excluded(text):
            return None
        for i, pattern in enumerate(self._compiled):
            hit = pattern.search(text)
            if hit:
                return i, hit.group(0).strip()
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
    # a higher bar for a kind whose examples sit near ordinary talk ("how long have you been
    # around?" is near the customer telling how long it has been in business)
    kind_thresholds: dict[str, float] = Field(default_factory=dict)
    margin: float = Field(0.0, ge=0, le=1)  # over the neutral examples' score
    rule_margin: float = Field(0.0, ge=0, le=1)  # over the runner-up rule's score
    # an objection or a signal heard in a question ("would we be tied in for a year?") by the
    # examples alone needs this much more than `threshold`: a question is the Q&A agent's to answer
    question_margin: float = Field(0.0, ge=0, le=1)
    # the kinds that defend the current setup or its cost ("what we have works", "too dear"): a
    # sentence on the complaint side of the probe between their examples and `pain_examples`
    # ("what we have is a nightmare") does not fire them (examples.py)
    pain_probe: list[str] = Field(default_factory=list)

    def threshold_for(self, kind: str) -> float:
        return self.kind_thresholds.get(kind, self.threshold)


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

    words: str = ""  # the words that matched (for the reasoning a manager reads)

    @property
    def why(self) -> str:
        """For the agent-run record: the rule's name and the words that matched."""
        return f'{self.rule.label}: heard "{self.words}"' if self.words else self.rule.label


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    objections: dict[str, Rule]
    signals: dict[str, Rule] = Field(default_factory=dict)
    tone: dict[str, Rule] = Field(default_factory=dict)
    neutral_examples: list[str] = Field(default_factory=list)
    # the customer complaining about its current tool or supplier: a pain, never an objection
    pain_examples: list[str] = Field(default_factory=list)
    matching: Matching = Field(default_factory=Matching)
    nudges: Nudges

    @classmethod
    def load(cls, path: Path) -> Playbook:
        """The playbook in the YAML file at `path` (PlaybookError naming the bad triggers)."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise PlaybookError(f"playbook {path}: {e}", []) from e
        try:
            return parse_playbook(text)
        except PlaybookError as e:
            raise PlaybookError(f"playbook {path}: {e}", e.problems) from e

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
            hit = rule.match(prepared)
            if hit is not None:
                found.append(Detection(kind, rule, hit[0], hit[1]))
        return found


class PlaybookError(ConfigError):
    """A playbook that cannot be used; `problems` lists each bad trigger by its path."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "playbook"


def parse_playbook(source: str | Mapping[str, Any]) -> Playbook:
    """A validated, compiled Playbook from YAML text or an already parsed dict.

    Raises PlaybookError whose message and `problems` name every bad trigger, e.g.
    "objections.price.patterns[3]: bad regular expression (missing ), unterminated subpattern
    at position 4)" or "signals.buying.tips: List should have at least 1 item".
    """
    if isinstance(source, str):
        try:
            raw = yaml.safe_load(source)
        except yaml.YAMLError as e:
            raise PlaybookError(f"not valid YAML: {e}", [f"yaml: {e}"]) from e
    else:
        raw = source
    if not isinstance(raw, Mapping):
        raise PlaybookError("a playbook is a mapping with objections, signals, tone and nudges", ["playbook"])
    try:
        playbook = Playbook.model_validate(raw)
    except ValidationError as e:
        problems = [f"{_where(err['loc'])}: {err['msg']}" for err in e.errors()]
        raise PlaybookError("; ".join(problems), problems) from e
    problems = []
    for kind, rule in playbook.rules():
        family, _, key = kind.partition(".")
        section = {"objection": "objections", "signal": "signals"}.get(family, family)
        problems += rule.compile(f"{section}.{key}")
    if problems:
        raise PlaybookError("; ".join(problems), problems)
    return playbook


class PlaybookProvider(Protocol):
    """Where the coach gets a tenant's playbook (asked once per transcript block)."""

    async def for_tenant(self, tenant_id: str) -> Playbook: ...


def prepare(text: str, entities: Sequence[EntityMatch], competitors: frozenset[str]) -> str:
    """Normalized text with entity mentions replaced by <competitor> / <product>."""
    for match in sorted(entities, key=lambda m: -len(m.surface)):
        token = COMPETITOR_TOKEN if match.name in competitors else PRODUCT_TOKEN
        words = [re.escape(w) for w in match.surface.split()]
        text = re.sub(r"\b" + r"[\s-]+".join(words) + r"\b", f" {token} ", text, flags=re.I)
    return normalize(text)


class PlaybookSource:
    """The current playbook of a file, re-read when the file changes (checked every few s),
    the same for every tenant (a PlaybookProvider)."""

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

    async def for_tenant(self, tenant_id: str) -> Playbook:
        return self.current()
