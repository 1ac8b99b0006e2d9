"""A live call's insight delay while the server is under attack, against the same without.

The sample call is streamed at real-time pace through the embedded default (as
bench/audio_to_insight.py does) twice on one server: once quietly, once while an attacker on
the same machine sends, in a loop bounded by count and time, PDF bombs and 10 MB text files
to the knowledge base, bursts of 40 concurrent wrong passwords, 25 simultaneous sign-ups,
cross-origin writes and a socket flood. Every attack answer is counted by status code; the
last line compares insight p50/p95 with and without the attack.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import socketio
from _common import DEMO_WAV, percentile
from audio_to_insight import TRIGGERS, latencies_of

from tests.fakes.hostile import pdf_bomb, text_bomb
from tests.server import running_server
from wingman.demo import run_demo
from wingman.settings import Settings

ATTACK_SECONDS = 90.0  # longer than the sample call: the whole call is under attack


async def _attack(url: str, stop: threading.Event, answers: Counter[str]) -> None:
    bomb, big = pdf_bomb(), text_bomb(10)
    deadline = time.monotonic() + ATTACK_SECONDS
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:

        async def post(kind: str, path: str, **kwargs: object) -> None:
            try:
                r = await http.post(path, **kwargs)  # type: ignore[arg-type]
                answers[f"{kind} {r.status_code}"] += 1
            except httpx.HTTPError as e:
                answers[f"{kind} {type(e).__name__}"] += 1

        async def uploads() -> None:
            for i in range(40):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                data, name = (bomb, f"bomb-{i}.pdf") if i % 2 == 0 else (big, f"big-{i}.txt")
                await post("upload", "/api/knowledge", files={"file": (name, data)})

        async def logins() -> None:
            for _ in range(20):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                email = f"victim-{uuid.uuid4().hex[:6]}@example.com"
                await asyncio.gather(*(post("login", "/api/auth/login",
                                            json={"email": email, "password": f"guess {i}"})
                                       for i in range(40)))
                await asyncio.gather(*(post("signup", "/api/auth/register",
                                            json={"email": f"s-{uuid.uuid4().hex[:8]}@example.com",
                                                  "password": "correct horse battery"})
                                       for _ in range(25)))
                await post("cross-origin", "/api/knowledge", headers={"Origin": "https://evil.example"},
                           files={"file": ("card.md", b"# Battlecard\n\nplanted")})
                await asyncio.sleep(1.0)

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

        await asyncio.gather(uploads(), logins(), sockets())


def _run_call(url: str) -> dict[int, float]:
    result = asyncio.run(run_demo(url=url, audio=DEMO_WAV, speed=1.0, title="bench", sample_data=True))
    return latencies_of(result)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, running_server(
        Settings(data_dir=Path(tmp), auth="local")
    ) as url:
        quiet = _run_call(url)
        stop, answers = threading.Event(), Counter[str]()
        attacker = threading.Thread(target=lambda: asyncio.run(_attack(url, stop, answers)), daemon=True)
        attacker.start()
        attacked = _run_call(url)
        stop.set()
        attacker.join(120)
    for kind, count in sorted(answers.items()):
        print(f"attack answers: {kind}: {count}")
    q, a = list(quiet.values()), list(attacked.values())
    n = len(TRIGGERS)
    print(f"insights for {len(q)}/{n} trigger utterances quiet, {len(a)}/{n} under attack")
    print(f"attack_insight_p50_s={percentile(a, 0.5):.2f} p95={percentile(a, 0.95):.2f} "
          f"quiet_p50_s={percentile(q, 0.5):.2f} p95={percentile(q, 0.95):.2f} "
          f"missed={len(TRIGGERS) - len(a)}")


if __name__ == "__main__":
    main()
