"""The live call's output port: everything a CallPipeline tells the rep's screen.

The pipeline knows its results as events (a transcript fragment, a scored segment, an error,
a provider change) and hands them to a `CallOutput`; it never builds a payload or names a
transport. The Socket.IO implementation is realtime/outgoing.py (`CallSocket`), which turns
each event into its wire model and emits it to the call's room; tests use a recording one.
"""

from __future__ import annotations

from typing import Protocol

from wingman.errors import WingmanError
from wingman.events import TranscriptFragment
from wingman.health import ProviderEvent
from wingman.sentiment.tracker import Scored


class CallOutput(Protocol):
    """Where one live call's results go, in the order the pipeline produces them."""

    async def on_fragment(self, fragment: TranscriptFragment, *, live: bool = True) -> None:
        """An interim or final piece of transcript (redacted already). A final with empty
        text takes back the interims shown under its id (the engine heard no speech after
        all). `live=False`: a final forced out by the end of the call (counted, not timed)."""

    async def on_sentiment(self, scored: Scored) -> None:
        """A final customer segment's sentiment (saved already)."""

    async def on_error(self, error: WingmanError) -> None:
        """Something the rep should know went wrong (bad audio, the speech stream failed);
        the call goes on."""

    async def on_provider_status(self, event: ProviderEvent) -> None:
        """A part of this call moved to (or back from) its fallback provider."""
