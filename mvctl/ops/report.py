"""mvctl report: gather what the HTML report shows, from the state (read-only) and the config,
and write the page the renderer makes of it.

Per model: its versions and aliases, and for each version and dataset the latest result of the
version as trained now; plus the apply history. Only results under the model's current
evaluation hash are shown side by side, so a table never mixes numbers made under different
settings; versions without one are listed without numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mvctl import clock
from mvctl.core.evaluation import scoring_settings
from mvctl.ops.files import write_user_file
from mvctl.ops.history import history
from mvctl.results.records import EvaluationRecord
from mvctl.results.report import ModelReport, ReportData, ReportResult
from mvctl.workspace import Workspace


def report(
    workspace: Workspace,
    output: Path,
    *,
    history_limit: int = 50,
    page: Callable[[ReportData], str],
) -> ReportResult:
    """Write ``page`` of the gathered report to ``output``."""
    data = gather_report(workspace, history_limit=history_limit)
    size = write_user_file(output, page(data), "the report")
    return ReportResult(data, output, size)


def gather_report(workspace: Workspace, *, history_limit: int = 50) -> ReportData:
    state = workspace.open_state(create=False)
    try:
        recorded = state.snapshot()
        models = []
        for name in sorted(recorded.models):
            spec = workspace.config.models.get(name)
            evaluation = spec.evaluation if spec else None
            current_hash = (
                scoring_settings(spec.task, evaluation).hash() if spec and evaluation else None
            )
            versions = tuple(state.versions_of(name))
            spec_hashes = {v.label: v.spec_hash for v in versions}
            latest: dict[tuple[str, str], EvaluationRecord] = {}
            for record in state.evaluations_of(name):
                if (
                    record.status == "ok"
                    and record.evaluation_hash == current_hash
                    and spec_hashes.get(record.label) == record.spec_hash
                ):
                    latest[(record.label, record.dataset_digest)] = record
            aliases = tuple(
                sorted(
                    (alias, a.version) for (m, alias), a in recorded.aliases.items() if m == name
                )
            )
            models.append(
                ModelReport(
                    name,
                    spec.task if spec else "other",
                    spec.description if spec else None,
                    tuple(evaluation.metrics) if evaluation else (),
                    versions,
                    aliases,
                    tuple(sorted(latest.values(), key=lambda r: r.id)),
                    tuple(state.monitor_samples(name)),
                    tuple(spec.monitoring.rules) if spec and spec.monitoring else (),
                    tuple(evaluation.gates) if evaluation else (),
                )
            )
        serial = recorded.serial
    finally:
        state.close()
    return ReportData(
        workspace.config.project,
        state.display_url,
        serial,
        clock.now_stamp(),
        tuple(models),
        history(workspace, limit=history_limit).entries,
    )
