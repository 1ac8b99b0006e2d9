"""Invitation emails over SMTP (settings.smtp_*), sent off the event loop.

Optional: without `smtp_host` nothing is sent and the admin shares the link by hand. A failed
send never loses the invitation: it is stored first, and the link is returned either way.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email.message import EmailMessage

from wingman.errors import ProviderConnectionError
from wingman.settings import Settings

log = logging.getLogger(__name__)


class Mailer:
    """Sends plain-text mail through one SMTP server (STARTTLS unless turned off)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @property
    def enabled(self) -> bool:
        """Whether an SMTP server is configured."""
        return bool(self._settings.smtp_host)

    def _send(self, message: EmailMessage) -> None:
        s = self._settings
        assert s.smtp_host is not None
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds) as smtp:
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_username and s.smtp_password is not None:
                smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
            smtp.send_message(message)

    async def send(self, *, to: str, subject: str, body: str) -> None:
        """Send one message; ProviderConnectionError when the server refuses or is away."""
        message = EmailMessage()
        message["From"] = self._settings.smtp_from
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        try:
            await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException) as e:
            why = type(e).__name__
            raise ProviderConnectionError(f"the mail server did not take the message ({why})") from e


def invitation_text(*, workspace: str, inviter: str, role: str, link: str, expires: str) -> tuple[str, str]:
    """Subject and body of an invitation email."""
    subject = f"{inviter} invited you to {workspace} on Wingman"
    body = (
        f"{inviter} invited you to join {workspace} on Wingman as a {role}.\n\n"
        f"Open this link to create your account (it works once, until {expires}):\n{link}\n\n"
        "If you did not expect this, ignore this message.\n"
    )
    return subject, body
