"""Hostile text through the real CLI: every command shows user values, none obeys them.

A project whose description, tags, actor, step log, parameters, file names and YAML keys hold
escape sequences (clear screen, retitle the window, colours, 8-bit CSI), a bidi override and
rich markup. Plain output (CI, in this process) and a real terminal (a pty, in colour) show the
escaped form; `mvctl logs` into a pipe keeps the log byte for byte; JSON parses to the same
values; Markdown renders without breaking out; the HTML report is escaped.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tests.functional.inprocess import run_cli
from tests.functional.projects import Project, Result, base_env
from tests.functional.webhooks import free_port

NOISY_STEP = """\
import json, struct, sys
from mvctl import step
p = step.params()
print("\\x1b[2J\\x1b]0;pwned\\x07 [bold red]styled[/] \\u202eevil\\x9b31m")
if p["fail"]:
    print("failing \\x1b[31mred\\x1b[0m", file=sys.stderr)
    sys.exit(3)
header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
with open(step.output("model.safetensors"), "wb") as out:
    out.write(struct.pack("<Q", len(header)) + header + struct.pack("<f", 1.0))
"""

# YAML double-quoted escapes: \e is ESC, \a BEL, \x9b the 8-bit CSI, \u202e RIGHT-TO-LEFT OVERRIDE.
HOSTILE_YAML = r"\e[2J\e]0;pwned\a [bold red]styled[/] [/] \u202eevil \x9b31m \x7f <img src=x>"
HOSTILE = "\x1b[2J\x1b]0;pwned\x07 [bold red]styled[/] [/] \u202eevil \x9b31m \x7f <img src=x>"
SHOWN = "\\x1b[2J\\x1b]0;pwned\\x07 [bold red]styled[/] [/] \\u202eevil \\x9b31m \\x7f <img src=x>"
ACTOR = "bob[bold red]styled[/] <b>"
"""Actors with control characters are refused outright (tests/unit/test_actor.py); markup is not."""
RAW = ("\x1b[2J", "\x1b]0;", "\x1b[31m", "\x07", "\x9b", "\x7f", "\u202e")
"""What must never reach an output raw (on a colour terminal rich writes its own ESC codes)."""

CONFIG = f"""\
project: hostile
models:
  churn:
    owners: [risk]
    description: "model {HOSTILE_YAML}"
    pipeline:
      - name: train
        run: python steps/noisy.py
        deps: [steps/noisy.py]
        params: {{fail: 0, note: "a | b"}}
        outputs: [model.safetensors]
    versions:
      "1.0.0":
        description: "version {HOSTILE_YAML}"
        tags: {{team: "team {HOSTILE_YAML} [link=http://evil]click[/link]"}}
      "1.1.0": {{params: {{train: {{fail: 1}}}}}}
    aliases:
      production: "1.0.0"
"""


def assert_shown_not_obeyed(text: str) -> None:
    for sequence in RAW:
        assert sequence not in text, (sequence, text)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The hostile project after one apply (1.0.0 trained, 1.1.0 failed), by actor ACTOR."""
    project = Project(tmp_path_factory.mktemp("terminal") / "proj", base_env(None))
    project.write("mvctl.yaml", CONFIG)
    project.write("steps/noisy.py", NOISY_STEP)
    applied = project.mvctl("apply", "--auto-approve", extra_env={"MVCTL_ACTOR": ACTOR})
    assert applied.code == 1, applied.text  # 1.1.0 failed on purpose
    assert_shown_not_obeyed(applied.text)
    assert "failed: step train exited with code 3" in applied.out
    return project


def cli(project: Project, *args: str) -> Result:
    return run_cli("-c", str(project.root / "mvctl.yaml"), *args)


def on_terminal(project: Project, *args: str) -> str:
    """`mvctl ARGS` on a real pseudo-terminal, in colour: what the terminal received."""
    env = {k: v for k, v in project.env.items() if k != "NO_COLOR"}
    env.update(TERM="xterm-256color", COLUMNS="200")
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "mvctl", *args],
        cwd=project.root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    received = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the pty is closed once the process is gone
            break
        if not chunk:
            break
        received += chunk
    os.close(leader)
    assert process.wait(timeout=60) in (0, 1)
    return received.decode("utf-8").replace("\r\n", "\n")


