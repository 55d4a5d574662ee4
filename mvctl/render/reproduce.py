"""`mvctl reproduce` as terminal text (what differs first) and as JSON. Pure formatting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvctl.core.reproduction import MetricCheck, OutputCheck
from mvctl.render.evaluation import number, signed
from mvctl.render.json_format import FORMAT_VERSION
from mvctl.render.markup import escape
from mvctl.results.reproduce import ReproduceResult, StepRerun

if TYPE_CHECKING:
    from mvctl.render.shapes import ReproduceJson

STEP_COLOURS = {"match": "green", "differs": "red", "failed": "red", "not_run": "yellow"}


def short(digest: str | None) -> str:
    """sha256 and the first 12 hex digits: enough to tell digests apart in a line."""
    return "none" if digest is None else escape(digest[:19])


def format_reproduce(result: ReproduceResult) -> str:
    target = escape(result.reference)
    if result.status == "match":
        head = f"[green]{target} reproduces its record[/]: the model and every step's outputs match bit for bit"
    else:
        first = result.first_difference
        where = f"; step {escape(first)} differed first" if first else ""
        head = f"[red]{target} differs from its record[/]{where}"
    lines = [head]
    for step in result.steps:
        lines += _step_lines(step)
    model = "match" if result.reproduced_artifact == result.recorded_artifact else "differs"
    lines.append(
        f"  model       [{STEP_COLOURS[model]}]{model}[/]  "
        + (
            short(result.recorded_artifact)
            if model == "match"
            else f"recorded {short(result.recorded_artifact)}, re-run "
            f"{short(result.reproduced_artifact)}"
        )
    )
    for dataset in result.datasets:
        lines += _dataset_lines(dataset.dataset, dataset.metrics, dataset.skipped)
    lines += _input_lines(result)
    lines += [f"  [yellow]note[/]: {escape(note)}" for note in result.notes]
    return "\n".join(lines)


def _step_lines(step: StepRerun) -> list[str]:
    colour = STEP_COLOURS[step.status]
    head = f"  step {escape(step.step)}  [{colour}]{step.status.replace('_', ' ')}[/]"
    if step.status == "match":
        return [head + "  " + ", ".join(_output(check) for check in step.outputs)]
    if step.status in ("failed", "not_run"):
        lines = [f"{head}  {escape(step.message)}"]
        lines += [f"    [dim]|[/] {escape(line)}" for line in step.log_tail.splitlines()[-5:]]
        return lines
    return [head] + [
        f"    {escape(check.name)}: recorded {short(check.recorded)}, re-run {short(check.reproduced)}"
        for check in step.outputs
        if not check.matches
    ]


def _output(check: OutputCheck) -> str:
    return f"{escape(check.name)} {short(check.recorded)}"


def _dataset_lines(dataset: str, checks: tuple[MetricCheck, ...], skipped: str) -> list[str]:
    name = escape(dataset)
    if skipped:
        return [f"  metrics on {name}  [yellow]not scored again[/]: {escape(skipped)}"]
    same = [c.metric for c in checks if c.status == "match"]
    timing = [c.metric for c in checks if c.status == "timing"]
    lines = []
    if same:
        lines.append(f"  metrics on {name}  [green]match[/]: {escape(', '.join(same))}")
    for check in checks:
        if check.status == "differs":
            lines.append(
                f"  metric {escape(check.metric)} on {name}  [red]differs[/]: recorded "
                f"{_value(check.recorded, check.recorded_status)}, re-run "
                f"{_value(check.reproduced, check.reproduced_status)} ({signed(check.delta)})"
            )
    if timing:
        lines.append(
            f"  [dim]{escape(', '.join(timing))} on {name}: timings of this machine now, not compared[/]"
        )
    return lines


def _value(value: float | None, status: str | None) -> str:
    return status.upper() if value is None and status else number(value)


def _input_lines(result: ReproduceResult) -> list[str]:
    from_store = {(f.path, f.digest) for f in result.restored if f.source == "store"}
    lines = []
    if from_store:
        count = len(from_store)
        lines.append(
            f"  [dim]inputs: {count} dep file{'s' if count != 1 else ''} from the store[/]"
        )
    for restored in result.restored:
        if restored.source == "working_tree":
            lines.append(
                f"  [yellow]input[/] {escape(restored.path)} (step {escape(restored.step)}) from "
                f"the working tree: {escape(restored.why)}"
            )
    return lines


def reproduce_json(result: ReproduceResult) -> ReproduceJson:
    return {
        "format_version": FORMAT_VERSION,
        "model": result.model,
        "label": result.label,
        "status": result.status,
        "first_difference": result.first_difference,
        "artifact": {
            "recorded": result.recorded_artifact,
            "reproduced": result.reproduced_artifact,
            "matches": result.recorded_artifact == result.reproduced_artifact,
        },
        "steps": [
            {
                "step": step.step,
                "key": step.key,
                "status": step.status,
                "message": step.message,
                "log_tail": step.log_tail,
                "outputs": [
                    {
                        "name": check.name,
                        "recorded": check.recorded,
                        "reproduced": check.reproduced,
                        "matches": check.matches,
                    }
                    for check in step.outputs
                ],
            }
            for step in result.steps
        ],
        "datasets": [
            {
                "dataset": dataset.dataset,
                "digest": dataset.digest,
                "skipped": dataset.skipped or None,
                "metrics": [
                    {
                        "metric": check.metric,
                        "recorded": check.recorded,
                        "reproduced": check.reproduced,
                        "recorded_status": check.recorded_status,
                        "reproduced_status": check.reproduced_status,
                        "delta": check.delta,
                        "status": check.status,
                    }
                    for check in dataset.metrics
                ],
            }
            for dataset in result.datasets
        ],
        "restored": [
            {
                "step": restored.step,
                "path": restored.path,
                "digest": restored.digest,
                "source": restored.source,
                "why": restored.why,
            }
            for restored in result.restored
        ],
        "notes": list(result.notes),
    }
