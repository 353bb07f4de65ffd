"""Outgoing mail: sign-up confirmations and password-reset links.

With an SMTP host configured mail is sent; smtplib (the standard library's) blocks, so from a
worker thread. A mail goes out while its request waits: the sender learns at once whether it
could be sent. Without one (a laptop) each mail is written to the outbox folder as a `.eml`
file and logged, so whoever runs the server can still finish a sign-up.
"""

from __future__ import annotations

import asyncio
import logging
import re
import smtplib
import ssl
import time
import uuid
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
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
    # Whether mail reaches the person's inbox; an outbox only their operator reads does not.
    reaches_inbox: bool

    async def send(self, mail: Mail) -> None: ...


def _message(sender: str, mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message.set_content(mail.text)
    return message


class SmtpMailer:
    reaches_inbox = True

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
        message = _message(self.sender, mail)
        with smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


_UNSAFE_IN_NAME = re.compile(r"[^a-z0-9@._+-]")
log = logging.getLogger("hallway.mail")


def _file_prefix(address: str) -> str:
    return _UNSAFE_IN_NAME.sub("_", address.lower())[:200] + "--"


class OutboxMailer:
    """Mail kept in a folder, one `.eml` file per mail named by its recipient and time."""

    reaches_inbox = False

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self.sender = sender

    async def send(self, mail: Mail) -> None:
        name = f"{_file_prefix(mail.to)}{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        path = self.folder / name
        try:
            await asyncio.to_thread(self._write, path, _message(self.sender, mail).as_bytes())
        except OSError as exc:
            raise MailUnsent(str(exc)) from exc
        log.warning("no SMTP host is set: mail to %s written to %s", mail.to, path)

    def _write(self, path: Path, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def outbox_mails_to(folder: Path, address: str) -> list[EmailMessage]:
    """The mails an OutboxMailer wrote for `address`, oldest first."""
    paths = sorted(
        folder.glob(f"{_file_prefix(address)}*.eml"),
        key=lambda p: int(p.stem.rsplit("--", 1)[1].split("-")[0]),
    )
    parser = BytesParser(policy=policy.default)
    mails = []
    for path in paths:
        message = parser.parsebytes(path.read_bytes())
        assert isinstance(message, EmailMessage)
        mails.append(message)
    return mails


def open_mailer(settings: Settings) -> Mailer:
    """SMTP when a host is set, else the outbox folder."""
    if settings.smtp_host:
        return SmtpMailer(settings)
    return OutboxMailer(settings.effective_mail_outbox_dir, settings.smtp_from)
