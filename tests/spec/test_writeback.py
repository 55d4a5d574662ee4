"""Edits written back into a configuration change only what they set.

The texts below are written the ways people write YAML (and the ways Flux's image automation
is known to mangle: blank lines dropped, block scalars folded); each edit must leave every other
byte where it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mvctl.errors import SpecError
from mvctl.spec.writeback import (
    CopyValue,
    Remove,
    SetValue,
    edit_text,
    quoted,
    replace_file,
    unified_diff,
)

ROOT = Path(__file__).resolve().parents[2]

HAND_WRITTEN = """\
# The churn model.
project: churn-demo   # the name CI shows

models:
  churn:
    description: >
      A folded description
      over two lines.
    health_check: |
      python steps/smoke.py \\
        --strict
    pipeline:
      - name: train
        run: 'python train.py'
        params: {n_estimators: 100, seed: 7}

    versions:
      "1.0.0": {}   # the first one

      "1.1.0":
        params: {train: {n_estimators: 300}}
    aliases:
      production: "1.0.0"
      staging: "1.1.0"
"""


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in unified_diff(before, after, "mvctl.yaml").splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_no_edit_writes_the_file_back_byte_for_byte() -> None:
    assert edit_text(HAND_WRITTEN, [], file="mvctl.yaml") == HAND_WRITTEN


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*/mvctl.yaml")))
def test_the_examples_round_trip_unchanged(example: Path) -> None:
    text = example.read_text("utf-8")
    assert edit_text(text, [], file=str(example)) == text


def test_a_new_version_block_and_an_alias_move_change_only_their_lines() -> None:
    after = edit_text(
        HAND_WRITTEN,
        [
            SetValue(
                ("models", "churn", "versions", quoted("1.2.0")),
                {"params": {"train": {"seed": 8}}},
            ),
            SetValue(("models", "churn", "aliases", "production"), quoted("1.2.0")),
        ],
        file="mvctl.yaml",
    )
    assert changed_lines(HAND_WRITTEN, after) == [
        '+      "1.2.0":',
        "+        params:",
        "+          train:",
        "+            seed: 8",
        '-      production: "1.0.0"',
        '+      production: "1.2.0"',
    ]
    assert yaml.safe_load(after)["models"]["churn"]["versions"]["1.2.0"] == {
        "params": {"train": {"seed": 8}}
    }


def test_a_nested_pin_creates_the_mappings_it_needs() -> None:
    after = edit_text(
        HAND_WRITTEN,
        [SetValue(("models", "churn", "versions", "1.0.0", "pins", "train", "run"), "python t.py")],
        file="mvctl.yaml",
    )
    assert yaml.safe_load(after)["models"]["churn"]["versions"]["1.0.0"] == {
        "pins": {"train": {"run": "python t.py"}}
    }
    assert "# the first one" in after and "over two lines." in after


def test_remove_drops_a_key_and_ignores_a_missing_one() -> None:
    after = edit_text(
        HAND_WRITTEN,
        [
            Remove(("models", "churn", "aliases", "production")),
            Remove(("models", "nosuch", "aliases")),
        ],
        file="mvctl.yaml",
    )
    assert changed_lines(HAND_WRITTEN, after) == ['-      production: "1.0.0"']


def test_labels_that_look_like_numbers_stay_strings() -> None:
    after = edit_text(
        HAND_WRITTEN,
        [SetValue(("models", "churn", "versions", quoted("1.10")), {})],
        file="mvctl.yaml",
    )
    assert '"1.10": {}' in after
    assert "1.10" in yaml.safe_load(after)["models"]["churn"]["versions"]


def test_a_value_under_a_scalar_is_refused_naming_the_place() -> None:
    with pytest.raises(SpecError, match=r"'project\.x' is not a mapping"):
        edit_text(HAND_WRITTEN, [SetValue(("project", "x", "y"), 1)], file="mvctl.yaml")


def test_mixed_indentation_is_refused_rather_than_reformatted() -> None:
    mixed = "models:\n  a:\n      versions:\n        - x\n  b:\n    versions:\n    - y\n"
    with pytest.raises(SpecError, match="cannot edit this file without changing"):
        edit_text(mixed, [], file="mvctl.yaml")


def test_replace_file_keeps_the_permissions(tmp_path: Path) -> None:
    path = tmp_path / "mvctl.yaml"
    path.write_text("project: a\n")
    path.chmod(0o640)
    replace_file(path, "project: b\n")
    assert path.read_text() == "project: b\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["mvctl.yaml"]


COPY_SOURCE = """\
models:
  churn:
    versions:
      "1.0.0": {}   # the first one

      "1.1.0":
        params: {train: {lr: 0.2}}   # faster
        description: |
          two
          lines

      # older versions are archived
    aliases:
      production: "1.0.0"
      staging: "1.1.0"   # stage
