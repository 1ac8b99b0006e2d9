"""Load: N simulated callers stream real speech at real-time pace through nginx to the cluster.

    .venv/bin/python bench/load.py                 # 100 calls, Deepgram stand-in, own cluster
    .venv/bin/python bench/load.py --calls 20 --seconds 30
    .venv/bin/python bench/load.py --local-capacity  # how many calls local speech carries live

It starts the org-size stack with deploy/cluster (nginx, 2 gateways, 2 agent workers, Kafka
protocol broker, Redis, PostgreSQL primary + replica + shard behind PgBouncer), points the
Deepgram provider at a loopback stand-in that speaks Deepgram's live protocol and answers with
the sample call's scripted timeline (tests/fakes/deepgram_server.py), and streams the sample call
(stereo: rep, customer) from every caller. Measured:
- end of utterance -> final transcript and -> insight, p50/p95/p99 (from when the audio of the
  utterance's end was due to be sent, to when the event reached the caller);
- the same events timed from the emit of the chunk holding their audio end (a final's `end`, an
  insight's `audio_end`), on the bench's clock: each caller reports these (`latency-report`),
  and the run prints them beside /metrics' client-reported histograms (what the callers
  measured: agreement there checks the report path and bucket resolution) and beside the
  gateways' own audio -> client histograms (what the server measured: it cannot see the
  socket legs nor the bench's own loop);
- errors (refused connects and start-calls, `error` events, failed end-calls) and lost events:
  finals and insights the store saved for a call that its caller never received (and finals
  received but never saved), plus scripted utterances with no final at all;
- gateway event-loop lag, measured inside each gateway (a sleep-drift sampler every 0.1 s,
  src/wingman/realtime/lag.py) and read from its GET /api/health every 0.5 s, with the round
  trip of that request; the bench's own loop lag is printed too, since it delays when events
  are seen;
- calls refused with `busy` (admission control: WINGMAN_MAX_CALLS_PER_NODE and
  WINGMAN_MAX_LOOP_LAG_SECONDS, passed through to the gateways): such a caller waits the
  retry_after it was given and tries again through the load balancer (another node, maybe);
- CPU of every cluster process (psutil, children included) per call.
Before measuring, `--warm-up` short calls (default 4) take the agent workers through their
one-time start-up (embedding the playbook examples and the tenant's knowledge base), so the
figures are the steady state. The last line is one comparable figure plus its context.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil  # noqa: E402
import socketio  # noqa: E402
from _common import DEMO_WAV, ROOT, demo_script, percentile, word_set  # noqa: E402
from _scrape import Histogram, delta, pick, scrape_all  # noqa: E402

CLUSTER = ROOT / "deploy" / "cluster"
TRIGGERS = (4, 6, 8, 10, 12, 13, 15)  # utterances that must raise a tip (see audio_to_insight)
CHUNK_SECONDS = 0.1
REPORT_EVERY = 5.0  # seconds between a caller's latency-reports (the gateway allows 1 per 2 s)
REPORT_BATCH = 50  # delays per list in one report, at most (messages.py MAX_SAMPLES_PER_REPORT)
MAX_REPORTED = 120.0  # longer waits are reported as this (messages.py MAX_CLIENT_LATENCY_SECONDS)
STAND_IN = "deepgram-stand-in"  # measured, but not part of the cluster


# -- one caller ----------------------------------------------------------------------------

@dataclass
class Received:
    event: str
    data: dict[str, Any]
    at: float


@dataclass
class Caller:
    """One simulated rep: streams 16-bit PCM over Socket.IO at `speed` x real time, exactly as
    the web app does. When the socket drops mid-call it reconnects (through the load balancer,
    so possibly to another node), resumes with start-call {call_id} and sends the audio from where
    the server says it has it (the ack's audio_seconds: chunks in flight when a node died are sent
    again, none twice) up to what was recorded meanwhile: the call goes on."""

    url: str
    frames: bytes
    rate: int
    channels: int
    title: str = "load call"
    cookie: str | None = None  # nginx's sticky cookie: spreads loopback callers over the nodes
    token: str | None = None
    speed: float = 1.0
    call_id: str = ""
    events: list[Received] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ended: dict[str, Any] = field(default_factory=dict)
    resumes: int = 0
    refusals: int = 0  # start-calls refused `busy` (admission control), then retried
    disconnects: int = 0
    disconnect_reasons: list[str] = field(default_factory=list)
    stream_started_at: float = 0.0
    position: float = 0.0  # seconds of audio handed to the socket so far
    end_sent_at: float = float("inf")  # when end-call went out: later finals are not live

    def __post_init__(self) -> None:
        self._ready = asyncio.Event()
        self._sent = 0  # bytes of `frames` handed to the socket
        self._recorded = 0  # bytes of `frames` "recorded" so far (real-time pace)
        self._step = int(self.rate * CHUNK_SECONDS) * self.channels * 2
        self._sending = asyncio.Lock()  # one sender at a time: the stream loop or a resume
        self._marks: list[tuple[float, asyncio.Event]] = []
        self.sent_log: list[tuple[int, float]] = []  # (end byte of a chunk, when it was emitted)
        self._tasks: set[asyncio.Task[None]] = set()
        # what this caller measured (same span as the gateway's audio -> client histograms: from
        # the emit of the chunk holding the event's audio end), and what it reported of it
        self.measured: dict[str, list[float]] = {"transcript": [], "insight": []}
        self._pending: dict[str, list[float]] = {"transcript": [], "insight": []}
        self._timed: set[str] = set()
        self._last_report = time.monotonic()
        self.reported = 0  # delays the gateway accepted
        # latency-report batches sent and not yet acked, by batch id: kept until the gateway
        # acks them and sent again after a resume (it records a batch id once per call)
        self._unacked: dict[str, dict[str, Any]] = {}
        self._batches = 0
        self.report_refusals: list[str] = []
        # the server of the current connection takes `received` acks (start-call's features)
        self.acks_taken = False
        self.sio = socketio.AsyncClient(reconnection=True, reconnection_attempts=0,
                                        reconnection_delay=0.2, reconnection_delay_max=1.0)
        for name in ("transcript", "insight", "metrics", "error", "call-ended",
                     "provider-status"):
            self.sio.on(name, self._recorder(name))
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)

    # -- what came back
    def of(self, event: str) -> list[Received]:
        return [e for e in self.events if e.event == event]

    def finals(self) -> dict[str, Received]:
        """Final transcripts by id (first arrival)."""
        out: dict[str, Received] = {}
        for e in self.of("transcript"):
            if e.data.get("is_final") and e.data.get("id") not in out:
                out[str(e.data.get("id"))] = e
        return out

    def wall_time_of(self, audio_seconds: float) -> float:
        return self.stream_started_at + audio_seconds / self.speed

    def sent_time_of(self, audio_seconds: float) -> float | None:
        """When the chunk holding the audio at `audio_seconds` was first emitted: where the
        gateway's own audio -> client histograms start (the speech engine takes that chunk)."""
        wanted = int(audio_seconds * self.rate) * self.channels * 2
        return next((at for end, at in self.sent_log if end >= wanted), None)

    def reached(self, audio_seconds: float) -> asyncio.Event:
        """An event set once `audio_seconds` of audio have been sent."""
        mark = asyncio.Event()
        self._marks.append((audio_seconds, mark))
        return mark

    # -- socket
    def _recorder(self, name: str) -> Any:
        async def handler(data: Any = None) -> None:
            payload = data if isinstance(data, dict) else {"value": data}
            at = time.monotonic()
            self.events.append(Received(name, payload, at))
            if name in ("transcript", "insight"):
                await self._ack(name, payload, at)
                await self._time(name, payload, at)
            if name == "error" and payload.get("code") != "busy":  # busy: counted as refusals
                self.errors.append(f"error event {payload.get('code')}: {payload.get('message')}")
        return handler

    async def _ack(self, name: str, payload: dict[str, Any], at: float) -> None:
        """`received` for a final or an insight (not interims), as the web app sends it, to a
        gateway that takes them: it times it on its own clock (the call's gateway, by the
        insight's audio_end; wingman_acked_audio_to_client_seconds), less `held`, this
        caller's delay since the event arrived at `at`."""
        if not self.acks_taken or at >= self.end_sent_at:  # live events only, as the web app
            return
        if name == "transcript" and not (payload.get("is_final") and payload.get("text")):
            return
        if isinstance(payload.get("id"), str):
            ack: dict[str, Any] = {"event": name, "id": payload["id"]}
            if name == "insight" and isinstance(payload.get("audio_end"), int | float):
                ack["audio_end"] = payload["audio_end"]
            ack["held"] = round(max(0.0, time.monotonic() - at), 4)
            with contextlib.suppress(socketio.exceptions.SocketIOError):
                await self.sio.emit("received", ack)

    def _took(self, ack: Any) -> None:
        """start-call's answer: does this connection's gateway take `received` acks?"""
        self.acks_taken = isinstance(ack, dict) and "received" in (ack.get("features") or ())

    async def _time(self, name: str, payload: dict[str, Any], at: float) -> None:
        """Time a live final or insight, the first time it arrives, from the emit of the chunk
        holding its audio end (a final's `end`, an insight's `audio_end`); report in batches."""
        if name == "transcript" and not (payload.get("is_final") and payload.get("text")):
            return
        end = payload.get("end") if name == "transcript" else payload.get("audio_end")
        key = f"{name}:{payload.get('id')}"
        if not isinstance(end, int | float) or key in self._timed or at >= self.end_sent_at:
            return
        sent = self.sent_time_of(float(end))
        if sent is None:
            return
        self._timed.add(key)
        waited = at - sent
        self.measured[name].append(waited)
        self._pending[name].append(round(min(MAX_REPORTED, max(0.0, waited)), 4))
        if (at - self._last_report >= REPORT_EVERY
                or max(len(v) for v in self._pending.values()) >= REPORT_BATCH):
            await self.report_latency()

    async def report_latency(self) -> None:
        """Send what was measured and not yet reported (latency-report; refusals are kept)."""
        self._last_report = time.monotonic()
        batch = {k: v[:REPORT_BATCH] for k, v in self._pending.items()}
        if not any(batch.values()) or not self._ready.is_set():
            return
        self._pending = {k: v[REPORT_BATCH:] for k, v in self._pending.items()}
        self._batches += 1
        batch_id = f"b{self._batches}"
        self._unacked[batch_id] = {"client": "bench", "batch": batch_id, **batch}
        await self._send_report(batch_id)

    async def _send_report(self, batch_id: str) -> None:
        def answered(ack: Any = None) -> None:
            if isinstance(ack, dict) and ack.get("ok"):
                self._unacked.pop(batch_id, None)
                self.reported += int(ack.get("accepted", 0))
            else:
                error = ack.get("error") if isinstance(ack, dict) else None
                self.report_refusals.append(str(error.get("code") if isinstance(error, dict) else ack))

        with contextlib.suppress(socketio.exceptions.SocketIOError):
            await self.sio.emit("latency-report", self._unacked[batch_id], callback=answered)

    def _start_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"title": self.title, "sample_rate": self.rate,
                                   "encoding": "s16le", "channels": self.channels}
        if self.call_id:
            payload["call_id"] = self.call_id
        return payload

    async def _on_connect(self) -> None:
        if self.call_id:  # a reconnect: resume from a task (acks arrive on this very loop)
            task = asyncio.get_running_loop().create_task(self._resume())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _on_disconnect(self, *reason: Any) -> None:
        self._ready.clear()
        self.acks_taken = False
        self.disconnects += 1
        self.disconnect_reasons.append(str(reason[0]) if reason else "?")

    async def _resume(self) -> None:
        try:
            ack = await self.sio.call("start-call", self._start_payload(), timeout=15)
        except Exception as exc:  # noqa: BLE001 - recorded, the call goes on reconnecting
            self.errors.append(f"resume failed: {exc!r}")
            return
        if isinstance(ack, dict) and ack.get("call_id") == self.call_id:
            self.resumes += 1
            self._took(ack)
            has = ack.get("audio_seconds")
            async with self._sending:
                if isinstance(has, int | float):  # rewind to what the server really has
                    frame = self.channels * 2
                    self._sent = min(self._recorded, int(has * self.rate) * frame)
                self._ready.set()
            await self._flush()
            for batch_id in list(self._unacked):  # lost with the old socket, or refused
                await self._send_report(batch_id)
        else:
            self.errors.append(f"resume refused: {ack}")

    async def _flush(self) -> None:
        async with self._sending:
            while self._sent < self._recorded and self._ready.is_set():
                end = min(self._sent + self._step, self._recorded)
                try:
                    await self.sio.emit("audio-chunk", self.frames[self._sent:end])
                except socketio.exceptions.SocketIOError:
                    self._ready.clear()
                    return
                self._sent = end
                self.sent_log.append((end, time.monotonic()))

    async def run(self, *, seconds: float | None = None, tail: float = 3.0,
                  end_call: bool = True) -> None:
        ack = await self._start()
        try:
            if not isinstance(ack, dict) or "call_id" not in ack:
                raise RuntimeError(f"start-call refused: {ack}")
            self.call_id = str(ack["call_id"])
            self._took(ack)
            self._ready.set()
            await self._stream(seconds)
            await asyncio.sleep(tail)
            if end_call:
                await asyncio.wait_for(self._ready.wait(), 30)
                await self.report_latency()  # while the call is live: reports need one
                self.end_sent_at = time.monotonic()
                ended = await self.sio.call("end-call", {"call_id": self.call_id}, timeout=90)
                self.ended = ended if isinstance(ended, dict) else {}
                if "error" in self.ended:
                    self.errors.append(f"end-call: {self.ended['error']}")
        finally:
            await self.sio.disconnect()

    async def _start(self, retries: int = 5) -> Any:
        """Connect and start-call; a node that answers `busy` is left and the call tried again
        through the load balancer (a fresh sticky cookie) after the retry_after it gave."""
        for attempt in range(retries + 1):
            headers = {"Cookie": f"wingman_sticky={self.cookie}"} if self.cookie else {}
            await self.sio.connect(self.url, headers=headers, transports=["websocket"],
                                   auth={"token": self.token} if self.token else {},
                                   wait_timeout=15)
            ack = await self.sio.call("start-call", self._start_payload(), timeout=30)
            error = ack.get("error") if isinstance(ack, dict) else None
            if not isinstance(error, dict) or error.get("code") != "busy" or attempt == retries:
                return ack
            self.refusals += 1
            await self.sio.disconnect()
            self.cookie = uuid.uuid4().hex
            await asyncio.sleep(float(error.get("retry_after") or 1.0))
        return None

    async def _stream(self, seconds: float | None) -> None:
        step = self._step
        total = len(self.frames) if seconds is None else min(
            len(self.frames), int(seconds * self.rate) * self.channels * 2)
        self.stream_started_at = time.monotonic()
        for i, offset in enumerate(range(0, total, step)):
            # like a microphone: a chunk goes out once its audio has been "recorded"
            delay = self.stream_started_at + (i + 1) * CHUNK_SECONDS / self.speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._recorded = min(offset + step, total)
            await self._flush()
            self.position = min(total, offset + step) / (self.rate * self.channels * 2)
            for at, mark in self._marks:
                if self.position >= at:
                    mark.set()
        while self._sent < self._recorded:  # reconnecting: the rest goes once the call resumed
            await asyncio.wait_for(self._ready.wait(), 30)
            await self._flush()


