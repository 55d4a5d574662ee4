"""Re-run a recorded version in a scratch copy of the project, for `mvctl reproduce`.

Nothing of the project, the state or the store is written. Each step's dep files are copied
out of the store into a scratch project in a temporary folder (a dep written with
`snapshot: false`, or recorded before mvctl kept dep files, comes from the working tree, and
only while the working tree's copy still has the recorded digest); the step then runs there
from its recorded definition through the runner apply uses (``apply/steps.py``: a subprocess
in a process group of its own, stopped with the command), and its outputs and log go into a
scratch store beside the scratch project.

Everything is checked before the first step starts, so a version that cannot be reproduced
from the store says why at once: a kept file's blob missing or corrupt, a working-tree file
that changed.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mvctl.apply.predictors import Predictor, open_predictor
from mvctl.apply.processes import ProcessGroups
from mvctl.apply.steps import run_step
from mvctl.core.reproduction import RecordedDep, RecordedRun, RecordedStep, compare_outputs
from mvctl.core.resolve import ResolvedStep
from mvctl.errors import DigestMismatchError, NotFoundError, StateError
from mvctl.results.reproduce import RestoredFile, StepRerun
from mvctl.spec.paths import is_inside
from mvctl.store.blobs import BlobStore, LocalStore, hash_file
from mvctl.store.digests import DepMissingError, DepOutsideError, combined_digest, dep_files

KEPT = "kept in the store"
NOT_KEPT = (
    "not kept in the store (snapshot: false); the working tree's copy has the recorded digest"
)
BEFORE_KEEPING = (
    "recorded before mvctl kept dep files in the store; the working tree's copy has the "
    "recorded digest"
)


class StepEvents(Protocol):
    """What a re-run tells the person watching (apply's reporter implements it)."""

    def step_started(self, target: str, step: str, status: str) -> None: ...
    def step_progress(
        self, target: str, step: str, fraction: float, fields: dict[str, Any]
    ) -> None: ...
    def step_finished(self, target: str, step: str, status: str, seconds: float) -> None: ...


@dataclass(frozen=True)
class Scratch:
    """The temporary folder a version is reproduced in."""

    folder: Path

    @property
    def project(self) -> Path:
        """The scratch copy of the project layout: the steps' dep files, where they were."""
        return self.folder / "project"

    @property
    def store(self) -> LocalStore:
        """Where the re-run's outputs and logs go, never the project's store."""
        return LocalStore(self.folder / "store")


def find_inputs(
    target: str, run: RecordedRun, root: Path, store: BlobStore
) -> tuple[RestoredFile, ...]:
    """Where each step's dep files will come from; raises, naming the file and the fix, when
    one cannot be had as recorded."""
    found: list[RestoredFile] = []
    real_root = root.resolve()
    for step in run.steps:
        for dep in step.deps:
            if dep.files is None:
                found += _from_working_tree(target, step, dep, root, real_root)
                continue
            if combined_digest(dep.dep, list(dep.files.items())) != dep.digest:
                raise StateError(
                    f"the record of {target} cannot be reproduced: the dep files of step "
                    f"{step.name} do not make up its dep {dep.dep}",
                    fix="It was changed by something other than mvctl; check the state with "
                    "`mvctl state check` and restore it from a backup.",
                )
            for path, digest in dep.files.items():
                if dep.kept:
                    found.append(_from_store(target, step, path, digest, store))
                else:
                    found.append(_unkept(target, step, dep, path, digest, root, real_root))
    return tuple(found)


def _from_store(
    target: str, step: RecordedStep, path: str, digest: str, store: BlobStore
) -> RestoredFile:
    """Check the kept blob now, by its content: a step must not start on a file that differs
    from what it trained on, nor after earlier steps ran for nothing."""
    if not store.has(digest):
        raise NotFoundError(
            f"cannot reproduce {target}: {path}, a dep of step {step.name}, was kept as blob "
            f"{digest}, which is missing from the store {store.display}",
            fix="Put the blob back from a backup of the store (`mvctl store gc` keeps every "
            "dep file a recorded run names, so something else removed it); without it the "
            "step cannot be re-run as recorded.",
        )
    try:
        store.verify(digest)
    except DigestMismatchError as corrupt:
        raise DigestMismatchError(
            f"cannot reproduce {target}: {path}, a dep of step {step.name}, is not the file "
            f"it trained on: {corrupt.problem}",
            fix="Put the blob back from a backup of the store; nothing was run. Until then the "
            "step cannot be re-run as recorded.",
        ) from corrupt
    return RestoredFile(step.name, path, digest, "store", KEPT)


def _unkept(
    target: str,
    step: RecordedStep,
    dep: RecordedDep,
    path: str,
    digest: str,
    root: Path,
    real_root: Path,
) -> RestoredFile:
    now = _working_digest(root, real_root, path)
    if now != digest:
        state = "is gone" if now is None else f"now hashes to {now}"
        raise NotFoundError(
            f"cannot reproduce {target} from the store alone: {path}, a dep of step "
            f"{step.name}, was not kept (dep {dep.dep} has snapshot: false), and the working "
            f"tree's copy is not the file it trained on (recorded {digest}; the file {state})",
            fix=f"Put {path} back as it was (from version control or a backup) and run "
            "reproduce again; for later versions, drop `snapshot: false` from the dep so the "
            "store keeps its files.",
        )
    return RestoredFile(step.name, path, digest, "working_tree", NOT_KEPT)


def _from_working_tree(
    target: str, step: RecordedStep, dep: RecordedDep, root: Path, real_root: Path
) -> list[RestoredFile]:
    """A dep recorded with its digest alone: usable while the working tree still has it."""
    try:
        files = [(name, hash_file(real)) for name, real in dep_files(root, real_root, dep.dep)]
    except (DepMissingError, DepOutsideError, OSError):
        files = []
    if not files or combined_digest(dep.dep, files) != dep.digest:
        raise NotFoundError(
            f"cannot reproduce {target} from the store: step {step.name} ran before mvctl kept "
            f"dep files in the store, and the working tree's {dep.dep} is no longer what it "
            f"trained on (recorded {dep.digest})",
            fix=f"Put {dep.dep} back as it was (from version control or a backup) and run "
            "reproduce again.",
        )
    return [
        RestoredFile(step.name, name, digest, "working_tree", BEFORE_KEEPING)
        for name, digest in files
    ]


def _working_digest(root: Path, real_root: Path, path: str) -> str | None:
    """The digest of the working tree's file at ``path``; None when it is not a file inside
    the project (a symlink leading out counts as gone)."""
    real = (root / path).resolve()
    if not is_inside(real, real_root) or not real.is_file():
        return None
    return hash_file(real)


def env_notes(run: RecordedRun) -> tuple[str, ...]:
    """The `env:` variables whose value now differs from the recorded digest."""
    notes = []
    for step in run.steps:
        for name, recorded in sorted(step.definition.get("env", {}).items()):
            value = os.environ.get(name)
            now = (
                "unset" if value is None else "sha256:" + hashlib.sha256(value.encode()).hexdigest()
            )
            if now != recorded:
                notes.append(
                    f"step {step.name} reads ${name}, whose value differs from the one it was "
                    "trained with (only its digest is recorded); the re-run uses the current value"
                )
    return tuple(notes)


def rerun_steps(
    target: str,
    run: RecordedRun,
    restored: tuple[RestoredFile, ...],
    root: Path,
    store: BlobStore,
    scratch: Scratch,
    labels: Mapping[str, str],
    events: StepEvents,
) -> tuple[tuple[StepRerun, ...], dict[str, Mapping[str, str]]]:
    """Re-run every step in order in the scratch project; returns how each went, and the
    outputs (name -> digest in the scratch store) of each that ran to the end."""
    outputs: dict[str, Mapping[str, str]] = {}
    reruns: list[StepRerun] = []
    processes = ProcessGroups()
    try:
        for step in run.steps:
            missing = [name for name in step.upstream if name not in outputs]
            if missing:
                reruns.append(
                    StepRerun(
                        step.name,
                        step.key,
                        "not_run",
                        compare_outputs(step.outputs, {}),
                        f"upstream step {missing[0]} did not run to the end",
                    )
                )
                continue
            _restore(step, restored, root, store, scratch.project)
            rerun = _rerun(target, step, scratch, outputs, labels, events, processes)
            reruns.append(rerun)
    except BaseException:
        processes.stop()
        raise
    finally:
        processes.close()
    return tuple(reruns), outputs


def _rerun(
    target: str,
    step: RecordedStep,
    scratch: Scratch,
    outputs: dict[str, Mapping[str, str]],
    labels: Mapping[str, str],
    events: StepEvents,
    processes: ProcessGroups,
) -> StepRerun:
    scratch_store = scratch.store
    inputs = {}
    for upstream in step.upstream:
        folder = scratch.folder / "in" / step.name / upstream
        for name, digest in outputs[upstream].items():
            scratch_store.get_file(digest, folder / name)
        inputs[upstream] = folder
    resolved = ResolvedStep(step.name, step.key, step.definition, step.upstream, step.output_names)
    events.step_started(target, step.name, "run")
    result = run_step(
        resolved,
        root=scratch.project,
        work_dir=scratch.folder / "work" / step.name,
        inputs=inputs,
        store=scratch_store,
        labels=labels,
        on_progress=lambda fraction, fields: events.step_progress(
            target, step.name, fraction, fields
        ),
        processes=processes,
    )
    events.step_finished(
        target, step.name, "ok" if result.succeeded else "failed", result.duration_s
    )
    if not result.succeeded:
        why = (
            f"exited with code {result.exit_code}"
            if result.exit_code
            else f"did not write its outputs {', '.join(result.missing_outputs)}"
        )
        return StepRerun(
            step.name, step.key, "failed", compare_outputs(step.outputs, {}), why, result.log_tail
        )
    outputs[step.name] = result.outputs
    checks = compare_outputs(step.outputs, result.outputs)
    matches = all(check.matches for check in checks)
    return StepRerun(step.name, step.key, "match" if matches else "differs", checks)


def _restore(
    step: RecordedStep,
    restored: tuple[RestoredFile, ...],
    root: Path,
    store: BlobStore,
    project: Path,
) -> None:
    """Put the step's dep files into the scratch project, as its run recorded them (a file
    an earlier step had in another version is overwritten)."""
    for file in restored:
        if file.step != step.name:
            continue
        dest = project / posixpath.normpath(file.path)
        if not is_inside(dest.resolve(), project.resolve()):
            raise StateError(
                f"the record names a dep file {file.path!r} outside the project",
                fix="Check the state with `mvctl state check` and restore it from a backup.",
            )
        if file.source == "store":
            store.get_file(file.digest, dest)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / file.path, dest)
        if hash_file(dest) != file.digest:
            raise DigestMismatchError(
                f"{file.path} changed while reproduce copied it from the working tree",
                fix="Run reproduce again once nothing writes the file.",
            )


