"""A step's dep files go into the store once, unless a dep says `snapshot: false`; a dep that
no longer matches the plan fails the step."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvctl.apply.snapshots import DepSnapshots
from mvctl.core.resolve import ResolvedStep, resolve_model
from mvctl.errors import StepFailedError
from mvctl.spec.models import Config
from mvctl.store.blobs import LocalStore, hash_file
from mvctl.store.digests import DigestCache


class CountingStore(LocalStore):
    """The real local store, counting the files copied in and the existence checks."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.puts: list[Path] = []
        self.checks = 0

    def put_file(self, path: Path) -> str:
        self.puts.append(path)
        return super().put_file(path)

    def has(self, digest: str) -> bool:
        self.checks += 1
        return super().has(digest)


def project(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "a.csv").write_text("a\n1\n")
    (root / "data" / "b.csv").write_text("b\n2\n")
    (root / "big.csv").write_text("x" * 1000)
    (root / "prep.py").write_text("print('prep')\n")
    return root


def prep_step(root: Path, *deps: object) -> ResolvedStep:
    config = Config.model_validate(
        {
            "project": "p",
            "models": {
                "m": {
                    "pipeline": [
                        {
                            "name": "prep",
                            "run": "python prep.py",
                            "deps": list(deps),
                            "outputs": ["o"],
                        }
                    ],
                    "versions": {"1.0.0": {}},
                }
            },
        }
    )
    step = config.models["m"].pipeline[0]
    cache = DigestCache(None)
    digests = {dep: cache.dep_digest(root, dep) for dep in step.dep_paths()}
    return resolve_model("m", config.models["m"], digests, {})["1.0.0"].steps[0]


def test_each_file_is_kept_once_and_listed_with_its_digest(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    store = CountingStore(tmp_path / "store")
    step = prep_step(root, "prep.py", "data")
    snapshots = DepSnapshots(root, store, DigestCache(None))
    taken = snapshots.take(step)
    assert taken == {
        "prep.py": {"kept": True, "files": {"prep.py": hash_file(root / "prep.py")}},
        "data": {
            "kept": True,
            "files": {
                "data/a.csv": hash_file(root / "data" / "a.csv"),
                "data/b.csv": hash_file(root / "data" / "b.csv"),
            },
        },
    }
    assert sorted(p.name for p in store.puts) == ["a.csv", "b.csv", "prep.py"]
    for files in (entry["files"] for entry in taken.values()):
        for digest in files.values():
            assert store.get_bytes(digest)

    store.puts.clear()
    store.checks = 0
    assert snapshots.take(step) == taken
    assert store.puts == []  # already there: not copied again
    assert store.checks == 3  # one existence check per file


def test_a_dep_written_snapshot_false_is_listed_but_not_kept(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    store = CountingStore(tmp_path / "store")
    step = prep_step(root, "prep.py", {"path": "big.csv", "snapshot": False})
    taken = DepSnapshots(root, store, DigestCache(None)).take(step)
    assert taken["big.csv"] == {"kept": False, "files": {"big.csv": hash_file(root / "big.csv")}}
    assert [p.name for p in store.puts] == ["prep.py"]
    assert not store.has(hash_file(root / "big.csv"))


def test_a_dep_that_changed_since_the_plan_fails_the_step_and_keeps_nothing(
    tmp_path: Path,
) -> None:
    root = project(tmp_path / "p")
    store = CountingStore(tmp_path / "store")
    step = prep_step(root, "data")
    (root / "data" / "b.csv").write_text("b\n3\n")
    with pytest.raises(StepFailedError, match="dep data changed since the plan was made"):
        DepSnapshots(root, store, DigestCache(None)).take(step)
    assert store.puts == []


def test_a_dep_changed_while_the_step_ran_is_reported(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    step = prep_step(root, "data")
    snapshots = DepSnapshots(root, CountingStore(tmp_path / "store"), DigestCache(None))
    taken = snapshots.take(step)
    assert snapshots.changed_while_running(step, taken) is None
    (root / "data" / "c.csv").write_text("new file\n")
    changed = snapshots.changed_while_running(step, taken)
    assert changed is not None and "dep data changed while the step ran" in changed.message
    assert changed.failure["reason"] == "dep changed"
