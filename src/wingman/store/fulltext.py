"""Full-text search over calls: title, summary in force (a person's edit when there is one, else
the generated summary), full transcript, and the transcript segments written while a call is
still going (so a live call is found by words already spoken).

Every word of the query must occur somewhere in the call (AND), each as a prefix ("air" finds
"Aircall"), stemmed in English on both backends. User input never reaches the FTS syntax raw:
it is reduced to word tokens first.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, TextClause, and_, text

MAX_TOKENS = 8
MAX_TOKEN_CHARS = 64

# Must stay identical to the expressions of the GIN indexes in migrations/versions/v0001, or
# PostgreSQL will not use the indexes.
PG_CALL_TSV = (
    "to_tsvector('english', coalesce(title, '') || ' ' || coalesce(summary, '') || ' ' "
    "|| coalesce(full_transcript, ''))"
)
PG_SEGMENT_TSV = "to_tsvector('english', text)"
# ... and to the index of migrations/versions/v0012 (an edited summary, summary_edits.text)
PG_EDIT_TSV = "to_tsvector('english', coalesce(text, ''))"
# an edited call matches by its title and transcript (checked only on rows the index found)
PG_CALL_TSV_UNSUMMARIZED = (
    "to_tsvector('english', coalesce(cs.title, '') || ' ' || coalesce(cs.full_transcript, ''))"
)

_WORD = re.compile(r"\w+", re.UNICODE)
# Words that say nothing about a call. PostgreSQL drops its own list; SQLite has none: dropping
# these here makes "the pricing call" behave the same on both.
STOP_WORDS = frozenset(
    "a an and are as at be but by for from has have i if in into is it its me my no not of on "
    "or our so than that the their them then there these they this to was we were what when "
    "where which who will with you your".split()
)


def tokenize(query: str) -> list[str]:
    """Distinct lower-case word tokens of a user query, stop words left out (at most MAX_TOKENS)."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(query.lower()):
        token = match.group(0).strip("_")
        if token and len(token) <= MAX_TOKEN_CHARS and token not in STOP_WORDS:
            seen.setdefault(token, None)
    return list(seen)[:MAX_TOKENS]


def _pg_token(i: int, token: str) -> TextClause:
    name = f"fts_{i}"
    tsq = f"to_tsquery('english', :{name})"
    # a token made only of stop words ("the") yields an empty tsquery, which would match nothing
    # IN (... UNION ...) rather than OR, so the planner can use every GIN index. A call whose
    # summary was edited no longer matches by words only in its generated summary.
    return text(
        f"(numnode({tsq}) = 0 OR call_sessions.id IN ("
        f"SELECT cs.id FROM call_sessions AS cs WHERE {PG_CALL_TSV} @@ {tsq} "
        f"AND (NOT EXISTS (SELECT 1 FROM summary_edits AS se WHERE se.call_session_id = cs.id "
        f"AND se.text IS NOT NULL) OR {PG_CALL_TSV_UNSUMMARIZED} @@ {tsq}) "
        f"UNION SELECT call_session_id FROM summary_edits WHERE {PG_EDIT_TSV} @@ {tsq} "
        f"UNION SELECT ts.call_session_id FROM transcript_segments AS ts "
        f"WHERE {PG_SEGMENT_TSV} @@ {tsq}))"
    ).bindparams(**{name: f"{token}:*"})


def _sqlite_token(i: int, token: str) -> TextClause:
    # the call's FTS row holds its summary in force (the triggers of migration v0012)
    name = f"fts_{i}"
    return text(
        f"(call_sessions.id IN (SELECT call_id FROM call_sessions_fts "
        f"WHERE call_sessions_fts MATCH :{name}) OR call_sessions.id IN ("
        f"SELECT call_id FROM transcript_segments_fts WHERE transcript_segments_fts MATCH :{name}))"
    ).bindparams(**{name: f'"{token}"*'})


def search_condition(dialect: str, query: str) -> ColumnElement[bool] | None:
    """A WHERE clause on `call_sessions` for `query`, or None when it has no words."""
    tokens = tokenize(query)
    if not tokens:
        return None
    make = _pg_token if dialect == "postgresql" else _sqlite_token
    return and_(*(make(i, token) for i, token in enumerate(tokens)))
