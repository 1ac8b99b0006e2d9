"""The words of a call that matched a search, with the matches marked: FTS5's snippet() on
SQLite, ts_headline() on PostgreSQL. One query per source for a whole page of results.

A snippet is plain text in which each match sits between START and STOP (control characters
that speech-to-text never produces); `parts()` turns it into (text, is_match) pieces so no
markup ever crosses the API.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.store.common import dialect_of
from wingman.store.fulltext import PG_SEGMENT_TSV, tokenize

START, STOP = "\x02", "\x03"
SNIPPET_WORDS = 16
# ts_headline's options: one fragment of about SNIPPET_WORDS words around the best match
PG_OPTIONS = (
    f"StartSel={START}, StopSel={STOP}, MaxWords={SNIPPET_WORDS}, MinWords={SNIPPET_WORDS // 2}, "
    "ShortWord=0, MaxFragments=1, FragmentDelimiter=\" … \""
)


def parts(snippet: str) -> list[tuple[str, bool]]:
    """`a \\x02b\\x03 c` -> [("a ", False), ("b", True), (" c", False)]; empty pieces dropped."""
    out: list[tuple[str, bool]] = []
    for i, chunk in enumerate(snippet.split(START)):
        match, _, rest = chunk.partition(STOP) if i > 0 else ("", "", chunk)
        if match:
            out.append((match, True))
        if rest:
            out.append((rest, False))
    return out


async def snippets(session: AsyncSession, call_ids: Sequence[str], query: str) -> dict[str, str]:
    """For each call in `call_ids` that `query` matched: the best marked snippet, preferring a
    transcript line, then the summary, then the full transcript (never only the title, which the
    list shows anyway)."""
    tokens = tokenize(query)
    if not tokens or not call_ids:
        return {}
    if dialect_of(session) == "postgresql":
        rows = await _postgres(session, list(call_ids), " | ".join(f"{t}:*" for t in tokens))
    else:
        rows = await _sqlite(session, list(call_ids), " OR ".join(f'"{t}"*' for t in tokens))
    best: dict[str, str] = {}
    for call_id, snippet in rows:  # in order of preference
        if snippet and START in snippet and call_id not in best:
            best[call_id] = snippet
    return best


async def _sqlite(session: AsyncSession, ids: list[str], match: str) -> list[tuple[str, str]]:
    marks = {"s": START, "e": STOP, "ell": "…", "n": SNIPPET_WORDS}
    segments = text(
        "SELECT call_id, snippet(transcript_segments_fts, 2, :s, :e, :ell, :n) "
        "FROM transcript_segments_fts WHERE transcript_segments_fts MATCH :m AND call_id IN :ids "
        "ORDER BY rank"
    ).bindparams(bindparam("ids", expanding=True))
    # columns: 0 call_id, 1 title, 2 summary (in force: migration v0012), 3 full_transcript
    calls = text(
        "SELECT call_id, snippet(call_sessions_fts, 2, :s, :e, :ell, :n), "
        "snippet(call_sessions_fts, 3, :s, :e, :ell, :n) "
        "FROM call_sessions_fts WHERE call_sessions_fts MATCH :m AND call_id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    params = {**marks, "m": match, "ids": ids}
    rows = [(str(c), str(s)) for c, s in await session.execute(segments, params)]
    by_call = list(await session.execute(calls, params))
    rows += [(str(c), str(summary)) for c, summary, _ in by_call]
    rows += [(str(c), str(full)) for c, _, full in by_call]
    return rows


async def _postgres(session: AsyncSession, ids: list[str], tsquery: str) -> list[tuple[str, str]]:
    q = "to_tsquery('english', :q)"
    segments = text(
        f"SELECT call_session_id, ts_headline('english', text, {q}, :opts) "
        f"FROM transcript_segments WHERE call_session_id IN :ids AND {PG_SEGMENT_TSV} @@ {q} "
        f"ORDER BY ts_rank({PG_SEGMENT_TSV}, {q}) DESC"
    ).bindparams(bindparam("ids", expanding=True))
    # the summary in force: a person's edit, else the generated one
    calls = text(
        f"SELECT cs.id, ts_headline('english', coalesce(se.text, cs.summary, ''), {q}, :opts), "
        f"ts_headline('english', coalesce(cs.full_transcript, ''), {q}, :opts) "
        "FROM call_sessions AS cs LEFT JOIN summary_edits AS se ON se.call_session_id = cs.id "
        "WHERE cs.id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    params = {"q": tsquery, "opts": PG_OPTIONS, "ids": ids}
    rows = [(str(c), str(s)) for c, s in await session.execute(segments, params)]
    by_call = list(await session.execute(calls, params))
    rows += [(str(c), str(summary)) for c, summary, _ in by_call]
    rows += [(str(c), str(full)) for c, _, full in by_call]
    return rows
