"""`mvctl reproduce`: a version re-run from its record and the dep files its steps kept in the
store, end to end through the CLI, against a working tree that has moved on."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import struct
from pathlib import Path
from typing import Any

import pytest

from tests.functional.projects import Project, Result, base_env, make_quickstart
from tests.functional.scored_project import make_scored

PREPARE = """\
import glob, json
from mvctl import step
p = step.params()
rows = sum(len(open(f).read().splitlines()) for f in sorted(glob.glob("data/*.csv")))
conf = [json.load(open(f)) for f in sorted(glob.glob("conf/*.json"))]
big = len(open("big/huge.csv").read())
step.output("data.json").write_text(json.dumps({"rows": rows * p["scale"], "conf": conf, "big": big}))
"""

TRAIN = """\
import json, struct
from mvctl import step
p = step.params()
if p["lr"] < 0:
    raise SystemExit("a negative learning rate")
rows = json.loads(step.input("prepare", "data.json").read_text())["rows"]
header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
with open(step.output("model.safetensors"), "wb") as out:
    out.write(struct.pack("<Q", len(header)) + header + struct.pack("<f", float(p["lr"]) * rows))
"""

CONFIG = """\
project: repro
models:
  churn:
    pipeline:
      - name: prepare
        run: python steps/prepare.py
        deps: [steps/prepare.py, data, "conf/*.json", {path: big/huge.csv, snapshot: false}]
        params: {scale: 2}
        outputs: [data.json]
      - name: train
        run: python steps/train.py
        deps: [prepare, steps/train.py]
        params: {lr: 0.1}
        outputs: [model.safetensors]
    versions:
      "1.0.0": {}
      "1.1.0": {params: {train: {lr: 0.2}}}
    aliases: {production: "1.0.0"}
  bought:
    versions:
      "1.0.0": {artifact: models/bought.safetensors}