def fetch_output(
    scratch: Scratch, outputs: Mapping[str, Mapping[str, str]], step: str, name: str
) -> Path | None:
    """A re-run step's output as a file in the scratch folder; None when it was not made."""
    digest = outputs.get(step, {}).get(name)
    if digest is None:
        return None
    path = scratch.folder / "data" / step / name
    scratch.store.get_file(digest, path)
    return path


def copy_working_file(scratch: Scratch, root: Path, path: str, digest: str) -> Path | None:
    """A copy of the working tree's file at ``path`` when it still has ``digest``, else None."""
    source = (root / path).resolve()
    if not is_inside(source, root.resolve()) or not source.is_file():
        return None
    copy = scratch.folder / "data" / "files" / digest.removeprefix("sha256:")[:16]
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, copy)
    return copy if hash_file(copy) == digest else None


def open_reproduced_model(
    scratch: Scratch,
    digest: str,
    *,
    target: str,
    trusted_types: tuple[str, ...],
    torch_module: str | None,
    predict: str | None,
    scores: bool,
    root: Path,
) -> Predictor:
    """The re-run's model from the scratch store, through the checks every load passes. Its
    torch module is imported from the scratch project (where its dep file was restored); a
    `predict:` command runs in the project, as evaluation runs it."""
    path = scratch.folder / "model" / digest.removeprefix("sha256:")[:16]
    scratch.store.get_file(digest, path)
    return open_predictor(
        path,
        trusted_types,
        what=f"the re-run model of {target}",
        registered=False,
        torch_module=torch_module,
        predict=predict,
        scores=scores,
        root=root if predict is not None else scratch.project,
        work_dir=scratch.folder / "predict",
        env={"MVCTL_MODEL": target.split("@", 1)[0], "MVCTL_VERSION": target.split("@", 1)[1]},
    )
