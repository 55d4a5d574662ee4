"""Hypothesis strategies for hostile values: text, numbers, paths, commands and URLs, the
configuration documents built from them, and command lines for every mvctl command.

Strings come from a hand-picked list of known traps (terminal escapes, bidi overrides, shell
and YAML syntax, `${SECRET}` references, paths that leave the project, YAML 1.1 booleans,
numbers in disguise) and from hypothesis' own unicode text; commands and files that would be
run or written are kept inert or inside the case folder (the tests run as whatever user CI
has, root included): a generated command quotes its hostile part as one argument of a script
that only counts its arguments, and an output path stays in the case folder or is a device
that refuses writes.
"""

from __future__ import annotations

import copy
import shlex
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from hypothesis import strategies as st

from tests.hostile.standing import SECRET_NEWLINE_VARIABLE, SECRET_VARIABLE, TEMPLATE_CONFIG

SECRET_REFERENCES = [
    f"${{{SECRET_VARIABLE}}}",
    f"${{{SECRET_NEWLINE_VARIABLE}}}",
    f"${SECRET_VARIABLE}",
    f"$${{{SECRET_VARIABLE}}}",
    "${HOSTILE_NOT_SET}",
    "${",
    "${}",
    "${1X}",
]
TRAPS = [
    "",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\x00",
    "a\x00b",
    "\x1b[2J\x1b]0;pwned\x07",
    "\x1b[31mred\x1b[0m",
    "\x9b31m",
    "\x7f",
    "\u202eevil\u202c",
    "\u200b",
    "\ufeff",
    "\u2028",
    "\u0085",
    "e\u0301",
    "\u0130",
    "\U0001f600",
    "\U0010ffff",
    "\uffff",
    "\ufdd0",
    "\uff46\uff55\uff4c\uff4c",
    "[red]markup[/red]",
    "[/]",
    "[link=file:///etc/passwd]x[/link]",
    "<script>alert(1)</script>",
    "%s%s%n",
    "{0}{__class__}",
    "%(x)s",
    "'",
    '"',
    "\\",
    "`touch CANARY`",
    "$(touch CANARY)",
    "; touch CANARY",
    "yes",
    "no",
    "on",
    "off",
    "null",
    "~",
    "true",
    "1.10",
    "0x1F",
    "1e999",
    ".nan",
    "-.inf",
    "NaN",
    "-0",
    "0o17",
    "1_000",
    "2001-12-14",
    "!!python/object/apply:os.system ['touch CANARY']",
    "*anchor",
    "&anchor",
    "<<",
    "? key",
    "- item",
    "# comment",
    "key: value",
    "{a: 1}",
    "[1, 2]",
    "|",
    ">",
    "---",
    "...",
    "%YAML 1.1",
    "production",
    "churn",
    "tiny",
    "1.0.0",
    "churn@1.0.0",
    "tiny:production",
    "-rf",
    "--help",
    "-",
    "--",
    "CON",
    "a" * 129,
    "A" * 5000,
    "9" * 5000,
    *SECRET_REFERENCES,
]
PATH_TRAPS = [
    "data/holdout.csv",
    "steps/prepare.py",
    "../outside/passwd",
    "../outside/holdout.csv",
    "../outside",
    "../../",
    "/etc/passwd",
    "/proc/self/environ",
    "/dev/zero",
    "/dev/null",
    "data/outside.csv",
    "linked/passwd",
    "linked/data",
    "linked/../proj/data/holdout.csv",
    ".",
    "..",
    "./",
    "data",
    "data/",
    "data//holdout.csv",
    "data/./holdout.csv",
    "data/../data/holdout.csv",
    "data/holdout.csv/x",
    "*",
    "**/*",
    "**",
    "data/*.csv",
    "../*",
    "/*",
    "[",
    "data/[!a]*",
    "{a,b}",
    "~/x",
    "~root/x",
    "C:\\Windows\\x",
    "\\\\server\\share",
    "file:///etc/passwd",
    "data/holdout.csv\x00x",
    ".mvctl/state.db",
    ".mvctl/store",
    ".mvctl",
    "mvctl.yaml",
    "nosuch/file.csv",
    "payloads/x.bin",
    "models/m.skops",
    "a" * 300,
    "/" + "a/" * 200,
]