"""


def safetensors(value: float) -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    return struct.pack("<Q", len(header)) + header + struct.pack("<f", value)


def make_data_project(root: Path, tmp: Path) -> Project:
    """Two versions trained on a folder, a glob and a file the store does not keep; the
    scratch folders go to ``tmp`` so a test can see they are removed."""
    env = base_env(None)
    env["TMPDIR"] = str(tmp)
    project = Project(root, env)
    project.write("mvctl.yaml", CONFIG)
    project.write("steps/prepare.py", PREPARE)
    project.write("steps/train.py", TRAIN)
    project.write("data/a.csv", "x\n1\n2\n")
    project.write("data/b.csv", "x\n3\n")
    project.write("conf/one.json", '{"k": 1}')
    project.write("big/huge.csv", "y\n" * 500)
    (root / "models").mkdir()
    (root / "models" / "bought.safetensors").write_bytes(safetensors(1.5))
    return project


@pytest.fixture
def data_project(tmp_path: Path) -> Project:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    project = make_data_project(tmp_path / "proj", tmp)
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    return project


def document(result: Result) -> Any:
    return json.loads(result.out)


def lineage(project: Project, reference: str) -> dict[str, Any]:
    shown = project.mvctl("show", reference, "--json")
    assert shown.code == 0, shown.text
    found: dict[str, Any] = document(shown)["lineage"]
    return found


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot_of(root: Path) -> dict[str, str]:
    """Every file under ``root`` (the project, its state and its store) and its digest."""
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


def blob(project: Project, digest: str) -> Path:
    hexdigest = digest.removeprefix("sha256:")
    return project.root / ".mvctl" / "store" / "objects" / hexdigest[:2] / hexdigest[2:]


def state_db(project: Project) -> sqlite3.Connection:
    return sqlite3.connect(project.root / ".mvctl" / "state.db")


def edit_lineage(project: Project, model: str, label: str, change: Any) -> None:
    with state_db(project) as db:
        (text,) = db.execute(
            "SELECT lineage_json FROM versions WHERE model = ? AND label = ?", (model, label)
        ).fetchone()
        value = json.loads(text)
        change(value)
        db.execute(
            "UPDATE versions SET lineage_json = ? WHERE model = ? AND label = ?",
            (json.dumps(value), model, label),
        )


# The quickstart ------------------------------------------------------------------------------


def test_the_quickstart_reproduces_bit_for_bit_from_the_store_after_its_files_moved_on(
    tmp_path: Path,
) -> None:
    project = make_quickstart(tmp_path / "quickstart")
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    trained_prepare = sha256(project.root / "steps" / "prepare.py")
    # The working tree moves on: a prepare step that would split the data differently.
    prepare = project.root / "steps" / "prepare.py"
    prepare.write_text(
        prepare.read_text().replace('test_size=params["test_size"]', "test_size=0.5")
        + "# split differently from now on\n"
    )
    # `show` hashes the working tree's files (and caches their digests): read it first.
    records = {label: lineage(project, f"cancer@{label}") for label in ("1.0.0", "1.1.0")}
    before = snapshot_of(project.root)

    for label, recorded in records.items():
        reproduced = project.mvctl("reproduce", f"cancer@{label}", "--json")
        assert reproduced.code == 0, reproduced.text
        found = document(reproduced)
        assert found["status"] == "match" and found["first_difference"] is None
        assert found["artifact"]["matches"] is True
        assert found["artifact"]["recorded"] == found["artifact"]["reproduced"]
        assert [(s["step"], s["status"]) for s in found["steps"]] == [
            ("prepare", "match"),
            ("train", "match"),
        ]
        for step in found["steps"]:
            assert {o["name"]: o["reproduced"] for o in step["outputs"]} == (
                recorded["steps"][step["step"]]["outputs"]
            )
        (holdout,) = found["datasets"]
        assert holdout["dataset"] == "holdout" and holdout["skipped"] is None
        statuses = {m["metric"]: m["status"] for m in holdout["metrics"]}
        assert statuses == {
            "accuracy": "match",
            "precision": "match",
            "recall": "match",
            "f1": "match",
            "roc_auc": "match",
            "log_loss": "match",
            "latency_p95_ms": "timing",
            "qps": "timing",
        }
        assert found["restored"] == [
            {
                "step": "prepare",
                "path": "steps/prepare.py",
                "digest": trained_prepare,
                "source": "store",
                "why": "kept in the store",
            }
        ]
    text = project.mvctl("reproduce", "cancer@1.0.0")
    assert text.code == 0, text.text
    assert "cancer@1.0.0 reproduces its record" in text.out
    assert snapshot_of(project.root) == before, "reproduce changed the project, state or store"


# Outputs that differ -------------------------------------------------------------------------


def test_a_step_that_is_not_deterministic_differs_naming_it_and_each_metric_that_moved(
    tmp_path: Path,
) -> None:
    project = make_scored(tmp_path / "scored")
    prepare = project.root / "steps" / "prepare.py"
    prepare.write_text(
        prepare.read_text().replace(
            'rng = np.random.default_rng(p["seed"])',
            "import time\nrng = np.random.default_rng(int(time.time() * 1e6))",
        )
    )
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text

    reproduced = project.mvctl("reproduce", "churn@1.0.0", "--json")
    assert reproduced.code == 6, reproduced.text
    found = document(reproduced)
    assert (found["status"], found["first_difference"]) == ("differs", "prepare")
    assert [(s["step"], s["status"]) for s in found["steps"]] == [
        ("prepare", "differs"),
        ("train", "differs"),
    ]
    assert found["artifact"]["matches"] is False
    assert {d["dataset"] for d in found["datasets"]} == {"data/holdout.csv", "split"}
    moved = [m for d in found["datasets"] for m in d["metrics"] if m["status"] == "differs"]
    assert moved, found["datasets"]
    for metric in moved:
        if metric["recorded"] is not None and metric["reproduced"] is not None:
            assert metric["delta"] == pytest.approx(metric["reproduced"] - metric["recorded"])

    text = project.mvctl("reproduce", "churn@1.0.0")
    assert text.code == 6
    assert "churn@1.0.0 differs from its record; step prepare differed first" in text.out
    assert "train.npz: recorded sha256:" in text.out
    assert f"metric {moved[0]['metric']} on " in text.out


# Dep files kept in the store -------------------------------------------------------------------


def test_each_steps_dep_files_are_kept_in_the_store_and_listed_in_its_lineage(
    data_project: Project,
) -> None:
    root = data_project.root
    # The two versions share their prepare step: one runs it, the other reuses it from the cache
    # and its lineage lists the same files, nothing new kept.
    first, second = (
        lineage(data_project, v)["steps"]["prepare"] for v in ("churn@1.0.0", "churn@1.1.0")
    )
    prepare, cached = (second, first) if first["cached"] else (first, second)
    assert prepare["dep_files"] == {
        "steps/prepare.py": {
            "kept": True,
            "files": {"steps/prepare.py": sha256(root / "steps/prepare.py")},
        },
        "data": {
            "kept": True,
            "files": {
                "data/a.csv": sha256(root / "data/a.csv"),
                "data/b.csv": sha256(root / "data/b.csv"),
            },
        },
        "conf/*.json": {"kept": True, "files": {"conf/one.json": sha256(root / "conf/one.json")}},
        "big/huge.csv": {"kept": False, "files": {"big/huge.csv": sha256(root / "big/huge.csv")}},
    }
    for entry in prepare["dep_files"].values():
        for path, digest in entry["files"].items():
            assert blob(data_project, digest).is_file() is entry["kept"], path
    assert prepare["cached"] is False and cached["cached"] is True
    assert cached["dep_files"] == prepare["dep_files"]

    gc = data_project.mvctl("store", "gc", "--json")
    assert gc.code == 0, gc.text
    kept = {d for e in prepare["dep_files"].values() if e["kept"] for d in e["files"].values()}
    assert kept and not kept & set(document(gc)["unreferenced"])
    removed = data_project.mvctl("store", "gc", "--delete")
    assert removed.code == 0, removed.text
    assert all(blob(data_project, digest).is_file() for digest in kept)


def test_a_version_reproduces_from_the_store_whatever_the_working_tree_holds_now(
    data_project: Project,
) -> None:
    root = data_project.root
    (root / "data" / "a.csv").write_text("x\n9\n9\n9\n9\n")
    (root / "data" / "b.csv").unlink()
    (root / "conf" / "one.json").write_text('{"k": 2}')
    (root / "steps" / "prepare.py").write_text("raise SystemExit('the new prepare is broken')\n")
    before = snapshot_of(root)
    tmp = Path(data_project.env["TMPDIR"])

    reproduced = data_project.mvctl("reproduce", "churn@1.1.0", "--json")
    assert reproduced.code == 0, reproduced.text
    found = document(reproduced)
    assert found["status"] == "match"
    sources = {(r["path"], r["source"]) for r in found["restored"]}
    assert sources == {
        ("steps/prepare.py", "store"),
        ("data/a.csv", "store"),
        ("data/b.csv", "store"),
        ("conf/one.json", "store"),
        ("big/huge.csv", "working_tree"),
        ("steps/train.py", "store"),
    }
    text = data_project.mvctl("reproduce", "churn@1.1.0")
    assert text.code == 0, text.text
    assert (
        "input big/huge.csv (step prepare) from the working tree: not kept in the store "
        "(snapshot: false); the working tree's copy has the recorded digest"
    ) in text.out
    assert "inputs: 5 dep files from the store" in text.out
    assert snapshot_of(root) == before
    assert list(tmp.iterdir()) == [], "the scratch folder was left behind"


def test_a_snapshot_false_file_that_changed_cannot_be_reproduced_and_nothing_runs(
    data_project: Project,
) -> None:
    (data_project.root / "big" / "huge.csv").write_text("y\n" * 501)
    now = sha256(data_project.root / "big" / "huge.csv")
    reproduced = data_project.mvctl("reproduce", "churn@1.0.0", "--json")
    assert reproduced.code == 1
    assert reproduced.err.startswith(
        "Error: cannot reproduce churn@1.0.0 from the store alone: big/huge.csv, a dep of step "
        "prepare, was not kept (dep big/huge.csv has snapshot: false), and the working tree's "
        "copy is not the file it trained on (recorded sha256:"
    )
    assert f"the file now hashes to {now})" in reproduced.err
    error = document(reproduced)
    assert error["kind"] == "NotFoundError" and error["exit_code"] == 1
    assert "Put big/huge.csv back as it was" in error["fix"]
    assert "drop `snapshot: false`" in error["fix"]
    assert "prepare" not in reproduced.err.split("Error:")[0], "a step ran before the check"

    (data_project.root / "big" / "huge.csv").unlink()
    gone = data_project.mvctl("reproduce", "churn@1.0.0")
    assert gone.code == 1 and "the file is gone" in gone.err


def test_a_kept_file_missing_from_the_store_is_an_error_with_the_fix(
    data_project: Project,
) -> None:
    digest = lineage(data_project, "churn@1.0.0")["steps"]["prepare"]["dep_files"]["data"]["files"][
        "data/a.csv"
    ]
    blob(data_project, digest).unlink()
    reproduced = data_project.mvctl("reproduce", "churn@1.0.0", "--json")
    assert reproduced.code == 1
    error = document(reproduced)
    assert error["error"] == (
        f"cannot reproduce churn@1.0.0: data/a.csv, a dep of step prepare, was kept as blob "
        f"{digest}, which is missing from the store {data_project.root / '.mvctl' / 'store'}"
    )
    assert error["fix"].startswith("Put the blob back from a backup of the store")


def test_a_tampered_kept_file_is_refused_before_any_step_runs(data_project: Project) -> None:
    """The blob of steps/train.py (a dep of the second step) no longer hashes to its digest:
    the first step must not run for nothing, and no corrupt file reaches a step."""
    digest = lineage(data_project, "churn@1.0.0")["steps"]["train"]["dep_files"]["steps/train.py"][
        "files"
    ]["steps/train.py"]
    tampered = blob(data_project, digest)
    tampered.chmod(0o644)
    tampered.write_text("open('PWNED', 'w').write('x')\n")
    now = sha256(tampered)
    before = snapshot_of(data_project.root)
    tmp = Path(data_project.env["TMPDIR"])

    reproduced = data_project.mvctl("reproduce", "churn@1.0.0", "--json")
    assert reproduced.code == 1
    error = document(reproduced)
    assert error["kind"] == "DigestMismatchError" and error["exit_code"] == 1
    assert error["error"].startswith(
        "cannot reproduce churn@1.0.0: steps/train.py, a dep of step train, is not the file it "
        f"trained on: blob {digest} in the store"
    )
    assert f"its content hashes to {now}" in error["error"]
    assert error["fix"].startswith("Put the blob back from a backup of the store; nothing was run")
    assert "prepare" not in reproduced.err, "a step ran before the check"
    assert not list(data_project.root.parent.rglob("PWNED"))
    assert snapshot_of(data_project.root) == before
    assert list(tmp.iterdir()) == []


def test_a_version_recorded_before_dep_files_were_kept_uses_the_working_tree_while_it_matches(
    data_project: Project,
) -> None:
    def forget_dep_files(value: dict[str, Any]) -> None:
        for info in value["steps"].values():
            del info["dep_files"]

    edit_lineage(data_project, "churn", "1.0.0", forget_dep_files)
    reproduced = data_project.mvctl("reproduce", "churn@1.0.0", "--json")
    assert reproduced.code == 0, reproduced.text
    found = document(reproduced)
    assert found["status"] == "match"
    assert {r["source"] for r in found["restored"]} == {"working_tree"}
    assert all("recorded before mvctl kept dep files" in r["why"] for r in found["restored"])

    (data_project.root / "data" / "a.csv").write_text("x\n0\n")
    changed = data_project.mvctl("reproduce", "churn@1.0.0")
    assert changed.code == 1
    assert (
        "step prepare ran before mvctl kept dep files in the store, and the working tree's "
        "data is no longer what it trained on"
    ) in changed.err


def test_an_alias_names_the_version_it_points_at(data_project: Project) -> None:
    reproduced = data_project.mvctl("reproduce", "churn:production", "--json")
    assert reproduced.code == 0, reproduced.text
    found = document(reproduced)
    assert (found["model"], found["label"], found["status"]) == ("churn", "1.0.0", "match")
    unknown = data_project.mvctl("reproduce", "churn:staging")
    assert unknown.code == 1
    assert "alias churn:staging points at no version in the state" in unknown.err
    assert "production" in unknown.err


# What has nothing to reproduce, and what may not run -------------------------------------------


def test_a_registered_artifact_has_no_steps_to_reproduce(data_project: Project) -> None:
    reproduced = data_project.mvctl("reproduce", "bought@1.0.0")
    assert reproduced.code == 1
    assert (
        "bought@1.0.0 was registered from a model file made elsewhere "
        "(models/bought.safetensors): it has no steps to reproduce"
    ) in reproduced.err


def test_unknown_and_failed_versions_are_errors_naming_what_exists(data_project: Project) -> None:
    unknown = data_project.mvctl("reproduce", "churn@1.0")
    assert unknown.code == 1 and "Did you mean '1.0.0'" in unknown.err
    malformed = data_project.mvctl("reproduce", "churn")
    assert (
        malformed.code == 1 and "'churn' is neither MODEL@VERSION nor MODEL:ALIAS" in malformed.err
    )

    data_project.edit_config(
        '"1.1.0": {params: {train: {lr: 0.2}}}',
        '"1.1.0": {params: {train: {lr: 0.2}}}\n      "1.2.0": {params: {train: {lr: -1}}}',
    )
    failed = data_project.mvctl("apply", "--auto-approve")
    assert failed.code == 1 and "churn@1.2.0 train: failed" in failed.text
    reproduced = data_project.mvctl("reproduce", "churn@1.2.0")
    assert reproduced.code == 1
    assert "churn@1.2.0 failed to train, so there is nothing to reproduce" in reproduced.err


TAMPERINGS = {
    "a command swapped in the record": (
        "spec_json",
        lambda spec: spec["steps"]["prepare"].update(run="touch PWNED"),
        "step prepare's definition does not hash to its cache key",
    ),
    "a dep file outside the project": (
        "lineage_json",
        lambda lineage: lineage["steps"]["prepare"]["dep_files"]["data"]["files"].update(
            {"../../ESCAPED": "sha256:" + "0" * 64}
        ),
        "climbs out of the project",
    ),
    "a dep file that is not part of its dep": (
        "lineage_json",
        lambda lineage: lineage["steps"]["prepare"]["dep_files"]["data"]["files"].update(
            {"steps/extra.py": "sha256:" + "0" * 64}
        ),
        "the dep files of step prepare do not make up its dep data",
    ),
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_a_tampered_record_is_refused_before_anything_runs_or_is_written(
    data_project: Project, name: str
) -> None:
    column, change, expected = TAMPERINGS[name]
    with state_db(data_project) as db:
        (text,) = db.execute(
            f"SELECT {column} FROM versions WHERE model = 'churn' AND label = '1.0.0'"
        ).fetchone()
        value = json.loads(text)
        change(value)
        db.execute(
            f"UPDATE versions SET {column} = ? WHERE model = 'churn' AND label = '1.0.0'",
            (json.dumps(value),),
        )
    tmp = Path(data_project.env["TMPDIR"])
    reproduced = data_project.mvctl("reproduce", "churn@1.0.0")
    assert reproduced.code == 1
    assert "cannot be reproduced" in reproduced.err and expected in reproduced.err
    assert "mvctl state check" in reproduced.err
    top = data_project.root.parent
    assert not list(top.rglob("PWNED")) and not list(top.rglob("ESCAPED"))
    assert list(tmp.iterdir()) == []


# Apply keeps the dep files it records -------------------------------------------------------


def test_a_dep_changed_by_an_earlier_step_fails_the_step_that_reads_it(tmp_path: Path) -> None:
    """The plan digested the file; the step would run on other content than its key says."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    project = make_data_project(tmp_path / "proj", tmp)
    project.write("notes/extra.txt", "1")
    project.edit_config(
        "deps: [prepare, steps/train.py]", "deps: [prepare, steps/train.py, notes/extra.txt]"
    )
    project.write("steps/prepare.py", PREPARE + "open('notes/extra.txt', 'w').write('2')\n")
    applied = project.mvctl("apply", "--auto-approve", "--target", "churn@1.0.0")
    assert applied.code == 1
    assert "step train: dep notes/extra.txt changed since the plan was made" in applied.text
    shown = document(project.mvctl("show", "churn@1.0.0", "--json"))
    assert shown["status"] == "failed"
    assert shown["failure"]["reason"] == "dep changed"


def test_a_dep_changed_while_its_step_ran_fails_the_step(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    project = make_data_project(tmp_path / "proj", tmp)
    project.write("steps/prepare.py", PREPARE + "open('data/c.csv', 'w').write('x\\n5\\n')\n")
    applied = project.mvctl("apply", "--auto-approve", "--target", "churn@1.0.0")
    assert applied.code == 1
    assert "step prepare: dep data changed while the step ran" in applied.text
    assert document(project.mvctl("show", "churn@1.0.0", "--json"))["status"] == "failed"


def test_the_state_db_is_opened_to_read(data_project: Project) -> None:
    """The state file keeps its bytes and its mtime: reproduce never opens it to write."""
    state = data_project.root / ".mvctl" / "state.db"
    mtime, digest = os.stat(state).st_mtime_ns, sha256(state)
    assert data_project.mvctl("reproduce", "churn@1.0.0").code == 0
    assert (os.stat(state).st_mtime_ns, sha256(state)) == (mtime, digest)