def test_show_status_and_history_show_hostile_values_escaped(project: Project) -> None:
    show = cli(project, "show", "churn@1.0.0")
    assert show.code == 0, show.text
    assert f"  description:  version {SHOWN}" in show.out
    assert f"team=team {SHOWN} [link=http://evil]click[/link]" in show.out
    assert "by bob[bold red]styled[/] <b> in apply 1" in show.out
    failed = cli(project, "show", "churn@1.1.0")
    assert "    \\x1b[2J\\x1b]0;pwned\\x07 [bold red]styled[/] \\u202eevil\\x9b31m" in failed.out
    assert "    failing \\x1b[31mred\\x1b[0m" in failed.out
    history = cli(project, "history")
    assert "#1 apply by bob[bold red]styled[/] <b> at" in history.out
    for result in (show, failed, history, cli(project, "status")):
        assert_shown_not_obeyed(result.text)


def test_json_output_holds_the_values_and_no_raw_control_character(project: Project) -> None:
    for args in (("show", "churn@1.0.0"), ("history",), ("status",)):
        result = cli(project, *args, "--json")
        assert_shown_not_obeyed(result.out)
        if args[0] == "show":
            assert json.loads(result.out)["description"] == f"version {HOSTILE}"
        if args[0] == "history":
            assert json.loads(result.out)["applies"][0]["actor"] == ACTOR


def test_a_colour_terminal_shows_markup_literally_and_obeys_no_value(project: Project) -> None:
    shown = on_terminal(project, "show", "churn@1.0.0")
    assert "\x1b[1m" in shown  # rich's own bold: this is the coloured output
    assert_shown_not_obeyed(shown)
    assert f"version {SHOWN}" in shown
    assert "[link=http://evil]click[/link]" in shown and "\x1b]8;" not in shown


def test_plan_text_and_markdown_show_a_hostile_change(project: Project) -> None:
    project.edit_config(f'"version {HOSTILE_YAML}"', f'"edited {HOSTILE_YAML}"')
    try:
        update = cli(project, "plan")
        assert update.code == 0, update.text
        assert f"      description: version {SHOWN} -> edited {SHOWN}" in update.out
        assert_shown_not_obeyed(update.text)
        project.edit_config('note: "a | b"', 'note: "x | y `z` <script>alert(1)</script>\\n| r |"')
        conflict = cli(project, "plan")
        assert conflict.code == 3  # 1.0.0 was trained with the note "a | b"
        assert (
            "steps.train.params.note: a | b -> x | y `z` <script>alert(1)</script>\\n| r |"
            in conflict.out
        )
        assert_shown_not_obeyed(conflict.text)
        markdown = cli(project, "plan", "--markdown")
        assert_shown_not_obeyed(markdown.text)
        html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown.out)
        assert "<script" not in html and "<img" not in html
        (row,) = [line for line in html.split("<tr>") if "steps.train.params.note" in line]
        assert row.count("<td>") == 3
        assert "<code>x | y `z` &lt;script&gt;alert(1)&lt;/script&gt;\\n| r |</code>" in row
    finally:
        project.write("mvctl.yaml", CONFIG)


def test_logs_are_byte_for_byte_into_a_pipe_and_escaped_on_a_terminal(project: Project) -> None:
    piped = cli(project, "logs", "churn@1.1.0", "train")
    assert "\x1b[2J\x1b]0;pwned\x07 [bold red]styled[/] \u202eevil\x9b31m\n" in piped.out
    assert "failing \x1b[31mred\x1b[0m\n" in piped.out
    shown = on_terminal(project, "logs", "churn@1.1.0")
    assert_shown_not_obeyed(shown)
    assert "\\x1b[2J\\x1b]0;pwned\\x07 [bold red]styled[/] \\u202eevil\\x9b31m\n" in shown
    assert "\nfailing \\x1b[31mred\\x1b[0m\n" in shown


