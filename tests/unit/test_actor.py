"""Who the actor is: --actor, else MVCTL_ACTOR, else the CI's own identity, else the login."""

from __future__ import annotations

import getpass

import pytest

from mvctl.actor import ACTOR_VARIABLES, current_actor
from mvctl.errors import UsageError


@pytest.fixture(autouse=True)
def _no_actor_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ACTOR_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(getpass, "getuser", lambda: "login-name")


def test_each_ci_variable_names_the_actor_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set every variable, then unset them from the first: each in turn is the actor."""
    for name in ACTOR_VARIABLES:
        monkeypatch.setenv(name, f"from-{name}")
    for name in ACTOR_VARIABLES:
        assert current_actor() == f"from-{name}"
        monkeypatch.delenv(name)
    assert current_actor() == "login-name"


def test_the_common_ci_identities_are_read() -> None:
    assert set(ACTOR_VARIABLES) >= {
        "GITHUB_ACTOR",
        "GITLAB_USER_LOGIN",
        "BUILDKITE_BUILD_CREATOR",
        "CIRCLE_USERNAME",
        "BITBUCKET_STEP_TRIGGERER_UUID",
        "BUILD_USER_ID",
        "BUILD_REQUESTEDFOR",
    }
    assert ACTOR_VARIABLES[0] == "MVCTL_ACTOR"


def test_the_option_wins_and_an_empty_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MVCTL_ACTOR", "")
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    assert current_actor() == "octocat"
    assert current_actor("release-bot") == "release-bot"


def test_an_odd_name_is_refused_naming_where_it_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BUILD_REQUESTEDFOR", "Jane Doe\t")
    with pytest.raises(UsageError, match=r"environment variable BUILD_REQUESTEDFOR.*U\+0009"):
        current_actor()
    with pytest.raises(UsageError, match=r"from --actor .* it is empty"):
        current_actor("")
    monkeypatch.setattr(getpass, "getuser", lambda: "odd\x1bname")
    monkeypatch.delenv("BUILD_REQUESTEDFOR")
    with pytest.raises(UsageError, match="the login name"):
        current_actor()


def test_a_display_name_with_inner_spaces_is_an_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUILD_REQUESTEDFOR", "Jane Doe")
    assert current_actor() == "Jane Doe"
