"""A live call's insight delay while the server is under attack, against the same without.

The sample call is streamed at real-time pace through the embedded default (as
bench/audio_to_insight.py does): once quietly, then once per attack kind on a fresh server
while an attacker on the same machine sends, in a loop bounded by count and time, one kind of
abuse:

- uploads: PDF bombs and 10 MB text files to the knowledge base,
- logins: bursts of 40 concurrent wrong passwords for one email,
- signups: bursts of 25 simultaneous sign-ups,
- cross-origin: cross-site writes (Origin: https://evil.example),
- sockets: a flood of 30 sockets,
- all: every kind at once (the issue's attack).

`python bench/attack.py [-v] [kind ...]` (default: each kind, then all). Every attack answer
is counted by status code; one line per kind compares insight p50/p95 with the quiet call
(each cue's tip timed from the end of the sentence that holds it, as in bench/audio_to_insight.py).
The server traces event-loop stalls over STALL_SECONDS (realtime/stalls.py): each run prints
the places the loop was stuck longest (-v: with their stacks).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import socketio
from _common import DEMO_WAV, percentile
from audio_to_insight import CUES, timings

from tests.fakes.hostile import pdf_bomb, text_bomb
from tests.server import running_server
from wingman.demo import run_demo
from wingman.settings import Settings

STALL_SECONDS = 0.15
ATTACK_SECONDS = 90.0  # longer than the sample call: the whole call is under attack
KINDS = ("uploads", "logins", "signups", "cross-origin", "sockets")


async def _attack(url: str, kinds: tuple[str, ...], stop: threading.Event, answers: Counter[str]) -> None:
    bomb, big = pdf_bomb(), text_bomb(10)
    deadline = time.monotonic() + ATTACK_SECONDS

    def going() -> bool:
        return not stop.is_set() and time.monotonic() < deadline

    async with httpx.AsyncClient(base_url=url, timeout=60) as http:

        async def post(kind: str, path: str, **kwargs: object) -> None:
            try:
                r = await http.post(path, **kwargs)  # type: ignore[arg-type]
                answers[f"{kind} {r.status_code}"] += 1
            except httpx.HTTPError as e:
                answers[f"{kind} {type(e).__name__}"] += 1

        async def rounds(burst: Callable[[], Awaitable[object]]) -> None:
            for _ in range(20):
                if not going():
                    return
                await burst()
                await asyncio.sleep(1.0)

        async def uploads() -> None:
            for i in range(40):
                if not going():
                    return
                data, name = (bomb, f"bomb-{i}.pdf") if i % 2 == 0 else (big, f"big-{i}.txt")
                await post("upload", "/api/knowledge", files={"file": (name, data)})

        async def logins() -> None:
            email = f"victim-{uuid.uuid4().hex[:6]}@example.com"
            await asyncio.gather(
                *(
                    post("login", "/api/auth/login", json={"email": email, "password": f"guess {i}"})
                    for i in range(40)
                )
            )

        async def signups() -> None:
            await asyncio.gather(
                *(
                    post(
                        "signup",
                        "/api/auth/register",
                        json={
                            "email": f"s-{uuid.uuid4().hex[:8]}@example.com",
                            "password": "correct horse battery",
                        },
                    )
                    for _ in range(25)
                )
            )

        async def cross_origin() -> None:
            await post(
                "cross-origin",
                "/api/knowledge",
                headers={"Origin": "https://evil.example"},
                files={"file": ("card.md", b"# Battlecard\n\nplanted")},
            )

        async def sockets() -> None:
            clients = []
            for _ in range(30):
                client = socketio.AsyncClient(reconnection=False)
                try:
                    await client.connect(url, transports=["websocket"], wait_timeout=10)
                    clients.append(client)
                    answers["socket connected"] += 1
                except socketio.exceptions.ConnectionError:
                    answers["socket refused"] += 1
            for client in clients:
                await client.disconnect()

        runs: dict[str, Callable[[], Awaitable[object]]] = {
            "uploads": uploads,
            "logins": lambda: rounds(logins),
            "signups": lambda: rounds(signups),
            "cross-origin": lambda: rounds(cross_origin),
            "sockets": sockets,
        }
        await asyncio.gather(*(runs[k]() for k in kinds))


def _run_call(url: str) -> list[float]:
    result = asyncio.run(run_demo(url=url, audio=DEMO_WAV, speed=1.0, title="bench", sample_data=True))
    return [t.delay for t in timings(result) if t.delay is not None and not t.early]


def _server(tmp: str) -> Settings:
    return Settings(data_dir=Path(tmp), auth="local", loop_stall_trace_seconds=STALL_SECONDS)


class _Stalls(logging.Handler):
    """The server's "event loop stalled" records (it runs in this process)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.sites: dict[str, list[float]] = {}
        self.stacks: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        where = str(getattr(record, "where", "?"))
        self.sites.setdefault(where, []).append(float(getattr(record, "seconds", 0.0)))
        self.stacks.setdefault(where, str(getattr(record, "stack", "")))

    def __enter__(self) -> _Stalls:
        logging.getLogger("wingman.realtime.stalls").addHandler(self)
        return self

    def __exit__(self, *_: object) -> None:
        logging.getLogger("wingman.realtime.stalls").removeHandler(self)

    def print(self, label: str, *, stacks: bool) -> None:
        ranked = sorted(self.sites.items(), key=lambda item: -sum(item[1]))
        total = sum(sum(v) for v in self.sites.values())
        print(
            f"{label}: loop stalls over {STALL_SECONDS} s: {sum(len(v) for v in self.sites.values())}, "
            f"{total:.2f} s in all, longest {max((max(v) for v in self.sites.values()), default=0):.2f} s"
        )
        for where, seconds in ranked[:6]:
            print(f"  {sum(seconds):6.2f} s in {len(seconds):3d} stalls, max {max(seconds):.2f} s: {where}")
            if stacks:
                print("    " + self.stacks[where].replace("\n", "\n    "))


