"""Talk time in SQL, defined once: seconds each role spoke per call, summed by the database.

The reports (the dashboard's stats, the trends) read the rep's and the customer's speaking time
of many calls at once; this sums their saved segments' spans in one grouped query instead of
loading every segment. The live call's running totals and the rep's share are wingman/talktime.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Row, Select, func, select

from wingman.speakers.roles import ROLES
from wingman.store.models import CallSession, TranscriptSegment


def talk_by_call(*where: ColumnElement[bool]) -> Select[str, str | None, float]:
    """(call id, role, seconds) for each call `where` selects (conditions on CallSession or
    TranscriptSegment) and each role that spoke in it."""
    return (
        select(
            TranscriptSegment.call_session_id,
            TranscriptSegment.speaker,
            func.sum(TranscriptSegment.end - TranscriptSegment.start),
        )
        .join(CallSession, CallSession.id == TranscriptSegment.call_session_id)
        .where(*where, TranscriptSegment.speaker.in_(ROLES))
        .group_by(TranscriptSegment.call_session_id, TranscriptSegment.speaker)
    )


def totals_by_call(rows: Iterable[Row[str, str | None, float]]) -> dict[str, dict[str, float]]:
    """The rows of `talk_by_call` as call id -> {role: seconds} (never negative)."""
    spoken: dict[str, dict[str, float]] = defaultdict(dict)
    for call_id, speaker, seconds in rows:
        spoken[call_id][speaker or ""] = max(0.0, float(seconds or 0.0))
    return spoken
