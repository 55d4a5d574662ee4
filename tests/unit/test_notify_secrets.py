"""Secrets in notification settings: expanded only when sent, scrubbed from every message."""

from __future__ import annotations

import pytest

from mvctl.apply.notify import _GiveUp, expand, scrub


def test_variables_are_expanded_from_the_environment_given() -> None:
    text, secrets = expand(
        "https://h/x?t=${TOKEN}&u=${USER_ID}", {"TOKEN": "abc123", "USER_ID": "7"}
    )
    assert text == "https://h/x?t=abc123&u=7" and secrets == ["abc123", "7"]


def test_a_missing_variable_names_the_variable_not_a_value() -> None:
    with pytest.raises(_GiveUp, match="environment variable TOKEN is not set"):
        expand("https://h/${TOKEN}", {})


def test_scrub_replaces_every_secret_longest_first() -> None:
    assert scrub("bad token abc123 (abc)", ["abc", "abc123"]) == "bad token *** (***)"
    assert scrub("nothing to hide", ["", "zzz"]) == "nothing to hide"