"""


def test_replace_file_writes_a_symlinked_config_where_it_leads(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    real = tmp_path / "conf" / "mvctl.yaml"
    real.write_text("project: a\n")
    link = tmp_path / "mvctl.yaml"
    link.symlink_to("conf/mvctl.yaml")
    replace_file(link, "project: b\n")
    assert link.is_symlink() and real.read_text() == "project: b\n"
    assert sorted(path.name for path in (tmp_path / "conf").iterdir()) == ["mvctl.yaml"]


def test_a_copied_block_lands_after_the_last_version_keeping_what_followed_it() -> None:
    """The blank line and the comment after the versions stay after them, once."""
    after = edit_text(
        COPY_SOURCE,
        [
            CopyValue(
                ("models", "churn", "versions", "1.1.0"),
                ("models", "churn", "versions", quoted("1.1.1")),
                (SetValue(("params", "train", "seed"), 8),),
            ),
            SetValue(("models", "churn", "aliases", "staging"), quoted("1.1.1")),
        ],
        file="mvctl.yaml",
    )
    assert changed_lines(COPY_SOURCE, after) == [
        '+      "1.1.1":',
        "+        params: {train: {lr: 0.2, seed: 8}} # faster",
        "+        description: |",
        "+          two",
        "+          lines",
        '-      staging: "1.1.0"   # stage',
        '+      staging: "1.1.1"   # stage',
    ]
    assert after.count("# older versions are archived") == 1
    assert after.index('"1.1.1":') < after.index("\n\n      # older versions are archived")
    assert yaml.safe_load(after)["models"]["churn"]["versions"]["1.1.1"] == {
        "params": {"train": {"lr": 0.2, "seed": 8}},
        "description": "two\nlines\n",
    }


def test_a_copy_of_an_empty_flow_block_stays_on_one_line_without_its_comment() -> None:
    after = edit_text(
        COPY_SOURCE,
        [
            CopyValue(
                ("models", "churn", "versions", "1.0.0"),
                ("models", "churn", "versions", quoted("1.0.1")),
                (SetValue(("params", "train", "seed"), 8),),
            )
        ],
        file="mvctl.yaml",
    )
    assert changed_lines(COPY_SOURCE, after) == ['+      "1.0.1": {params: {train: {seed: 8}}}']
    assert after.count("# the first one") == 1


def test_copying_a_missing_block_is_refused_naming_it() -> None:
    with pytest.raises(SpecError, match=r"'models\.churn\.versions\.9' is not a mapping"):
        edit_text(
            COPY_SOURCE,
            [CopyValue(("models", "churn", "versions", "9"), ("models", "churn", "versions", "x"))],
            file="mvctl.yaml",
        )


def test_written_values_read_back_the_same_in_yaml_1_1() -> None:
    """ruamel writes YAML 1.2; mvctl reads YAML 1.1, where 1e-06 is text and yes a boolean."""
    values = {"small": 1e-06, "large": 1e20, "word": "yes", "toggle": "on", "count": "1_000"}
    after = edit_text(HAND_WRITTEN, [SetValue(("models", "churn", "tags"), values)], file="f")
    assert yaml.safe_load(after)["models"]["churn"]["tags"] == values
    assert "small: 1.0e-06" in after and 'word: "yes"' in after


def test_values_already_in_the_file_keep_their_style() -> None:
    text = "models:\n  churn:\n    params: {shuffle: yes, rate: 1e-3}\n"
    after = edit_text(text, [SetValue(("models", "churn", "owners"), ["ann"])], file="f")
    assert after.startswith(text)
