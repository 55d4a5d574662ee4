"""Nothing silently lost, and the plan stays exact, through the real CLI.

* A state that forgets (in-memory SQLite) is refused by every command that writes.
* A state or store that cannot be written is found before any step runs (a marker file that
  the first step writes stays absent).
* A cached step whose outputs left the store is planned as `run`, and apply runs exactly the
  steps the plan lists; a re-run whose outputs differ becomes the step's cache record.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import S3_CREDENTIALS
from tests.functional.projects import PREPARE, Project, make_tiny

MARKED_PREPARE = 'open("prepare-ran", "a").write("x")\n' + PREPARE
NOISY_PREPARE = PREPARE.replace(
    'json.dumps({"rows": p["rows"]})',
    'json.dumps({"rows": p["rows"], "noise": os.urandom(8).hex()})',
)
NEW_VERSION = '"1.1.0": {params: {train: {lr: 0.2}}}\n      "1.2.0": {params: {train: {lr: 0.3}}}'
FRESH_DATA = '"1.1.0": {params: {train: {lr: 0.2}}}\n      "1.2.0": {params: {prepare: {rows: 11}}}'
"""A new version whose first step has never run: applying it would write the marker."""


@pytest.fixture
def tiny(tmp_path: Path) -> Project:
    project = make_tiny(tmp_path / "proj")
    project.write("steps/prepare.py", MARKED_PREPARE)
    return project


def applied(project: Project, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = project.mvctl("apply", "--auto-approve", "--json", *args, extra_env=env)
    assert result.code == 0, result.text
    outcome: dict[str, Any] = json.loads(result.out)
    return outcome


def one_line_error(result: Any, *needles: str) -> None:
    assert result.code == 1, result.text
    assert "Traceback" not in result.text and "Internal error" not in result.text
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    for needle in needles:
        assert needle in result.err, result.err


def blob(project: Project, digest: str) -> Path:
    hexdigest = digest.removeprefix("sha256:")
    return project.root / ".mvctl" / "store" / "objects" / hexdigest[:2] / hexdigest[2:]


def lineage(project: Project, ref: str) -> dict[str, Any]:
    shown = project.mvctl("show", ref, "--json")
    assert shown.code == 0, shown.text
    steps: dict[str, Any] = json.loads(shown.out)["lineage"]["steps"]
    return steps


@contextlib.contextmanager
def read_only(*folders: Path) -> Iterator[None]:
    """Folders nobody may create files in: mode 0555, or for root (whom modes do not stop)
    the immutable attribute."""
    as_root = os.geteuid() == 0
    for folder in folders:
        if as_root:
            subprocess.run(["chattr", "+i", str(folder)], check=True)
        else:
            folder.chmod(0o555)
    try:
        yield
    finally:
        for folder in folders:
            if as_root:
                subprocess.run(["chattr", "-i", str(folder)], check=True)
            else:
                folder.chmod(0o755)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
@pytest.mark.parametrize(
    "command",
    [
        ("apply", "--auto-approve"),
        ("revert", "--auto-approve"),
        ("state", "migrate"),
        ("state", "lock"),
        ("state", "unlock", "--force", "0123abcd"),
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_an_in_memory_state_is_refused_by_every_command_that_writes(
    tiny: Project, url: str, command: tuple[str, ...]
) -> None:
    result = tiny.mvctl(*command, extra_env={"MVCTL_STATE": url})
    one_line_error(result, "in-memory SQLite database", "sqlite:///.mvctl/state.db")
    assert not (tiny.root / "prepare-ran").exists()
    assert not (tiny.root / ".mvctl" / "store").exists()


def test_an_in_memory_state_still_reads_as_empty(tiny: Project) -> None:
    env = {"MVCTL_STATE": "sqlite://"}
    planned = tiny.mvctl("plan", "--json", extra_env=env)
    assert planned.code == 0, planned.text
    assert json.loads(planned.out)["summary"]["train_version"] == 2
    status = tiny.mvctl("status", "--json", extra_env=env)
    assert status.code == 0 and json.loads(status.out)["models"] == []


def test_a_state_folder_that_cannot_be_written_stops_apply_before_any_step(tiny: Project) -> None:
    tiny.edit_config("project: tiny", "project: tiny\nstate: sqlite:///db/state.db")
    applied(tiny)
    (tiny.root / "prepare-ran").unlink()
    tiny.edit_config('"1.1.0": {params: {train: {lr: 0.2}}}', FRESH_DATA)
    with read_only(tiny.root / "db"):
        refused = tiny.mvctl("apply", "--auto-approve")
    one_line_error(refused, "state database", "db/state.db")
    assert not (tiny.root / "prepare-ran").exists()


def test_a_read_only_state_file_stops_apply_before_any_step(tiny: Project) -> None:
    applied(tiny)
    (tiny.root / "prepare-ran").unlink()
    tiny.edit_config('"1.1.0": {params: {train: {lr: 0.2}}}', FRESH_DATA)
    database = tiny.root / ".mvctl" / "state.db"
    refused = tiny.mvctl(
        "apply",
        "--auto-approve",
        extra_env={"MVCTL_STATE": f"sqlite:///file:{database}?mode=ro&uri=true"},
    )
    one_line_error(refused, "is read-only")
    assert not (tiny.root / "prepare-ran").exists()


def test_a_store_that_cannot_be_written_stops_apply_before_any_step(tiny: Project) -> None:
    applied(tiny)
    (tiny.root / "prepare-ran").unlink()
    tiny.edit_config('"1.1.0": {params: {train: {lr: 0.2}}}', FRESH_DATA)
    store = tiny.root / ".mvctl" / "store"
    serial = json.loads(tiny.mvctl("status", "--json").out)["serial"]
    folders = [store, *(path for path in store.rglob("*") if path.is_dir())]
    with read_only(*folders):
        refused = tiny.mvctl("apply", "--auto-approve")
    one_line_error(refused, f"the store {store} cannot be written", "nothing was run")
    assert not (tiny.root / "prepare-ran").exists()
    after = json.loads(tiny.mvctl("status", "--json").out)
    assert after["serial"] == serial and after["lock"] is None
    assert (
        json.loads(tiny.mvctl("history", "--json").out)["applies"][0]["id"] == 1
    )  # no apply opened


def test_a_promotion_needs_no_writable_store(tiny: Project) -> None:
    """Only what puts blobs (a step to run, an artifact to register) needs to write."""
    applied(tiny)
    tiny.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    store = tiny.root / ".mvctl" / "store"
    with read_only(store, *(path for path in store.rglob("*") if path.is_dir())):
        moved = applied(tiny)
    assert [o["action"]["kind"] for o in moved["outcomes"]] == ["move_alias"]


@pytest.mark.s3
def test_a_read_only_bucket_stops_apply_before_any_step(
    tiny: Project, s3_endpoint: str, s3_bucket: str
) -> None:
    import boto3

    env = {
        **S3_CREDENTIALS,
        "MVCTL_STORE": f"s3://{s3_bucket}/mvctl",
        "MVCTL_S3_ENDPOINT_URL": s3_endpoint,
    }
    applied(tiny, env=env)
    (tiny.root / "prepare-ran").unlink()
    deny_writes = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{s3_bucket}/*",
            }
        ],
    }
    client = boto3.session.Session().client("s3", endpoint_url=s3_endpoint)
    client.put_bucket_policy(Bucket=s3_bucket, Policy=json.dumps(deny_writes))
    tiny.edit_config('"1.1.0": {params: {train: {lr: 0.2}}}', FRESH_DATA)
    refused = tiny.mvctl("apply", "--auto-approve", extra_env=env)
    one_line_error(refused, "S3 refused the request", f"s3://{s3_bucket}/mvctl/tmp/write-check")
    assert not (tiny.root / "prepare-ran").exists()


def test_a_cached_step_whose_outputs_left_the_store_is_planned_to_run(tiny: Project) -> None:
    applied(tiny)
    prepared = lineage(tiny, "churn@1.0.0")["prepare"]["outputs"]["data.json"]
    blob(tiny, prepared).unlink()
    tiny.edit_config('"1.1.0": {params: {train: {lr: 0.2}}}', NEW_VERSION)
    planned = tiny.mvctl("plan", "--json")
    (train,) = [a for a in json.loads(planned.out)["actions"] if a["kind"] == "train_version"]
    prepare, train_step = train["steps"]
    assert (prepare["status"], prepare["reason"]) == (
        "run",
        "cached outputs missing from the store",
    )
    assert train_step["status"] == "run"
    text = tiny.mvctl("plan").out
    assert "run    prepare  cached outputs missing from the store" in text
    outcome = applied(tiny)
    (trained,) = [o for o in outcome["outcomes"] if o["action"]["kind"] == "train_version"]
    assert trained["steps"] == {"prepare": "run", "train": "run"}
    assert blob(tiny, prepared).is_file()  # the same bytes are back
    assert tiny.mvctl("state", "check").code == 0


def test_a_rerun_with_other_outputs_becomes_the_cache_record(tiny: Project) -> None:
    tiny.write("steps/prepare.py", NOISY_PREPARE)
    applied(tiny)
    first = lineage(tiny, "churn@1.0.0")["prepare"]["outputs"]["data.json"]
    blob(tiny, first).unlink()
    two_more = NEW_VERSION + '\n      "1.3.0": {params: {train: {lr: 0.4}}}'
    tiny.edit_config('"1.1.0": {params: {train: {lr: 0.2}}}', two_more)
    plan = json.loads(tiny.mvctl("plan", "--json").out)
    planned = {
        (a["label"], s["name"]): s["status"]
        for a in plan["actions"]
        if a["kind"] == "train_version"
        for s in a["steps"]
    }
    assert planned == {
        ("1.2.0", "prepare"): "run",
        ("1.2.0", "train"): "run",
        ("1.3.0", "prepare"): "cached",
        ("1.3.0", "train"): "run",
    }
    outcome = applied(tiny)
    ran = {
        (o["action"]["label"], name): status
        for o in outcome["outcomes"]
        if o["action"]["kind"] == "train_version"
        for name, status in o["steps"].items()
    }
    assert ran == planned
    second = lineage(tiny, "churn@1.2.0")["prepare"]["outputs"]["data.json"]
    assert second != first
    assert lineage(tiny, "churn@1.3.0")["prepare"]["outputs"]["data.json"] == second
    fourth = '"1.3.0": {params: {train: {lr: 0.4}}}\n      "1.4.0": {params: {train: {lr: 0.5}}}'
    tiny.edit_config('"1.3.0": {params: {train: {lr: 0.4}}}', fourth)
    later = json.loads(tiny.mvctl("plan", "--json").out)
    (train,) = [a for a in later["actions"] if a["kind"] == "train_version"]
    prepare = train["steps"][0]
    assert (prepare["status"], prepare["reason"]) == ("cached", "outputs in the store")
    restored = applied(tiny)
    assert [o["steps"] for o in restored["outcomes"] if "steps" in o] == [
        {"prepare": "cached", "train": "run"}
    ]
