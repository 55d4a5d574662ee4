"""Valid configurations load into the models, and their positions point at the right lines."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from mvctl.errors import Place
from mvctl.spec import LoadedConfig, load_config
from mvctl.spec.models import Config
from tests.spec.support import VALID, describe, errors_of, load_text, write

ROOT = Path(__file__).resolve().parents[2]


def y(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_the_design_sketch_loads(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, VALID)
    assert isinstance(loaded, LoadedConfig)
    assert isinstance(loaded.config, Config)
    assert loaded.root == tmp_path
    assert loaded.files == (tmp_path / "mvctl.yaml",)
    churn = loaded.config.models["churn"]
    assert list(churn.versions) == ["1.0.0", "1.1.0"]
    assert churn.versions["1.1.0"].params == {"train": {"n_estimators": 300}}
    assert churn.pipeline[0].params == {"test_size": 0.2, "seed": 7}
    assert churn.pipeline[1].with_ == {"estimator": "sklearn.ensemble.RandomForestClassifier"}
    assert loaded.config.policy.protected_aliases["production"].actors == ["release-bot", "alice"]


def test_the_quickstart_example_loads() -> None:
    loaded = load_config(ROOT / "examples" / "quickstart" / "mvctl.yaml")
    assert "cancer" in loaded.config.models


def test_positions_point_at_keys_and_values(tmp_path: Path) -> None:
    positions = load_text(tmp_path, VALID).positions
    name = str(tmp_path / "mvctl.yaml")
    assert positions.place(("models", "churn")) == Place(name, 3, 3)
    assert positions.place(("models", "churn", "task")) == Place(name, 5, 5)
    assert positions.value_place(("models", "churn", "task")) == Place(name, 5, 11)
    # list items: the item itself
    assert positions.place(("models", "churn", "pipeline", 1)) == Place(name, 12, 9)
    assert positions.place(("models", "churn", "pipeline", 1, "with", "estimator")) == Place(
        name, 14, 16
    )
    assert positions.place(("models", "churn", "pipeline", 0, "deps", 1)) == Place(name, 9, 36)
    assert positions.place(("models", "churn", "versions", "1.1.0", "params", "train")) == Place(
        name, 24, 26
    )
    assert positions.value_place(("models", "churn", "aliases", "staging")) == Place(name, 25, 45)


def test_an_unknown_path_gets_the_nearest_enclosing_place(tmp_path: Path) -> None:
    positions = load_text(tmp_path, VALID).positions
    name = str(tmp_path / "mvctl.yaml")
    assert positions.place(("models", "churn", "versions", "9.9.9", "params")) == Place(name, 22, 5)
    assert positions.place(("models", "nope")) == Place(name, 2, 1)
    assert positions.place(("models", "churn", "pipeline", 7)) == Place(name, 6, 5)
    assert positions.place(()) == Place(name, 1, 1)


def test_relative_paths_are_shown_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {"conf/mvctl.yaml": VALID})
    monkeypatch.chdir(tmp_path)
    loaded = load_config(Path("conf/mvctl.yaml"))
    assert loaded.positions.place(("models", "churn")).file == os.path.join("conf", "mvctl.yaml")
    assert loaded.root == tmp_path / "conf"


def test_includes_merge_models_and_keep_their_positions(tmp_path: Path) -> None:
    main = y("""
        project: demo
        include: ["models/*.yaml", "extra/one.yaml"]
        models:
          base:
            pipeline: [{name: train, run: python train.py}]
        """)
    loaded = load_text(
        tmp_path,
        main,
        **{
            "models/b.yaml": "models:\n  beta:\n    pipeline: [{name: t, run: x}]\n",
            "models/a.yaml": "# first\nmodels:\n  alpha:\n    versions: {}\n",
            "extra/one.yaml": "models:\n  one: {}\n",
        },
    )
    assert list(loaded.config.models) == ["base", "alpha", "beta", "one"]
    assert [path.name for path in loaded.files] == ["mvctl.yaml", "a.yaml", "b.yaml", "one.yaml"]
    place = loaded.positions.place(("models", "alpha", "versions"))
    assert place.file.endswith(os.path.join("models", "a.yaml"))
    assert (place.line, place.column) == (4, 5)
    beta = loaded.positions.place(("models", "beta", "pipeline", 0, "run"))
    assert beta.file.endswith("b.yaml") and (beta.line, beta.column) == (3, 26)
    assert loaded.positions.place(("models", "base")).file.endswith("mvctl.yaml")


def test_include_without_models_in_main(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        "project: demo\ninclude: ['*.models.yaml']\n",
        **{"churn.models.yaml": "models:\n  churn: {}\n"},
    )
    assert list(loaded.config.models) == ["churn"]
    assert loaded.positions.place(("models", "churn")).file.endswith("churn.models.yaml")


def test_a_pattern_matching_the_main_file_does_not_include_it_again(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path, "project: demo\ninclude: ['*.yaml']\n", **{"m.yaml": "models: {}\n"}
    )
    assert [path.name for path in loaded.files] == ["mvctl.yaml", "m.yaml"]


def test_anchors_and_merge_keys(tmp_path: Path) -> None:
    text = y("""
        project: demo
        models:
          churn:
            pipeline: &pipeline
              - &train
                name: train
                run: python train.py
                params: {n_estimators: 100, depth: 3}
          fraud:
            pipeline: *pipeline
          spam:
            pipeline:
              - <<: *train
                params: {n_estimators: 5}
              - <<: [*train]
                name: second
        """)
    loaded = load_text(tmp_path, text)
    models = loaded.config.models
    assert models["fraud"].pipeline == models["churn"].pipeline
    first, second = models["spam"].pipeline
    assert (first.name, first.run, first.params) == (
        "train",
        "python train.py",
        {"n_estimators": 5},
    )
    assert (second.name, second.params["depth"]) == ("second", 3)
    # merged keys point where they were written: at the anchor
    assert loaded.positions.place(("models", "spam", "pipeline", 0, "run")).line == 7
    assert loaded.positions.place(("models", "spam", "pipeline", 0, "params")).line == 14


def test_yaml_scalars_keep_their_meaning(tmp_path: Path) -> None:
    text = y("""
        project: demo
        models:
          churn:
            description: 2024-01-31
            pipeline:
              - name: train
                run: python train.py
                params: {a: 0x10, b: 1_000, c: 010, d: 1.5e+3, e: ~, f: true, 1: one}
            versions:
              !!str 1.10: {}
              "2": {}
              2024-01-01: {}
        """)
    churn = load_text(tmp_path, text).config.models["churn"]
    assert churn.description == "2024-01-31"
    assert churn.pipeline[0].params == {
        "a": 16,
        "b": 1000,
        "c": 8,
        "d": 1500.0,
        "e": None,
        "f": True,
        "1": "one",
    }
    assert list(churn.versions) == ["1.10", "2", "2024-01-01"]


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, b"\xef\xbb\xbf" + VALID.encode())
    assert loaded.config.project == "demo"


def test_errors_from_several_files_are_sorted_by_file_then_line(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        "project: a\ninclude: [x.yaml]\nmodels:\n  m:\n    pipline: []\n",
        **{"x.yaml": "models:\n  other:\n    tsk: other\n    pipline: []\n"},
    )
    where = [(Path(error.place.file).name, error.place.line) for error in errors if error.place]
    assert where == [("mvctl.yaml", 5), ("x.yaml", 3), ("x.yaml", 4)], describe(errors)


def test_a_missing_file_is_a_spec_error(tmp_path: Path) -> None:
    from mvctl.errors import SpecErrors

    with pytest.raises(SpecErrors, match="no such file"):
        load_config(tmp_path / "mvctl.yaml")


def test_meaning_checks_run_on_well_formed_models_when_others_are_malformed(tmp_path: Path) -> None:
    text = y("""
        project: a
        models:
          broken:
            tsk: other
          fine:
            pipeline: [{name: train, run: x}]
            versions: {"1.0.0": {}}
            aliases: {production: "1.0"}
        """)
    messages = [error.message for error in errors_of(tmp_path, text)]
    assert any("unknown key 'tsk'" in message for message in messages)
    assert any("alias 'production' names version '1.0'" in message for message in messages)


def test_checks_are_pure_functions_over_config_and_positions(tmp_path: Path) -> None:
    from mvctl.spec.checks import check_config

    loaded = load_text(tmp_path, VALID)
    assert check_config(loaded.config, loaded.positions) == []
    assert check_config(loaded.config, loaded.positions, lambda path: False) == []
