"""mvctl init: scaffold a project that validates, plans and applies as it stands."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from mvctl.errors import UsageError
from mvctl.results.init import InitResult

TEMPLATE_FILES = ("mvctl.yaml", "steps/split.py")
GITIGNORE_LINE = ".mvctl/"


def init(folder: Path, project: str | None = None) -> InitResult:
    try:
        return _scaffold(folder, project)
    except OSError as error:
        raise UsageError(
            f"cannot create the project in {folder}: {error.strerror or error}",
            fix="Choose a folder you can write, or create its parent folder first.",
        ) from error


def _scaffold(folder: Path, project: str | None) -> InitResult:
    folder.mkdir(parents=True, exist_ok=True)
    name = (
        project or re.sub(r"[^A-Za-z0-9_.-]+", "-", folder.resolve().name).strip("-.") or "project"
    )
    existing = [f for f in TEMPLATE_FILES if (folder / f).exists()]
    if existing:
        raise UsageError(
            f"{folder / existing[0]} already exists, so init would overwrite it",
            fix="Run `mvctl init` in an empty folder, or move the file away.",
        )
    template = resources.files("mvctl") / "init_template"
    created = []
    for relative in TEMPLATE_FILES:
        text = (template / relative).read_text("utf-8").replace("PROJECT_NAME", name)
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")
        created.append(relative)
    gitignore = folder / ".gitignore"
    lines = gitignore.read_text("utf-8").splitlines() if gitignore.exists() else []
    if GITIGNORE_LINE not in lines:
        gitignore.write_text("\n".join([*lines, GITIGNORE_LINE]) + "\n", "utf-8")
        created.append(".gitignore")
    return InitResult(folder, name, tuple(created))
