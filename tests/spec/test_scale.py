"""Large configurations load (timings are measured by bench_load.py, not asserted here)."""

from __future__ import annotations

from pathlib import Path

from mvctl.spec import load_config
from tests.spec.generated import big_config


def test_a_five_megabyte_configuration_loads(tmp_path: Path) -> None:
    text = big_config(models=3700, versions=10)
    assert len(text) > 5_000_000
    path = tmp_path / "mvctl.yaml"
    path.write_text(text)
    loaded = load_config(path)
    assert len(loaded.config.models) == 3700
    last = loaded.positions.place(("models", "model-03699", "versions", "1.9.0"))
    assert last.line == text.count("\n") - 1


def test_many_errors_in_a_large_configuration_are_all_reported(tmp_path: Path) -> None:
    from mvctl.errors import SpecErrors

    text = big_config(models=200, versions=10).replace("n_estimators: 105", "n_estimator: 105")
    path = tmp_path / "mvctl.yaml"
    path.write_text(text)
    try:
        load_config(path)
    except SpecErrors as errors:
        assert len(errors.errors) == 200
        assert all(
            "did you mean 'n_estimators'" in error.message.lower() for error in errors.errors
        )
    else:
        raise AssertionError("expected 200 errors")
