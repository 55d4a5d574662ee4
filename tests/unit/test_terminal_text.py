"""What reaches a terminal, a CI log or a pull-request comment: user text shown, never obeyed.

Control characters and bidi overrides become visible escapes at the Console, whatever wrote
them; rich markup in a value prints literally; JSON stays parseable and equal; Markdown cannot
be broken out of (checked by rendering it with markdown-it, as a comment would be).
"""

from __future__ import annotations

import io
import json
import time

import pytest
from markdown_it import MarkdownIt

from mvctl.render import markdown, progress
from mvctl.render.console import Console
from mvctl.render.markup import escape
from mvctl.render.terminal import json_text, visible

UNSAFE = (
    "\x00\x07\x08\x0b\x0c\x1b\x7f\x85\x9b\x9d"
    "\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
HOSTILE = (
    "a\x1b[2J\x1b]0;pwned\x07 [bold red]styled[/] [/] [link=http://evil]x[/link] \u202eevil\x9b31m"
)


class Terminal(io.StringIO):
    """Output that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def unsafe_in(text: str) -> list[str]:
    return [char for char in UNSAFE if char in text]


@pytest.mark.parametrize("char", UNSAFE + "\n\r\t")
def test_every_unsafe_character_is_written_as_an_escape(char: str) -> None:
    shown = visible(f"x{char}y")
    assert shown == "x" + (repr(char)[1:-1] if ord(char) < 0x100 else f"\\u{ord(char):04x}") + "y"
    assert unsafe_in(shown) == [] and "\n" not in shown


def test_text_meant_to_span_lines_keeps_newlines_tabs_and_crlf_only() -> None:
    assert visible("a\tb\r\nc\rd\x1b\ne", lines=True) == "a\tb\r\nc\\rd\\x1b\ne"


def test_letters_of_every_script_and_emoji_are_left_alone() -> None:
    text = "Zürich 東京 مرحبا שלום 🙂 — ✓"
    assert visible(text) == text and visible(text, lines=True) == text


def test_json_output_parses_to_the_same_values_with_no_unsafe_character() -> None:
    data = {"description": HOSTILE + "\x7f\u2028", "name": "Zürich", "n": 1}
    text = json_text(data)
    assert json.loads(text) == data
    assert unsafe_in(text) == []
    assert "Zürich" in text and "\\u202e" in text and "\\u001b" in text


def test_markup_in_a_value_prints_literally_and_cannot_break_the_line() -> None:
    for color in (False, True):
        out = Terminal() if color else io.StringIO()
        Console(out, color=color).print(f"[bold]{escape('m')}[/] {escape(HOSTILE)}")
        shown = out.getvalue()
        assert color == ("\x1b[1m" in shown)  # the formatter's own bold, on a terminal only
        assert unsafe_in(shown.replace("\x1b[1m", "").replace("\x1b[0m", "")) == []
        assert "[bold red]styled[/] [/] [link=http://evil]x[/link]" in shown
        assert "\\x1b[2J\\x1b]0;pwned\\x07" in shown and "\\u202eevil\\x9b31m" in shown


def test_emoji_codes_in_a_value_stay_text() -> None:
    for color in (False, True):
        out = Terminal() if color else io.StringIO()
        Console(out, color=color).print(escape(":warning: :red_circle:"))
        assert ":warning: :red_circle:" in out.getvalue()


def test_the_console_escapes_what_a_formatter_forgot() -> None:
    out, err = io.StringIO(), io.StringIO()
    console = Console(out, err, color=False)
    console.print("line one\nstep \x1b[2Jtwo\u202e")
    console.raw("| md \x1b]8;;http://evil\x07 |")
    console.note("note \x9b")
    console.error("error \x1b[31m")
    text = out.getvalue() + err.getvalue()
    assert unsafe_in(text) == []
    assert "line one\nstep \\x1b[2Jtwo\\u202e" in text and "\\x1b]8;;http://evil\\x07" in text


def test_step_logs_pass_through_to_a_pipe_and_are_escaped_on_a_terminal() -> None:
    log = "epoch 1\tloss 0.5\r\n\x1b[2J\x1b]0;pwned\x07progress\r50%\n"
    piped = io.StringIO()
    Console(piped, color=False).passthrough(log)
    assert piped.getvalue() == log
    terminal = Terminal()
    Console(terminal, color=False).passthrough(log)
    assert terminal.getvalue() == "epoch 1\tloss 0.5\r\n\\x1b[2J\\x1b]0;pwned\\x07progress\\r50%\n"


def test_live_progress_on_a_terminal_shows_step_fields_escaped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(progress, "PLAIN_PROGRESS_EVERY_S", 0.0)
    out = Terminal()
    reporter = progress.ApplyReporter(Console(out, color=True))
    reporter.step_started("m@1", "train", "run")
    reporter.step_progress("m@1", "train", 0.5, {"note": HOSTILE})
    time.sleep(0.5)  # the live display redraws ten times a second
    reporter.step_finished("m@1", "train", "ok", 0.1)
    plain = io.StringIO()
    plain_reporter = progress.ApplyReporter(Console(plain, color=False))
    plain_reporter.step_started("m@1", "train", "run")
    plain_reporter.step_progress("m@1", "train", 0.5, {"note": HOSTILE})
    for shown in (out.getvalue(), plain.getvalue()):
        assert "\x1b[2J" not in shown and "\x1b]0;" not in shown and "\x07" not in shown
        assert "\u202e" not in shown and "\x9b" not in shown
        assert "[bold red]styled[/]" in shown and "\\x1b[2J\\x1b]0;pwned\\x07" in shown


RENDER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
BREAKOUT = "a | b `c` ``d`` <script>alert(1)</script>\n\n| x | y |\n# Head ![i](http://t/p.png) [l](http://e) **b** ~~s~~ & \\ \x1b[2J"


def test_markdown_prose_renders_as_exactly_its_characters() -> None:
    html = RENDER.render(f"- {markdown.text(BREAKOUT)}")
    assert html.count("<li>") == 1 and "<script" not in html and "<img" not in html
    assert "<a " not in html and "<strong>" not in html and "<s>" not in html and "<h1>" not in html
    assert RENDER.parseInline(markdown.text(BREAKOUT))[0].children[0].content == visible(BREAKOUT)


def test_a_code_span_cannot_be_closed_or_broken_by_its_content() -> None:
    table = "| field | value |\n| --- | --- |\n"
    table += f"| {markdown.code('p', in_table=True)} | {markdown.code(BREAKOUT, in_table=True)} |\n"
    html = RENDER.render(table)
    assert html.count("<tr>") == 2 and html.count("<td>") == 2
    codes = [t for t in RENDER.parse(table) if t.type == "inline"][-1].children
    assert [c.content for c in codes if c.type == "code_inline"] == [visible(BREAKOUT)]
    for value, content in [("`", "`"), ("``x", "``x"), ("x`", "x`"), (" pad ", " pad "), ("", " ")]:
        (token,) = RENDER.parseInline(markdown.code(value))[0].children
        assert token.type == "code_inline" and token.content == content


def test_mvctl_prose_keeps_its_commands_as_code_and_escapes_the_rest() -> None:
    way = "set `on_conflict: overwrite` on <b>x|y</b> or run `mvctl revert --release`"
    html = RENDER.render(markdown.prose(way))
    assert html == (
        "<p>set <code>on_conflict: overwrite</code> on &lt;b&gt;x|y&lt;/b&gt; or run "
        "<code>mvctl revert --release</code></p>\n"
    )
    assert "<code>" not in RENDER.render(markdown.prose("one ` backtick *only*"))
