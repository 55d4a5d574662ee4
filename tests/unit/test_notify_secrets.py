"""Secrets in notification settings: expanded only when sent, refused by name when they cannot
be sent as they are, and absent from every warning in every form an error could quote them.

Deliveries go to a real HTTP server on loopback (or to a port nothing listens on); the
environment is handed to the Notifier, so values a process environment cannot hold (NUL) are
tried too.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from mvctl.apply.notify import Notifier, _GiveUp, expand, scrub
from mvctl.spec.models import Notification
from tests.functional.webhooks import Hook, free_port, webhook_server

EVENT = {"event": "apply_failed", "id": "e1"}


@pytest.fixture
def hook() -> Iterator[Hook]:
    with webhook_server() as server:
        yield server


def quoted_forms(secret: str) -> list[str]:
    """The secret as an error or a log might spell it."""
    data = secret.encode("utf-8")
    return [
        secret,
        repr(secret)[1:-1],
        repr(data)[2:-1],
        json.dumps(secret)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(data).decode(),
    ]


def deliver(target: Notification, env: dict[str, str], caplog: pytest.LogCaptureFixture) -> str:
    """Send one event to ``target`` and wait; the warnings logged meanwhile."""
    caplog.set_level(logging.WARNING, "mvctl.notify")
    notifier = Notifier([target], Path("."), env)
    notifier.send(dict(EVENT))
    notifier.close(budget_s=10)
    return caplog.text


def assert_hidden(secret: str, text: str) -> None:
    for form in quoted_forms(secret):
        assert form not in text, (form, text)


def test_variables_are_expanded_from_the_environment_given() -> None:
    text, secrets = expand(
        "https://h/x?t=${TOKEN}&u=${USER_ID}", {"TOKEN": "abc123", "USER_ID": "7"}, "the URL"
    )
    assert text == "https://h/x?t=abc123&u=7" and secrets == ["abc123", "7"]


def test_a_missing_variable_names_the_variable_not_a_value() -> None:
    with pytest.raises(_GiveUp, match="environment variable TOKEN is not set"):
        expand("https://h/${TOKEN}", {}, "the webhook URL")


def test_scrub_replaces_every_secret_longest_first() -> None:
    assert scrub("bad token abc123 (abc)", ["abc", "abc123"]) == "bad token *** (***)"
    assert scrub("nothing to hide", ["", "zzz"]) == "nothing to hide"


def test_scrub_hides_a_secret_in_every_quoted_form() -> None:
    secret = "ghp_t0k/en+=\n\x1b"
    for form in quoted_forms(secret):
        assert scrub(f"Invalid header value b'Bearer {form}'", [secret]) == (
            "Invalid header value b'Bearer ***'"
        )


HOSTILE = {
    "trailing newline": ("ghp_n3wl1ne_token\n", "a newline"),
    "carriage return": ("ghp_cr_\rtoken", "a carriage return"),
    "tab": ("ghp_tab_\ttoken", "a tab"),
    "NUL": ("ghp_nul_\x00token", "a NUL byte"),
    "ESC": ("ghp_esc_\x1b[2Jtoken", "a control character"),
    "DEL": ("ghp_del_\x7ftoken", "a control character"),
    "C1": ("ghp_c1_\x85token", "a control character"),
    "non-ASCII": ("ghp_n0n_asc11_tökén", "a non-ASCII character"),
}


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("place", ["header", "url"])
def test_an_unsendable_secret_is_refused_by_its_name_and_never_shown(
    hook: Hook, caplog: pytest.LogCaptureFixture, name: str, place: str
) -> None:
    secret, kind = HOSTILE[name]
    if place == "header":
        target = Notification(
            webhook=hook.url, headers={"Authorization": "Bearer ${HOOK_TOKEN}"}, retries=2
        )
        where = "header Authorization"
    else:
        target = Notification(webhook=hook.url + "?token=${HOOK_TOKEN}", retries=2)
        where = "the webhook URL"
    text = deliver(target, {"HOOK_TOKEN": secret}, caplog)
    assert hook.received == []  # refused before any request: nothing was sent, nor retried
    assert f"environment variable HOOK_TOKEN holds {kind}, which cannot be sent in {where}" in text
    assert "${HOOK_TOKEN}" in text or place == "header"  # the URL as written, unexpanded
    assert_hidden(secret, text)
    assert_hidden(secret.strip(), text)


def test_a_space_is_refused_in_the_url_and_sent_in_a_header(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"HOOK_TOKEN": "two words"}
    in_url = deliver(Notification(webhook=hook.url + "?t=${HOOK_TOKEN}"), env, caplog)
    assert "HOOK_TOKEN holds a space, which cannot be sent in the webhook URL" in in_url
    assert hook.received == []
    caplog.clear()
    deliver(Notification(webhook=hook.url, headers={"X-Token": "${HOOK_TOKEN}"}), env, caplog)
    assert [r.headers["X-Token"] for r in hook.received] == ["two words"]


def test_a_header_written_with_a_control_character_is_refused_by_its_name(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    text = deliver(
        Notification(webhook=hook.url, headers={"X-Team": "risk\r\nX-Evil: 1"}), {}, caplog
    )
    assert "header X-Team holds a carriage return; remove it" in text
    assert hook.received == []
    caplog.clear()
    text = deliver(Notification(webhook=hook.url, headers={"X-Evil\n": "1"}), {}, caplog)
    assert "is not a valid HTTP header name" in text and hook.received == []


SECRET = "s3cr3t-Tok+en/4f9a"
PASSWORD = "s3cr3t-pa55~w0rd"
"""A secret that may stand in a URL's userinfo as it is."""