texts = st.one_of(
    st.sampled_from(TRAPS),
    st.text(max_size=30),
    st.text(
        alphabet=st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs", "Mn", "Co"]), max_size=8
    ),
    st.tuples(st.text(max_size=4), st.sampled_from(TRAPS), st.text(max_size=4)).map("".join),
)
"""Hostile text of any kind."""
names = st.one_of(
    texts, st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True), st.just("x" * 128)
)
"""Text, or something that passes the name pattern (so later checks run too)."""
paths = st.one_of(
    st.sampled_from(PATH_TRAPS),
    texts,
    st.tuples(st.sampled_from(PATH_TRAPS), st.sampled_from(["", "/"]), texts).map("".join),
)


@dataclass(frozen=True)
class Huge:
    """An integer of ``digits`` digits, written into YAML as such (Python's int would refuse
    to print it beyond 4,300 digits, hypothesis' reports included)."""

    digits: int
    negative: bool = False

    def text(self) -> str:
        return ("-" if self.negative else "") + "9" * self.digits


huge_ints = st.one_of(
    st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**400]),
    st.builds(Huge, st.integers(19, 6000), st.booleans()),
)
numbers = st.one_of(
    st.integers(),
    st.floats(),
    huge_ints,
    st.sampled_from([0, -1, 1e308, float("inf"), float("nan"), True, "5", None]),
)


def nested(depth: int) -> Any:
    value: Any = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
param_values = st.one_of(
    st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3)
        ),
        max_leaves=8,
    ),
    st.integers(1, 60).map(nested),
)
"""Anything YAML can say, huge integers and nesting included."""
wrong_types = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(texts, scalars, max_size=3),
    st.integers(1, 40).map(nested),
)


def inert_command(text: str) -> str:
    """A command whose hostile part reaches a script as one argument, never the shell."""
    return "python steps/echo_args.py " + shlex.quote(text)


commands = texts.map(inert_command) | st.sampled_from(
    ["", " ", "python steps/echo_args.py", "python -c 'import sys; sys.exit(3)'", "true", "false"]
)
"""Commands safe to run: every shell word is fixed but the quoted argument."""
HOSTS = ["127.0.0.1:9", "127.0.0.1:1", "[::1]:9", "localhost:9", "127.0.0.1:99999", "127.0.0.1:x"]
urls = st.one_of(
    st.builds(
        lambda scheme, userinfo, host, path: f"{scheme}://{userinfo}{host}/{path}",
        st.sampled_from(["http", "https", "HTTP", "ftp", "file", "javascript", ""]),
        st.sampled_from(["", f"user:${{{SECRET_VARIABLE}}}@", f"${{{SECRET_VARIABLE}}}@", "a@b@"]),
        st.sampled_from(HOSTS),
        texts,
    ),
    st.sampled_from(
        [
            f"http://127.0.0.1:9/?t=${{{SECRET_VARIABLE}}}",
            f"http://127.0.0.1:9/?t=${{{SECRET_NEWLINE_VARIABLE}}}",
            f"http://127.0.0.1:9/${{{SECRET_VARIABLE}}}\r\nX-Injected: 1",
            "http:///nohost",
            "http://",
            "file:///etc/passwd",
            "http://127.0.0.1:9/ space",
        ]
    ),
    texts,
)


# -- configuration documents -----------------------------------------------------------------


def template() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(TEMPLATE_CONFIG)
    return config


Setter = Callable[[dict[str, Any], Any], None]


def at(*path: Any) -> Setter:
    """Set the value at ``path``; a last element '+' appends to a list, '{}' adds the value
    as a new key (its value a sensible one for that place)."""

    def put(config: dict[str, Any], value: Any) -> None:
        holder: Any = config
        for key in path[:-1]:
            holder = holder[key]
        last = path[-1]
        if last == "+":
            holder.append(value)
        elif isinstance(last, tuple) and last[0] == "{}":
            holder[value] = copy.deepcopy(last[1])
        else:
            holder[last] = value

    return put


