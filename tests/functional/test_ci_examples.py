"""The CI examples under examples/ci/ cannot rot: every `mvctl` command line they run names a
command and flags that exist (checked against `mvctl COMMAND --help`), every field their jq
reads from `mvctl trigger --json` is in its schema, and together they do the pull-request
flow: plan as Markdown with the detailed exit code, apply with auto-approve, a manual revert,
and scheduled triggers proposing one pull (merge) request per trigger."""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.functional.projects import REPO, base_env

EXAMPLES = REPO / "examples" / "ci"
FILES = sorted(EXAMPLES.rglob("*.yml"))
SEPARATORS = re.compile(r"\s*(?:&&|\|\||;|\|)\s*")
GROUPS = {"state"}
"""Commands whose first argument is a subcommand (`mvctl state migrate`)."""


def shell_texts(node: Any) -> Iterator[str]:
    """Every shell script in a workflow: GitHub's `run:` values, GitLab's script lists."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                yield value
            elif key in ("script", "before_script", "after_script"):
                yield from (value if isinstance(value, list) else [value])
            else:
                yield from shell_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from shell_texts(item)


def invocations(text: str) -> Iterator[list[str]]:
    """Each `mvctl ...` command in a script, as words (continuation lines joined)."""
    for line in text.replace("\\\n", " ").splitlines():
        for command in SEPARATORS.split(line.strip()):
            try:
                words = shlex.split(command, comments=True)
            except ValueError:
                continue
            if words and words[0] == "mvctl":
                yield words[1:]


def all_invocations() -> list[tuple[str, list[str]]]:
    found = []
    for path in FILES:
        document = yaml.safe_load(path.read_text("utf-8"))
        for text in shell_texts(document):
            found += [(path.name, words) for words in invocations(text)]
    return found


@cache
def help_text(*command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mvctl", *command, "--help"],
        capture_output=True,
        text=True,
        env=base_env(None),
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, f"`mvctl {' '.join(command)} --help` failed:\n{done.stderr}"
    return done.stdout


def test_the_examples_exist_and_parse() -> None:
    names = {path.relative_to(EXAMPLES).as_posix() for path in FILES}
    assert {
        "github/mvctl-plan.yml",
        "github/mvctl-apply.yml",
        "github/mvctl-revert.yml",
        "github/mvctl-trigger.yml",
        "gitlab/.gitlab-ci.yml",
    } <= names


@pytest.mark.parametrize(
    "file_name, words",
    all_invocations(),
    ids=[f"{f}: mvctl {' '.join(w)}" for f, w in all_invocations()],
)
def test_every_command_and_flag_exists(file_name: str, words: list[str]) -> None:
    command = words[:2] if words[0] in GROUPS else words[:1]
    text = help_text(*command)
    for word in words[len(command) :]:
        if word.startswith("-"):
            flag = word.split("=", 1)[0]
            assert re.search(rf"(^|[\s,]){re.escape(flag)}([\s,=]|$)", text, re.MULTILINE), (
                f"{file_name}: `mvctl {' '.join(command)}` has no option {flag}"
            )


def test_the_flow_is_plan_markdown_apply_auto_approve_and_revert() -> None:
    by_file: dict[str, list[list[str]]] = {}
    for file_name, words in all_invocations():
        by_file.setdefault(file_name, []).append(words)
    for plan_file in ("mvctl-plan.yml", ".gitlab-ci.yml"):
        assert any(
            w[0] == "plan" and {"--markdown", "--detailed-exitcode"} <= set(w)
            for w in by_file[plan_file]
        )
    for apply_file in ("mvctl-apply.yml", ".gitlab-ci.yml"):
        assert any(w[0] == "apply" and "--auto-approve" in w for w in by_file[apply_file])
    for revert_file in ("mvctl-revert.yml", ".gitlab-ci.yml"):
        assert any(w[0] == "revert" and "--auto-approve" in w for w in by_file[revert_file])


def test_the_plan_comment_is_found_by_its_marker_and_edited() -> None:
    for path in (EXAMPLES / "github" / "mvctl-plan.yml", EXAMPLES / "gitlab" / ".gitlab-ci.yml"):
        text = path.read_text("utf-8")
        assert "<!-- mvctl-plan -->" in text
        assert ("PATCH" in text) or ("PUT" in text), f"{path.name} must edit the existing comment"


def test_conflicts_fail_the_check_and_changes_pass_it() -> None:
    github = (EXAMPLES / "github" / "mvctl-plan.yml").read_text("utf-8")
    gitlab = (EXAMPLES / "gitlab" / ".gitlab-ci.yml").read_text("utf-8")
    assert re.search(r"^\s*3\)[^\n]*exit 1", github, re.MULTILINE)
    assert re.search(r"^\s*2\)[^\n]*\n", github, re.MULTILINE) and "0|2)" in gitlab
    assert re.search(r"^\s*3\)[^\n]*exit 1", gitlab, re.MULTILINE)


def test_secrets_name_the_shared_state_and_store() -> None:
    for path in FILES:
        text = path.read_text("utf-8")
        if "mvctl apply" in text or "mvctl revert" in text:
            assert "MVCTL_STATE" in text and "MVCTL_STORE" in text, path.name


def test_apply_tells_a_refused_promotion_from_a_failure() -> None:
    """Exit 4 (a gate or health check said no) gets its own message in both pipelines."""
    github = (EXAMPLES / "github" / "mvctl-apply.yml").read_text("utf-8")
    gitlab = (EXAMPLES / "gitlab" / ".gitlab-ci.yml").read_text("utf-8")
    for text in (github, gitlab):
        assert re.search(r"^\s*4\)[^\n]*refused", text, re.MULTILINE)
        assert re.search(r"^\s*3\)[^\n]*conflicts", text, re.MULTILINE)


def trigger_scripts(path: Path) -> str:
    document = yaml.safe_load(path.read_text("utf-8"))
    jobs = [job for name, job in document.items() if name == "mvctl-trigger"] or [document]
    return "\n".join(text for job in jobs for text in shell_texts(job))


def schema_fields(node: Any) -> set[str]:
    """Every property name anywhere in a JSON Schema."""
    found: set[str] = set()
    if isinstance(node, dict):
        found |= (
            set(node.get("properties", {})) if isinstance(node.get("properties"), dict) else set()
        )
        for value in node.values():
            found |= schema_fields(value)
    elif isinstance(node, list):
        for item in node:
            found |= schema_fields(item)
    return found


TRIGGER_FILES = [EXAMPLES / "github" / "mvctl-trigger.yml", EXAMPLES / "gitlab" / ".gitlab-ci.yml"]


def test_triggers_run_on_a_schedule_and_only_propose() -> None:
    github = yaml.safe_load(TRIGGER_FILES[0].read_text("utf-8"))
    on = github.get("on", github.get(True))  # YAML 1.1 reads the key `on` as true
    assert on["schedule"][0]["cron"]
    gitlab = yaml.safe_load(TRIGGER_FILES[1].read_text("utf-8"))
    assert gitlab["mvctl-trigger"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    for path in TRIGGER_FILES:
        calls = [
            list(itertools.takewhile(lambda word: word not in ("<", ">"), words))
            for words in invocations(trigger_scripts(path))
            if words[0] == "trigger"
        ]
        assert calls == [["trigger", "--dry-run", "--json"], ["trigger", "$name", "--json"]]


def test_other_jobs_stay_out_of_the_scheduled_pipeline() -> None:
    gitlab = yaml.safe_load(TRIGGER_FILES[1].read_text("utf-8"))
    for name in ("mvctl-plan", "mvctl-apply", "mvctl-revert"):
        first = gitlab[name]["rules"][0]
        assert "schedule" not in first["if"] or first.get("when") == "never", name


def test_each_trigger_gets_one_branch_and_its_request_is_updated_not_duplicated() -> None:
    github, gitlab = (trigger_scripts(path) for path in TRIGGER_FILES)
    for text in (github, gitlab):
        assert 'branch="mvctl-trigger/' in text
        assert 'git checkout --quiet -B "$branch"' in text
        assert "git diff --quiet FETCH_HEAD HEAD" in text  # nothing new: nothing pushed
        assert "git push --quiet --force" in text
    assert 'gh pr list --head "$branch" --state open' in github
    assert github.index("gh pr edit") < github.index("gh pr create")
    assert "-o merge_request.create" in gitlab and "-o merge_request.target=" in gitlab


def test_every_field_the_trigger_jobs_read_is_in_the_trigger_schema() -> None:
    schema = json.loads((REPO / "schemas" / "trigger.schema.json").read_text("utf-8"))
    known = schema_fields(schema)
    for path in TRIGGER_FILES:
        programs = re.findall(r"jq -r '([^']*)'", trigger_scripts(path))
        assert programs, path.name
        read = {name for program in programs for name in re.findall(r"\.([a-z_]+)", program)}
        assert {"triggers", "fired", "model", "trigger", "label", "reason"} <= read
        assert read <= known, f"{path.name} reads fields trigger --json lacks: {read - known}"


PUSH_OPTIONS_HOOK = """#!/bin/sh
i=0
while [ "$i" -lt "${GIT_PUSH_OPTION_COUNT:-0}" ]; do
  eval "printf '%s\\n' \\"\\$GIT_PUSH_OPTION_$i\\"" >> "$(dirname "$0")/../push-options"
  i=$((i + 1))
