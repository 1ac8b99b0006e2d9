"""End of call: summary, key moments and action items saved once; safe to call twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from wingman.agents.summary import summarize_call
from wingman.bus.base import EventBus
from wingman.errors import NotFound, WingmanError
from wingman.events import TOPIC_CALLS, CallEnded, utcnow
from wingman.llm.base import Llm
from wingman.profile import CompanyProfile
from wingman.store.records import CallDetail, Viewer
from wingman.store.repos import Store


def _speaker_line(speaker: str | None, text: str) -> str:
    return f"{speaker}: {text}" if speaker else text


def call_end_time(start: datetime, audio_seconds: float | None, transcript_end: float) -> datetime:
    """When the call ended, by its audio: the start plus the audio the server received (or, with
    no live pipeline, where the saved transcript ends), never later than now. A call whose tab
    closed is finalized only after the abandon timeout: wall time would count that wait as
    call time."""
    now = utcnow()
    heard = max(audio_seconds or 0.0, transcript_end)
    if audio_seconds is None and heard == 0.0:
        return now  # nothing was heard: no better measure than the clock
    return min(now, start + timedelta(seconds=heard))


async def finalize_call(
    *,
    store: Store,
    llm: Llm,
    bus: EventBus,
    workspace_id: str,
    user_id: str,
    call_id: str,
    audio_seconds: float | None = None,
    profile: CompanyProfile | None = None,
) -> CallDetail:
    """Save the full transcript and summary of a call; returns the call as saved (the
    `call-ended` event reports its summary: realtime/outgoing.py).
    `audio_seconds`: the call's audio length, when a live pipeline knows it."""
    owner = Viewer.owner(workspace_id, user_id)
    detail = await store.call_detail(viewer=owner, call_id=call_id)
    if detail is None:
        raise NotFound("no such call")
    if detail.end_time is None:
        summary = await summarize_call(
            llm=llm,
            call_id=call_id,
            segments=detail.transcript,
            insights=detail.recommendations,
            profile=profile,
        )
        full_transcript = "\n".join(_speaker_line(s.speaker, s.text) for s in detail.transcript)
        await store.finish_call(
            workspace_id=workspace_id,
            user_id=user_id,
            call_id=call_id,
            full_transcript=full_transcript,
            summary=summary.summary,
            key_moments=summary.key_moments,
            action_items=summary.action_items,
            end_time=call_end_time(
                detail.start_time, audio_seconds, max((seg.end for seg in detail.transcript), default=0.0)
            ),
        )
        try:
            await bus.publish(
                TOPIC_CALLS,
                CallEnded(
                    call_id=call_id, user_id=user_id, workspace_id=workspace_id, summary=summary.summary
                ),
                key=call_id,
            )
        except WingmanError:
            pass  # the agents drop per-call state on their own idle timeout
        detail = await store.call_detail(viewer=owner, call_id=call_id)
        if detail is None:
            raise NotFound("no such call")
    return detail
