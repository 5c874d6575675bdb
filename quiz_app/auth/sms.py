"""Outgoing SMS: the pluggable senders behind SMS_BACKEND and their dispatch.

`log` writes the message to the server log (local runs, tests); `webhook`
POSTs JSON {"phone", "message"} to SMS_WEBHOOK_URL, the shape most SMS
gateways or an in-house relay accept. Messages leave on a background thread,
so a slow gateway neither holds the request nor tells, by the time the answer
takes, whether the phone belongs to an account.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from http.client import HTTPConnection, HTTPSConnection
from typing import Protocol
from urllib.parse import urlsplit

log = logging.getLogger(__name__)
BACKENDS = ("log", "webhook")


class SmsSender(Protocol):
    def send(self, phone: str, message: str) -> None: ...


class LogSender:
    """Writes the message to the log: the default when no gateway exists."""

    def send(self, phone: str, message: str) -> None:
        log.warning("SMS to %s: %s", phone, message)


class WebhookSender:
    """POSTs {"phone", "message"} as JSON; any 2xx counts as sent."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s

    def send(self, phone: str, message: str) -> None:
        body = json.dumps({"phone": phone, "message": message}, ensure_ascii=False)
        url = urlsplit(self.url)
        kind = HTTPSConnection if url.scheme == "https" else HTTPConnection
        conn = kind(url.netloc, timeout=self.timeout_s)
        try:
            conn.request(
                "POST",
                (url.path or "/") + (f"?{url.query}" if url.query else ""),
                body=body.encode("utf-8"),
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
            resp = conn.getresponse()
            resp.read()
            if not 200 <= resp.status < 300:
                raise OSError(f"SMS gateway answered {resp.status}")
        finally:
            conn.close()


def sender_from_config(config) -> SmsSender:
    """The sender SMS_BACKEND names; refuses an unknown backend or a webhook
    without a URL (a misconfiguration, found at startup)."""
    backend = config.get("SMS_BACKEND", "log")
    if backend == "log":
        return LogSender()
    if backend == "webhook":
        url = config.get("SMS_WEBHOOK_URL") or ""
        if not url.startswith(("http://", "https://")):
            raise ValueError("SMS_BACKEND=webhook needs SMS_WEBHOOK_URL (http/https)")
        return WebhookSender(url, float(config.get("SMS_WEBHOOK_TIMEOUT_S", 3)))
    raise ValueError(f"SMS_BACKEND must be one of {', '.join(BACKENDS)}")


_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sms")


def _deliver(sender: SmsSender, phone: str, message: str) -> None:
    try:
        sender.send(phone, message)
    except Exception:  # a gateway fault must not take the worker down
        log.exception("SMS to %s*** could not be sent", phone[:3])


def dispatch(sender: SmsSender, phone: str, message: str) -> Future:
    """Send in the background; the returned future is for tests to wait on."""
    return _pool.submit(_deliver, sender, phone, message)
