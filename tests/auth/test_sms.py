"""SMS senders: the webhook against a real local HTTP receiver, the log
backend, and configuration errors."""

from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from quiz_app.auth import sms


@contextmanager
def running_receiver():
    """A real HTTP server on a free local port recording what it is sent;
    `.delay` makes it answer slowly, `.status` sets its answer."""
    got: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            got.append(
                {
                    "type": self.headers["Content-Type"],
                    "body": json.loads(self.rfile.read(length)),
                }
            )
            time.sleep(server.delay)
            self.send_response(server.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.delay = 0
    server.status = 204
    server.got = got
    server.url = f"http://127.0.0.1:{server.server_port}/sms"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def receiver():
    with running_receiver() as server:
        yield server


def test_webhook_posts_phone_and_message_as_json(receiver):
    sender = sms.sender_from_config(
        {"SMS_BACKEND": "webhook", "SMS_WEBHOOK_URL": receiver.url}
    )
    sender.send("13900000001", "验证码 123456")
    assert receiver.got == [
        {
            "type": "application/json; charset=utf-8",
            "body": {"phone": "13900000001", "message": "验证码 123456"},
        }
    ]


def test_a_slow_gateway_times_out_in_the_background(receiver, caplog):
    receiver.delay = 1.0
    sender = sms.sender_from_config(
        {
            "SMS_BACKEND": "webhook",
            "SMS_WEBHOOK_URL": receiver.url,
            "SMS_WEBHOOK_TIMEOUT_S": 0.2,
        }
    )
    with pytest.raises(TimeoutError):
        sender.send("13900000001", "x")
    started = time.monotonic()
    future = sms.dispatch(sender, "13900000001", "x")
    assert time.monotonic() - started < 0.1  # the caller does not wait
    future.result(timeout=5)  # the fault is logged, never raised
    assert "could not be sent" in caplog.text


def test_a_gateway_error_status_is_a_failure(receiver):
    receiver.status = 500
    sender = sms.sender_from_config(
        {"SMS_BACKEND": "webhook", "SMS_WEBHOOK_URL": receiver.url}
    )
    with pytest.raises(OSError):
        sender.send("13900000001", "x")


def test_log_backend_writes_the_message(caplog):
    with caplog.at_level(logging.WARNING, logger="quiz_app.auth.sms"):
        sms.sender_from_config({"SMS_BACKEND": "log"}).send("13900000001", "码 654321")
    assert "13900000001" in caplog.text and "654321" in caplog.text


@pytest.mark.parametrize(
    "config",
    [
        {"SMS_BACKEND": "carrier-pigeon"},
        {"SMS_BACKEND": "webhook", "SMS_WEBHOOK_URL": ""},
        {"SMS_BACKEND": "webhook", "SMS_WEBHOOK_URL": "file:///etc/passwd"},
    ],
)
def test_misconfiguration_is_refused(config):
    with pytest.raises(ValueError):
        sms.sender_from_config(config)
