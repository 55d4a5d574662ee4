"""Alerts against a real HTTP server on loopback: what is sent, retried, given up, and hidden.

An alert must never make things worse: a failing, slow or dead endpoint cannot fail or hold
up an apply or a revert beyond its timeout, each event is delivered at most once (retried
only when it surely did not land), and a secret taken from the environment never reaches
the output, the state or a plan.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from tests.functional.inprocess import apply_here, revert_here, run_cli
from tests.functional.projects import Project, make_tiny
from tests.functional.webhooks import Hook, free_port, webhook_server

SECRET = "s3cr3t-token-4f9a2c"


@pytest.fixture(autouse=True)
def _local_state(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MVCTL_STATE", "MVCTL_STORE", "FAIL_STEP", "SLOW_TRAIN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def hook() -> Iterator[Hook]:
    with webhook_server() as server:
        yield server


def notify(project: Project, *entries: str) -> Project:
    project.write("mvctl.yaml", project.config() + "notifications:\n" + "".join(entries))
    return project


def webhook(url: str, *extra: str) -> str:
    return f'  - webhook: "{url}"\n' + "".join(f"    {line}\n" for line in extra)


def test_events_of_apply_revert_failure_and_conflict(
    tmp_path: Path, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = notify(make_tiny(tmp_path / "proj"), webhook(hook.url))
    applied = apply_here(project.root)
    assert applied.status == "succeeded"
    assert hook.events() == ["apply_started", "apply_succeeded"]
    started, succeeded = hook.delivered()
    assert started["apply_id"] == succeeded["apply_id"] == applied.apply_id
    assert started["details"]["summary"]["train_version"] == 2
    # The policy (the model's owners), the model, two versions, two aliases: six changes.
    assert succeeded["serial"] == 6 and succeeded["project"] == "tiny"
    assert started["id"] != succeeded["id"]
    assert {r.headers["X-Mvctl-Event-Id"] for r in hook.received} == {
        started["id"],
        succeeded["id"],
    }

    project.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    assert apply_here(project.root).status == "succeeded"
    reverted = revert_here(project.root)
    rollback = hook.delivered()[-1]
    assert rollback["event"] == "rollback" and rollback["apply_id"] == reverted.apply_id
    assert rollback["details"]["restored"] == [
        {"target": "churn:production", "from": {"version": "1.1.0"}, "to": {"version": "1.0.0"}}
    ]

    project.edit_config('production: "1.1.0"', 'production: "1.0.0"')  # agree with the pin
    project.edit_config(
        '"1.1.0": {params: {train: {lr: 0.2}}}',
        '"1.1.0": {params: {train: {lr: 0.2}}}\n      "1.2.0": {params: {train: {lr: 0.5}}}',
    )
    monkeypatch.setenv("FAIL_STEP", "train")
    failed = apply_here(project.root)
    assert failed.status == "failed"
    assert hook.events()[-2:] == ["apply_started", "apply_failed"]
    event = hook.delivered()[-1]
    assert event["details"]["not_done"][0]["action"]["label"] == "1.2.0"
    assert event["serial"] == failed_serial(project)

    project.edit_config("params: {lr: 0.1}", "params: {lr: 0.3}")
    with pytest.raises(Exception, match="conflict"):
        apply_here(project.root)
    conflict = hook.delivered()[-1]
    assert conflict["event"] == "conflict" and conflict["apply_id"] is None
    assert {c["kind"] for c in conflict["details"]["conflicts"]} == {"version_changed"}


def failed_serial(project: Project) -> int:
    from mvctl.workspace import load_workspace

    state = load_workspace(project.root / "mvctl.yaml").open_state(create=False)
    try:
        return state.serial()
    finally:
        state.close()


def test_5xx_is_retried_with_the_same_id_and_delivered_once(tmp_path: Path, hook: Hook) -> None:
    hook.answers = [500, 503, 200, 500, 200]
    project = notify(make_tiny(tmp_path / "proj"), webhook(hook.url, "retries: 3"))
    assert apply_here(project.root).status == "succeeded"
    assert [r.answered for r in hook.received] == [500, 503, 200, 500, 200]
    ids = [r.body["id"] for r in hook.received]
    assert ids[0] == ids[1] == ids[2] and ids[3] == ids[4] and ids[0] != ids[3]
    assert hook.events() == ["apply_started", "apply_succeeded"]


def test_slow_endpoint_times_out_once_and_apply_goes_on(
    tmp_path: Path, hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    hook.delay_s = 5
    project = notify(make_tiny(tmp_path / "proj"), webhook(hook.url, "timeout: 0.3"))
    started = time.monotonic()
    assert apply_here(project.root).status == "succeeded"
    assert time.monotonic() - started < 4.5
    time.sleep(0.2)
    assert len(hook.received) <= 2  # one attempt per event: a timeout may have landed
    assert "no answer within 0.3 s" in caplog.text


def test_dead_endpoint_never_fails_or_blocks_a_revert(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"
    project = notify(make_tiny(tmp_path / "proj"), webhook(dead, "retries: 2"))
    assert apply_here(project.root).status == "succeeded"
    project.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    assert apply_here(project.root).status == "succeeded"
    caplog.clear()
    started = time.monotonic()
    reverted = revert_here(project.root)
    assert reverted.status == "done"
    assert time.monotonic() - started < 3
    assert "rollback" in caplog.text and "tried 3 times" in caplog.text
    assert caplog.records[0].levelno == logging.WARNING


def test_slow_endpoint_never_blocks_a_revert(tmp_path: Path, hook: Hook) -> None:
    project = notify(make_tiny(tmp_path / "proj"), webhook(hook.url, "timeout: 0.5"))
    assert apply_here(project.root).status == "succeeded"
    project.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    assert apply_here(project.root).status == "succeeded"
    hook.delay_s = 10
    started = time.monotonic()
    assert revert_here(project.root).status == "done"
    assert time.monotonic() - started < 3


def test_command_gets_each_event_on_stdin(tmp_path: Path) -> None:
    project = notify(
        make_tiny(tmp_path / "proj"),
        '  - command: "cat >> events.jsonl; echo >> events.jsonl"\n    events: [apply_succeeded]\n',
    )
    assert apply_here(project.root).status == "succeeded"
    lines = (project.root / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines if line] == ["apply_succeeded"]


def test_secret_from_the_environment_is_sent_and_never_written(
    tmp_path: Path, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook.answers = [500] * 20  # every delivery fails, so warnings are printed too
    project = notify(
        make_tiny(tmp_path / "proj"),
        webhook(
            hook.url + "?token=${HOOK_TOKEN}",
            "headers: {Authorization: 'Bearer ${HOOK_TOKEN}'}",
            "retries: 1",
        ),
        webhook("http://127.0.0.1:${HOOK_TOKEN}/x", "retries: 0"),  # an error quoting it
    )
    monkeypatch.setenv("HOOK_TOKEN", SECRET)
    config = str(project.root / "mvctl.yaml")
    applied = project.mvctl("apply", "--auto-approve", extra_env={"HOOK_TOKEN": SECRET})
    assert applied.code == 0, applied.text
    assert "not delivered" in applied.err and "port is not a number" in applied.err
    outputs = [
        applied,
        run_cli("-c", config, "validate"),
        run_cli("-c", config, "plan", "--json", "--out", str(project.root / "saved.plan")),
        run_cli("-c", config, "history", "--json"),
        run_cli("-c", config, "status", "--json"),
    ]
    assert hook.received[0].path == f"/hook?token={SECRET}"
    assert hook.received[0].headers["Authorization"] == f"Bearer {SECRET}"
    for result in outputs:
        assert SECRET not in result.text
    written = [p for p in project.root.rglob("*") if p.is_file()]
    assert any(p.name == "state.db" for p in written)
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), path


def test_a_promotion_held_back_by_a_gate_is_a_gate_failed_event(tmp_path: Path, hook: Hook) -> None:
    from mvctl.core.plan import MoveAlias
    from mvctl.ops.alerts import Alerts
    from mvctl.results.apply import ActionOutcome
    from mvctl.workspace import load_workspace

    project = notify(make_tiny(tmp_path / "proj"), webhook(hook.url))
    workspace = load_workspace(project.root / "mvctl.yaml")
    alerts = Alerts(workspace.config.notifications, workspace, "apply", "tester", lambda: 7)
    held = ActionOutcome(
        MoveAlias("churn", "production", "1.0.0", "1.1.0"),
        "failed",
        "production stays at 1.0.0: gate 'f1 >= 0.9' fail on holdout: f1 = 0.8",
        gate_failed=True,
    )
    skipped = ActionOutcome(MoveAlias("churn", "staging", None, "1.1.0"), "skipped", "not trained")
    refused = ActionOutcome(
        MoveAlias("churn", "canary", None, "1.1.0"),
        "failed",
        "canary stays at no version: blob sha256:… is missing from the store",
    )
    alerts.finished(3, "failed", [held, skipped, refused])
    alerts.close()
    assert hook.events() == ["gate_failed", "apply_failed"]
    gate = hook.delivered()[0]
    assert (
        gate["details"]["action"]["alias"] == "production"
        and "f1 >= 0.9" in gate["details"]["message"]
    )
    assert gate["serial"] == 7 and gate["apply_id"] == 3


def test_secrets_that_cannot_be_sent_are_refused_by_name_and_never_printed(
    tmp_path: Path, hook: Hook
) -> None:
    """Values as they come from secret files and stores: a trailing newline, a CR, a tab, a
    non-ASCII letter; in a header and in the URL. Each delivery is refused before it is made,
    the warning names the variable, and no form of any value is printed or written."""
    secrets = {
        "NEWLINE_TOKEN": "ghp_n3wl1ne0f4f1le\n",
        "CR_TOKEN": "ghp_carr1age\rreturn",
        "TAB_TOKEN": "ghp_t4b\tbetween",
        "ACCENT_TOKEN": "ghp_gr\u00fc\u00dfe_t0ken",
    }
    entries = []
    for name in secrets:
        entries.append(webhook(hook.url, f"headers: {{Authorization: 'Bearer ${{{name}}}'}}"))
        entries.append(webhook(hook.url + f"?token=${{{name}}}"))
    project = notify(make_tiny(tmp_path / "proj"), *entries)
    applied = project.mvctl("apply", "--auto-approve", extra_env=secrets)
    assert applied.code == 0, applied.text
    assert hook.received == []
    for name, kind in [
        ("NEWLINE_TOKEN", "a newline"),
        ("CR_TOKEN", "a carriage return"),
        ("TAB_TOKEN", "a tab"),
        ("ACCENT_TOKEN", "a non-ASCII character"),
    ]:
        for where in ("header Authorization", "the webhook URL"):
            assert (
                f"environment variable {name} holds {kind}, which cannot be sent in {where}"
                in applied.err
            )
        assert f"/hook?token=${{{name}}} was not delivered" in applied.err
    config = str(project.root / "mvctl.yaml")
    outputs = [applied, run_cli("-c", config, "history"), run_cli("-c", config, "status")]
    written = [p.read_bytes() for p in project.root.rglob("*") if p.is_file()]
    for value in secrets.values():
        forms = {value, value.strip(), repr(value)[1:-1], json.dumps(value)[1:-1]}
        forms |= {repr(value.encode())[2:-1], quote(value, safe=""), quote_plus(value)}
        forms.add(base64.b64encode(value.encode()).decode())
        for form in forms:
            for result in outputs:
                assert form not in result.text, (form, result.text)
            for data in written:
                assert form.encode() not in data, form