done
"""


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_the_gitlab_trigger_job_pushes_one_branch_per_firing_and_nothing_twice(
    tmp_path: Path,
) -> None:
    """The job's own script, run against a real git remote: each trigger that fires gets its
    branch with only its edit, the default branch is never pushed, and a second run in the
    same period pushes nothing."""
    from tests.functional.projects import make_tiny

    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(remote))
    git(remote, "config", "receive.advertisePushOptions", "true")
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(PUSH_OPTIONS_HOOK)
    hook.chmod(0o755)
    project = make_tiny(tmp_path / "work", f"sqlite:///{tmp_path / 'state.db'}")
    project.edit_config(
        '      staging: "1.1.0"\n',
        '      staging: "1.1.0"\n'
        "    triggers:\n"
        '      - {name: yearly, schedule: "0 0 1 1 *", from: "1.1.0", label: "1.1.{n}",'
        " params: {train: {lr: 0.3}}, promote: staging}\n"
        "      - {name: fresh, on_change: [steps/prepare.py], from: production, always: true}\n",
    )
    project.write(".gitignore", ".mvctl/\n")
    work = project.root
    git(work, "init", "--quiet", "-b", "main")
    git(work, "add", ".")
    git(work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "init")
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "--quiet", "origin", "main")
    main_before = git(remote, "rev-parse", "main")
    job = yaml.safe_load((EXAMPLES / "gitlab" / ".gitlab-ci.yml").read_text("utf-8"))
    script = "\n".join(
        line
        for line in job["mvctl-trigger"]["script"]
        if not line.startswith(("apt-get", "git remote set-url"))
    )
    env = {
        **project.env,
        **job["mvctl-trigger"]["variables"],
        "CI_DEFAULT_BRANCH": "main",
        "CI_SERVER_HOST": "gitlab.example",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }

    def run_job() -> str:
        done = subprocess.run(
            ["bash", "-e", "-c", script], cwd=work, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    run_job()
    branches = git(remote, "for-each-ref", "--format=%(refname:short)", "refs/heads/").split()
    assert sorted(branches) == ["main", "mvctl-trigger/churn-fresh", "mvctl-trigger/churn-yearly"]
    assert git(remote, "rev-parse", "main") == main_before
    yearly = git(remote, "show", "mvctl-trigger/churn-yearly:mvctl.yaml")
    fresh = git(remote, "show", "mvctl-trigger/churn-fresh:mvctl.yaml")
    assert '"1.1.1": {params: {train: {lr: 0.3}}}' in yearly and "fresh-1" not in yearly
    assert '"fresh-1": {}' in fresh and '"1.1.1"' not in fresh
    options = (remote / "push-options").read_text().splitlines()
    assert options.count("merge_request.create") == 2
    assert "merge_request.title=mvctl trigger: churn:yearly proposes version 1.1.1" in options
    heads = {name: git(remote, "rev-parse", name) for name in branches}

    again = run_job()
    assert "not due: churn:yearly: already fired for the period that began" in again
    assert "not due: churn:fresh: steps/prepare.py unchanged since its last firing" in again
    assert {name: git(remote, "rev-parse", name) for name in branches} == heads