def new_key(default: Any) -> tuple[str, Any]:
    return ("{}", default)


CHURN = ("models", "churn")
TINY = ("models", "tiny")
EVALUATION = (*CHURN, "evaluation")
NOTIFICATION = ("notifications", 0)
FIELDS: dict[str, tuple[Setter, st.SearchStrategy[Any]]] = {
    "project": (at("project"), names),
    "state": (at("state"), paths),
    "store": (at("store"), paths),
    "include": (at("include"), st.lists(paths, max_size=3)),
    "model name": (at("models", new_key({"pipeline": [], "versions": {}})), names),
    "description": (at(*CHURN, "description"), texts),
    "owner": (at(*TINY, "owners", "+"), texts),
    "tag": (at(*CHURN, "tags"), st.dictionaries(texts, texts, max_size=2)),
    "task": (at(*CHURN, "task"), texts),
    "step name": (at(*TINY, "pipeline", 0, "name"), names),
    "run": (at(*TINY, "pipeline", 0, "run"), commands),
    "uses": (at(*TINY, "pipeline", 1, "uses"), texts),
    "estimator": (at(*CHURN, "pipeline", 1, "with", "estimator"), texts),
    "with": (at(*CHURN, "pipeline", 1, "with"), st.dictionaries(texts, param_values, max_size=3)),
    "param": (at(*TINY, "pipeline", 1, "params", "lr"), param_values),
    "param key": (at(*TINY, "pipeline", 0, "params", new_key(1)), texts),
    "params": (at(*TINY, "pipeline", 0, "params"), param_values),
    "dep": (at(*TINY, "pipeline", 0, "deps", "+"), paths),
    "output": (at(*TINY, "pipeline", 0, "outputs", "+"), paths),
    "env": (
        at(*TINY, "pipeline", 0, "env"),
        st.lists(st.sampled_from([SECRET_VARIABLE, SECRET_NEWLINE_VARIABLE]) | texts, max_size=3),
    ),
    "dataset path": (at(*EVALUATION, "datasets", 0, "path"), paths),
    "dataset name": (at(*EVALUATION, "datasets", 1, "name"), texts),
    "dataset label": (at(*EVALUATION, "datasets", 0, "label"), texts),
    "dataset features": (at(*EVALUATION, "datasets", 0, "features"), st.lists(texts, max_size=3)),
    "dataset step": (at(*EVALUATION, "datasets", 1, "step"), names),
    "dataset file": (at(*EVALUATION, "datasets", 1, "file"), paths),
    "dataset array": (at(*EVALUATION, "datasets", 1, "x_array"), texts),
    "metric": (at(*EVALUATION, "metrics", "+"), texts),
    "gate": (
        at(*EVALUATION, "gates", "+"),
        texts
        | st.sampled_from(
            [
                "accuracy >= nan",
                "f1 >= 1e999",
                "accuracy >= baseline(nosuch) - 1",
                "roc_auc > baseline(production) * 2",
                "f1 >= 0.8 and",
                "accuracy >= -" + "9" * 5000,
                "accuracy >= baseline(" + "(" * 500 + ")",
            ]
        ),
    ),
    "average": (at(*EVALUATION, "average"), texts),
    "speed": (at(*EVALUATION, "speed", "repetitions"), numbers),
    "predict": (at(*EVALUATION, "predict"), commands),
    "version label": (at(*TINY, "versions", new_key({})), names),
    "version params": (at(*TINY, "versions", "1.1.0", "params"), param_values),
    "version override": (
        at(*TINY, "versions", "1.1.0", "params", "train"),
        st.dictionaries(texts, param_values, max_size=2),
    ),
    "artifact": (at(*TINY, "versions", "1.1.0"), paths.map(lambda p: {"artifact": p})),
    "version description": (at(*TINY, "versions", "1.0.0", "description"), texts),
    "version tags": (
        at(*TINY, "versions", "1.0.0", "tags"),
        st.dictionaries(texts, texts, max_size=2),
    ),
    "alias name": (at(*TINY, "aliases", new_key("1.0.0")), names),
    "alias target": (at(*TINY, "aliases", "staging"), names),
    "health check": (at(*TINY, "health_check"), commands),
    "on_failure": (at(*TINY, "on_failure"), texts),
    "trusted type": (
        at(*CHURN, "trusted_types"),
        st.lists(
            texts
            | st.sampled_from(
                [
                    "builtins.eval",
                    "os.system",
                    "evil_payload.Model",
                    "sklearn.tree._tree.Tree",
                    "numpy.load",
                    "functools.partial",
                    "builtins.object",
                ]
            ),
            max_size=3,
        ),
    ),
    "webhook": (at(*NOTIFICATION, "webhook"), urls),
    "header name": (at(*NOTIFICATION, "headers", new_key(f"Bearer ${{{SECRET_VARIABLE}}}")), texts),
    "header value": (at(*NOTIFICATION, "headers", "Authorization"), texts),
    "notify command": (at(*NOTIFICATION, "command"), commands),
    "notify timeout": (at(*NOTIFICATION, "timeout"), numbers),
    "notify retries": (at(*NOTIFICATION, "retries"), numbers),
    "notify events": (at(*NOTIFICATION, "events"), st.lists(texts, max_size=2)),
    "admin": (at("policy", "admins", "+"), texts),
    "protected alias": (at("policy", "protected_aliases", new_key({"actors": []})), names),
    "protected actors": (
        at("policy", "protected_aliases", "production", "actors"),
        st.lists(texts, max_size=2),
    ),
}
"""Every string-bearing place of the config, with the hostile values it is given."""
WRONG_TYPE_PLACES = [
    at("models"),
    at(*CHURN, "pipeline"),
    at(*TINY, "pipeline", 0),
    at(*TINY, "versions"),
    at(*TINY, "aliases"),
    at(*CHURN, "evaluation"),
    at("notifications"),
    at("policy"),
    at(*TINY, "owners"),
]


