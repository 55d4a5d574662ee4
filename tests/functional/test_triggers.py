"""`mvctl trigger` end to end: real croniter, real files, a real state, an explicit --now.

A trigger writes the version its firing proposes into the file that declares the model and
records the firing, once per cron period or per change of its watched files; it never trains.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from mvctl.state.db import StateDB
from tests.functional.projects import Project, make_tiny
from tests.functional.webhooks import webhook_server

NIGHTLY = """\
    triggers:
      - name: nightly
        schedule: "0 2 * * *"
        from: "1.1.0"
        label: "1.1.{n}"
        params: {train: {lr: 0.3}}
        promote: staging
"""
P1 = "2026-03-01T02:30:00Z"
P1_LATER = "2026-03-01T23:59:00Z"
P2 = "2026-03-02T02:00:00Z"


def with_triggers(project: Project, triggers: str) -> Project:
    project.edit_config('      staging: "1.1.0"\n', '      staging: "1.1.0"\n' + triggers)
    return project


@pytest.fixture
def tiny(tmp_path: Path) -> Project:
    return make_tiny(tmp_path / "tiny")


def added_and_removed(before: str, after: str) -> list[str]:
    import difflib

    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def firings(project: Project, url: str | None = None) -> list[tuple[str, str, str | None]]:
    state = url or f"sqlite:///{project.root / '.mvctl' / 'state.db'}"
    with StateDB.open(state, create=False) as db:
        return [(f.trigger, f.label, f.period) for f in db.trigger_firings()]


def test_a_schedule_fires_once_per_period_and_again_the_next_with_n_incremented(
    tiny: Project,
) -> None:
    with_triggers(tiny, NIGHTLY)
    before = tiny.config()
    first = tiny.mvctl("trigger", "--now", P1)
    assert first.code == 0, first.text
    assert "+ fired churn:nightly -> churn@1.1.1 (from 1.1.0), staging -> 1.1.1" in first.out
    assert "period 2026-03-01T02:00:00Z of '0 2 * * *' (UTC)" in first.out
    assert added_and_removed(before, tiny.config()) == [
        '+      "1.1.1": {params: {train: {lr: 0.3}}}',
        '-      staging: "1.1.0"',
        '+      staging: "1.1.1"',
    ]
    assert '+      "1.1.1": {params: {train: {lr: 0.3}}}' in first.out  # the diff is printed
    written = tiny.config()

    again = tiny.mvctl("trigger", "--now", P1_LATER)
    assert again.code == 0, again.text
    assert (
        "- not fired churn:nightly: already fired for the period that began "
        "2026-03-01T02:00:00Z: wrote 1.1.1 at 2026-03-01T02:30:00Z"
    ) in again.out
    assert "Nothing fired; no file was changed." in again.out
    assert tiny.config() == written

    # 1.1.1 is applied; the next period copies 1.1.0 again, and with train.py changed since,
    # that is a new model: 1.1.2.
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    tiny.write("steps/train.py", (tiny.root / "steps/train.py").read_text() + "# v2\n")
    second = tiny.mvctl("trigger", "--now", P2)
    assert second.code == 0, second.text
    assert "+ fired churn:nightly -> churn@1.1.2 (from 1.1.0), staging -> 1.1.2" in second.out
    versions = yaml.safe_load(tiny.config())["models"]["churn"]["versions"]
    assert list(versions) == ["1.0.0", "1.1.0", "1.1.1", "1.1.2"]
    assert firings(tiny) == [
        ("nightly", "1.1.1", "2026-03-01T02:00:00Z"),
        ("nightly", "1.1.2", "2026-03-02T02:00:00Z"),
    ]
    # Trigger never trains: the new version is for plan and apply.
    planned = tiny.mvctl("plan")
    assert "+ train churn@1.1.2" in planned.out and "~ alias churn:staging" in planned.out
    assert "churn@1.1.2" not in tiny.mvctl("status").out


def test_unchanged_inputs_do_not_fire_and_say_why_unless_always(tiny: Project) -> None:
    with_triggers(
        tiny,
        '    triggers:\n      - {name: nightly, schedule: "0 2 * * *", from: "1.1.0"}\n'
        '      - {name: noisy, schedule: "0 2 * * *", from: "1.1.0", always: true}\n',
    )
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    result = tiny.mvctl("trigger", "--now", P1)
    assert result.code == 0, result.text
    assert (
        "- not fired churn:nightly: it would train the same model as 1.1.0: a copy of 1.1.0 "
        "with the files as they are now has the same final cache key"
    ) in result.out
    assert "+ fired churn:noisy -> churn@noisy-1 (from 1.1.0)" in result.out
    assert [name for name, _, _ in firings(tiny)] == ["noisy"]
    # Once noisy-1 is trained, a file the pipeline reads changes: nightly proposes a new model.
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    tiny.write("steps/prepare.py", (tiny.root / "steps/prepare.py").read_text() + "# more\n")
    later = tiny.mvctl("trigger", "--now", P2, "churn:nightly")
    assert "+ fired churn:nightly -> churn@nightly-1 (from 1.1.0)" in later.out, later.text


def test_label_templates_fill_from_trigger_and_the_date_in_the_schedules_time_zone(
    tiny: Project,
) -> None:
    with_triggers(
        tiny,
        "    triggers:\n"
        "      - name: tokyo\n"
        '        schedule: "0 8 * * *"\n'
        "        timezone: Asia/Tokyo\n"
        "        from: staging\n"
        '        label: "{from}-{trigger}.{date}.{n}"\n'
        "        always: true\n",
    )
    # 08:00 in Tokyo is 23:00 UTC the day before.
    result = tiny.mvctl("trigger", "--now", "2026-03-01T23:30:00Z", "--json")
    assert result.code == 0, result.text
    (outcome,) = json.loads(result.out)["triggers"]
    assert outcome["fired"] and outcome["period"] == "2026-03-01T23:00:00Z"
    assert outcome["label"] == "1.1.0-tokyo.20260302.1" and outcome["from"] == "1.1.0"
    assert "1.1.0-tokyo.20260302.1" in yaml.safe_load(tiny.config())["models"]["churn"]["versions"]
    # At 22:59 UTC it is still the period of the day before in Tokyo: a new period fires.
    earlier = tiny.mvctl("trigger", "--now", "2026-03-01T22:59:00Z", "--json")
    (outcome,) = json.loads(earlier.out)["triggers"]
    assert outcome["period"] == "2026-02-28T23:00:00Z"
    assert outcome["label"] == "1.1.0-tokyo.20260301.1"


def test_on_change_fires_when_the_watched_file_changes_and_not_otherwise(tiny: Project) -> None:
    tiny.write("data/rows.csv", "rows\n10\n")
    tiny.edit_config("deps: [steps/prepare.py]", "deps: [steps/prepare.py, data/rows.csv]")
    with_triggers(
        tiny,
        "    triggers:\n"
        "      - {name: fresh, on_change: [data/rows.csv], from: production, always: true}\n",
    )
    first = tiny.mvctl("trigger", "--now", P1)
    assert "+ fired churn:fresh -> churn@fresh-1 (from 1.0.0)" in first.out, first.text
    assert "data/rows.csv first watched" in first.out
    same = tiny.mvctl("trigger", "--now", P2)
    assert (
        "- not fired churn:fresh: data/rows.csv unchanged since its last firing "
        "(fresh-1 at 2026-03-01T02:30:00Z)"
    ) in same.out
    tiny.write("data/rows.csv", "rows\n20\n")
    again = tiny.mvctl("trigger", "--now", P2)
    assert "+ fired churn:fresh -> churn@fresh-2 (from 1.0.0)" in again.out, again.text
    assert "data/rows.csv changed since fresh-1" in again.out
    assert tiny.mvctl("trigger", "--now", P2).out.count("unchanged since its last firing") == 1
    # Back to the first content is a change too: it differs from the last firing.
    tiny.write("data/rows.csv", "rows\n10\n")
    back = tiny.mvctl("trigger", "--now", P2)
    assert "+ fired churn:fresh -> churn@fresh-3" in back.out, back.text
    assert [label for _, label, _ in firings(tiny)] == ["fresh-1", "fresh-2", "fresh-3"]


def test_on_change_without_always_waits_for_data_that_makes_a_new_model(tiny: Project) -> None:
    """Watching a file the model was trained on: unchanged, nothing would be new."""
    with_triggers(
        tiny,
        "    triggers:\n      - {name: fresh, on_change: [steps/prepare.py], from: production}\n",
    )
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    unchanged = tiny.mvctl("trigger", "--now", P1)
    assert "- not fired churn:fresh: it would train the same model as 1.0.0" in unchanged.out
    assert firings(tiny) == []


INCLUDED = """\
# The churn model, owned by the risk team.
models:
  churn:
    description: >
      Predicts churn
      from usage.

    pipeline:
      - name: prepare
        run: 'python steps/prepare.py'     # single quotes kept
        deps: [steps/prepare.py]
        params: {rows: 10}
        outputs: [data.json]
      - name: train
        run: python steps/train.py
        deps: [prepare, steps/train.py]
        params:
          lr: 0.1
        outputs: [model.safetensors]

    versions:
      "1.0.0": {}     # the first one

      "1.1.0":
        params: {train: {lr: 0.2}}
        description: |
          Faster learning.
          Reviewed by carol.

    aliases:
      production: "1.0.0"   # what serves
      staging: "1.1.0"
    triggers:
      - name: nightly
        schedule: "0 2 * * *"
        from: "1.1.0"
        label: "1.1.{n}"
        params: {train: {lr: 0.3}}
        promote: staging
