"""Registering a version from its bundle: check it again, then store what it carries.

The plan checked the bundle; apply copies it aside and checks that copy in full (same bytes as
planned, same signer, every member's digest), unpacking it into its private work folder, so
what is checked is what is stored. The model must pass registration's checks (skops trusted
types, whole safetensors header) under this project's rules. The step outputs go into the
store and are recorded as step runs, so a version of this project with the same step keys
restores them instead of running; the metrics become this version's evaluation results under
the dataset digests and evaluation hashes they were made with.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvctl.apply.artifacts import check_safe_artifact
from mvctl.apply.session import ApplySession
from mvctl.bundles.reading import verify_bundle
from mvctl.core.plan import RegisterArtifact
from mvctl.core.recorded import StepRun
from mvctl.core.records import EvaluationResult
from mvctl.errors import BundleError, DigestMismatchError
from mvctl.store.blobs import hash_file


@dataclass(frozen=True)
class StoredBundle:
    artifact_digest: str
    lineage: dict[str, Any]
    params: dict[str, Any]
    evaluations: tuple[EvaluationResult, ...]


def store_bundle(session: ApplySession, action: RegisterArtifact) -> StoredBundle:
    """Check the planned bundle again and put its model and step outputs into the store."""
    source = action.bundle
    assert source is not None
    work = session.work_root / "bundle" / f"{action.model}-{action.label}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        copy = work / "bundle.tar.gz"
        try:
            shutil.copyfile(session.root / action.path, copy)
        except OSError as error:
            raise BundleError(
                f"cannot read the bundle {action.path}: {error.strerror}",
                fix="Check the file and run again.",
            ) from error
        if hash_file(copy) != action.digest:
            raise DigestMismatchError(
                f"the bundle {action.path} changed since the plan was made",
                fix="Run `mvctl plan` again and review it.",
            )
        verified = verify_bundle(copy, shown=action.path, unpack_to=work / "members")
        if verified.signer != source.signer:
            raise BundleError(
                f"the bundle {action.path} is signed by {verified.signer or 'nobody'}, but the "
                f"plan was made for {source.signer or 'an unsigned bundle'}",
                fix="Run `mvctl plan` again and review it.",
            )
        manifest = verified.manifest
        artifact = work / "members" / manifest.artifact
        check_safe_artifact(
            artifact,
            session.trusted_types.get(action.model, ()),
            what=f"the model of {action.model}@{action.label} in {action.path}",
            registered=True,
            torch_module=session.torch_modules.get(action.model),
            shown=Path(action.path) / manifest.artifact,
        )
        digest = session.store.put_file(artifact)
        for step in manifest.data["steps"]:
            _store_step(session, action.model, step, work / "members")
        return StoredBundle(
            digest,
            _lineage(action, manifest.data, verified.signer),
            dict(manifest.data["params"]),
            tuple(_evaluations(session, action, manifest.data["metrics"])),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _store_step(session: ApplySession, model: str, step: dict[str, Any], members: Path) -> None:
    outputs = {
        output: session.store.put_file(members / member)
        for output, member in step["outputs"].items()
    }
    if session.state.step_run(step["cache_key"]) is None:
        session.state.record_step_run(
            StepRun(
                step["cache_key"],
                model,
                step["step"],
                outputs,
                step["inputs_json"],
                None,
                0.0,
                session.apply_id,
            )
        )


def _lineage(
    action: RegisterArtifact, manifest: Mapping[str, Any], signer: str | None
) -> dict[str, Any]:
    source = action.bundle
    assert source is not None
    return {
        "bundle": {
            "source": action.path,
            "digest": action.digest,
            "file": manifest["artifact"].rsplit("/", 1)[-1],
            "origin": source.origin,
            "origin_spec_hash": manifest["spec_hash"],
            "signer": signer,
            "verify_key": source.verify_key,
        },
        "origin": manifest["lineage"],
    }


def _evaluations(
    session: ApplySession, action: RegisterArtifact, metrics: list[Any]
) -> list[EvaluationResult]:
    results = []
    for item in metrics:
        try:
            results.append(
                EvaluationResult(
                    spec_hash=action.spec_hash,
                    dataset_digest=str(item["dataset_digest"]),
                    dataset=str(item["dataset"]),
                    evaluation_hash=str(item["evaluation_hash"]),
                    status="ok",
                    metrics=_numbers(item["metrics"]),
                    metric_status={str(k): str(v) for k, v in dict(item["metric_status"]).items()},
                    details={"imported_from": action.bundle.origin if action.bundle else ""},
                    message=None,
                    evaluator_version=str(item["evaluator_version"]),
                    created_at=session.clock(),
                )
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BundleError(
                f"the bundle {action.path} holds a metrics entry mvctl cannot read ({error})",
                fix="Export it again from its source.",
            ) from error
    return results


def _numbers(values: Any) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, value in dict(values).items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"metric {name!r} is not a number")
        out[str(name)] = None if value is None else float(value)
    return out
