"""How long a snapshot of a large state takes: 10,000 versions, 10,000 step runs, 30,000
change-log rows (1,000 models x 10 versions, the plan bar of DESIGN.md).

    python tests/state/bench_snapshot.py [STATE_URL]

Not collected by pytest (the name does not start with test_); ``populate`` is shared with
the size test in test_state_db.py. Prints the figure; asserts nothing about time.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, insert, update

from mvctl.core.hashing import canonical_json
from mvctl.state import tables as t
from mvctl.state.db import StateDB

NOW = "2026-11-29T08:30:00Z"


def populate(
    url: str, *, models: int = 1_000, versions_per_model: int = 10, changes: int = 30_000
) -> None:
    """Fill a new state database with rows shaped like a real one, through bulk inserts.

    ``record()`` would write the same rows one upsert at a time; that is not what this
    measures, so the rows go in directly (after ``StateDB`` has created the schema).
    """
    StateDB.open(url, create=True).close()
    spec = canonical_json({"steps": [["prepare", "k" * 64], ["train", "k" * 64]]})
    version_rows = []
    step_rows = []
    alias_rows = []
    for m in range(models):
        model = f"model-{m:04d}"
        alias_rows += [
            {
                "model": model,
                "name": "production",
                "version": "1.0.0",
                "apply_id": 1,
                "updated_at": NOW,
            },
            {
                "model": model,
                "name": "staging",
                "version": f"1.{versions_per_model - 1}.0",
                "apply_id": 1,
                "updated_at": NOW,
            },
        ]
        for v in range(versions_per_model):
            label = f"1.{v}.0"
            version_rows.append(
                {
                    "model": model,
                    "label": label,
                    "status": "trained",
                    "spec_hash": f"{m:032x}{v:032x}",
                    "metadata_hash": "0" * 64,
                    "artifact_digest": "sha256:" + "a" * 64,
                    "spec_json": spec,
                    "params_json": '{"train":{"n_estimators":100}}',
                    "lineage_json": "{}",
                    "failure_json": None,
                    "description": None,
                    "tags_json": "{}",
                    "created_by": "ci",
                    "created_at": NOW,
                    "apply_id": 1,
                }
            )
            step_rows.append(
                {
                    "cache_key": f"{m:032x}{v:032x}",
                    "model": model,
                    "step": f"train-{v}",
                    "outputs_json": '{"model.skops":"sha256:' + "b" * 64 + '"}',
                    "inputs_json": '{"data.csv":"sha256:' + "c" * 64 + '"}',
                    "log_digest": None,
                    "duration_s": 1.5,
                    "apply_id": 1,
                    "created_at": NOW,
                }
            )
    change_rows = []
    for seq in range(changes):
        row = version_rows[seq % len(version_rows)]
        kind = "alias" if seq % 3 else "version"
        name = ("production" if seq % 2 else "staging") if kind == "alias" else row["label"]
        after = canonical_json({"version": row["label"]}) if kind == "alias" else "{}"
        change_rows.append(
            {
                "apply_id": 1,
                "seq": seq + 1,
                "target_kind": kind,
                "model": row["model"],
                "name": name,
                "before_json": None,
                "after_json": after,
                "at": NOW,
                "actor": "ci",
            }
        )
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(t.applies),
                [
                    {
                        "kind": "apply",
                        "actor": "ci",
                        "started_at": NOW,
                        "finished_at": NOW,
                        "plan_hash": "p",
                        "status": "succeeded",
                        "serial_before": 0,
                        "serial_after": 1,
                    }
                ],
            )
            conn.execute(
                insert(t.models),
                [
                    {"name": f"model-{m:04d}", "created_at": NOW, "apply_id": 1, "archived": False}
                    for m in range(models)
                ],
            )
            conn.execute(insert(t.versions), version_rows)
            conn.execute(insert(t.aliases), alias_rows)
            conn.execute(insert(t.step_runs), step_rows)
            conn.execute(insert(t.changes), change_rows)
            conn.execute(update(t.meta).where(t.meta.c.key == "serial").values(value="1"))
    finally:
        engine.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{Path(folder) / 'state.db'}"
        populate(url)
        with StateDB.open(url, create=False) as db:
            timings = []
            for _ in range(5):
                started = time.perf_counter()
                state = db.snapshot()
                timings.append(time.perf_counter() - started)
        print(
            f"snapshot of {len(state.versions):,} versions, {len(state.step_keys):,} step runs, "
            f"30,000 change rows on {url.split(':', 1)[0]}: best {min(timings) * 1000:.0f} ms, "
            f"first {timings[0] * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
