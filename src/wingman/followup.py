"""The follow-up email draft after a call: from the call's stored summary and action items
(what the summary step saved, whichever engine wrote it), addressed to the email the customer
gave on the call when there was one. The rep edits and sends it; Wingman never sends mail."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from wingman.crm.service import lookup_from_call


class EmailDraft(BaseModel):
    to: str | None  # the customer's email, if it was said or typed on the call
    subject: str
    body: str


def _company_or_title(title: str, company: str | None) -> str:
    return company or title.strip() or "our call"


def draft_follow_up(
    *,
    title: str,
    summary: str | None,
    action_items: Sequence[str],
    transcript: Sequence[str],
    rep_name: str,
) -> EmailDraft:
    """A plain-text follow-up: thanks, what we heard, the next steps, a sign-off."""
    email, company = lookup_from_call(title, transcript)
    about = _company_or_title(title, company)
    lines = ["Hi,", "", "Thank you for your time today. Here is a short recap of our conversation."]
    if summary and summary.strip():
        lines += ["", summary.strip()]
    if action_items:
        lines += ["", "Next steps:"]
        lines += [f"- {item.strip()}" for item in action_items if item.strip()]
    lines += [
        "",
        "Let me know if I missed anything or if any questions come up.",
        "",
        "Best regards,",
        rep_name,
    ]
    return EmailDraft(to=email, subject=f"Follow-up: {about}", body="\n".join(lines))
