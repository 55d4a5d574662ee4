"""`mvctl monitor` end to end on the quickstart: real training, real batches, a real webhook.

One module-scoped project is trained once (both versions, production moved from 1.0.0 to
1.1.0 so there is a version to roll back to); each test works on its own copy. Batches are
the quickstart's own hold-out split (what 1.1.0 was evaluated on), the same with shifted
features and flipped labels (degraded), and without labels.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.functional.inprocess import run_cli
from tests.functional.projects import Result, make_quickstart
from tests.functional.webhooks import webhook_server

MONITORING = """\
    monitoring:
      rules: ["f1 >= 0.85", "f1 >= promoted - 0.05", "drift.psi.max < 0.2"]
      over: 1
      on_degraded: rollback
"""


def _holdout() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer()
    _, x, _, y = train_test_split(
        data.data, data.target, test_size=0.2, random_state=7, stratify=data.target
    )
    return x, y


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("monitored") / "quickstart"
    project = make_quickstart(root)
    project.edit_config("    aliases:\n", MONITORING + "    aliases:\n")
    os.environ["MVCTL_ACTOR"] = "tester"
    assert run_cli("-C", str(root), "apply", "--auto-approve").code == 0
    project.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    assert run_cli("-C", str(root), "apply", "--auto-approve").code == 0
    x, y = _holdout()
    shifted = x * 1.8 + x.std(axis=0)
    np.savez(root / "same.npz", X_test=x, y_test=y)
    np.savez(root / "degraded.npz", X_test=shifted, y_test=1 - y)
    np.savez(root / "shifted-unlabelled.npz", X_test=shifted)
    np.savez(root / "same-unlabelled.npz", X_test=x)
    np.savez(root / "one-class.npz", X_test=x, y_test=np.ones_like(y))
    return root


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "quickstart"
    shutil.copytree(trained, copy)
    return copy


def mvctl(root: Path, *args: str) -> Result:
    return run_cli("-C", str(root), *args)


def monitor_json(root: Path, batch: str, *extra: str) -> tuple[int, dict[str, Any]]:
    result = mvctl(root, "monitor", "cancer:production", "--data", batch, "--json", *extra)
    return result.code, json.loads(result.out)


def set_monitoring(root: Path, text: str) -> None:
    config = root / "mvctl.yaml"
    config.write_text(config.read_text("utf-8").replace(MONITORING, text), "utf-8")


def production(root: Path) -> str:
    status = json.loads(mvctl(root, "status", "--json").out)
    (model,) = status["models"]
    return {a["alias"]: a["version"] for a in model["aliases"]}["production"]


def samples(root: Path) -> list[dict[str, Any]]:
    found = mvctl(root, "history", "cancer:production", "--monitor", "--json")
    assert found.code == 0, found.text
    return [entry["sample"] for entry in json.loads(found.out)["samples"]]


def test_a_degraded_batch_sends_degraded_to_a_webhook_and_rolls_production_back(
    project: Path,
) -> None:
    with webhook_server() as hook:
        config = project / "mvctl.yaml"
        config.write_text(
            config.read_text("utf-8")
            + f"notifications:\n  - {{webhook: '{hook.url}', events: [degraded, rollback]}}\n",
            "utf-8",
        )
        code, report = monitor_json(project, "degraded.npz")
        events = hook.delivered()
    assert code == 7
    assert report["status"] == "degraded"
    assert report["rollback"]["status"] == "done"
    assert report["rollback"]["to_version"] == "1.0.0"
    assert production(project) == "1.0.0"
    degraded = [e for e in events if e["event"] == "degraded"]
    assert {e["details"]["rule"] for e in degraded} == {
        "f1 >= 0.85",
        "f1 >= promoted - 0.05",
        "drift.psi.max < 0.2",
    }
    f1_event = next(e for e in degraded if e["details"]["rule"] == "f1 >= 0.85")["details"]
    assert (f1_event["model"], f1_event["alias"], f1_event["version"]) == (
        "cancer",
        "production",
        "1.1.0",
    )
    assert f1_event["values"][0] < 0.5
    assert f1_event["samples"] == [report["sample"]["id"]]
    rollback = [e for e in events if e["event"] == "rollback"]
    assert len(rollback) == 1 and rollback[0]["details"]["automatic"] is True
    history = json.loads(mvctl(project, "history", "--json").out)["applies"][0]
    assert (history["kind"], history["actor"]) == ("rollback", "monitor")
    assert "f1 >= 0.85" in history["message"]
    plan = mvctl(project, "plan")
    assert plan.code == 3
    assert "pinned to 1.0.0" in plan.text and "asks for 1.1.0" in plan.text


def test_an_unlabelled_shifted_batch_is_caught_by_drift_alone(project: Path) -> None:
    set_monitoring(
        project,
        '    monitoring:\n      rules: ["f1 >= 0.85", "drift.psi.max < 0.2"]\n',
    )
    code, report = monitor_json(project, "shifted-unlabelled.npz")
    assert code == 7
    assert report["sample"]["labelled"] is False and report["sample"]["metrics"] == {}
    verdicts = {v["rule"]: v["status"] for v in report["rules"]}
    assert verdicts == {"f1 >= 0.85": "unmeasured", "drift.psi.max < 0.2": "broken"}
    drifted = [f for f in report["sample"]["drift"]["features"] if f["drifted"]]
    assert len(drifted) == 30
    assert report["rollback"] is None
    assert production(project) == "1.1.0"


@pytest.mark.parametrize("batch", ["same.npz", "same-unlabelled.npz"])
def test_an_unshifted_batch_passes(project: Path, batch: str) -> None:
    code, report = monitor_json(project, batch)
    assert code == 0, report
    assert report["status"] == "ok"
    measured = [v["status"] for v in report["rules"] if v["status"] != "unmeasured"]
    assert measured and set(measured) == {"pass"}
    assert report["sample"]["drift"]["statistics"]["drift.psi.max"] == 0
    assert production(project) == "1.1.0"


def test_over_three_needs_three_failing_samples(project: Path) -> None:
    set_monitoring(
        project,
        '    monitoring:\n      rules: ["f1 >= 0.85"]\n      over: 3\n      on_degraded: rollback\n',
    )
    seen = []
    for _ in range(3):
        code, report = monitor_json(project, "degraded.npz")
        seen.append((code, report["rules"][0]["status"], production(project)))
    assert seen == [(0, "failing", "1.1.0"), (0, "failing", "1.1.0"), (7, "broken", "1.0.0")]
    assert report["rules"][0]["samples"] == [s["id"] for s in samples(project)]


def test_a_nan_metric_is_inconclusive_never_a_pass(project: Path) -> None:
    set_monitoring(project, '    monitoring:\n      rules: ["roc_auc >= 0.5"]\n')
    code, report = monitor_json(project, "one-class.npz")
    assert report["sample"]["metric_status"]["roc_auc"] == "nan"
    assert report["rules"][0]["status"] == "inconclusive"
    assert (code, report["status"]) == (7, "inconclusive")
    assert production(project) == "1.1.0"


def test_samples_survive_a_revert_of_the_rollback(project: Path) -> None:
    monitor_json(project, "same.npz")
    code, _ = monitor_json(project, "degraded.npz")
    assert code == 7 and production(project) == "1.0.0"
    before = samples(project)
    reverted = mvctl(project, "revert", "--auto-approve")
    assert reverted.code == 0, reverted.text
    assert production(project) == "1.1.0"
    assert samples(project) == before and len(before) == 2
    assert mvctl(project, "plan", "--detailed-exitcode").code == 0


def test_monitor_on_an_alias_pointing_at_nothing_is_a_clear_error(project: Path) -> None:
    result = mvctl(project, "monitor", "cancer:canary", "--data", "same.npz")
    assert result.code == 1
    assert "alias cancer:canary points at no version" in result.err
    assert "production, staging" in result.err
    assert "Traceback" not in result.text


def test_automatic_rollback_of_a_protected_alias_needs_the_policy_to_allow_it(
    project: Path,
) -> None:
    config = project / "mvctl.yaml"
    policy = "policy:\n  protected_aliases: {production: {actors: [tester]}}\n"
    config.write_text(config.read_text("utf-8") + policy, "utf-8")
    assert mvctl(project, "apply", "--auto-approve").code == 0
    code, report = monitor_json(project, "degraded.npz")
    assert code == 7 and report["rollback"]["status"] == "refused"
    assert "automatic_rollback" in report["rollback"]["message"]
    assert production(project) == "1.1.0"
    config.write_text(config.read_text("utf-8") + "  automatic_rollback: true\n", "utf-8")
    assert mvctl(project, "apply", "--auto-approve").code == 0
    code, report = monitor_json(project, "degraded.npz")
    assert report["rollback"]["status"] == "done"
    assert production(project) == "1.0.0"


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", "utf-8")


HOSTILE = {
    "wrong-columns.csv": "it has 3 feature columns but the model expects 30",
    "non-numeric.csv": "holds 'lots' (row 1), which is not a number",
    "infinite.npz": "holds inf in row 1",
    "missing.npz": "holds nan in row 3",
    "huge.csv": "more than monitor reads at once",
    "not-a-zip.npz": "cannot read the NPZ file",
    "batch.txt": "mvctl reads CSV, Parquet and NPZ files",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_batch_is_a_clean_error_and_records_nothing(project: Path, name: str) -> None:
    path = project / name
    x, _ = _holdout()
    if name == "wrong-columns.csv":
        _write_csv(path, ["a", "b", "c"], [["1", "2", "3"]])
    elif name == "non-numeric.csv":
        _write_csv(path, [f"f{i}" for i in range(30)], [["lots", *["1"] * 29]])
    elif name == "infinite.npz":
        bad = x.copy()
        bad[0, 4] = np.inf
        np.savez(path, X_test=bad)
    elif name == "missing.npz":
        bad = x.copy()
        bad[2, 0] = np.nan
        np.savez(path, X_test=bad)
    elif name == "huge.csv":
        with path.open("wb") as handle:
            handle.truncate((1 << 30) + 1)  # sparse: no disk, no time
    elif name == "not-a-zip.npz":
        path.write_bytes(b"PK\x03\x04 not really a zip")
    else:
        path.write_text("1,2,3\n", "utf-8")
    result = mvctl(project, "monitor", "cancer:production", "--data", name)
    assert result.code == 1, result.text
    assert HOSTILE[name] in result.err
    assert "Traceback" not in result.text
    assert samples(project) == []


def test_the_report_draws_each_alias_over_time_and_its_latest_drift(project: Path) -> None:
    monitor_json(project, "same.npz")
    monitor_json(project, "shifted-unlabelled.npz")
    written = mvctl(project, "report", "-o", "report.html")
    assert written.code == 0, written.text
    html = (project / "report.html").read_text("utf-8")
    assert 'alt="Metrics and drift of cancer:production over time"' in html
    assert 'alt="Drift per feature of cancer:production&#x27;s latest sample"' in html


RETRAIN = """\
    triggers:
      - {name: retrain, schedule: "0 3 * * *", from: production, label: "1.1.{n}", always: true}