def test_the_html_report_is_escaped(project: Project, tmp_path: Path) -> None:
    written = cli(project, "report", "-o", str(tmp_path / "report.html"))
    assert written.code == 0, written.text
    page = (tmp_path / "report.html").read_text("utf-8")
    assert_shown_not_obeyed(page)
    assert "<img src=x>" not in page
    assert "model \\x1b[2J\\x1b]0;pwned\\x07 [bold red]styled[/] [/] \\u202eevil" in page
    assert "&lt;img src=x&gt;" in page and "<td>bob[bold red]styled[/] &lt;b&gt;</td>" in page


def test_validate_errors_show_hostile_keys_and_file_names_escaped(tmp_path: Path) -> None:
    folder = tmp_path / "bad\x1b[2Jdir\u202e"
    folder.mkdir()
    (folder / "mvctl.yaml").write_text(
        "project: x\nmodels:\n  churn:\n"
        '    "descr\\e[2Jption\\u202e": 1\n'
        '    "[bold]key\\nError: forged": 2\n'
        '    pipeline:\n      - {name: train, run: python t.py, deps: ["data/\\e]0;x\\a.csv"]}\n'
        '    evaluation: {dataset: d.csv, label: y, metrics: [f1], gates: ["f1 >= \\e[2J0.8"]}\n'
        "    versions: {}\n",
        "utf-8",
    )
    result = run_cli("-c", str(folder / "mvctl.yaml"), "validate")
    assert result.code == 1 and result.out == ""
    assert_shown_not_obeyed(result.err)
    assert "bad\\x1b[2Jdir\\u202e" in result.err
    assert "unknown key 'descr\\x1b[2Jption\\u202e'" in result.err
    assert "unknown key '[bold]key\\nError: forged'" in result.err
    assert "\nError: forged" not in result.err  # a key cannot forge a line of its own
    (folder / "broken.yaml").write_text("project: [\n", "utf-8")
    broken = run_cli("-c", str(folder / "broken.yaml"), "validate")
    assert (
        broken.code == 1
        and "bad\\x1b[2Jdir\\u202e/broken.yaml:2:1: YAML syntax error" in broken.err
    )
    assert_shown_not_obeyed(broken.err)


def test_a_missing_dep_and_a_bad_gate_are_named_escaped(tmp_path: Path) -> None:
    project = Project(tmp_path / "proj", base_env(None))
    project.write(
        "mvctl.yaml",
        CONFIG.replace("deps: [steps/noisy.py]", r'deps: [steps/noisy.py, "data/\e[2Jx.csv"]'),
    )
    project.write("steps/noisy.py", NOISY_STEP)
    missing = run_cli("-c", str(project.root / "mvctl.yaml"), "plan")
    assert missing.code == 1 and "data/\\x1b[2Jx.csv" in missing.err
    assert_shown_not_obeyed(missing.err)
    project.write(
        "mvctl.yaml",
        CONFIG.replace(
            "    versions:",
            '    evaluation: {dataset: d.csv, label: y, metrics: [f1], gates: ["f1 >= \\e[2J0.8"]}\n    versions:',
        ),
    )
    gate = run_cli("-c", str(project.root / "mvctl.yaml"), "validate")
    assert gate.code == 1 and "\\x1b[2J0.8" in gate.err
    assert_shown_not_obeyed(gate.err)


def test_a_notification_warning_quoting_hostile_text_is_escaped(tmp_path: Path) -> None:
    project = Project(tmp_path / "proj", base_env(None))
    hostile_url = f"http://127.0.0.1:{free_port()}/\\e[2J\\e]0;pwned\\a"
    project.write("mvctl.yaml", CONFIG + f'notifications:\n  - webhook: "{hostile_url}"\n')
    project.write("steps/noisy.py", NOISY_STEP)
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 1, applied.text
    assert (
        "/\\x1b[2J\\x1b]0;pwned\\x07 was not delivered: the webhook URL holds a control character"
        in applied.err
    )
    assert_shown_not_obeyed(applied.text)