"""


def test_the_edit_lands_in_the_included_file_and_changes_only_its_own_lines(
    tiny: Project,
) -> None:
    tiny.write("mvctl.yaml", "project: tiny\ninclude: [models/*.yaml]\n")
    tiny.write("models/churn.yaml", INCLUDED)
    main = tiny.config()
    result = tiny.mvctl("trigger", "--now", P1)
    assert result.code == 0, result.text
    assert "in models/churn.yaml" in result.out and "+++ b/models/churn.yaml" in result.out
    after = (tiny.root / "models/churn.yaml").read_text()
    assert added_and_removed(INCLUDED, after) == [
        '+      "1.1.1":',
        "+        params: {train: {lr: 0.3}}",
        "+        description: |",
        "+          Faster learning.",
        "+          Reviewed by carol.",
        '-      staging: "1.1.0"',
        '+      staging: "1.1.1"',
    ]
    # The blank line after the versions stays after them, once.
    assert "Reviewed by carol.\n" + '      "1.1.1":' in after
    assert "Reviewed by carol.\n\n    aliases:" in after
    assert tiny.config() == main
    assert tiny.mvctl("validate").code == 0


def test_dry_run_writes_no_file_and_no_state(tiny: Project) -> None:
    with_triggers(tiny, NIGHTLY)
    before = tiny.config()
    dry = tiny.mvctl("trigger", "--now", P1, "--dry-run")
    assert dry.code == 0, dry.text
    assert "+ fired churn:nightly -> churn@1.1.1" in dry.out
    assert '+      "1.1.1": {params: {train: {lr: 0.3}}}' in dry.out
    assert "Dry run: 1 would fire; nothing written or recorded." in dry.out
    assert tiny.config() == before
    assert not (tiny.root / ".mvctl" / "state.db").exists()
    real = tiny.mvctl("trigger", "--now", P1)
    assert "+ fired churn:nightly -> churn@1.1.1" in real.out
    assert tiny.mvctl("trigger", "--now", P1, "--dry-run", "--apply").code == 1


def test_json_is_the_documented_document(tiny: Project) -> None:
    import jsonschema

    from tests.functional.test_output_contracts import schema

    with_triggers(tiny, NIGHTLY)
    result = tiny.mvctl("trigger", "--now", P1, "--json")
    assert result.code == 0, result.text
    data = json.loads(result.out)
    jsonschema.Draft202012Validator(schema("trigger.schema.json")).validate(data)
    (outcome,) = data["triggers"]
    assert (outcome["label"], outcome["from"], outcome["promote"]) == ("1.1.1", "1.1.0", "staging")
    assert (outcome["kind"], outcome["file"]) == ("schedule", "mvctl.yaml")
    assert (
        data["edits"][0]["file"] == "mvctl.yaml" and "+++ b/mvctl.yaml" in data["edits"][0]["diff"]
    )
    assert data["now"] == P1 and data["dry_run"] is False and data["apply"] is None


def test_unknown_triggers_and_bad_times_are_errors(tiny: Project) -> None:
    with_triggers(tiny, NIGHTLY)
    unknown = tiny.mvctl("trigger", "churn:nighty", "--now", P1)
    assert unknown.code == 1 and "model 'churn' has no trigger 'nighty'" in unknown.err
    assert "Did you mean 'nightly'?" in unknown.err
    bad = tiny.mvctl("trigger", "--now", "yesterday")
    assert bad.code == 1 and "is not an ISO date-time" in bad.err
    before_utc = tiny.mvctl("trigger", "--now", "0001-01-01T00:00:00+01:00")
    assert before_utc.code == 1 and "is not an ISO date-time" in before_utc.err
    ancient = tiny.mvctl("trigger", "--now", "0999-01-01T00:00:00Z")
    assert ancient.code == 1 and "outside the years 1970 to 9998" in ancient.err
    for result in (bad, before_utc, ancient):
        assert "Traceback" not in result.text and "Internal error" not in result.text
    assert tiny.config().count('"1.1.1"') == 0


def test_trigger_fired_is_delivered_to_the_webhook(tiny: Project) -> None:
    with webhook_server() as hook:
        tiny.write(
            "mvctl.yaml",
            tiny.config().replace('      staging: "1.1.0"\n', '      staging: "1.1.0"\n' + NIGHTLY)
            + f'notifications:\n  - {{webhook: "{hook.url}", events: [trigger_fired]}}\n',
        )
        result = tiny.mvctl("trigger", "--now", P1)
        assert result.code == 0, result.text
        assert hook.events() == ["trigger_fired"]
        event = hook.delivered()[0]
    assert (event["operation"], event["actor"], event["apply_id"]) == ("trigger", "tester", None)
    details = event["details"]
    assert (details["model"], details["trigger"], details["label"]) == ("churn", "nightly", "1.1.1")
    assert (details["from"], details["promote"], details["file"]) == (
        "1.1.0",
        "staging",
        "mvctl.yaml",
    )
    assert details["period"] == "2026-03-01T02:00:00Z"


def checkout(project: Project, name: str, state_url: str) -> Project:
    """Another clone of the project, sharing the state (as two CI jobs would)."""
    root = project.root.parent / name
    shutil.copytree(project.root, root, ignore=shutil.ignore_patterns(".mvctl"))
    return Project(root, {**project.env, "MVCTL_STATE": state_url})


def test_runs_at_once_fire_a_trigger_once(tiny: Project, state_url: str) -> None:
    """Three jobs in three checkouts and one more in the first, all at once: one fires."""
    with_triggers(tiny, NIGHTLY)
    clones = [checkout(tiny, f"clone-{n}", state_url) for n in range(3)]
    started = [clone.start("trigger", "--now", P1, "--json") for clone in [*clones, clones[0]]]
    for process in started:
        assert process.wait(timeout=120) == 0
    outputs = sorted(tiny.root.parent.glob("background-*"))
    documents = [json.loads((folder / "out").read_text()) for folder in outputs]
    fired = [d["triggers"][0] for d in documents if d["triggers"][0]["fired"]]
    assert len(fired) == 1 and fired[0]["label"] == "1.1.1"
    reasons = {d["triggers"][0]["reason"] for d in documents if not d["triggers"][0]["fired"]}
    assert reasons <= {
        "another run fired it for this occasion meanwhile",
        "already fired for the period that began 2026-03-01T02:00:00Z: wrote 1.1.1 at "
        "2026-03-01T02:30:00Z",
        "mvctl.yaml changed while mvctl trigger ran; run it again",
    }
    edited = [c for c in clones if '"1.1.1"' in c.config()]
    assert len(edited) == 1
    assert edited[0].config().count('"1.1.1"') == 2  # the block and the alias, once each
    assert firings(tiny, state_url) == [("nightly", "1.1.1", "2026-03-01T02:00:00Z")]


def test_apply_trains_the_proposal_through_gates_and_the_policy(tmp_path: Path) -> None:
    from tests.functional.scored_project import make_scored

    project = make_scored(tmp_path / "scored")
    project.edit_config(
        '      staging: "1.1.0"\n',
        '      staging: "1.1.0"\n'
        "    triggers:\n"
        "      - name: weak\n"
        '        schedule: "0 2 * * *"\n'
        '        from: "1.1.0"\n'
        '        label: "1.1.{n}"\n'
        "        params: {train: {C: 0.000001}}\n"
        "        promote: production\n",
    )
    assert project.mvctl("apply", "--auto-approve").code == 0
    result = project.mvctl("trigger", "--now", P1, "--apply")
    assert result.code == 4, result.text  # trained, but a gate held production back
    assert "+ fired churn:weak -> churn@1.1.1 (from 1.1.0), production -> 1.1.1" in result.out
    assert "refused 1 promotion(s)" in result.out
    status = json.loads(project.mvctl("status", "--json").out)
    (model,) = status["models"]
    assert {a["alias"]: a["version"] for a in model["aliases"]}["production"] == "1.0.0"
    assert {v["label"]: v["status"] for v in model["versions"]}["1.1.1"] == "trained"


def test_apply_acts_with_the_actors_rights(tiny: Project) -> None:
    """The write-back is a proposal anyone may make; applying it is an apply like any other."""
    with_triggers(tiny, NIGHTLY)
    tiny.write(
        "mvctl.yaml",
        tiny.config() + "policy:\n  protected_aliases: {staging: {actors: [release-bot]}}\n",
    )
    assert tiny.mvctl("apply", "--auto-approve").code == 0  # records the policy
    denied = tiny.mvctl("trigger", "--now", P1, "--apply")
    assert denied.code == 3, denied.text
    assert "not_allowed churn:staging: 'tester' may not move churn:staging" in denied.err
    assert '"1.1.1"' in tiny.config()  # the proposal stays, for review
    assert "1.1.1" not in tiny.mvctl("status").out  # nothing was trained


BAD_TRIGGERS = {
    "cron-that-never-fires": (
        '        from: "1.1.0"\n        schedule: "0 0 31 2 *"\n',
        "mvctl.yaml:26:19: 'models.churn.triggers[0].schedule': '0 0 31 2 *' never fires",
        'Write a cron expression that fires: minute hour day-of-month month day-of-week, e.g. "0 2',
    ),
    "unknown-from": (
        '        from: "1.1.9"\n        schedule: "0 2 * * *"\n',
        "mvctl.yaml:25:15: 'models.churn.triggers[0].from': trigger 'bad' copies '1.1.9', "
        "which is neither a declared version nor an alias of this model",
        "Did you mean '1.1.0'?",
    ),
    "label-that-collides": (
        '        from: "1.1.0"\n        schedule: "0 2 * * *"\n        label: "{trigger}.{date}"\n',
        "mvctl.yaml:27:16: 'models.churn.triggers[0].label': label template '{trigger}.{date}' "
        "can give 'bad.20260301', which is declared already",
        "Add {n} (the next free number), e.g. '{trigger}.{date}.{n}', or change the template.",
    ),
    "watched-path-outside": (
        '        from: "1.1.0"\n        on_change: [../customers.csv]\n',
        "mvctl.yaml:26:21: 'models.churn.triggers[0].on_change[0]': '../customers.csv' climbs "
        "out of the project with '..'; watched paths must stay inside the project",
        "Write the path relative to the project root, without '..'.",
    ),
}


@pytest.mark.parametrize("case", BAD_TRIGGERS, ids=list(BAD_TRIGGERS))
def test_a_bad_trigger_is_an_error_at_its_place_and_changes_nothing(
    tiny: Project, case: str
) -> None:
    fields, where, fix = BAD_TRIGGERS[case]
    tiny.edit_config('      "1.1.0": {', '      "bad.20260301": {}\n      "1.1.0": {')
    with_triggers(tiny, "    triggers:\n      - name: bad\n" + fields)
    before = tiny.config()
    for command in (("trigger", "--now", P1), ("trigger", "--now", P1, "--apply"), ("validate",)):
        result = tiny.mvctl(*command)
        assert result.code == 1, result.text
        assert where in result.err and fix in result.err, result.err
        assert "Traceback" not in result.text
    assert tiny.config() == before
    assert not (tiny.root / ".mvctl" / "state.db").exists()


def test_apply_runs_the_health_check_and_rolls_a_failing_promotion_back(tiny: Project) -> None:
    tiny.edit_config(
        "    owners: [tester]\n",
        "    owners: [tester]\n"
        "    health_check: python -c \"import os; exit(os.environ['MVCTL_VERSION'] == '1.1.1')\"\n",
    )
    with_triggers(tiny, NIGHTLY)
    assert tiny.mvctl("apply", "--auto-approve").code == 0
    result = tiny.mvctl("trigger", "--now", P1, "--apply")
    assert result.code == 4, result.text
    assert "+ fired churn:nightly -> churn@1.1.1 (from 1.1.0), staging -> 1.1.1" in result.out
    status = json.loads(tiny.mvctl("status", "--json").out)
    (model,) = status["models"]
    assert {a["alias"]: a["version"] for a in model["aliases"]}["staging"] == "1.1.0"
    assert {v["label"]: v["status"] for v in model["versions"]}["1.1.1"] == "trained"
    assert "health check" in tiny.mvctl("history").out


def test_a_watched_symlink_leading_outside_is_refused_and_never_read(tiny: Project) -> None:
    secret = tiny.root.parent / "secret.csv"
    secret.write_text("token,s3cr3t-value\n")
    (tiny.root / "data").mkdir()
    (tiny.root / "data" / "rows.csv").symlink_to(secret)
    with_triggers(
        tiny, "    triggers:\n      - {name: fresh, on_change: [data/rows.csv], from: production}\n"
    )
    before = tiny.config()
    result = tiny.mvctl("trigger", "--now", P1)
    assert result.code == 1, result.text
    assert "mvctl.yaml:23:35: 'data/rows.csv' leads outside the project" in result.err
    assert "s3cr3t-value" not in result.text and "Traceback" not in result.text
    assert tiny.config() == before and not (tiny.root / ".mvctl" / "state.db").exists()
