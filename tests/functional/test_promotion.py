"""One promotion path: an overwrite of a version aliases serve is gated, health-checked and
rolled back like an alias move, and revert verifies what it puts back, end to end through the
CLI on real scikit-learn training.

One project is trained, evaluated and promoted once per module (production at 1.0.0, staging
at 1.1.0); each test works on its own copy. Its prepare step takes a label ``threshold``:
raised to 7, 3 training rows of 400 are positive, so the retrained model predicts no
positives at all and scores f1 = 0 on the hold-out.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mvctl.render.evaluation import number
from tests.functional.projects import Project, Result, base_env, make_tiny
from tests.functional.scored_project import write_holdout
from tests.functional.webhooks import Hook, webhook_server

pytestmark = pytest.mark.slow

PREPARE = """\
import numpy as np
from mvctl import step
p = step.params()
if p["fail"]:
    raise SystemExit("prepare is failing on purpose")
rng = np.random.default_rng(p["seed"])
w = np.array([1.5, -2.0, 0.5, 1.0])
x = rng.normal(size=(400, 4))
y = (x @ w + rng.normal(scale=1.0, size=400) > p["threshold"]).astype(int)
if p["extra_column"]:
    x = np.hstack([x, np.ones((400, 1))])
np.savez(step.output("train.npz"), X_train=x, y_train=y)
"""

HEALTH = """\
import os, pathlib, sys
if pathlib.Path("unhealthy").exists():
    print(f"{os.environ['MVCTL_ALIAS']} answers 500 on {os.environ['MVCTL_VERSION']}")
    sys.exit(1)
"""

CONFIG = """\
project: promotion
models:
  churn:
    task: binary-classification
    health_check: python steps/health.py
    pipeline:
      - name: prepare
        run: python steps/prepare.py
        deps: [steps/prepare.py]
        params: {seed: 1, threshold: 0, extra_column: false, fail: false}
        outputs: [train.npz]
      - name: train
        uses: sklearn
        with: {estimator: sklearn.linear_model.LogisticRegression}
        params: {C: 1.0}
        deps: [prepare]
    evaluation:
      datasets:
        - {path: data/holdout.csv, label: churned}
      metrics: [accuracy, f1, roc_auc]
      speed: {batch_size: 16, repetitions: 2, warmup: 1}
      gates: ["f1 >= 0.6", "roc_auc >= baseline(production) - 0.05"]
    versions:
      "1.0.0": {}
      "1.1.0": {params: {train: {C: 0.05}}}
    aliases:
      production: "1.0.0"
      staging: "1.1.0"