def _attacked(kinds: tuple[str, ...], stalls: _Stalls) -> tuple[list[float], Counter[str]]:
    with stalls, tempfile.TemporaryDirectory() as tmp, running_server(_server(tmp)) as url:
        stop, answers = threading.Event(), Counter[str]()
        attacker = threading.Thread(
            target=lambda: asyncio.run(_attack(url, kinds, stop, answers)), daemon=True
        )
        attacker.start()
        latencies = _run_call(url)
        stop.set()
        attacker.join(120)
    return latencies, answers


def main() -> None:
    args = sys.argv[1:]
    verbose = "-v" in args
    wanted = tuple(a for a in args if a != "-v") or (*KINDS, "all")
    unknown = set(wanted) - {*KINDS, "all"}
    if unknown:
        raise SystemExit(f"unknown attack kinds {sorted(unknown)}; choose from {', '.join(KINDS)}, all")
    quiet_stalls = _Stalls()
    with quiet_stalls, tempfile.TemporaryDirectory() as tmp, running_server(_server(tmp)) as url:
        quiet = _run_call(url)
    n = len(CUES)
    print(f"quiet: tips for {len(quiet)}/{n} cues, p50 {percentile(quiet, 0.5):.2f} s", flush=True)
    quiet_stalls.print("quiet", stacks=verbose)
    for kind in wanted:
        stalls = _Stalls()
        a, answers = _attacked(KINDS if kind == "all" else (kind,), stalls)
        print(f"{kind}: answers " + ", ".join(f"{k}: {c}" for k, c in sorted(answers.items())))
        print(
            f"attack={kind} attack_insight_p50_s={percentile(a, 0.5):.2f} p95={percentile(a, 0.95):.2f} "
            f"quiet_p50_s={percentile(quiet, 0.5):.2f} p95={percentile(quiet, 0.95):.2f} "
            f"missed={n - len(a)} load1={os.getloadavg()[0]:.1f}",
            flush=True,
        )
        stalls.print(kind, stacks=verbose)


if __name__ == "__main__":
    main()
