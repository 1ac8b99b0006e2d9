"""Per-workspace playbooks: the shipped template until a manager saves one, then versions in the
directory database (store/playbooks.py), each validated by `parse_playbook` before it is
stored, with who changed what.

`WorkspacePlaybooks` is the coach's `PlaybookProvider`. For every transcript block it returns
the workspace's playbook in force: a cached, compiled copy, re-validated against the newest
version number at most every `check_seconds` (one indexed query per workspace), so a save on
any node reaches every agent worker within that time and applies from the next block, without
a restart. A save through this object drops its own cache at once. When the database cannot be
read the last known playbook (or the template) is used: a live call never waits on it.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from wingman.agents.playbook import Playbook, PlaybookError, PlaybookSource, parse_playbook
from wingman.errors import BadInput, NotFound
from wingman.store.records import PlaybookVersionRecord

log = logging.getLogger(__name__)

MAX_CACHED = 1_000
FAMILIES = ("objections", "signals", "tone")
# a rule's key becomes the tip's kind ("objection.<key>"), filtered on and counted per key
RULE_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")


class InvalidPlaybook(BadInput):
    """A playbook that does not parse: `problems` names each bad trigger; nothing was saved."""

    def __init__(self, error: PlaybookError) -> None:
        super().__init__(f"the playbook was not saved: {error}", code="invalid_playbook")
        self.problems = list(error.problems) or [str(error)]


class VersionStore(Protocol):
    """The Store methods playbooks use (wingman.store.repos.Store has them)."""

    async def playbook_head(self, *, workspace_id: str) -> int: ...

    async def playbook_version(
        self, *, workspace_id: str, version: int | None = None
    ) -> PlaybookVersionRecord | None: ...

    async def save_playbook_version(
        self,
        *,
        workspace_id: str,
        content: str,
        changes: str,
        author_id: str | None,
        author_name: str,
        base_version: int,
        restored_from: int | None = None,
    ) -> PlaybookVersionRecord: ...


@dataclass(frozen=True)
class Current:
    """The playbook in force for a workspace: version 0 is the shipped template."""

    version: int
    content: dict[str, Any]
    record: PlaybookVersionRecord | None


def editor_problems(content: Mapping[str, Any]) -> list[str]:
    """What the parser accepts but a saved playbook must not have: a rule key that is not a
    lower-case word (it becomes the tip's kind) and a rule with no trigger phrase and no
    example sentence (it could never fire)."""
    problems: list[str] = []
    for family in FAMILIES:
        rules = content.get(family)
        if not isinstance(rules, Mapping):
            continue
        for key, rule in rules.items():
            where = f"{family}.{key}"
            if not RULE_KEY.fullmatch(str(key)):
                problems.append(f"{where}: a rule key is lower-case letters, digits and _ (at most 40)")
            if isinstance(rule, Mapping) and not rule.get("patterns") and not rule.get("examples"):
                problems.append(f"{where}: add a trigger phrase or an example sentence, or it never fires")
    return problems


def canonical(playbook: Playbook) -> dict[str, Any]:
    """The playbook as the JSON-able dict that is stored and served (defaults filled in)."""
    return playbook.model_dump(mode="json")


def describe_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """What changed, trigger by trigger: "objections.price: tips, examples; signals.demo: added"."""
    parts: list[str] = []
    for family in FAMILIES:
        old, new = before.get(family) or {}, after.get(family) or {}
        for key in sorted(set(old) | set(new)):
            where = f"{family}.{key}"
            if key not in old:
                parts.append(f"{where}: added")
            elif key not in new:
                parts.append(f"{where}: removed")
            else:
                fields = [
                    f for f in sorted(set(old[key]) | set(new[key])) if old[key].get(f) != new[key].get(f)
                ]
                if fields:
                    parts.append(f"{where}: {', '.join(fields)}")
    for section in sorted((set(before) | set(after)) - set(FAMILIES)):
        if before.get(section) != after.get(section):
            parts.append(f"{section}: changed")
    return "; ".join(parts) or "no change"


class WorkspacePlaybooks:
    """Each workspace's playbook: read (cached, version-checked), saved, restored."""

    def __init__(
        self,
        *,
        store: VersionStore,
        template: PlaybookSource,
        check_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._template = template
        self.check_seconds = check_seconds
        self._clock = clock
        # workspace -> (checked at, version, compiled playbook)
        self._cache: dict[str, tuple[float, int, Playbook]] = {}

    def template_content(self) -> dict[str, Any]:
        """The shipped template every workspace starts from."""
        return canonical(self._template.current())

    # -- PlaybookProvider
    async def for_tenant(self, tenant_id: str) -> Playbook:
        """The playbook in force for workspace `tenant_id` (the template until one is saved)."""
        if not tenant_id:
            return self._template.current()
        now = self._clock()
        cached = self._cache.get(tenant_id)
        if cached is not None and now - cached[0] < self.check_seconds:
            return cached[2]
        try:
            head = await self._store.playbook_head(workspace_id=tenant_id)
            if head == 0:
                playbook = self._template.current()
            elif cached is not None and cached[1] == head:
                playbook = cached[2]
            else:
                playbook = await self._load(tenant_id, head)
        except Exception as e:  # the directory is slow or away: coach with what we know
            log.warning("playbook check failed", extra={"error": type(e).__name__})
            return cached[2] if cached is not None else self._template.current()
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[tenant_id] = (now, head, playbook)
        return playbook

    async def _load(self, workspace_id: str, version: int) -> Playbook:
        record = await self._store.playbook_version(workspace_id=workspace_id, version=version)
        if record is None:
            return self._template.current()
        return parse_playbook(json.loads(record.content))

    # -- the editor
    async def current(self, workspace_id: str) -> Current:
        """The version in force and its content."""
        record = await self._store.playbook_version(workspace_id=workspace_id)
        if record is None:
            return Current(0, self.template_content(), None)
        return Current(record.version, json.loads(record.content), record)

    async def save(
        self,
        workspace_id: str,
        content: Mapping[str, Any],
        *,
        author_id: str,
        author_name: str,
        base_version: int,
        restored_from: int | None = None,
    ) -> PlaybookVersionRecord:
        """Validate and store `content` as the next version. InvalidPlaybook (nothing saved)
        naming each bad trigger; BadInput(code="conflict") when someone saved since
        `base_version`."""
        try:
            playbook = parse_playbook(content)
            problems = editor_problems(content)
            if problems:
                raise PlaybookError("; ".join(problems), problems)
        except PlaybookError as e:
            raise InvalidPlaybook(e) from None
        new = canonical(playbook)
        before = await self.current(workspace_id)
        changes = describe_changes(before.content, new)
        if restored_from is not None:
            changes = f"restored version {restored_from}: {changes}"
        record = await self._store.save_playbook_version(
            workspace_id=workspace_id,
            content=json.dumps(new, sort_keys=True),
            changes=changes,
            author_id=author_id,
            author_name=author_name,
            base_version=base_version,
            restored_from=restored_from,
        )
        self._cache.pop(workspace_id, None)  # this node: the next block already uses it
        log.info("playbook saved", extra={"workspace_id": workspace_id, "version": record.version})
        return record

    async def restore(
        self, workspace_id: str, version: int, *, author_id: str, author_name: str, base_version: int
    ) -> PlaybookVersionRecord:
        """Save an older version (0: the template) again as the newest one."""
        if version == 0:
            content: dict[str, Any] = self.template_content()
        else:
            record = await self._store.playbook_version(workspace_id=workspace_id, version=version)
            if record is None:
                raise NotFound(f"no version {version} of this playbook")
            content = json.loads(record.content)
        return await self.save(
            workspace_id,
            content,
            author_id=author_id,
            author_name=author_name,
            base_version=base_version,
            restored_from=version,
        )
