"""JSON Schema of ``mvctl.yaml``, generated from the pydantic models and checked in.

Editors (VS Code's YAML extension, JetBrains) read ``schemas/mvctl.schema.json`` to complete
and check a configuration as it is typed; ``schemas/mvctl-include.schema.json`` does the
same for included model files. The files are generated, never edited: run
``python -m mvctl.spec.schema`` after changing ``mvctl/spec/models.py``; a test fails when
the checked-in files are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mvctl.spec.models import Config, IncludedFile

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE = "https://mvctl.dev/schemas/"
CONFIG_SCHEMA_FILE = "mvctl.schema.json"
INCLUDE_SCHEMA_FILE = "mvctl-include.schema.json"


def config_json_schema() -> dict[str, Any]:
    """The schema of the main configuration file, keys as written in YAML (``with``, ``from``)."""
    return _with_header(
        Config.model_json_schema(by_alias=True),
        CONFIG_SCHEMA_FILE,
        "mvctl configuration (mvctl.yaml)",
    )


def include_json_schema() -> dict[str, Any]:
    """The schema of a file named by ``include:``: it may hold ``models:`` only."""
    return _with_header(
        IncludedFile.model_json_schema(by_alias=True),
        INCLUDE_SCHEMA_FILE,
        "mvctl included models file",
    )


def _with_header(schema: dict[str, Any], file_name: str, title: str) -> dict[str, Any]:
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_BASE + file_name,
        **schema,
        "title": title,
    }


def render(schema: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, a final newline (clean diffs)."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(folder: Path) -> list[Path]:
    """Write the configuration schemas into ``folder``; return the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in (
        (CONFIG_SCHEMA_FILE, config_json_schema()),
        (INCLUDE_SCHEMA_FILE, include_json_schema()),
    ):
        path = folder / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


def default_folder() -> Path:
    """``schemas/`` at the repository root, beside the ``mvctl`` package."""
    return Path(__file__).resolve().parents[2] / "schemas"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else default_folder()
    for written_path in write_schemas(target):
        print(f"wrote {written_path}")