def read_wav(path: Path) -> tuple[bytes, int, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV")
        return w.readframes(w.getnframes()), w.getframerate(), w.getnchannels()


# -- the Deepgram stand-in, fed real speech -------------------------------------------------

def serve_deepgram(port: int = 0) -> None:
    """`load.py --serve-deepgram`: print the stand-in's URL and key, serve until stdin closes."""
    from tests.fakes.deepgram_server import FakeDeepgram
    from tests.fakes.scripted_audio import Script, Segment

    utterances = demo_script()
    duration = max(float(u["end"]) for u in utterances) + 1.5
    script = Script([Segment(int(u["channel"]), float(u["start"]), float(u["end"]), u["text"])
                     for u in utterances], duration=duration, channels=2)

    async def main() -> None:
        server = FakeDeepgram(script, idle_timeout=30.0, samples_carry_time=False)
        server.port = port or server.port
        async with server:
            print(json.dumps({"url": server.url, "api_key": server.api_key}), flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


# -- measuring ------------------------------------------------------------------------------

class Probe(threading.Thread):
    """GET /api/health of each gateway every `interval`: its own event-loop lag (the latest
    sample of its in-process sampler, and the largest sustained value) and the round trip."""

    def __init__(self, ports: dict[str, int], interval: float = 0.5) -> None:
        super().__init__(daemon=True, name="lag-probe")
        self.ports, self.interval = ports, interval
        self.rtts: dict[str, list[float]] = {role: [] for role in ports}
        self.lags: dict[str, list[float]] = {role: [] for role in ports}
        self.sustained: dict[str, float] = dict.fromkeys(ports, 0.0)
        self.failures: dict[str, int] = dict.fromkeys(ports, 0)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            for role, port in self.ports.items():
                t0 = time.monotonic()
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    conn.request("GET", "/api/health")
                    body = json.loads(conn.getresponse().read() or b"{}")
                    conn.close()
                    self.rtts[role].append(time.monotonic() - t0)
                    lag = (body.get("node") or {}).get("loop_lag") or {}
                    if lag.get("last") is not None:
                        self.lags[role].append(float(lag["last"]))
                        self.sustained[role] = max(self.sustained[role], float(lag["sustained"]))
                except (OSError, ValueError):
                    self.failures[role] += 1

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)


async def loop_lag(samples: list[float], interval: float = 0.1) -> None:
    while True:
        t0 = time.monotonic()
        await asyncio.sleep(interval)
        samples.append(time.monotonic() - t0 - interval)


class CpuMeter(threading.Thread):
    """CPU seconds used by each role's processes during the run, children included. Sampled
    every second, per pid, so processes that come and go (workers, PostgreSQL backends) count."""

    def __init__(self, status: dict[str, Any], interval: float = 1.0) -> None:
        super().__init__(daemon=True, name="cpu-meter")
        self.roots: dict[str, psutil.Process] = {}
        pids = {role: int(p["pid"]) for role, p in status["procs"].items()}
        if status.get("stand_in_pid"):
            pids[STAND_IN] = int(status["stand_in_pid"])
        for role, pid in pids.items():
            with contextlib.suppress(psutil.Error):
                self.roots[role] = psutil.Process(pid)
        self.interval = interval
        self.first: dict[tuple[int, float], float] = {}
        self.last: dict[tuple[int, float], float] = {}
        self.role_of: dict[tuple[int, float], str] = {}
        self._stop_event = threading.Event()
        self.sample(initial=True)

    def sample(self, initial: bool = False) -> None:
        # one scan of the process table for all roles: Process.children() scans it on every
        # call, which had made this meter the bench's biggest CPU user
        procs: dict[int, psutil.Process] = {}
        kids: dict[int, list[int]] = collections.defaultdict(list)
        for q in psutil.process_iter(["ppid"]):
            procs[q.pid] = q
            kids[q.info["ppid"]].append(q.pid)
        for role, root in self.roots.items():
            tree, todo = [root.pid], [root.pid]
            while todo:
                found = kids.get(todo.pop(), [])
                tree += found
                todo += found
            for pid in tree:
                with contextlib.suppress(psutil.Error, KeyError):
                    q = procs[pid]
                    key = (q.pid, q.create_time())
                    t = q.cpu_times()
                    used = t.user + t.system
                    self.first.setdefault(key, used if initial else 0.0)
                    self.last[key] = used
                    self.role_of[key] = role

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.sample()

    def stop(self) -> dict[str, float]:
        self._stop_event.set()
        self.join(timeout=10)
        self.sample()
        used: dict[str, float] = collections.defaultdict(float)
        for key, last in self.last.items():
            used[self.role_of[key]] += last - self.first.get(key, 0.0)
        return dict(used)


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy (all processes, all cores)."""
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


def own_cpu() -> float:
    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


def pct(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (f"p50={percentile(values, 0.5):.2f} p95={percentile(values, 0.95):.2f} "
            f"p99={percentile(values, 0.99):.2f} max={max(values):.2f} (n={len(values)})")


def match_latencies(caller: Caller, utterances: list[dict[str, Any]]) -> tuple[
        dict[int, float], dict[int, float], set[int]]:
    """Per utterance: seconds from its end to its final transcript and to its first insight;
    and which utterances got no final at all."""
    to_final: dict[int, float] = {}
    finals = list(caller.finals().values())
    for u in utterances:
        n, start, end = int(u["index"]), float(u["start"]), float(u["end"])
        covering = [f for f in finals
                    if float(f.data.get("end", 0)) > start and float(f.data.get("start", 0)) < end
                    and len(word_set(f.data.get("text", "")) & word_set(u["text"])) >= 1]
        if covering:
            last = max(covering, key=lambda f: float(f.data.get("end", 0)))
            to_final[n] = last.at - caller.wall_time_of(end)
    to_insight: dict[int, float] = {}
    by_index = {int(u["index"]): u for u in utterances}
    triggers = [n for n in TRIGGERS if n in by_index]
    for e in caller.of("insight"):
        snippet = word_set(e.data.get("context_snippet", ""))
        if not snippet or not triggers:
            continue
        best = max(triggers, key=lambda n: len(snippet & word_set(by_index[n]["text"]))
                   / max(1, len(word_set(by_index[n]["text"]))))
        if len(snippet & word_set(by_index[best]["text"])) < 2:
            continue
        latency = e.at - caller.wall_time_of(float(by_index[best]["end"]))
        to_insight[best] = min(latency, to_insight.get(best, latency))
    missing = {int(u["index"]) for u in utterances} - set(to_final)
    return to_final, to_insight, missing


async def audit_calls(front: str, callers: list[Caller]) -> dict[str, Any]:
    """Compare what each caller received with what the store saved for its call, and collect
    the agents' failures from their saved reasoning (GET /api/calls/{id}/agent-runs)."""
    import httpx

    lost_finals = unsaved_finals = lost_insights = late_insights = 0
    problems: list[str] = []
    agent_errors: collections.Counter[str] = collections.Counter()
    async with httpx.AsyncClient(base_url=front, timeout=60) as client:
        for c in callers:
            if not c.call_id:
                continue
            r = await client.get(f"/api/calls/{c.call_id}")
            if r.status_code != 200:
                problems.append(f"GET /api/calls/{{id}}: {r.status_code}")
                continue
            detail = r.json()
            saved = {s["id"] for s in detail.get("transcript", [])}
            got = set(c.finals())
            lost_finals += len(saved - got)
            unsaved_finals += len(got - saved)
            received = {str(e.data.get("id")) for e in c.of("insight")}
            ended = detail.get("end_time") or "9999"
            for rec in detail.get("recommendations", []):
                if rec["id"] in received:
                    continue
                # made while the call was being finalized, after its caller said goodbye
                if rec["created_at"] >= ended:
                    late_insights += 1
                else:
                    lost_insights += 1
            runs = await client.get(f"/api/calls/{c.call_id}/agent-runs")
            if runs.status_code == 200:
                body = runs.json()
                for run in body if isinstance(body, list) else body.get("items", []):
                    if run.get("error"):
                        agent_errors[f"{run.get('agent')}: {run['error'][:80]}"] += 1
    return {"lost_finals": lost_finals, "unsaved_finals": unsaved_finals,
            "lost_insights": lost_insights, "late_insights": late_insights,
            "agent_errors": dict(agent_errors), "problems": problems}


# -- the run ----------------------------------------------------------------------------------

@contextlib.contextmanager
def cluster(args: argparse.Namespace, env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Bring up the stack (unless --url) and yield `deploy/cluster status --json`."""
    state = Path(args.state_dir or tempfile.mkdtemp(prefix="wingman-load-"))
    cmd = [str(CLUSTER), "--state-dir", str(state)]
    if not args.url:
        print(f"bringing the cluster up in {state} ...", flush=True)
        up = subprocess.run([*cmd, "up", "--gateways", str(args.gateways), "--agents",
                             str(args.agents)], env=env, capture_output=True, text=True)
        if up.returncode != 0:
            raise SystemExit(f"cluster up failed:\n{up.stdout}\n{up.stderr}")
    try:
        out = subprocess.run([*cmd, "status", "--json"], capture_output=True, text=True)
        status: dict[str, Any] = json.loads(out.stdout) if out.stdout.strip().startswith("{") \
            else {"info": {}, "procs": {}}
        status["front"] = args.url or status["info"]["front_url"]
        yield status
    finally:
        if not args.url and not args.keep:
            subprocess.run([*cmd, "down", "--purge"], capture_output=True, text=True)


async def run_calls(front: str, status: dict[str, Any], *, calls: int, seconds: float | None,
                    ramp: float, token: str | None = None) -> dict[str, Any]:
    """Stream `calls` concurrent calls through `front`; returns the measurements."""
    frames, rate, channels = read_wav(DEMO_WAV)
    utterances = [u for u in demo_script() if seconds is None or float(u["end"]) <= seconds]
    gateways = {role: int(p["port"]) for role, p in status["procs"].items()
                if role.startswith("gateway-") and p.get("port")}
    probe = Probe(gateways)
    bench_lag: list[float] = []
    lag_task = asyncio.get_running_loop().create_task(loop_lag(bench_lag))
    probe.start()
    rng = random.Random(7)
    callers = [Caller(url=front, frames=frames, rate=rate, channels=channels,
                      title=f"load call {i + 1}", cookie=uuid.uuid4().hex, token=token)
               for i in range(calls)]
    failures: list[str] = []

    async def one(c: Caller, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await c.run(seconds=seconds)
        except Exception as exc:  # noqa: BLE001 - counted as an error of this call
            failures.append(f"{c.title}: {exc!r}")

    # every process's own /metrics, before and after: the run's histograms are the difference
    metric_ports = [int(p["port"]) for role, p in status["procs"].items()
                    if role.startswith(("gateway-", "agent-")) and p.get("port")]
    metrics_before = scrape_all(metric_ports)
    meter = CpuMeter(status)
    meter.start()
    own0, t0, machine0 = own_cpu(), time.monotonic(), machine_busy()
    await asyncio.gather(*(one(c, rng.uniform(0, ramp)) for c in callers))
    wall = time.monotonic() - t0
    cpu, own1, machine1 = meter.stop(), own_cpu(), machine_busy()
    probe.stop()
    server_side = delta(scrape_all(metric_ports), metrics_before)
    lag_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await lag_task

    to_final: list[float] = []
    to_insight: list[float] = []
    same_span: dict[str, list[float]] = {"transcript": [], "insight": []}
    missing = 0
    for c in callers:
        if not c.call_id:
            continue
        f, i, m = match_latencies(c, utterances)
        to_final += list(f.values())
        to_insight += list(i.values())
        missing += len(m)
        same_span["transcript"] += c.measured["transcript"]
        same_span["insight"] += c.measured["insight"]
    audit = await audit_calls(front, callers)
    call_seconds = sum(c.position for c in callers)
    return {
        "calls": calls, "wall": wall, "call_seconds": call_seconds,
        "to_final": to_final, "to_insight": to_insight, "missing_finals": missing,
        **audit,
        "errors": failures + [e for c in callers for e in c.errors] + audit["problems"],
        "no_call": sum(1 for c in callers if not c.call_id),
        "not_ended": sum(1 for c in callers if c.call_id and not c.ended.get("call_id")),
        "insights_per_call": [len(c.of("insight")) for c in callers if c.call_id],
        "resumes": sum(c.resumes for c in callers),
        "probe": probe.rtts, "probe_failures": probe.failures, "bench_lag": bench_lag,
        "lag": probe.lags, "lag_sustained": probe.sustained,
        "refused": sum(c.refusals for c in callers),
        "cpu": cpu, "bench_cpu": own1 - own0, "machine_cpu": machine1 - machine0,
        "server_side": server_side, "same_span": same_span,
        "reported": sum(c.reported for c in callers),
        "report_refusals": [e for c in callers for e in c.report_refusals],
    }


def report(r: dict[str, Any]) -> float:
    """Print the measurements; returns insight p95 (the comparable figure)."""
    cores = psutil.cpu_count() or 1
    print(f"\n== {r['calls']} calls, {r['call_seconds']:.0f} call-seconds in {r['wall']:.0f} s "
          f"wall ({cores} cores)")
    print(f"end of utterance -> final transcript: {pct(r['to_final'])}")
    print(f"end of utterance -> insight:          {pct(r['to_insight'])}")
    ipc = r["insights_per_call"]
    print(f"insights per call: min={min(ipc, default=0)} "
          f"mean={sum(ipc) / max(1, len(ipc)):.1f} max={max(ipc, default=0)}")
    print(f"errors: {len(r['errors'])}  calls not started: {r['no_call']}  "
          f"not ended: {r['not_ended']}  resumes: {r['resumes']}  "
          f"start-calls refused busy (then retried): {r['refused']}")
    for line in collections.Counter(r["errors"]).most_common(8):
        print(f"   {line[1]} x {line[0][:160]}")
    print(f"lost events: finals saved but not received={r['lost_finals']}, received but not "
          f"saved={r['unsaved_finals']}, insights saved but not received={r['lost_insights']} "
          f"(+{r['late_insights']} made after the call ended), "
          f"scripted utterances without a final={r['missing_finals']}")
    runs = sum(r["agent_errors"].values())
    print(f"agent runs that failed: {runs}" + "".join(
        f"\n   {n} x {what}" for what, n in sorted(r["agent_errors"].items(), key=lambda kv: -kv[1])))
    for role, rtts in sorted(r["probe"].items()):
        print(f"{role} event-loop lag (in-process, s): {pct(r['lag'][role])} "
              f"sustained max={r['lag_sustained'][role]:.2f}; /api/health round trip: "
              f"p50={percentile(rtts, 0.5):.3f} p95={percentile(rtts, 0.95):.3f} "
              f"failed={r['probe_failures'][role]}")
    print(f"bench client loop lag (s): {pct(r['bench_lag'])}")
    report_metrics(r)
    stand_in = r["cpu"].pop(STAND_IN, None)
    total = sum(r["cpu"].values())
    concurrent = r["call_seconds"] / max(1e-9, r["wall"])
    per_call = 100 * total / max(1e-9, r["call_seconds"])
    print(f"cluster CPU: {total:.0f} cpu-s = {100 * total / r['wall'] / cores:.0f}% of "
          f"{cores} cores over the run; {per_call:.2f}% of one core per live call "
          f"(~{concurrent:.0f} calls live on average)")
    by_role: dict[str, float] = collections.defaultdict(float)
    for role, secs in r["cpu"].items():
        by_role[role.split("-")[0] if role.startswith(("gateway", "agent")) else role] += secs
    print("   by role (% of one core per call): " + ", ".join(
        f"{role}={100 * secs / max(1e-9, r['call_seconds']):.2f}"
        for role, secs in sorted(by_role.items(), key=lambda kv: -kv[1])))
    print(f"bench client CPU: {r['bench_cpu']:.0f} cpu-s; Deepgram stand-in: "
          f"{stand_in or 0:.0f} cpu-s (neither counted above)")
    others = r["machine_cpu"] - total - r["bench_cpu"] - (stand_in or 0)
    print(f"machine: {100 * r['machine_cpu'] / r['wall'] / cores:.0f}% busy over the run; "
          f"other processes on it used {others:.0f} cpu-s "
          f"({100 * others / r['wall'] / cores:.0f}% of the machine)")
    if others > 0.2 * r["wall"] * cores:
        print("   WARNING: the machine was shared with other work: latencies are not comparable")
    if total:
        print(f"capacity estimate: {100 / max(1e-9, per_call):.0f} live calls per core of cluster CPU "
              f"(100 calls ~ {per_call:.1f} cores, all roles on one box)")
    return float(percentile(r["to_insight"], 0.95))


def agreement(label: str, hist: Histogram, client: list[float]) -> tuple[str, float | None]:
    """`label`'s histogram beside the bench's own figures: p50, p95, mean and the worst gap."""
    if not hist.count or not client:
        return f"{label}: no data (n={hist.count:.0f}, bench n={len(client)})", None
    parts, worst = [], 0.0
    for name, got, own in (("p50", hist.quantile(0.5), percentile(client, 0.5)),
                           ("p95", hist.quantile(0.95), percentile(client, 0.95)),
                           ("mean", hist.mean, sum(client) / len(client))):
        diff = (got - own) / own if own else float("nan")
        worst = max(worst, abs(diff))
        parts.append(f"{name} {got:.3f} vs {own:.3f} s ({100 * diff:+.0f}%)")
    return f"{label} (n={hist.count:.0f}) vs bench (n={len(client)}): " + ", ".join(parts), worst


def report_metrics(r: dict[str, Any]) -> None:
    """What /metrics says (summed over gateways) beside the bench's own figures over the same
    span (chunk holding the event's audio end emitted -> event received):
    - wingman_client_*_seconds: what clients measured and reported (here: this bench's callers,
      so agreement checks the report path and the buckets' resolution, not the clients);
    - wingman_audio_to_client_seconds: what the gateways measured (from the speech engine
      hearing the utterance end to the emit; it cannot see the socket legs);
    and each hop's p50/p95 as /metrics has it."""
    hist = r["server_side"]
    worst: float | None = None
    server_worst: float | None = None
    acked_worst: float | None = None
    print(f"latency reports: {r['reported']} delays accepted of "
          f"{sum(len(v) for v in r['same_span'].values())} measured; refused reports: "
          f"{dict(collections.Counter(r['report_refusals'])) or 0}")
    for event in ("transcript", "insight"):
        client = r["same_span"][event]
        reported = pick(hist, f"wingman_client_{event}_seconds", client="bench")
        line, diff = agreement(f"/metrics client-reported {event}", reported, client)
        print(line)
        if diff is not None:
            worst = diff if worst is None else max(worst, diff)
        server = pick(hist, "wingman_audio_to_client_seconds", event=event)
        line, diff = agreement(f"/metrics server-measured audio->{event}", server, client)
        print("   " + line)
        if diff is not None:
            server_worst = diff if server_worst is None else max(server_worst, diff)
        acked = pick(hist, "wingman_acked_audio_to_client_seconds", event=event)
        line, diff = agreement(f"/metrics server-measured acked audio->{event}", acked, client)
        print("   " + line)
        if diff is not None:
            acked_worst = diff if acked_worst is None else max(acked_worst, diff)
    r["metrics_disagreement"], r["server_disagreement"] = worst, server_worst
    r["acked_disagreement"] = acked_worst
    hops = [("audio->final", "wingman_audio_to_final_seconds", {}),
            ("final->block", "wingman_final_to_block_seconds", {}),
            ("block->insight", "wingman_block_to_insight_seconds", {}),
            ("insight->client", "wingman_insight_to_client_seconds", {}),
            ("bus blocks", "wingman_bus_delivery_seconds", {"topic": "transcript.blocks"}),
            ("bus insights", "wingman_bus_delivery_seconds", {"topic": "insights"})]
    print("hops from /metrics (p50/p95 s): " + ", ".join(
        f"{label} {h.quantile(0.5):.3f}/{h.quantile(0.95):.3f}"
        for label, name, labels in hops if (h := pick(hist, name, **labels)).count))
    agents = pick(hist, "wingman_agent_seconds")
    if agents.count:
        print(f"agent runs from /metrics: n={agents.count:.0f} p50={agents.quantile(0.5):.3f} "
              f"p95={agents.quantile(0.95):.3f} s")


def sustained(r: dict[str, Any], limit: float) -> bool:
    """Real time: every call ran, nothing lost, transcripts keep up (p95 under `limit`)."""
    return (not r["errors"] and not r["no_call"] and r["lost_finals"] == 0
            and bool(r["to_final"]) and percentile(r["to_final"], 0.95) <= limit
            and r["missing_finals"] <= r["calls"])  # at most ~1 utterance a call not heard


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=None,
                        help="stream only the first SECONDS of the sample call (default: all)")
    parser.add_argument("--ramp", type=float, default=None,
                        help="spread call starts over this many seconds (default calls/4, <= 20)")
    parser.add_argument("--warm-up", type=int, default=4,
                        help="short calls run (and not measured) first, so the agent workers "
                        "are past their one-time start-up")
    parser.add_argument("--gateways", type=int, default=2)
    parser.add_argument("--agents", type=int, default=2)
    parser.add_argument("--url", help="an already running front URL (skips cluster up/down and "
                        "the Deepgram stand-in: that cluster's own speech provider is used)")
    parser.add_argument("--state-dir", help="cluster state dir (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    parser.add_argument("--local-capacity", action="store_true",
                        help="local speech engine: raise concurrent calls until it falls behind")
    parser.add_argument("--max-calls", type=int, default=6, help="--local-capacity upper bound")
    parser.add_argument("--limit", type=float, default=3.0,
                        help="--local-capacity: p95 utterance->transcript seconds still 'live'")
    parser.add_argument("--serve-deepgram", action="store_true",
                        help="only run the Deepgram stand-in (prints its URL; stops at EOF)")
    parser.add_argument("--deepgram-port", type=int, default=0, help="its port (default: free)")
    args = parser.parse_args()
    if args.serve_deepgram:
        serve_deepgram(args.deepgram_port)
        return

    env = dict(os.environ)
    # one account streams every call, and the bench measures capacity, not admission: lift the
    # per-user, per-tenant and per-node quotas (their defaults fit one rep, one team, 2 cores)
    for quota in ("MAX_CALLS_PER_USER", "MAX_CALLS_PER_TENANT", "MAX_SOCKETS_PER_USER",
                  "MAX_SOCKETS_PER_TENANT", "MAX_CALLS_PER_NODE"):
        env.setdefault(f"WINGMAN_{quota}", "100000")
    stand_in: subprocess.Popen[str] | None = None
    if args.local_capacity:
        env["WINGMAN_STT"] = "local"
    elif args.url:
        print(f"using the running cluster at {args.url} with its own speech provider")
    else:
        stand_in = subprocess.Popen([sys.executable, __file__, "--serve-deepgram"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert stand_in.stdout is not None
        dg = json.loads(stand_in.stdout.readline())
        env.update({"WINGMAN_STT": "deepgram", "WINGMAN_DEEPGRAM_URL": dg["url"],
                    "WINGMAN_DEEPGRAM_API_KEY": dg["api_key"]})
        print(f"Deepgram stand-in on {dg['url']}", flush=True)
    try:
        with cluster(args, env) as status:
            status["stand_in_pid"] = stand_in.pid if stand_in is not None else None
            front = status["front"]
            print(f"front: {front}", flush=True)
            if args.local_capacity:
                local_capacity(args, front, status)
                return
            if args.warm_up:
                print(f"warming up with {args.warm_up} short calls ...", flush=True)
                asyncio.run(run_calls(front, status, calls=args.warm_up, seconds=12.0, ramp=1.0))
            ramp = args.ramp if args.ramp is not None else min(20.0, args.calls / 4)
            result = asyncio.run(run_calls(front, status, calls=args.calls,
                                           seconds=args.seconds, ramp=ramp))
            p95 = report(result)
            lost = result["lost_finals"] + result["lost_insights"]
            worst = result.get("metrics_disagreement")
            disagreement = "n/a" if worst is None else f"{100 * worst:.0f}%"
            server_worst = result.get("server_disagreement")
            server_gap = "n/a" if server_worst is None else f"{100 * server_worst:.0f}%"
            acked_worst = result.get("acked_disagreement")
            acked_gap = "n/a" if acked_worst is None else f"{100 * acked_worst:.0f}%"
            print(f"load_insight_p95_s={p95:.2f} calls={args.calls} "
                  f"transcript_p95_s={percentile(result['to_final'], 0.95):.2f} "
                  f"errors={len(result['errors'])} lost={lost} "
                  f"client_reported_vs_bench_max_diff={disagreement} "
                  f"server_measured_vs_bench_max_diff={server_gap} "
                  f"server_acked_vs_bench_max_diff={acked_gap}")
    finally:
        if stand_in is not None:
            assert stand_in.stdin is not None
            stand_in.stdin.close()
            try:
                stand_in.wait(timeout=10)
            except subprocess.TimeoutExpired:
                stand_in.kill()


def local_capacity(args: argparse.Namespace, front: str, status: dict[str, Any]) -> None:
    seconds = args.seconds or 40.0
    best = 0
    for n in range(1, args.max_calls + 1):
        print(f"\n-- {n} concurrent call(s), local speech, {seconds:.0f} s of audio each", flush=True)
        r = asyncio.run(run_calls(front, status, calls=n, seconds=seconds, ramp=min(2.0, n / 2)))
        report(r)
        if not sustained(r, args.limit):
            print(f"{n} calls: not real time (p95 transcript > {args.limit} s, or lost/errors)")
            break
        best = n
    print(f"local_stt_live_calls={best} cores={psutil.cpu_count()} "
          f"(p95 utterance->transcript <= {args.limit} s, nothing lost)")


if __name__ == "__main__":
    main()
