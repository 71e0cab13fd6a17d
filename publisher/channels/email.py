"""Email over SMTP: multipart/alternative (plain text + HTML) with the images inline
(multipart/related, `cid:` references, alt text on each <img>).

The Message-ID is derived from the idempotency key, so a receiver (or a human) can tell a
resent copy; follow-ups carry In-Reply-To/References and thread in mail clients. An error
before the DATA phase is retried; a connection lost during DATA is an unknown outcome.

Channel.config: host, port (25), security ("none", "starttls" or "ssl"), username,
from_address, recipients (a list), subject_prefix. Secret (when username is set): the
SMTP password.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from html import escape
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from publisher.channels.base import (
    AuthError,
    ChannelAdapter,
    Limits,
    PermanentError,
    Post,
    Problem,
    Receipt,
    TransientError,
    UnknownOutcome,
)
from publisher.channels.checking import image_problems
from publisher.channels.counting import compose
from publisher.channels.http import excerpt
from publisher.channels.netpolicy import connect
from publisher.channels.secrets import channel_secret
from publisher.mail import subject_line
from publisher.media.images import RenditionSpec, rendition_for
from publisher.models import ConnectFlow


class PolicySMTP(smtplib.SMTP):
    """smtplib's client, connecting only where the outgoing-request policy allows. STARTTLS
    and SMTPS still verify the certificate for the configured host name (self._host)."""

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return connect(host, port, timeout)


class PolicySMTPSSL(smtplib.SMTP_SSL, PolicySMTP):
    """SMTPS: SMTP_SSL wraps the socket PolicySMTP connected (method order: SSL, policy, SMTP)."""


class EmailAdapter(ChannelAdapter):
    kind = "email"
    label = gettext_lazy("Email")
    host_fields = {"host": "localhost"}
    limits = Limits(
        images_max=10,
        image_bytes_max=1_000_000,
        image_side_max=1600,
        image_formats=("JPEG", "PNG"),
    )
    supports_replies = True
    connect_flow = ConnectFlow.SMTP

    @property
    def recipients(self) -> list[str]:
        value = self.channel.config.get("recipients", [])
        return [value] if isinstance(value, str) else list(value)

    def check(self, post: Post) -> list[Problem]:
        problems = image_problems(post, self.limits)
        if not self.recipients:
            problems.append(Problem(code="not_configured", message=_("no recipients are configured")))
        return problems

    def subject(self, post: Post) -> str:
        text = compose(post.text, post.link)
        first_line = text.splitlines()[0] if text else post.title
        subject = subject_line(f"{self.channel.config.get('subject_prefix', '')}{first_line}")
        return subject[:119].rstrip() + "…" if len(subject) > 120 else subject

    def preview_summary(self, post: Post) -> tuple[tuple[str, str], ...]:
        return ((_("Subject"), self.subject(post)),)

    def build(self, post: Post, idempotency_key: str) -> EmailMessage:
        config = self.channel.config
        text = compose(post.text, post.link)
        sender = str(config.get("from_address") or settings.DEFAULT_FROM_EMAIL)
        domain = sender.rsplit("@", 1)[-1] or "tandem.invalid"
        subject = self.subject(post)
        msg = EmailMessage()
        msg["Subject"] = subject
        msg["From"] = formataddr((str(config.get("from_name", "")), sender)) if config.get("from_name") else sender
        # Recipients go in the envelope only: a press list must not see who else is on it.
        msg["To"] = str(config.get("to_header") or "undisclosed-recipients:;")
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = f"<{idempotency_key}@{domain}>"
        if post.reply_to:
            msg["In-Reply-To"] = post.reply_to.remote_id
            msg["References"] = post.reply_to.remote_id
        if post.exercise:
            msg["X-Tandem-Exercise"] = "yes"
        msg.set_content(text)
        spec = RenditionSpec.from_limits(self.limits)
        renditions = [(rendition_for(image.path, spec, kind=self.kind), image.alt) for image in post.images]
        cids = [f"image{index}.{idempotency_key}@{domain}" for index in range(len(renditions))]
        paragraphs = "".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n") if p)
        pictures = "".join(
            f'<p><img src="cid:{cid}" alt="{escape(alt, quote=True)}" width="{r.width}" height="{r.height}"'
            ' style="max-width:100%;height:auto"></p>'
            for (r, alt), cid in zip(renditions, cids, strict=True)
        )
        msg.add_alternative(
            f'<!DOCTYPE html><html lang="{post.language}"><body>{paragraphs}{pictures}</body></html>', subtype="html"
        )
        html_part = msg.get_body(preferencelist=("html",))
        assert isinstance(html_part, EmailMessage)
        for (rendition, _alt), cid in zip(renditions, cids, strict=True):
            maintype, subtype = rendition.mime_type.split("/")
            html_part.add_related(
                rendition.read(), maintype=maintype, subtype=subtype, cid=f"<{cid}>", filename=rendition.name
            )
        # After the body: making the message multipart moves Content-* headers into the first part.
        msg["Content-Language"] = post.language
        return msg

    def publish(self, post: Post, idempotency_key: str) -> Receipt:
        if not self.recipients:
            raise PermanentError(gettext_noop("The email channel has no recipients."))
        msg = self.build(post, idempotency_key)
        if post.exercise:
            return self.exercise_receipt(
                post,
                idempotency_key,
                {"subject": msg["Subject"], "to": self.recipients, "message_id": msg["Message-ID"]},
            )
        refused = self._send(msg)
        return Receipt(remote_id=str(msg["Message-ID"]), extra={"refused": sorted(refused)} if refused else {})

    def login_check(self, *, host: str, port: int, security: str, username: str, password: str) -> None:
        """Connect, secure and sign in as a send would, then quit without sending (connect
        from the admin: the settings are checked before they are saved). Raises AuthError
        when the server refuses the user and password, TransientError when it cannot be
        reached or secured."""
        self._session(host=host, port=port, security=security, username=username, password=password, msg=None)

    def _send(self, msg: EmailMessage) -> dict[str, Any]:
        config = self.channel.config
        username = str(config.get("username", ""))
        return self._session(
            host=str(config.get("host", self.host_fields["host"])),
            port=int(config.get("port", 25)),
            security=str(config.get("security", "none")),
            username=username,
            password=channel_secret(self.channel) if username else "",
            msg=msg,
        )

    def _session(
        self, *, host: str, port: int, security: str, username: str, password: str, msg: EmailMessage | None
    ) -> dict[str, Any]:
        timeout = float(self.channel.config.get("timeout", 30))
        sending = False
        try:
            smtp: smtplib.SMTP
            if security == "ssl":
                smtp = PolicySMTPSSL(host, port, timeout=timeout, context=ssl.create_default_context())
            else:
                smtp = PolicySMTP(host, port, timeout=timeout)
            with smtp:
                if security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if username:
                    smtp.login(username, password)
                if msg is None:
                    return {}
                sending = True
                refused: dict[str, Any] = smtp.send_message(msg, to_addrs=self.recipients)
                return refused
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthError(f"SMTP {exc.smtp_code}: {excerpt(_decode(exc.smtp_error))}", status=exc.smtp_code) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"SMTP: every recipient was refused ({', '.join(sorted(exc.recipients))})") from exc
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.smtp_code}: {excerpt(_decode(exc.smtp_error))}"
            if 400 <= exc.smtp_code < 500:
                raise TransientError(text, status=exc.smtp_code) from exc
            raise PermanentError(text, status=exc.smtp_code) from exc
        except (smtplib.SMTPServerDisconnected, TimeoutError, ConnectionError, OSError) as exc:
            text = f"SMTP {host}:{port}: {type(exc).__name__}: {exc}"
            if sending:
                raise UnknownOutcome(text) from exc
            raise TransientError(text) from exc


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
