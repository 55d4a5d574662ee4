"""A recorded state for report tests, written through StateDB as apply would write it: two
versions of a binary classifier with their evaluations (ROC curves included), two aliases,
and a third version that failed. No training needed, so the page renders in seconds."""

from __future__ import annotations

from pathlib import Path

from mvctl.core.recorded import Change, Target
from mvctl.core.records import AliasRecord, EvaluationResult, ModelRecord, VersionRecord
from mvctl.state.db import StateDB
from tests.functional.scored_project import CONFIG


def _version(spec_hash: str, status: str = "trained") -> VersionRecord:
    return VersionRecord.from_json(
        {
            "status": status,
            "spec_hash": spec_hash,
            "metadata_hash": "m",
            "artifact_digest": None,
            "spec": {},
            "params": {},
            "lineage": {},
            "failure": None,
            "description": None,
            "tags": {},
            "created_by": "alice",
            "created_at": "2026-11-29T08:30:00Z",
            "apply_id": 1,
        }
    )


def _evaluation(spec_hash: str, evaluation_hash: str, quality: float) -> EvaluationResult:
    steps = [0.0, 0.1 * (1 - quality), 0.3, 1.0]
    return EvaluationResult.from_json(
        {
            "spec_hash": spec_hash,
            "dataset_digest": "sha256:holdout",
            "dataset": "data/holdout.csv",
            "evaluation_hash": evaluation_hash,
            "status": "ok",
            "metrics": {
                "accuracy": quality,
                "precision": quality,
                "recall": quality - 0.02,
                "f1": quality - 0.01,
                "roc_auc": quality + 0.02,
                "log_loss": 1 - quality,
                "latency_p50_ms": 3.0 / quality,
                "qps": 5000 * quality,
            },
            "metric_status": {},
            "details": {"rows": 120, "roc": {"fpr": steps, "tpr": [0.0, quality, 0.97, 1.0]}},
            "message": None,
            "evaluator_version": "mvctl test",
            "created_at": "2026-11-29T08:31:00Z",
        }
    )


def write_report_project(root: Path) -> Path:
    """A project folder holding the scored config and a state database to report on."""
    import yaml

    from mvctl.core.evaluation import scoring_settings
    from mvctl.spec.models import Config

    root.mkdir(parents=True, exist_ok=True)
    (root / "mvctl.yaml").write_text(CONFIG, "utf-8")
    config = Config.model_validate(yaml.safe_load(CONFIG), by_name=False)
    model = config.models["churn"]
    assert model.evaluation is not None
    evaluation_hash = scoring_settings(model.task, model.evaluation).hash()
    db = StateDB.open(f"sqlite:///{root / '.mvctl' / 'state.db'}", create=True)
    try:
        apply_id = db.begin_apply(kind="apply", actor="alice", plan_hash="p", expected_serial=None)
        db.record(
            apply_id,
            [
                Change(
                    Target("model", "churn"),
                    None,
                    ModelRecord(archived=False, created_at="2026-11-29T08:30:00Z"),
                ),
                Change(Target("version", "churn", "1.0.0"), None, _version("s1")),
                Change(Target("version", "churn", "1.1.0"), None, _version("s2")),
                Change(Target("version", "churn", "1.2.0"), None, _version("s3", "failed")),
                Change(
                    Target("evaluation", "churn", "1.0.0"),
                    None,
                    _evaluation("s1", evaluation_hash, 0.88),
                ),
                Change(
                    Target("evaluation", "churn", "1.1.0"),
                    None,
                    _evaluation("s2", evaluation_hash, 0.93),
                ),
                Change(Target("alias", "churn", "production"), None, AliasRecord("1.0.0")),
                Change(Target("alias", "churn", "staging"), None, AliasRecord("1.1.0")),
            ],
        )
        db.finish_apply(apply_id, "succeeded")
    finally:
        db.close()
    return root