"""


def conforms(document: dict[str, Any], name: str) -> None:
    import jsonschema

    from tests.functional.projects import REPO

    schema = json.loads((REPO / "schemas" / f"{name}.schema.json").read_text("utf-8"))
    jsonschema.validate(document, schema)


def declared_versions(root: Path) -> dict[str, Any]:
    from ruamel.yaml import YAML

    config = YAML(typ="safe").load((root / "mvctl.yaml").read_text("utf-8"))
    versions: dict[str, Any] = config["models"]["cancer"]["versions"]
    return versions


def trigger_json(root: Path, *extra: str) -> dict[str, Any]:
    result = mvctl(root, "trigger", "--json", *extra)
    assert result.code == 0, result.text
    report: dict[str, Any] = json.loads(result.out)
    return report


def test_on_degraded_trigger_fires_the_named_trigger_with_its_edit_record_and_event(
    project: Path,
) -> None:
    set_monitoring(
        project,
        '    monitoring:\n      rules: ["f1 >= 0.85"]\n      on_degraded: trigger retrain\n'
        + RETRAIN,
    )
    with webhook_server() as hook:
        config = project / "mvctl.yaml"
        config.write_text(
            config.read_text("utf-8")
            + f"notifications:\n  - {{webhook: '{hook.url}', events: [trigger_fired]}}\n",
            "utf-8",
        )
        code, report = monitor_json(project, "degraded.npz")
        events = hook.delivered()
    assert code == 7 and report["status"] == "degraded"
    conforms(report, "monitor")
    fired = report["trigger"]
    assert fired["fired"] is True and fired["trigger"] == "retrain"
    assert fired["samples"] == [report["sample"]["id"]]
    assert "'f1 >= 0.85'" in fired["reason"]
    assert production(project) == "1.1.0"
    versions = declared_versions(project)
    assert versions[fired["label"]] == versions["1.1.0"]
    assert (project / "mvctl.yaml").read_text("utf-8").count(f'"{fired["label"]}"') == 1
    (event,) = [e for e in events if e["event"] == "trigger_fired"]
    assert (event["details"]["trigger"], event["details"]["label"]) == ("retrain", fired["label"])
    plan = json.loads(mvctl(project, "plan", "--json").out)
    trains = [a["label"] for a in plan["actions"] if a["kind"] == "train_version"]
    assert trains == [fired["label"]]


def test_a_healthy_batch_fires_no_on_degraded_trigger(project: Path) -> None:
    set_monitoring(
        project,
        '    monitoring:\n      rules: ["f1 >= 0.85"]\n      on_degraded: trigger retrain\n'
        + RETRAIN,
    )
    before = (project / "mvctl.yaml").read_text("utf-8")
    code, report = monitor_json(project, "same.npz")
    assert (code, report["trigger"]) == (0, None)
    assert (project / "mvctl.yaml").read_text("utf-8") == before


def test_a_when_trigger_fires_once_its_condition_held_in_over_samples_and_once_per_set(
    project: Path,
) -> None:
    set_monitoring(
        project,
        '    monitoring:\n      rules: ["drift.psi.max < 5"]\n      over: 2\n'
        "    triggers:\n"
        '      - {name: refit, when: "f1 < 0.85", from: production, label: "1.1.{n}", '
        "always: true}\n",
    )

    def refit() -> dict[str, Any]:
        report = trigger_json(project)
        conforms(report, "trigger")
        (outcome,) = report["triggers"]
        assert outcome["kind"] == "when"
        return outcome

    assert "no sample of cancer:production" in refit()["reason"]
    monitor_json(project, "same.npz")
    assert "does not hold in the latest sample" in refit()["reason"]
    monitor_json(project, "degraded.npz")
    waiting = refit()
    assert waiting["fired"] is False and "not yet in each of 2" in waiting["reason"]
    monitor_json(project, "degraded.npz")
    fired = refit()
    ids = [s["id"] for s in samples(project)]
    assert fired["fired"] is True and fired["samples"] == ids[-2:]
    assert "'f1 < 0.85' held in each of the last 2 sample(s)" in fired["reason"]
    assert fired["label"] in declared_versions(project)
    again = refit()
    assert again["fired"] is False and "already fired for these samples" in again["reason"]
    monitor_json(project, "degraded.npz")
    next_set = refit()
    assert next_set["fired"] is True and next_set["samples"] == [*ids[-1:], ids[-1] + 1]
    assert next_set["label"] != fired["label"]


def test_a_when_trigger_never_fires_on_an_inconclusive_sample(project: Path) -> None:
    set_monitoring(
        project,
        '    monitoring:\n      rules: ["drift.psi.max < 5"]\n'
        "    triggers:\n"
        '      - {name: refit, when: "roc_auc < 0.9", from: "1.1.0", label: "1.1.{n}", '
        "always: true}\n",
    )
    before = (project / "mvctl.yaml").read_text("utf-8")
    monitor_json(project, "one-class.npz")
    (outcome,) = trigger_json(project)["triggers"]
    assert outcome["fired"] is False and "cannot be decided" in outcome["reason"]
    assert (project / "mvctl.yaml").read_text("utf-8") == before


@pytest.mark.parametrize(
    ("monitoring", "place", "words"),
    [
        (
            '    monitoring:\n      rules: ["f1 >= 0.85"]\n      on_degraded: trigger retrian\n'
            + RETRAIN,
            "'models.cancer.monitoring.on_degraded'",
            "Did you mean 'trigger retrain'?",
        ),
        (
            '    monitoring:\n      rules: ["f1 >= 0.85"]\n      on_degraded: retrain\n' + RETRAIN,
            "'models.cancer.monitoring.on_degraded'",
            "none of 'alert', 'rollback' or 'trigger NAME'",
        ),
        (
            "    triggers:\n"
            '      - {name: refit, when: "f2 < 0.85", from: production, label: "1.1.{n}"}\n',
            "'models.cancer.triggers[0].when'",
            "names 'f2', which is neither a metric the evaluation computes",
        ),
        (
            "    triggers:\n"
            '      - {name: refit, when: "f1 below 0.85", from: production, label: "1.1.{n}"}\n',
            "'models.cancer.triggers[0].when'",
            "does not read as SUBJECT OP BOUND",
        ),
        (
            "    triggers:\n"
            '      - {name: refit, when: "f1 < 0.8", schedule: "0 3 * * *", from: production, '
            'label: "1.1.{n}"}\n',
            "'models.cancer.triggers[0]'",
            "exactly one of 'schedule'",
        ),
    ],
)
def test_a_bad_metric_trigger_or_on_degraded_is_an_error_at_its_place(
    project: Path, monitoring: str, place: str, words: str
) -> None:
    set_monitoring(project, monitoring)
    before = (project / "mvctl.yaml").read_text("utf-8")
    state = (project / ".mvctl" / "state.db").read_bytes()
    result = mvctl(project, "validate")
    assert result.code == 1, result.text
    assert "mvctl.yaml:" in result.err and place in result.err and words in result.err
    assert "Traceback" not in result.err
    monitor = mvctl(project, "monitor", "cancer:production", "--data", "degraded.npz")
    assert monitor.code == 1 and "Traceback" not in monitor.err
    assert (project / ".mvctl" / "state.db").read_bytes() == state
    assert (project / "mvctl.yaml").read_text("utf-8") == before
