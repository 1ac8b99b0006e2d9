"""What a user's likes and dislikes mean for the next insights they see.

Counts come from store.feedback_by_kind (over all the user's calls). A kind the user dislikes is
demoted (its priority multiplied down, so the rate limit drops it first) and, after repeated
dislikes that outweigh the likes, suppressed; liked kinds rank up. The kind's family
("objection" for "objection.price") moves a little with its members, so disliking every
objection tip also quiets a new objection kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

LIKE_STEP = 0.15
DISLIKE_STEP = 0.25
FAMILY_STEP = 0.05
MIN_WEIGHT = 0.3
MAX_WEIGHT = 1.6
SUPPRESS_AFTER = 3  # dislikes of one kind (more than its likes) before it is hidden


def family_of(kind: str) -> str:
    return kind.split(".", 1)[0]


@dataclass(frozen=True)
class FeedbackPreferences:
    """Immutable per-user preference weights; build a new one when feedback changes."""

    counts: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    @classmethod
    def from_counts(cls, counts: Mapping[str, tuple[int, int]]) -> FeedbackPreferences:
        return cls(dict(counts))

    def _family(self, family: str) -> tuple[int, int]:
        likes = dislikes = 0
        for kind, (l_, d) in self.counts.items():
            if family_of(kind) == family:
                likes += l_
                dislikes += d
        return likes, dislikes

    def suppressed(self, kind: str) -> bool:
        likes, dislikes = self.counts.get(kind, (0, 0))
        return dislikes >= SUPPRESS_AFTER and dislikes > likes

    def weight(self, kind: str) -> float | None:
        """Priority multiplier for `kind`, or None when the user no longer wants to see it."""
        if self.suppressed(kind):
            return None
        likes, dislikes = self.counts.get(kind, (0, 0))
        fam_likes, fam_dislikes = self._family(family_of(kind))
        # the family's other members count for a little
        fam_likes -= likes
        fam_dislikes -= dislikes
        w = 1.0 + LIKE_STEP * min(likes, 4) - DISLIKE_STEP * min(dislikes, SUPPRESS_AFTER)
        w += FAMILY_STEP * (min(fam_likes, 4) - min(fam_dislikes, 4))
        return max(MIN_WEIGHT, min(MAX_WEIGHT, round(w, 4)))

    def describe(self) -> dict[str, float | None]:
        return {kind: self.weight(kind) for kind in sorted(self.counts)}
