"""CRM sync: a finished call -> written to the HubSpot and Salesforce stand-ins, with a 429
(Retry-After: 1) and a 503 in the way of each, through the real clients, service and worker
on SQLite. Prints seconds from end-of-call to both syncs done, and the objects written."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import percentile  # noqa: E402
from tests.fakes.crm_stub import Fault  # noqa: E402
from tests.integration.crm_support import (  # noqa: E402
    ACTION_ITEMS,
    all_status,
    crm_world,
    finished_call,
    running,
    seed_customer,
)


async def main(rounds: int) -> None:
    seconds: list[float] = []
    exact = 0
    with tempfile.TemporaryDirectory() as tmp:
        async with crm_world(f"sqlite+aiosqlite:///{tmp}/bench.db") as crms:
            seed_customer(crms)
            async with running(crms.worker()):
                for i in range(rounds):
                    tenant, call_id = await finished_call(crms.store, name=f"rep{i}")
                    await crms.connect("hubspot", tenant)
                    await crms.connect("salesforce", tenant)
                    for fake in (crms.hubspot, crms.salesforce):
                        fake.fail_next(Fault(429, retry_after="1"), Fault(503))
                    notes, sf_tasks = len(crms.hubspot.created("notes")), len(crms.salesforce.tasks())
                    t0 = time.perf_counter()
                    await crms.service.after_call(tenant_id=tenant, call_id=call_id)
                    await crms.wait(tenant, call_id, all_status("done"))
                    seconds.append(time.perf_counter() - t0)
                    written = (
                        len(crms.hubspot.created("notes")) - notes,
                        len(crms.salesforce.tasks()) - sf_tasks,
                    )
                    exact += written == (1, 1 + len(ACTION_ITEMS))
                    print(
                        f"call {i}: {seconds[-1]:.2f} s, HubSpot notes +{written[0]}, "
                        f"Salesforce tasks +{written[1]}"
                    )
    print(
        f"crm_sync_seconds_p50={percentile(seconds, 0.5):.2f} max={max(seconds):.2f} "
        f"exactly_once={exact}/{rounds} (target < 10 s, exactly once)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