@st.composite
def hostile_configs(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """The template config with one to four places given hostile values, and those places."""
    config = template()
    chosen = draw(st.lists(st.sampled_from(sorted(FIELDS)), min_size=1, max_size=4, unique=True))
    for name in chosen:
        put, values = FIELDS[name]
        try:
            put(config, draw(values))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed the place
    if draw(st.integers(0, 9)) == 0:
        draw(st.sampled_from(WRONG_TYPE_PLACES))(config, draw(wrong_types))
        chosen.append("wrong type")
    return config, chosen


class _Dumper(yaml.SafeDumper):
    """YAML's safe dumper, writing ``Huge`` integers digit by digit."""


_Dumper.add_representer(
    Huge, lambda dumper, huge: dumper.represent_scalar("tag:yaml.org,2002:int", huge.text())
)


def dump(config: Any) -> bytes:
    text = yaml.dump(config, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10**6)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def config_texts(draw: st.DrawFn) -> bytes:
    """The template's YAML text with raw, unescaped text spliced in: at a value, after a key,
    as a new line, or a whole document of YAML's traps."""
    lines = TEMPLATE_CONFIG.splitlines(keepends=True)
    kind = draw(st.sampled_from(["value", "line", "replace", "document", "bytes"]))
    raw = draw(texts | st.text(alphabet=string.printable + "[]{}:&*!|>'\"%@`\\", max_size=60))
    if kind == "document":
        return raw.encode("utf-8", "surrogatepass")
    if kind == "bytes":
        data = bytearray(TEMPLATE_CONFIG.encode())
        for _ in range(draw(st.integers(1, 4))):
            data.insert(draw(st.integers(0, len(data))), draw(st.integers(0, 255)))
        return bytes(data)
    index = draw(st.integers(0, len(lines) - 1))
    line = lines[index]
    if kind == "value" and ":" in line:
        key, _, _ = line.partition(":")
        lines[index] = f"{key}: {raw}\n"
    elif kind == "replace":
        lines[index] = raw + "\n"
    else:
        lines.insert(index, raw + "\n")
    return "".join(lines).encode("utf-8", "surrogatepass")


# -- command lines ---------------------------------------------------------------------------

MODELS = ["churn", "tiny", "nosuch", "Churn", ""]
LABELS = ["1.0.0", "1.1.0", "9.9.9", "1.10", "production", "staging", ""]
references = st.one_of(
    st.builds(
        lambda model, separator, label: f"{model}{separator}{label}",
        st.sampled_from(MODELS) | texts,
        st.sampled_from(["@", ":", "@@", "/", "", " @", "@:"]),
        st.sampled_from(LABELS) | texts,
    ),
    texts,
)
"""MODEL@VERSION and MODEL:ALIAS, right and wrong."""
number_words = st.one_of(
    st.sampled_from(
        [
            "nan",
            "NaN",
            "inf",
            "-inf",
            "-1",
            "0",
            "1",
            "1e308",
            "1e309",
            "9" * 30,
            "-0",
            "0x10",
            "1_000",
            " 5",
            "5 ",
            "\u0663",
            "",
            "1.5",
            str(2**63),
            str(2**63 - 1),
            str(-(2**63)),
            "2**63",
            "0.0000001",
            "86401",
            "10",
        ]
    ),
    st.integers().map(str),
    st.floats().map(str),
    texts,
)
dates = st.one_of(
    st.sampled_from(
        [
            "2020-01-01",
            "9999-12-31T23:59:59Z",
            "0001-01-01",
            "2020-13-45",
            "now",
            "1e10",
            "2020-01-01T00:00:00+25:00",
            "99999-01-01",
            "2020-01-01T25:00",
            "-1",
            "1970-01-01T00:00:00Z",
        ]
    ),
    texts,
)
input_paths = (
    st.sampled_from(
        [
            "mvctl.yaml",
            "data/holdout.csv",
            "../outside/holdout.csv",
            "../outside/passwd",
            "data/outside.csv",
            "linked/holdout.csv",
            ".mvctl/state.db",
            "steps/prepare.py",
            "data",
            ".",
            "/dev/null",
            "/dev/zero",
            "/dev/urandom",
            "/dev/full",
            "nosuch.csv",
            "data/holdout.csv/x",
            "",
            "-",
            "/",
            "~/x",
            "payloads",
        ]
    )
    | texts
)
"""Files a command reads: missing, devices, folders, outside files, binary files."""
file_names = texts.map(lambda t: t.replace("/", "_").replace("\x00", "_")[:300])
output_paths = st.one_of(
    st.sampled_from(
        [
            "out.json",
            "newdir/out.json",
            "../outside/out.json",
            "linked/out.json",
            "mvctl.yaml",
            "data",
            "data/holdout.csv/x",
            "/dev/full",
            "/dev/null",
            "",
            "-",
            ".",
            "..",
            "x" * 300,
            "steps",
        ]
    ),
    file_names.filter(lambda name: name not in ("", ".", "..")),
)
"""Files a command writes: every one stays in the case folder or is a device."""


def choice(options: dict[str, st.SearchStrategy[Any] | None]) -> st.SearchStrategy[list[str]]:
    """Some of ``options`` (None: a flag), each with a drawn value."""

    @st.composite
    def draw_options(draw: st.DrawFn) -> list[str]:
        argv: list[str] = []
        if not options:
            return argv
        for option in draw(st.lists(st.sampled_from(sorted(options)), max_size=4)):
            values = options[option]
            argv.append(option)
            if values is not None:
                argv.append(draw(values))
        return argv

    return draw_options()


ACTOR = texts | st.just("tester")
LOCK = {"--lock-timeout": number_words, "--lock-lease": number_words}
PLANNING = {
    "--target": references | st.sampled_from(MODELS),
    "--actor": ACTOR,
    "--on-conflict": st.sampled_from(["abort", "overwrite", "", "Abort", "merge"]) | texts,
    "--refresh-only": None,
    "--retry-failed": None,
}
COMMANDS: dict[tuple[str, ...], tuple[list[st.SearchStrategy[str]], dict[str, Any]]] = {
    ("validate",): ([], {"--json": None}),
    ("plan",): (
        [],
        {
            **PLANNING,
            "--json": None,
            "--markdown": None,
            "--out": output_paths,
            "--detailed-exitcode": None,
        },
    ),
    ("apply", "--auto-approve"): (
        [],
        {**PLANNING, **LOCK, "--parallel": number_words, "--json": None},
    ),
    ("apply", "--auto-approve", "--"): ([input_paths], {}),
    ("apply",): ([], {"--actor": ACTOR, "--json": None}),
    ("revert", "--auto-approve"): (
        [],
        {"--to": number_words, "--release": None, "--force": None, "--actor": ACTOR, **LOCK},
    ),
    ("revert", "--auto-approve", "--"): ([number_words], {}),
    ("revert",): ([], {"--json": None}),
    ("status",): ([st.sampled_from(MODELS) | texts], {"--json": None}),
    ("history",): (
        [st.sampled_from(MODELS) | texts],
        {"--since": dates, "--limit": number_words, "--json": None},
    ),
    ("show",): ([references], {"--json": None}),
    ("logs",): ([references, st.sampled_from(["prepare", "train", "nosuch"]) | texts], {}),
    ("compare",): (
        [references, references],
        {"--data": input_paths, "--label": texts | st.just("churned"), "--json": None},
    ),
    ("report",): ([], {"-o": output_paths, "--history": number_words}),
    ("freeze",): ([references | st.sampled_from(MODELS)], {"--check": None, "--json": None}),
    ("reproduce",): ([references], {"--json": None}),
    ("init",): ([output_paths], {"--project": names}),
    ("state", "check"): ([], {"--stale-after": number_words, "--json": None}),
    ("state", "lock"): ([], {"--reason": texts}),
    ("state", "migrate"): ([], {}),
    ("state", "unlock"): ([texts | number_words], {"--force": None}),
    ("store", "gc"): ([], {"--delete": None, "--lock-timeout": number_words, "--json": None}),
}
OUTPUT_OPTIONS = ("--out", "-o")
folders = st.sampled_from(
    [
        "",
        ".",
        "data",
        "steps",
        "linked",
        "../outside",
        "nosuch",
        ".mvctl",
        "mvctl.yaml",
        "data/holdout.csv",
        "/dev/null",
    ]
) | file_names.filter(lambda name: name != "..")
"""What `-C DIR` is given: the project's folders, the canary folder (through its link too),
files, missing folders. Never the root or the folder of all cases: an output path then taken
from it (`init NAME`) would land on the machine or beside the other cases."""


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """An argv for one command, and the paths on it the command may write."""
    words = draw(st.sampled_from(sorted(COMMANDS)))
    positional, options = COMMANDS[words]
    argv: list[str] = []
    if draw(st.integers(0, 7)) == 0:
        argv += ["-C", draw(folders)]
    if draw(st.integers(0, 5)) == 0:
        argv += ["-c", draw(input_paths)]
    if draw(st.booleans()):
        argv.append("--no-color")
    argv += list(words[:-1] if words[-1] == "--" else words)
    chosen = draw(choice(options))
    if draw(st.integers(0, 7)) == 0:
        chosen.append("--no-color")
    argv += chosen
    arguments = [draw(values) for values in positional[: draw(st.integers(0, len(positional)))]]
    if draw(st.integers(0, 9)) == 0:
        arguments.append(draw(texts))
    if arguments:
        argv += (["--"] if words[-1] == "--" else []) + arguments
    outputs = [chosen[i + 1] for i, word in enumerate(chosen[:-1]) if word in OUTPUT_OPTIONS]
    if words == ("init",):
        outputs += arguments[:1] or ["."]
    # A real command line cannot hold NUL: the operating system ends each argument there.
    return [word.replace("\x00", "") for word in argv], [
        path.replace("\x00", "") for path in outputs
    ]
