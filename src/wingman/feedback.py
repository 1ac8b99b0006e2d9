"""A rep's like, dislike or clear on a recommendation: one owner for the socket and REST.

`FeedbackService.give` saves it on a recommendation of one of the rep's own calls, then tells
that call's agents over the bus (`Feedback` on the calls topic) so they adapt at once. The store
is the record: agents also read feedback from it when they next load a rep's preferences, so a
bus outage after the save is logged, not reported as a failure of the feedback itself.
(What feedback means for the next insights: agents/feedback.py.)
"""

from __future__ import annotations

import logging

from wingman.bus.base import EventBus
from wingman.errors import WingmanError
from wingman.events import TOPIC_CALLS, Feedback, FeedbackStatus
from wingman.store.records import RecommendationRecord
from wingman.store.repos import Store

log = logging.getLogger(__name__)


class FeedbackService:
    """Saves feedback, then publishes it to the call's agents."""

    def __init__(self, *, store: Store, bus: EventBus) -> None:
        self._store = store
        self._bus = bus

    async def give(
        self, *, workspace_id: str, user_id: str, recommendation_id: str, status: FeedbackStatus
    ) -> RecommendationRecord | None:
        """Set `status` on the recommendation; None when it is not one of the user's own."""
        rec = await self._store.set_feedback(
            workspace_id=workspace_id, user_id=user_id, recommendation_id=recommendation_id, status=status
        )
        if rec is None:
            return None
        event = Feedback(id=rec.id, user_id=user_id, workspace_id=workspace_id, status=status)
        try:
            await self._bus.publish(TOPIC_CALLS, event, key=rec.call_session_id)
        except WingmanError:
            log.warning("feedback not published", extra={"call_id": rec.call_session_id})
        return rec
