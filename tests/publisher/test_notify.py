"""The notifier without the stack: which results are told, in which shape, once, and what happens
when the receiver is down (a local webhook receiver takes the posts)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher import cli
from publisher.notify import Notifier, decode, make_sender
from publisher.notify_send import SmtpSettings
from tests.publisher import webhook_receiver
from tests.publisher.webhook_receiver import Receiver
from worker.alert_formats import (
    CATEGORIES,
    FormatError,
    alert,
    category,
    detail_link,
    email,
    guess_format,
    parse_categories,
    request,
    shown,
)
from worker.alert_send import RetryPolicy, WebhookSender

DASHBOARD = "https://dash.example.test"
FAST = RetryPolicy(retries=2, backoff=0)


def result(status: str = "failed", code: str = "risk-limit", **extra: object) -> dict:
    error = None if status == "succeeded" else {"code": code, "message": "why", "retryable": False}
    return {
        "id": "alloc-1",
        "intent": "allocation",
        "tradingMode": "paper",
        "status": status,
        "error": error,
        "messageId": "m-1",
        **extra,
    }


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = webhook_receiver.start()
    yield started
    webhook_receiver.stop(started)


def notifier(url: str, lines: list[str], **kwargs: object) -> Notifier:
    return Notifier(
        WebhookSender(url, "json", FAST), dashboard=DASHBOARD, say=lines.append, **kwargs
    )


def test_a_failed_result_is_one_post_naming_id_intent_mode_error_and_link(receiver):
    lines: list[str] = []
    assert notifier(receiver.url, lines).handle(result()) == "sent"
    (post,) = receiver.posts
    body = json.loads(post.body)
    assert body["id"] == "alloc-1" and body["tradingMode"] == "paper"
    assert body["intent"] == "allocation" and body["error"] == "risk-limit: why"
    assert body["link"] == f"{DASHBOARD}/intents/paper/alloc-1"
    for text in (body["text"], body["content"]):  # Slack's and Discord's field
        assert "alloc-1" in text and "risk-limit: why" in text and body["link"] in text


def test_a_success_is_not_posted(receiver):
    lines: list[str] = []
    assert notifier(receiver.url, lines).handle(result("succeeded")) == "ignored"
    assert receiver.posts == []


def test_the_same_result_twice_is_one_post(receiver):
    n = notifier(receiver.url, [])
    assert [n.handle(result()), n.handle(result())] == ["sent", "duplicate"]
    assert len(receiver.posts) == 1
    # Another message with the same id (a reused id's rejection) is its own alert.
    assert n.handle(result("rejected", "id-reused", messageId="m-2")) == "sent"
    # The same id in the other trading mode is another intent.
    assert n.handle(result(tradingMode="live")) == "sent"
    assert len(receiver.posts) == 3


def test_only_the_chosen_categories_are_told(receiver):
    n = notifier(receiver.url, [], on=parse_categories("silent,dead-lettered"))
    assert n.handle(result()) == "ignored"
    assert n.handle(result("expired", "expired")) == "ignored"
    assert n.handle(result(code="dead-lettered", id="dl")) == "sent"
    assert n.handle(result(code="schedule-silent", id="quiet")) == "sent"
    assert [json.loads(p.body)["category"] for p in receiver.posts] == ["dead-lettered", "silent"]


def test_a_failing_receiver_is_retried_then_logged_and_let_go(receiver):
    receiver.status = 503
    lines: list[str] = []
    assert notifier(receiver.url, lines).handle(result()) == "not-sent"
    assert len(receiver.posts) == FAST.retries + 1
    (logged,) = [line for line in lines if "not sent" in line]
    assert "alloc-1" in logged and "HTTP 503" in logged
    assert "/hook" not in logged  # a webhook's path is its secret


def test_a_receiver_that_is_down_is_retried_then_logged():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lines: list[str] = []
    n = notifier(f"http://127.0.0.1:{port}/secret-path", lines)
    assert n.handle(result()) == "not-sent"
    (logged,) = [line for line in lines if "not sent" in line]
    assert f"unreachable after {FAST.retries + 1} attempts" in logged
    assert "secret-path" not in logged
    # Told once: the same result again is not retried forever.
    assert n.handle(result()) == "duplicate"


def test_ntfy_posts_the_text_with_a_title_and_a_click_link(receiver):
    found = alert(result(), DASHBOARD)
    assert found is not None
    out = request(found, receiver.url, "ntfy")
    assert out.headers["Click"] == f"{DASHBOARD}/intents/paper/alloc-1"
    assert out.headers["Title"] == "IB intent failed: allocation (paper)"
    assert b"alloc-1" in out.body and b"risk-limit: why" in out.body


def test_telegram_needs_a_chat_and_posts_to_send_message():
    found = alert(result(), DASHBOARD)
    assert found is not None
    url = "https://api.telegram.org/botTOKEN-NOT-REAL/sendMessage?chat_id=-100123"
    out = request(found, url, "telegram")
    assert out.url == "https://api.telegram.org/botTOKEN-NOT-REAL/sendMessage"
    assert json.loads(out.body)["chat_id"] == "-100123"
    with pytest.raises(FormatError, match="chat_id"):
        make_sender("https://api.telegram.org/botTOKEN-NOT-REAL/sendMessage", "telegram", FAST)
    assert shown(url) == "https://api.telegram.org"


def test_email_names_the_intent_and_links_to_it():
    found = alert(result(), DASHBOARD)
    assert found is not None
    message = email(found, "ops@example.com", "ib@example.com")
    assert message["Subject"] == "IB intent failed: allocation (paper)"
    assert "alloc-1" in message.get_content() and found.link in message.get_content()


def test_smtp_settings_come_from_the_environment_and_are_checked():
    settings = SmtpSettings.from_env({"SMTP_HOST": "smtp.example.com", "SMTP_FROM": "a@b.example"})
    assert (settings.port, settings.tls) == (587, "starttls")
    for env, wrong in [
        ({}, "SMTP_HOST"),
        ({"SMTP_HOST": "h", "SMTP_FROM": "a@b", "SMTP_TLS": "maybe"}, "SMTP_TLS"),
        ({"SMTP_HOST": "h", "SMTP_FROM": "a@b", "SMTP_PORT": "99999"}, "SMTP_PORT"),
        ({"SMTP_HOST": "h"}, "SMTP_FROM"),
    ]:
        with pytest.raises(ValueError, match=wrong):
            SmtpSettings.from_env(env)


def test_formats_are_guessed_from_the_address():
    assert guess_format("mailto:ops@example.com") == "email"
    assert guess_format("https://api.telegram.org/botX/sendMessage?chat_id=1") == "telegram"
    assert guess_format("https://ntfy.sh/my-topic") == "ntfy"
    assert guess_format("https://hooks.slack.com/services/X") == "json"
    assert guess_format("http://127.0.0.1:9/hook") == "json"


def test_a_credential_in_an_error_is_masked():
    leaked = result()
    leaked["error"]["message"] = "login failed: password=hunter2-NOT-REAL"
    found = alert(leaked, DASHBOARD)
    assert found is not None and "hunter2" not in found.text


def test_the_link_quotes_the_id():
    assert detail_link("http://d/", "paper", "a/b c") == "http://d/intents/paper/a%2Fb%20c"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--to", "ftp://example.com/x"], "http(s) or mailto"),
        (["--to", "http://127.0.0.1:9/h", "--on", "failed,bogus"], "--on"),
        (["--to", "http://127.0.0.1:9/h", "--retries", "99"], "--retries"),
        (["--to", "mailto:ops@example.com"], "SMTP_HOST"),
        ([], "--to URL"),
    ],
)
def test_bad_command_lines_exit_3_with_one_line(args, message, capsys, monkeypatch):
    monkeypatch.delenv("NOTIFY_URL", raising=False)
    monkeypatch.delenv("SMTP_HOST", raising=False)
    assert cli.main(["notify", *args]) == cli.EXIT_INVALID
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@given(st.dictionaries(st.text(max_size=12), st.none() | st.text(max_size=20) | st.integers()))
def test_any_object_is_an_alert_or_none_without_raising(data):
    found = alert(data, DASHBOARD)
    assert found is None or found.category in CATEGORIES


@given(st.binary(max_size=200))
def test_any_message_data_decodes_to_an_object_or_none(data):
    decoded = decode(data)
    assert decoded is None or isinstance(decoded, dict)


@given(st.text(max_size=60))
def test_any_on_list_is_parsed_or_refused_with_value_error(text):
    try:
        chosen = parse_categories(text)
    except ValueError:
        return
    assert chosen and chosen <= set(CATEGORIES)


def test_category_reads_status_and_code():
    assert category(result("succeeded")) is None
    assert category(result("expired", "expired")) == "expired"
    assert category({"status": "failed", "error": "not a mapping"}) == "failed"