"""

ZERO_F1 = '"1.0.0": {params: {prepare: {threshold: 7}}}'
"""Version 1.0.0 retrained on labels that are all but never positive: f1 = 0."""
BETTER = '"1.0.0": {params: {train: {C: 2.0}}}'
"""Version 1.0.0 retrained with another C: it passes every gate."""


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("promotion") / "proj"
    project = Project(root, base_env(None))
    project.write("mvctl.yaml", CONFIG)
    project.write("steps/prepare.py", PREPARE)
    project.write("steps/health.py", HEALTH)
    write_holdout(root / "data" / "holdout.csv")
    result = project.mvctl("apply", "--auto-approve")
    assert result.code == 0, result.text
    yield project


@pytest.fixture
def project(applied: Project, tmp_path: Path) -> Project:
    root = tmp_path / "proj"
    shutil.copytree(applied.root, root)
    return Project(root, applied.env)


@pytest.fixture
def hook(project: Project) -> Iterator[Hook]:
    with webhook_server() as server:
        project.write(
            "mvctl.yaml",
            project.config()
            + f'notifications:\n  - webhook: "{server.url}"\n'
            + "    events: [gate_failed, rollback, apply_failed]\n",
        )
        yield server


def shown(project: Project, ref: str = "churn@1.0.0") -> dict[str, Any]:
    result = project.mvctl("show", ref, "--json")
    assert result.code == 0, result.text
    data: dict[str, Any] = json.loads(result.out)
    return data


def aliases(project: Project) -> dict[str, str]:
    status = json.loads(project.mvctl("status", "--json").out)
    return {a["alias"]: a["version"] for a in status["models"][0]["aliases"]}


def overwrite(project: Project, version_block: str) -> Result:
    project.edit_config('"1.0.0": {}', version_block)
    return project.mvctl("apply", "--auto-approve", "--on-conflict", "overwrite")


def blob(project: Project, digest: str) -> Path:
    hexdigest = digest.removeprefix("sha256:")
    return project.root / ".mvctl" / "store" / "objects" / hexdigest[:2] / hexdigest[2:]


def identity(record: dict[str, Any]) -> tuple[str, str, str]:
    return record["status"], record["spec_hash"], record["artifact_digest"]


def test_the_plan_shows_the_gates_of_an_overwrite_of_production(project: Project) -> None:
    project.edit_config('"1.0.0": {}', ZERO_F1)
    text = project.mvctl("plan", "--on-conflict", "overwrite")
    assert text.code == 0, text.text
    assert (
        "serves churn:production — gate f1 >= 0.6 on data/holdout.csv: pending "
        "(known once apply evaluates it)"
    ) in text.out
    markdown = project.mvctl("plan", "--on-conflict", "overwrite", "--markdown").out
    served_f1 = shown(project)["evaluations"][0]["metrics"]["f1"]
    assert "**`churn@1.0.0`** on `data/holdout.csv` vs production (1.0.0)" in markdown
    assert f"| f1 (binary) | pending | {number(served_f1)} |" in markdown  # the record served now
    assert (
        "  - serves churn:production — gate roc\\_auc >= baseline(production) - 0.05 on "
        "data/holdout.csv: pending"
    ) in markdown
    planned = json.loads(project.mvctl("plan", "--on-conflict", "overwrite", "--json").out)
    (replace,) = [a for a in planned["actions"] if a["kind"] == "replace_served_version"]
    assert replace["aliases"] == ["production"] and replace["label"] == "1.0.0"
    assert replace["replaces"] == shown(project)["spec_hash"]
    assert [(g["gate"], g["result"], g["baseline_version"]) for g in replace["gates"]] == [
        ("f1 >= 0.6", "pending", None),
        ("roc_auc >= baseline(production) - 0.05", "pending", "1.0.0"),
    ]


def test_an_overwrite_scoring_f1_zero_is_refused_and_production_keeps_its_artifact(
    project: Project, hook: Hook
) -> None:
    before = shown(project)
    applied = overwrite(project, ZERO_F1)
    assert applied.code == 4, applied.text
    assert (
        f"production keeps serving the old record of churn@1.0.0 (spec {before['spec_hash'][:12]})"
        in applied.out
    )
    assert "gate 'f1 >= 0.6' fail on data/holdout.csv: f1 = 0, not >= 0.6" in applied.out
    after = shown(project)
    assert identity(after) == identity(before)
    assert after["aliases"] == ["production"]
    assert aliases(project) == {"production": "1.0.0", "staging": "1.1.0"}
    (event,) = [e for e in hook.delivered() if e["event"] == "gate_failed"]
    assert event["details"]["action"]["kind"] == "replace_served_version"
    assert "f1 = 0" in event["details"]["message"]
    assert "apply_failed" in hook.events()
    history = project.mvctl("history").out
    assert "churn:production (gate): gates for 1.0.0 retrained (spec " in history
    assert "blocked (1 gate(s) not passed)" in history
    assert "overwrote churn@1.0.0" not in history
    check = project.mvctl("state", "check")
    assert check.code == 0, check.text
    # The config still asks for the overwrite: the next plan proposes it again, gated again.
    replanned = project.mvctl("plan", "--on-conflict", "overwrite", "--detailed-exitcode")
    assert replanned.code == 2 and "serves churn:production — gate f1 >= 0.6" in replanned.out


def test_an_overwrite_of_a_version_two_aliases_serve_checks_the_gates_for_both(
    project: Project,
) -> None:
    project.edit_config('staging: "1.1.0"', 'staging: "1.0.0"')
    moved = project.mvctl("apply", "--auto-approve")
    assert moved.code == 0, moved.text
    before = shown(project)
    applied = overwrite(project, ZERO_F1)
    assert applied.code == 4, applied.text
    assert "production, staging keep serving the old record of churn@1.0.0" in applied.out
    assert identity(shown(project)) == identity(before)
    assert aliases(project) == {"production": "1.0.0", "staging": "1.0.0"}
    decisions = [
        change["target"]
        for entry in json.loads(project.mvctl("history", "--json").out)["applies"]
        for change in entry["changes"]
        if change["kind"] == "gate" and change["after"].get("spec_hash")
    ]
    assert sorted(decisions) == ["churn:production (gate)", "churn:staging (gate)"]


def test_a_refused_overwrite_also_stops_a_move_onto_it_in_the_same_plan(
    project: Project,
) -> None:
    before = shown(project)
    project.edit_config('staging: "1.1.0"', 'staging: "1.0.0"')
    applied = overwrite(project, ZERO_F1)
    assert applied.code == 4, applied.text
    assert "production keeps serving the old record" in applied.out
    assert identity(shown(project)) == identity(before)
    assert aliases(project) == {"production": "1.0.0", "staging": "1.1.0"}


def test_an_overwrite_that_passes_its_gates_is_recorded_and_revert_brings_the_old_back(
    project: Project,
) -> None:
    before = shown(project)
    applied = overwrite(project, BETTER)
    assert applied.code == 0, applied.text
    after = shown(project)
    assert after["spec_hash"] != before["spec_hash"]
    assert after["artifact_digest"] != before["artifact_digest"]
    assert after["aliases"] == ["production"]
    history = project.mvctl("history").out
    assert "churn:production (gate): gates for 1.0.0 retrained" in history
    assert "passed" in history and "overwrote churn@1.0.0" in history

    reverted = project.mvctl("revert", "--auto-approve")
    assert reverted.code == 0, reverted.text
    assert identity(shown(project)) == identity(before)
    assert blob(project, after["artifact_digest"]).is_file()  # nothing is deleted


def test_an_overwrite_that_fails_its_health_check_is_rolled_back(
    project: Project, hook: Hook
) -> None:
    before = shown(project)
    (project.root / "unhealthy").write_text("")
    applied = overwrite(project, BETTER)
    assert applied.code == 4, applied.text
    assert "production rolled back to 1.0.0 as it was" in applied.out
    assert "production answers 500 on 1.0.0" in applied.out
    assert identity(shown(project)) == identity(before)
    (event,) = [e for e in hook.delivered() if e["event"] == "rollback"]
    assert event["details"]["automatic"] is True
    assert event["details"]["action"]["kind"] == "replace_served_version"
    assert "rolled back automatically to 1.0.0 as it was" in project.mvctl("history").out
    assert project.mvctl("state", "check").code == 0


def test_on_failure_rollback_puts_back_an_overwritten_record(project: Project) -> None:
    before = shown(project)
    project.edit_config(
        "    health_check: python steps/health.py\n",
        "    health_check: python steps/health.py\n    on_failure: rollback\n",
    )
    project.edit_config(
        '"1.1.0": {params: {train: {C: 0.05}}}',
        '"1.1.0": {params: {train: {C: 0.05}}}\n      "1.2.0": {params: {prepare: {fail: true}}}',
    )
    applied = overwrite(project, BETTER)
    assert applied.code == 1, applied.text
    assert "churn@1.2.0" in applied.out and "step prepare" in applied.out
    assert (
        f"production rolled back to 1.0.0 as it was (spec {before['spec_hash'][:12]}) "
        "automatically: another change of this model failed" in applied.out
    )
    assert identity(shown(project)) == identity(before)


def test_a_retrained_version_that_fails_to_train_leaves_the_served_record(
    project: Project,
) -> None:
    before = shown(project)
    applied = overwrite(project, '"1.0.0": {params: {prepare: {fail: true}}}')
    assert applied.code == 1, applied.text
    assert "production keeps serving the old record" in applied.out
    assert identity(shown(project)) == identity(before)  # not a failed version under production


def test_a_retrained_version_whose_evaluation_fails_is_inconclusive_never_passed(
    project: Project,
) -> None:
    before = shown(project)
    applied = overwrite(project, '"1.0.0": {params: {prepare: {extra_column: true}}}')
    assert applied.code == 1, applied.text
    assert "gate 'f1 >= 0.6' inconclusive on data/holdout.csv" in applied.out
    assert "has a failed evaluation" in applied.out
    assert identity(shown(project)) == identity(before)


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_revert_refuses_a_damaged_artifact_then_force_restores_and_says_so(
    project: Project, damage: str
) -> None:
    old = shown(project)
    assert overwrite(project, BETTER).code == 0
    new = shown(project)
    path = blob(project, old["artifact_digest"])
    if damage == "missing":
        path.unlink()
    else:
        path.chmod(0o644)
        path.write_bytes(b"another file entirely")
    refused = project.mvctl("revert", "--auto-approve")
    assert refused.code == 1, refused.text
    assert "Traceback" not in refused.text
    assert (
        f"churn:production would serve churn@1.0.0, but blob {old['artifact_digest']}"
        in refused.err
    )
    assert ("is missing from the store" if damage == "missing" else "is corrupt") in refused.err
    assert "--force" in refused.err
    assert identity(shown(project)) == identity(new)  # nothing changed
    assert "revert of" not in project.mvctl("history").out

    forced = project.mvctl("revert", "--auto-approve", "--force")
    assert forced.code == 0, forced.text
    assert "Forced: churn:production would serve churn@1.0.0" in forced.out
    restored = shown(project)
    assert (restored["spec_hash"], restored["artifact_digest"]) == (
        old["spec_hash"],
        old["artifact_digest"],
    )
    history = project.mvctl("history").out
    assert "forced (--force) past a failed artifact check: churn:production -> 1.0.0" in history
    assert "restored to 1.0.0 by `revert --force` although its artifact failed" in history


def test_revert_of_a_move_refuses_an_artifact_swapped_for_a_pickle(project: Project) -> None:
    """A record pointed at a blob whose digest is right but whose content is a pickle."""
    project.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    moved = project.mvctl("apply", "--auto-approve")
    assert moved.code == 0, moved.text
    pickle_blob = b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00."
    digest = "sha256:" + hashlib.sha256(pickle_blob).hexdigest()
    path = blob(project, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle_blob)
    with sqlite3.connect(project.root / ".mvctl" / "state.db") as conn:
        conn.execute("UPDATE versions SET artifact_digest = ? WHERE label = '1.0.0'", (digest,))
    refused = project.mvctl("revert", "--auto-approve")
    assert refused.code == 1, refused.text
    assert "churn:production would serve churn@1.0.0" in refused.err
    assert "is a pickle" in refused.err
    assert aliases(project)["production"] == "1.1.0"
    # The same check guards a move: production is not pointed back at the pickle either.
    project.edit_config('production: "1.1.0"', 'production: "1.0.0"')
    move = project.mvctl("apply", "--auto-approve")
    assert move.code == 1, move.text
    assert "production stays at 1.1.0: the artifact of churn@1.0.0" in move.out
    assert "is a pickle" in move.out
    assert aliases(project)["production"] == "1.1.0"


def test_a_recorded_format_verdict_never_covers_other_bytes(project: Project) -> None:
    """Revert and promotion remember which blobs passed the format check, keyed by digest;
    a blob swapped in place or a record pointed at other bytes is still fetched, verified and
    audited, and refused."""
    project.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    assert project.mvctl("apply", "--auto-approve").code == 0
    assert project.mvctl("revert", "--auto-approve").code == 0
    assert aliases(project)["production"] == "1.0.0"
    old = shown(project)["artifact_digest"]
    state_db = project.root / ".mvctl" / "state.db"
    with sqlite3.connect(state_db) as conn:
        checked = {digest for (digest,) in conn.execute("SELECT digest FROM artifact_checks")}
    assert old in checked and shown(project, "churn@1.1.0")["artifact_digest"] in checked

    assert project.mvctl("revert", "--auto-approve").code == 0  # production back to 1.1.0
    original = blob(project, old).read_bytes()
    blob(project, old).write_bytes(b"\x80\x04\x95" + original[3:])
    swapped = project.mvctl("revert", "--auto-approve")
    assert swapped.code == 1, swapped.text
    assert "is corrupt" in swapped.err
    assert aliases(project)["production"] == "1.1.0"

    blob(project, old).write_bytes(original)
    pickle_blob = b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00."
    digest = "sha256:" + hashlib.sha256(pickle_blob).hexdigest()
    blob(project, digest).parent.mkdir(parents=True, exist_ok=True)
    blob(project, digest).write_bytes(pickle_blob)
    with sqlite3.connect(state_db) as conn:
        conn.execute("UPDATE versions SET artifact_digest = ? WHERE label = '1.0.0'", (digest,))
    repointed = project.mvctl("revert", "--auto-approve")
    assert repointed.code == 1, repointed.text
    assert "is a pickle" in repointed.err
    assert aliases(project)["production"] == "1.1.0"


def safetensors_file(path: Path, note: str) -> None:
    header = json.dumps(
        {
            "__metadata__": {"note": note},
            "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
        }
    ).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + struct.pack("<f", 1.0))


def test_an_overwrite_of_a_registered_artifact_takes_the_same_path(tmp_path: Path) -> None:
    """A version registered from a file, replaced by a new file under its label: the
    replacement is health-checked and rolled back like any promotion."""
    project = make_tiny(tmp_path / "proj")
    project.write(
        "steps/health.py",
        """\
        import os, sys
        if b"broken" in open(os.environ["MVCTL_ARTIFACT"], "rb").read():
            print("the new model answers 500")
            sys.exit(1)
        """,
    )
    project.edit_config(
        "    owners: [tester]\n", "    owners: [tester]\n    health_check: python steps/health.py\n"
    )
    project.edit_config(
        '      "1.1.0"',
        '      "2.0.0": {artifact: model.safetensors, on_conflict: overwrite}\n      "1.1.0"',
    )
    project.edit_config('production: "1.0.0"', 'production: "2.0.0"')
    safetensors_file(project.root / "model.safetensors", "first")
    first = project.mvctl("apply", "--auto-approve")
    assert first.code == 0, first.text
    before = shown(project, "churn@2.0.0")

    safetensors_file(project.root / "model.safetensors", "broken")
    planned = project.mvctl("plan")
    assert (
        "~ replace churn@2.0.0" in planned.out
        and "serves churn:production — no gates" in planned.out
    )
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 4, applied.text
    assert "production rolled back to 2.0.0 as it was" in applied.out
    assert "the new model answers 500" in applied.out
    assert identity(shown(project, "churn@2.0.0")) == identity(before)
