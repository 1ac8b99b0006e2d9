"""Adding a shard does not move any tenant: every tenant's shard is written down when it
signs up (and `wingman shards pin` writes it for tenants from before), so the new hash of
`crc32 % n` never sends a tenant's reads to a shard without its history."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete

from wingman.settings import Settings
from wingman.store.models import TenantPlacement
from wingman.store.placement import pin_all
from wingman.store.repos import Store
from wingman.store.routing import shard_for


def _store(tmp: Path, names: list[str]) -> Store:
    shards = {n: f"sqlite+aiosqlite:///{tmp / f'{n}.db'}" for n in names}
    return Store.from_settings(Settings(data_dir=tmp, database_shards=shards, placement_cache_seconds=0))


async def test_adding_a_shard_moves_no_tenant(tmp_path: Path) -> None:
    two = _store(tmp_path, ["a", "b"])
    await two.migrate()
    users = [await two.create_user(email=f"u{i}@example.com", name="u", password_hash=None)
             for i in range(12)]
    homes = {u.id: (await two.placements.of(u.id)).shard for u in users}
    # half of them are "from before pinning": their rows gone, as on an older version
    async with two.router.directory().begin() as conn:
        old = [u.id for u in users[:6]]
        await conn.execute(delete(TenantPlacement).where(TenantPlacement.workspace_id.in_(old)))
    assert await pin_all(two.router) == 6
    assert await pin_all(two.router) == 0
    await two.aclose()
    three = _store(tmp_path, ["a", "b", "c"])
    await three.migrate()
    try:
        moved = [u.id for u in users if shard_for(u.id, ["a", "b", "c"]) != homes[u.id]]
        assert moved, "the new hash moves some tenants: the test needs one"
        for user in users:
            assert (await three.placements.of(user.id)).shard == homes[user.id]
    finally:
        await three.aclose()
