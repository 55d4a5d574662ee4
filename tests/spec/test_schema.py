"""The checked-in JSON Schema is the one the models generate, and it accepts our examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mvctl.spec.reader import read_yaml
from mvctl.spec.schema import (
    CONFIG_SCHEMA_FILE,
    INCLUDE_SCHEMA_FILE,
    config_json_schema,
    default_folder,
    include_json_schema,
    render,
    write_schemas,
)
from tests.spec.support import VALID

ROOT = Path(__file__).resolve().parents[2]


def data_of(text: str) -> Any:
    document = read_yaml(text.encode(), "example.yaml", 0)
    assert document.errors == []
    return document.value


@pytest.mark.parametrize(
    ("name", "schema"),
    [(CONFIG_SCHEMA_FILE, config_json_schema), (INCLUDE_SCHEMA_FILE, include_json_schema)],
)
def test_checked_in_schema_is_up_to_date(name: str, schema: Any) -> None:
    path = ROOT / "schemas" / name
    assert path.exists(), f"{path} is missing: run `python -m mvctl.spec.schema`"
    assert path.read_text("utf-8") == render(schema()), (
        f"{path} is stale: run `python -m mvctl.spec.schema` and commit the result"
    )


def test_default_folder_is_the_repository_schemas_folder() -> None:
    assert default_folder() == ROOT / "schemas"


def test_write_schemas_is_stable(tmp_path: Path) -> None:
    first = [path.read_bytes() for path in write_schemas(tmp_path)]
    second = [path.read_bytes() for path in write_schemas(tmp_path)]
    assert first == second
    assert all(content.endswith(b"}\n") for content in first)


def test_schema_is_valid_draft_2020_12() -> None:
    schema = config_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(CONFIG_SCHEMA_FILE)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator.check_schema(include_json_schema())


EXAMPLES = {
    "design-sketch": VALID,
    "quickstart": (ROOT / "examples" / "quickstart" / "mvctl.yaml").read_text("utf-8"),
    "minimal": "project: minimal\n",
    "artifact-only": (
        "project: imported\nmodels:\n  churn:\n    versions:\n"
        "      '1.0.0': {artifact: models/churn.skops, description: trained elsewhere}\n"
    ),
    "includes": "project: big\ninclude: ['models/*.yaml']\n",
}


@pytest.mark.parametrize("text", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_examples_validate_against_the_schema(text: str) -> None:
    jsonschema.Draft202012Validator(config_json_schema()).validate(data_of(text))


def test_an_included_file_validates_against_the_include_schema() -> None:
    included = (
        "models:\n  churn:\n    pipeline: [{name: train, uses: sklearn, with: {estimator: a.B}}]\n"
    )
    jsonschema.Draft202012Validator(include_json_schema()).validate(data_of(included))


@pytest.mark.parametrize(
    "text",
    [
        "project: a\nmodels:\n  churn:\n    pipline: []\n",
        "project: a\nmodels:\n  churn:\n    task: 'yes'\n",
        "models: {}\n",
        "project: a\nmodels:\n  churn:\n    pipeline: [{name: t, with_: {}}]\n",
    ],
)
def test_the_schema_rejects_what_the_loader_rejects(text: str) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(config_json_schema()).validate(data_of(text))
