"""The meaning checks are pure functions: values in, SpecErrors out, no files or YAML needed."""

from __future__ import annotations

from typing import Any

from mvctl.errors import Place
from mvctl.spec.checks import check_config, check_model
from mvctl.spec.models import Config, ModelSpec
from mvctl.spec.positions import Positions, dotted

NOWHERE = Positions(("mvctl.yaml",), (0, 1, 1, 1, 1, {}, None))


def model(**fields: Any) -> ModelSpec:
    return ModelSpec.model_validate(fields, by_name=False)


def whats(spec: ModelSpec, path_exists: Any = None) -> list[str]:
    return [error.what for error in check_model("m", spec, NOWHERE, path_exists)]


def test_errors_without_positions_fall_back_to_the_file_start() -> None:
    (error,) = check_model("m", model(aliases={"production": "1.0"}), NOWHERE)
    assert error.place == Place("mvctl.yaml", 1, 1)
    assert error.field == "models.m.aliases.production"


def test_a_longer_cycle_is_named_in_order() -> None:
    spec = model(
        pipeline=[
            {"name": "a", "run": "x", "deps": ["c"]},
            {"name": "b", "run": "x", "deps": ["a"]},
            {"name": "c", "run": "x", "deps": ["b", "data/file.csv"]},
        ]
    )
    assert whats(spec) == ["steps depend on each other in a cycle: a -> c -> b -> a"]


def test_a_dag_with_shared_upstream_is_fine() -> None:
    spec = model(
        pipeline=[
            {"name": "a", "run": "x"},
            {"name": "b", "run": "x", "deps": ["a"]},
            {"name": "c", "run": "x", "deps": ["a", "b"]},
        ]
    )
    assert whats(spec) == []


def test_paths_are_never_step_references() -> None:
    spec = model(pipeline=[{"name": "a", "run": "x", "deps": ["./a", "a/*", "a"]}])
    assert whats(spec) == ["step 'a' depends on itself"]


def test_a_bare_word_dep_that_is_a_file_is_not_questioned() -> None:
    spec = model(
        pipeline=[{"name": "prepare", "run": "x"}, {"name": "t", "run": "y", "deps": ["prepar"]}]
    )
    assert whats(spec, lambda path: path == "prepar") == []
    assert whats(spec, lambda path: False) == [
        "dep 'prepar' is neither a step of this pipeline nor a file"
    ]
    assert whats(spec) == []  # no way to ask the disk: say nothing


def test_versions_may_skip_the_pipeline_when_all_have_artifacts() -> None:
    spec = model(versions={"1.0.0": {"artifact": "a.skops"}, "2.0.0": {"artifact": "b.skops"}})
    assert whats(spec) == []


def test_check_config_covers_every_model() -> None:
    config = Config.model_validate(
        {
            "project": "p",
            "models": {"a": {"aliases": {"x": "1"}}, "b": {"aliases": {"y": "2"}}},
        },
        by_name=False,
    )
    assert [error.field for error in check_config(config, NOWHERE)] == [
        "models.a.aliases.x",
        "models.b.aliases.y",
    ]


def test_dotted_paths_read_like_yaml() -> None:
    assert (
        dotted(("models", "churn", "versions", "1.0.0", "params"))
        == 'models.churn.versions["1.0.0"].params'
    )
    assert dotted(("notifications", 0, "events", 2)) == "notifications[0].events[2]"
    assert dotted(()) == ""


def test_a_versions_own_pipeline_gets_every_pipeline_check_at_its_place() -> None:
    spec = model(
        pipeline=[{"name": "fit", "run": "x", "params": {"C": 1.0}}],
        versions={
            "1.0.0": {
                "pipeline": [
                    {"name": "prep", "run": "x", "deps": ["fit"], "outputs": ["../escape"]},
                    {"name": "fit", "run": "x", "deps": ["prep"]},
                ]
            }
        },
    )
    found = {error.field: error.what for error in check_model("m", spec, NOWHERE)}
    assert found == {
        'models.m.versions["1.0.0"].pipeline[1].deps[0]': "steps depend on each other in a "
        "cycle: prep -> fit -> prep",
        'models.m.versions["1.0.0"].pipeline[0].outputs[0]': "output '../escape' climbs out of "
        "the output folder with '..'",
    }


def test_a_version_overrides_only_params_its_own_pipeline_declares() -> None:
    spec = model(
        pipeline=[{"name": "fit", "run": "x", "params": {"C": 1.0}}],
        versions={
            "1.0.0": {
                "params": {"fit": {"C": 2.0}},
                "pipeline": [{"name": "train", "run": "x", "params": {"C": 1.0}}],
            }
        },
    )
    assert whats(spec) == [
        "version 1.0.0 overrides params of step 'fit', which is not in its pipeline"
    ]


def test_versions_with_their_own_pipelines_need_no_model_pipeline() -> None:
    spec = model(versions={"1.0.0": {"pipeline": [{"name": "fit", "run": "x"}]}})
    assert whats(spec) == []


def test_mapping_deps_in_a_versions_own_pipeline_are_checked_at_their_path() -> None:
    spec = model(
        pipeline=[{"name": "fit", "run": "x"}],
        versions={
            "1.0.0": {
                "pipeline": [
                    {"name": "prep", "run": "x", "outputs": ["d.npz"]},
                    {
                        "name": "fit",
                        "run": "x",
                        "deps": [{"path": "prep"}, {"path": "../x.csv", "snapshot": False}],
                    },
                ]
            }
        },
    )
    found = {error.field: error.what for error in check_model("m", spec, NOWHERE)}
    at = 'models.m.versions["1.0.0"].pipeline[1].deps'
    assert set(found) == {f"{at}[0].path", f"{at}[1].path"}
    assert "the mapping form is for files" in found[f"{at}[0].path"]
    assert "climbs out of the project" in found[f"{at}[1].path"]
