"""Per-workspace playbook versions (directory database): every save is a new numbered version
with its author and what changed; the newest is in force; restoring copies an old one forward.

Validation is not done here: the caller (playbook/service.py) parses the playbook first and
stores only what parsed. Two saves racing for the same version number: the second gets
BadInput(code="conflict") and changes nothing.
"""

from __future__ import annotations

from sqlalchemy import exc, func, select

from wingman.errors import BadInput
from wingman.events import new_id
from wingman.store.core import StoreCore
from wingman.store.models import PlaybookVersion
from wingman.store.records import PlaybookVersionRecord

MAX_VERSIONS_LISTED = 200


class PlaybookStore(StoreCore):
    """Playbook versions (part of `Store`)."""

    async def playbook_head(self, *, workspace_id: str) -> int:
        """The number of the workspace's newest playbook version (0: none saved yet). One
        indexed query: what agent workers check before each block."""
        async with self._tx(self._router.directory_fresh()) as s:
            found = await s.scalar(
                select(func.max(PlaybookVersion.version)).where(PlaybookVersion.workspace_id == workspace_id)
            )
        return int(found or 0)

    async def playbook_version(
        self, *, workspace_id: str, version: int | None = None
    ) -> PlaybookVersionRecord | None:
        """Version `version` of the workspace's playbook (the newest when None), or None."""
        query = select(PlaybookVersion).where(PlaybookVersion.workspace_id == workspace_id)
        if version is None:
            query = query.order_by(PlaybookVersion.version.desc()).limit(1)
        else:
            query = query.where(PlaybookVersion.version == version)
        async with self._tx(self._router.directory_fresh()) as s:
            row = await s.scalar(query)
            return PlaybookVersionRecord.model_validate(row) if row is not None else None

    async def list_playbook_versions(self, *, workspace_id: str) -> list[PlaybookVersionRecord]:
        """The workspace's versions, newest first (content included)."""
        async with self._tx(self._router.directory_fresh()) as s:
            rows = await s.scalars(
                select(PlaybookVersion)
                .where(PlaybookVersion.workspace_id == workspace_id)
                .order_by(PlaybookVersion.version.desc())
                .limit(MAX_VERSIONS_LISTED)
            )
            return [PlaybookVersionRecord.model_validate(r) for r in rows]

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
    ) -> PlaybookVersionRecord:
        """Store `content` as version `base_version + 1`. BadInput(code="conflict") when
        someone saved another version since `base_version` was read."""
        row = PlaybookVersion(
            id=new_id(),
            workspace_id=workspace_id,
            version=base_version + 1,
            content=content,
            changes=changes,
            author_id=author_id,
            author_name=author_name[:200],
            restored_from=restored_from,
            created_at=self._clock(),
        )
        try:
            async with self._tx(self._router.directory()) as s:
                head = int(
                    await s.scalar(
                        select(func.max(PlaybookVersion.version)).where(
                            PlaybookVersion.workspace_id == workspace_id
                        )
                    )
                    or 0
                )
                if head != base_version:
                    raise BadInput(
                        f"the playbook changed meanwhile (now version {head}): reload and edit again",
                        code="conflict",
                    )
                s.add(row)
                await s.flush()
                return PlaybookVersionRecord.model_validate(row)
        except exc.IntegrityError as e:
            raise BadInput("the playbook changed meanwhile: reload and edit again", code="conflict") from e
