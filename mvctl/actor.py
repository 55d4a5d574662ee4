"""Who is acting: named on the command line, by mvctl's variable or by the CI, else the login.

Policy rules compare actor names exactly, so a name that would print like another (blank ends,
control or invisible characters) is refused, naming where it came from.
"""

from __future__ import annotations

import getpass
import os

from mvctl.errors import UsageError
from mvctl.spec.names import actor_name_problem

ACTOR_VARIABLES = (
    "MVCTL_ACTOR",
    "GITHUB_ACTOR",  # GitHub Actions (and Gitea/Forgejo Actions): who started the workflow
    "GITLAB_USER_LOGIN",  # GitLab CI: login of the user who started the pipeline or job
    "BUILDKITE_BUILD_CREATOR",  # Buildkite: the user who created the build
    "CIRCLE_USERNAME",  # CircleCI: the VCS user who triggered the pipeline
    "BITBUCKET_STEP_TRIGGERER_UUID",  # Bitbucket Pipelines: who triggered the step
    "BUILD_USER_ID",  # Jenkins, with the build-user-vars plugin: who started the build
    "BUILD_REQUESTEDFOR",  # Azure Pipelines: the user the build was requested for
    "CODEBUILD_INITIATOR",  # AWS CodeBuild: the entity that started the build
)
"""Where the actor comes from when --actor is not given, first set and non-empty wins: our
own variable, then the CI's identity of who started the run."""


def current_actor(explicit: str | None = None) -> str:
    """Who is acting: ``explicit`` (--actor), else MVCTL_ACTOR, else the CI's user, else the
    login name. An empty variable counts as unset; a name that cannot be an actor (blank
    ends, control or invisible characters) is refused, naming where it came from."""
    if explicit is not None:
        return _checked_actor(explicit, "--actor")
    for name in ACTOR_VARIABLES:
        value = os.environ.get(name)
        if value:
            return _checked_actor(value, f"the environment variable {name}")
    try:
        return _checked_actor(getpass.getuser(), "the login name")
    except (KeyError, OSError):
        return "unknown"


def _checked_actor(name: str, source: str) -> str:
    problem = actor_name_problem(name)
    if problem is not None:
        raise UsageError(
            f"{name!r} from {source} is not a valid actor name: {problem}",
            fix="Name the actor plainly, e.g. --actor release-bot; policy rules compare "
            "names exactly.",
        )
    return name
