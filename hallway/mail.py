"""Outgoing mail over SMTP, for password-reset links.

smtplib (the standard library's) blocks, so a message is sent from a worker thread. A mail
goes out while its request waits: an admin sees at once whether it could be sent.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from hallway.config import Settings

SMTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str


class MailUnsent(Exception):
    """The SMTP server could not be reached or refused the message."""


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host is not None
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.username = settings.smtp_username
        self.password = settings.smtp_password
        self.starttls = settings.smtp_starttls
        self.sender = settings.smtp_from

    async def send(self, mail: Mail) -> None:
        try:
            await asyncio.to_thread(self._send, mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailUnsent(str(exc)) from exc

    def _send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.text)
        with smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


def open_mailer(settings: Settings) -> Mailer | None:
    """The configured mailer; None when no SMTP host is set."""
    return SmtpMailer(settings) if settings.smtp_host else None