@pytest.mark.parametrize(
    "answers, expected", [([404], "the endpoint answered 404"), ([500, 500], "answered 500")]
)
def test_a_bad_status_never_shows_a_secret_in_the_url_or_a_header(
    hook: Hook, caplog: pytest.LogCaptureFixture, answers: list[int], expected: str
) -> None:
    hook.answers = answers
    target = Notification(
        webhook=hook.url + "?token=${HOOK_TOKEN}",
        headers={"Authorization": "Bearer ${HOOK_TOKEN}"},
        retries=1,
    )
    text = deliver(target, {"HOOK_TOKEN": SECRET}, caplog)
    assert hook.received[0].path == f"/hook?token={quote(SECRET, safe='/+')}"
    assert expected in text and "/hook?token=${HOOK_TOKEN}" in text
    assert_hidden(SECRET, text)


def test_a_refused_connection_never_shows_the_secret_of_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"http://user:${{HOOK_TOKEN}}@127.0.0.1:{free_port()}/hook?token=${{HOOK_TOKEN}}"
    text = deliver(Notification(webhook=url, retries=1), {"HOOK_TOKEN": PASSWORD}, caplog)
    assert "cannot connect: Connection refused (tried 2 times)" in text
    assert_hidden(PASSWORD, text)
    assert_hidden(f"user:{PASSWORD}", text)


def test_a_host_that_does_not_resolve_never_shows_the_secret_of_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = "http://user:${HOOK_TOKEN}@mvctl-test.invalid/hook?token=${HOOK_TOKEN}"
    text = deliver(Notification(webhook=url, retries=0), {"HOOK_TOKEN": PASSWORD}, caplog)
    assert "cannot connect:" in text and "mvctl-test.invalid/hook?token=${HOOK_TOKEN}" in text
    assert_hidden(PASSWORD, text)
    assert_hidden(f"user:{PASSWORD}", text)


def test_a_timeout_never_shows_the_secret_of_the_url(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    hook.delay_s = 2
    url = hook.url + "?token=${HOOK_TOKEN}"
    text = deliver(Notification(webhook=url, timeout=0.3), {"HOOK_TOKEN": SECRET}, caplog)
    assert "no answer within 0.3 s" in text
    assert_hidden(SECRET, text)


def test_a_port_taken_from_a_secret_is_refused_without_quoting_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = "http://127.0.0.1:${HOOK_TOKEN}/hook"
    text = deliver(Notification(webhook=url), {"HOOK_TOKEN": SECRET}, caplog)
    assert "the webhook URL's port is not a number" in text
    assert_hidden(SECRET, text)


def test_a_user_and_password_in_the_url_are_sent_as_basic_authentication(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    port_and_path = hook.url.removeprefix("http://")
    url = f"http://bot:${{HOOK_TOKEN}}@{port_and_path}"
    deliver(Notification(webhook=url), {"HOOK_TOKEN": "p%40ss:w0rd"}, caplog)
    (received,) = hook.received
    assert received.path == "/hook"
    assert (
        received.headers["Authorization"] == "Basic " + base64.b64encode(b"bot:p@ss:w0rd").decode()
    )
    caplog.clear()
    both = Notification(webhook=url, headers={"Authorization": "Bearer x"})
    text = deliver(both, {"HOOK_TOKEN": "pw"}, caplog)
    assert "an Authorization header is set too" in text and len(hook.received) == 1
