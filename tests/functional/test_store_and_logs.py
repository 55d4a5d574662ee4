"""`mvctl logs`, `mvctl store gc` and a whole apply on an S3 store, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import S3_CREDENTIALS
from tests.functional.projects import Project, make_tiny

TALKING_TRAIN = """\
import json, os, struct, sys, time
from mvctl import step
print("train: first line", flush=True)
time.sleep(float(os.environ.get("SLOW_TRAIN", "0")))
print("train: second line", flush=True)
if os.environ.get("FAIL_STEP") == "train":
    print("train is failing on purpose", file=sys.stderr)
    sys.exit(4)
header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
with open(step.output("model.safetensors"), "wb") as out:
    out.write(struct.pack("<Q", len(header)) + header + struct.pack("<f", step.params()["lr"]))
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Project:
    project = make_tiny(tmp_path / "proj")
    project.write("steps/train.py", TALKING_TRAIN)
    return project


def assert_clean_error(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.code == 1, result.text
    assert "Traceback" not in result.text and "Internal error" not in result.text
    for needle in needles:
        assert needle in result.err, result.err


def test_logs_print_every_step_in_order_or_one_step(tiny: Project) -> None:
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    shown = {label: tiny.mvctl("logs", f"churn@{label}") for label in ("1.0.0", "1.1.0")}
    assert all(result.code == 0 for result in shown.values()), shown
    # The versions share prepare: whichever got to it first ran it, the other shows that log.
    ran = [label for label, r in shown.items() if f"== churn@{label} prepare (ran) ==" in r.out]
    assert len(ran) == 1, shown
    (other,) = set(shown) - set(ran)
    every = shown[other].out
    prepare = every.index(
        f"== churn@{other} prepare (cached: the log of the run that made its outputs) =="
    )
    train = every.index(f"== churn@{other} train (ran) ==")
    assert prepare < every.index('"progress": 1.0') < train
    assert every.index("train: first line") > train
    one = tiny.mvctl("logs", "churn@1.0.0", "train")
    assert one.code == 0 and one.out == "train: first line\ntrain: second line\n", one.text


def test_logs_of_a_failed_version_show_the_failing_step(tiny: Project) -> None:
    failed = tiny.mvctl("apply", "--auto-approve", extra_env={"FAIL_STEP": "train"})
    assert failed.code == 1
    shown = tiny.mvctl("logs", "churn@1.0.0")
    assert shown.code == 0, shown.text
    assert "== churn@1.0.0 prepare (ran) ==" in shown.out
    assert "== churn@1.0.0 train (failed) ==" in shown.out
    assert "train is failing on purpose" in shown.out


def test_logs_errors_name_the_version_or_step(tiny: Project) -> None:
    assert_clean_error(tiny.mvctl("logs", "churn@9.9.9"), "churn@9.9.9 is not recorded", "--follow")
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    assert_clean_error(
        tiny.mvctl("logs", "churn@1.0.0", "evaluate"), "no step 'evaluate'", "prepare, train"
    )
    assert_clean_error(tiny.mvctl("logs", "churn"), "is neither MODEL@VERSION nor MODEL:ALIAS")


def test_logs_follow_tails_a_step_while_it_runs(tiny: Project) -> None:
    apply = tiny.start("apply", "--auto-approve", extra_env={"SLOW_TRAIN": "6"})
    try:
        deadline = time.monotonic() + 60
        while not any(
            "first line" in _read(log)
            for log in (tiny.root / ".mvctl" / "work").glob("apply-*/*/log.txt")
        ):
            assert time.monotonic() < deadline and apply.poll() is None
            time.sleep(0.1)
        follow = subprocess.Popen(
            [sys.executable, "-m", "mvctl", "logs", "churn@1.0.0", "--follow"],
            cwd=tiny.root,
            env=tiny.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with follow:
            assert follow.stdout is not None
            lines = []
            for line in follow.stdout:
                lines.append(line)
                if "train: first line" in line:
                    assert apply.poll() is None, (
                        "the step ended before follow showed its first line"
                    )
            assert follow.wait(timeout=60) == 0, follow.stderr.read() if follow.stderr else ""
        text = "".join(lines)
        assert text.index("== churn@1.0.0 prepare ==") < text.index("== churn@1.0.0 train ==")
        assert text.index("train: first line") < text.index("train: second line")
    finally:
        apply.wait(timeout=120)
    assert apply.returncode == 0


def _read(path: Path) -> str:
    """A work folder's log, or '' when the folder was cleaned up meanwhile."""
    try:
        return path.read_text()
    except OSError:
        return ""


def orphan(project: Project, data: bytes) -> str:
    from mvctl.store.blobs import LocalStore

    return LocalStore(project.root / ".mvctl" / "store").put_bytes(data)


def test_store_gc_lists_then_deletes_only_unreferenced_blobs(tiny: Project) -> None:
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    clean = json.loads(tiny.mvctl("store", "gc", "--json").out)
    assert clean["unreferenced"] == [] and clean["referenced"] > 0
    strays = sorted(orphan(tiny, data) for data in (b"left by a killed apply", b"another"))
    dry = tiny.mvctl("store", "gc")
    assert dry.code == 0 and "Would delete 2 unreferenced blobs" in dry.out and strays[0] in dry.out
    assert "nothing was deleted" in dry.out
    assert json.loads(tiny.mvctl("store", "gc", "--json").out)["unreferenced"] == strays
    deleted = json.loads(tiny.mvctl("store", "gc", "--delete", "--json").out)
    assert deleted["unreferenced"] == strays and deleted["deleted"] is True
    assert json.loads(tiny.mvctl("store", "gc", "--json").out) == {**clean, "deleted": False}
    assert tiny.mvctl("logs", "churn@1.0.0").code == 0
    assert tiny.mvctl("plan", "--detailed-exitcode").code == 0


def test_store_gc_keeps_what_revert_may_restore(tiny: Project) -> None:
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    old = json.loads(tiny.mvctl("show", "churn@1.1.0", "--json").out)["artifact_digest"]
    tiny.edit_config("lr: 0.2", "lr: 0.3")
    assert tiny.mvctl("apply", "--auto-approve", "--on-conflict", "overwrite").code == 0
    new = json.loads(tiny.mvctl("show", "churn@1.1.0", "--json").out)["artifact_digest"]
    assert new != old
    assert json.loads(tiny.mvctl("store", "gc", "--delete", "--json").out)["unreferenced"] == []


def test_store_gc_delete_refuses_to_empty_a_store_the_state_does_not_know(tiny: Project) -> None:
    orphan(tiny, b"a blob of some other project")
    refused = tiny.mvctl("store", "gc", "--delete")
    assert_clean_error(refused, "records nothing", "MVCTL_STATE")
    assert len(json.loads(tiny.mvctl("store", "gc", "--json").out)["unreferenced"]) == 1


@pytest.mark.s3
def test_apply_logs_and_gc_on_an_s3_store(tiny: Project, s3_endpoint: str, s3_bucket: str) -> None:
    from mvctl.store.s3 import S3Settings, S3Store

    url = f"s3://{s3_bucket}/mvctl"
    env = {**S3_CREDENTIALS, "MVCTL_STORE": url, "MVCTL_S3_ENDPOINT_URL": s3_endpoint}
    applied = tiny.mvctl("apply", "--auto-approve", extra_env=env)
    assert applied.code == 0, applied.text
    assert not (tiny.root / ".mvctl" / "store").exists()
    store = S3Store(url, S3Settings(endpoint_url=s3_endpoint))
    artifact = json.loads(tiny.mvctl("show", "churn@1.0.0", "--json", extra_env=env).out)[
        "artifact_digest"
    ]
    assert artifact in set(store.list())
    assert "train: second line" in tiny.mvctl("logs", "churn@1.0.0", "train", extra_env=env).out
    assert tiny.mvctl("plan", "--detailed-exitcode", extra_env=env).code == 0
    stray = store.put_bytes(b"orphan")
    swept = json.loads(tiny.mvctl("store", "gc", "--delete", "--json", extra_env=env).out)
    assert swept["unreferenced"] == [stray] and not store.has(stray) and store.has(artifact)


@pytest.mark.s3
def test_apply_to_a_missing_bucket_fails_cleanly_and_records_nothing(
    tiny: Project, s3_endpoint: str, s3_bucket: str
) -> None:
    env = {
        **S3_CREDENTIALS,
        "MVCTL_STORE": "s3://no-such-bucket/x",
        "MVCTL_S3_ENDPOINT_URL": s3_endpoint,
    }
    failed = tiny.mvctl("apply", "--auto-approve", extra_env=env)
    assert_clean_error(failed, "the bucket no-such-bucket does not exist", "aws s3 mb")
    status = json.loads(tiny.mvctl("status", "--json").out)
    assert status["models"] == [] and status["lock"] is None
