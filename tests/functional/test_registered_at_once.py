"""Many versions registered from one model file in one apply, and aliases moved onto them, with
actions running at once: each gets a private copy of the bytes it checks, and the format
verdict on those bytes is remembered once, never stretched to other bytes or looser rules."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from mvctl.apply.registration import verdict_key
from mvctl.store.blobs import hash_file
from tests.functional.projects import Project, base_env

VERSIONS = 8
TREE = "sklearn.tree._tree.Tree"


def _config(trusted: bool) -> str:
    trust = f"    trusted_types: [{TREE}]\n" if trusted else ""
    versions = "".join(
        f'      "1.{v}.0": {{artifact: models/tree.skops}}\n' for v in range(VERSIONS)
    )
    aliases = "".join(f'      slot{v}: "1.{v}.0"\n' for v in range(VERSIONS))
    return (
        "project: shop\nmodels:\n  shop:\n    owners: [tester]\n"
        f"{trust}    versions:\n{versions}    aliases:\n{aliases}"
    )


@pytest.fixture
def shop(tmp_path: Path) -> Project:
    """A project whose one model registers the same real decision tree as 8 versions."""
    skops_io = pytest.importorskip("skops.io")
    from sklearn.tree import DecisionTreeClassifier

    project = Project(tmp_path / "shop", base_env(None))
    project.write("mvctl.yaml", _config(trusted=True))
    tree = DecisionTreeClassifier(random_state=0).fit([[0.0], [1.0], [2.0]], [0, 1, 1])
    (project.root / "models").mkdir()
    skops_io.dump(tree, project.root / "models" / "tree.skops")
    return project


def _verdicts(project: Project) -> list[tuple[str, str]]:
    with sqlite3.connect(project.root / ".mvctl" / "state.db") as db:
        return db.execute("SELECT digest, format FROM artifact_checks").fetchall()


def test_versions_registered_from_one_file_at_once_are_all_recorded(shop: Project) -> None:
    applied = shop.mvctl("apply", "--auto-approve", "--parallel", "4")

    assert applied.code == 0, applied.text
    status = json.loads(shop.mvctl("status", "--json").out)
    (model,) = status["models"]
    assert sorted(v["status"] for v in model["versions"]) == ["trained"] * VERSIONS
    assert {a["alias"]: a["version"] for a in model["aliases"]} == {
        f"slot{v}": f"1.{v}.0" for v in range(VERSIONS)
    }
    digests = {
        json.loads(shop.mvctl("show", f"shop@1.{v}.0", "--json").out)["artifact_digest"]
        for v in range(VERSIONS)
    }
    assert len(digests) == 1
    # One verdict for one file under one set of rules, however many versions and aliases.
    assert _verdicts(shop) == [(digests.pop(), "skops")]
    assert not list((shop.root / ".mvctl" / "work").glob("*/*/*"))


def test_a_forged_plan_time_verdict_does_not_register_an_unsafe_file(shop: Project) -> None:
    """The plan's verdict cache is a file in the project; the apply checks its own copy."""
    shop.write("mvctl.yaml", _config(trusted=False))
    refused = shop.mvctl("plan")
    assert refused.code == 1 and TREE in refused.text

    forged = verdict_key(hash_file(shop.root / "models" / "tree.skops"), [], None)
    cache = shop.root / ".mvctl" / "cache" / "artifact-checks.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"format": 1, "passed": [forged]}))

    applied = shop.mvctl("apply", "--auto-approve", "--parallel", "4")

    assert applied.code == 1, applied.text
    assert TREE in applied.text
    shown = json.loads(shop.mvctl("show", "shop@1.0.0", "--json").out)
    assert shown["status"] == "failed" and shown["artifact_digest"] is None
    assert _verdicts(shop) == []
