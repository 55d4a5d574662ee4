"""The action DAG of an apply and the step defaults per trainer: pure values, no processes."""

from __future__ import annotations

from mvctl.apply.resources import Machine, too_much
from mvctl.apply.scheduling import dependencies
from mvctl.apply.session import SharedSteps
from mvctl.core.plan import CreateModel, EvaluateVersion, MoveAlias, StepPlan, TrainVersion
from mvctl.core.resolve import step_execution
from mvctl.errors import StepFailedError
from mvctl.spec.models import Step
from mvctl.spec.quantities import format_duration, parse_duration, parse_size


def _train(model: str, label: str) -> TrainVersion:
    return TrainVersion(model, label, "s", "m", "new", ())


def _evaluate(model: str, label: str) -> EvaluateVersion:
    return EvaluateVersion(model, label, "e", (), "new")


def test_evaluations_and_moves_wait_only_for_their_own_version_and_model_creation() -> None:
    actions = (
        CreateModel("a"),
        _train("a", "1"),
        _train("a", "2"),
        CreateModel("b"),
        _train("b", "1"),
        _evaluate("a", "1"),
        _evaluate("a", "2"),
        MoveAlias("a", "production", None, "1"),
        _evaluate("b", "1"),
    )
    needs = dependencies(actions)
    assert needs[1] == {0} and needs[2] == {0}
    assert needs[4] == {3}
    assert needs[5] == {0, 1}
    assert needs[6] == {0, 2}
    assert needs[7] == {0, 5}
    assert needs[8] == {3, 4}


def test_durations_and_sizes_read_as_written_and_print_back() -> None:
    assert parse_duration("10m") == 600
    assert parse_duration("1h30m") == 5400
    assert parse_duration(90) == 90
    assert format_duration(600) == "10m"
    assert format_duration(90) == "90s"
    assert format_duration(1.5) == "1.5s"
    assert parse_size("2GiB") == 2 * 1024**3
    assert parse_size("1.5GB") == 1_500_000_000


def test_trainer_defaults_size_a_step_and_only_declared_cores_can_be_too_many() -> None:
    sklearn = Step.model_validate({"name": "t", "uses": "sklearn"})
    assert step_execution(sklearn, {"n_jobs": 4}).cpus == 4
    assert step_execution(sklearn, {"n_jobs": -1}).cpus is None
    torch = Step.model_validate(
        {"name": "t", "uses": "torch", "with": {"distributed": {"nproc": 2}, "threads": 3}}
    )
    assert step_execution(torch, {}).cpus == 6
    assert step_execution(torch, {}).ray_train_workers == 0
    ray_train = Step.model_validate(
        {
            "name": "t",
            "uses": "torch",
            "with": {"distributed": {"workers": 3, "cpus_per_worker": 2}},
        }
    )
    assert (
        step_execution(ray_train, {}).cpus,
        step_execution(ray_train, {}).ray_train_workers,
    ) == (6, 3)
    machine = Machine(cpus=2, memory=8 * 1024**3, gpus=())
    assert not too_much(step_execution(sklearn, {"n_jobs": 64}), machine)
    declared = Step.model_validate({"name": "t", "run": "x", "resources": {"cpus": 3}})
    assert too_much(step_execution(declared, {}), machine) == "3 cores; this machine has 2"


def _shared_plan(*started: str) -> SharedSteps:
    """Versions 1 and 2 of model a share step key k1; the plan runs it in version 1. The
    versions in ``started`` were handed a thread (default: both)."""
    shared = SharedSteps()
    shared.plan(
        (
            TrainVersion("a", "1", "s", "m", "new", (StepPlan("prep", "k1", "run", "new"),)),
            TrainVersion("a", "2", "s", "m", "new", (StepPlan("prep", "k1", "cached", "earlier"),)),
        )
    )
    for target in started or ("a@1", "a@2"):
        shared.started(target)
    return shared


def test_a_shared_step_runs_in_the_version_the_plan_names_whichever_reaches_it_first() -> None:
    shared = _shared_plan()
    waited, owner = shared.claim("k1", "a@2")
    assert owner == "a@1"
    running, owner = shared.claim("k1", "a@1")
    assert owner is None and running is waited
    shared.recorded("k1")
    assert waited.done() and waited.exception() is None


def test_nobody_waits_for_a_named_version_that_has_not_started() -> None:
    shared = _shared_plan("a@2")
    assert shared.claim("k1", "a@2")[1] is None
    shared.started("a@1")
    assert shared.claim("k1", "a@1")[1] == "a@2"


def test_a_step_the_plan_did_not_share_goes_to_the_first_version_to_reach_it() -> None:
    shared = _shared_plan()
    assert shared.claim("k2", "a@2")[1] is None
    assert shared.claim("k2", "a@1")[1] == "a@2"


def test_when_the_named_version_ends_without_the_step_a_waiting_version_runs_it() -> None:
    shared = _shared_plan()
    waited, _ = shared.claim("k1", "a@2")
    shared.ended("a@1")
    assert isinstance(waited.exception(), StepFailedError)
    assert shared.claim("k1", "a@2")[1] is None


def test_a_stopped_apply_leaves_no_version_waiting_for_one_that_never_started() -> None:
    shared = _shared_plan()
    waited, _ = shared.claim("k1", "a@2")
    shared.stop()
    assert isinstance(waited.exception(), StepFailedError)
    assert shared.claim("k1", "a@2")[1] is None


def test_a_stop_leaves_a_step_already_running_to_its_version() -> None:
    shared = _shared_plan()
    shared.claim("k1", "a@1")
    waited, owner = shared.claim("k1", "a@2")
    shared.stop()
    shared.ended("a@1")
    assert owner == "a@1" and not waited.done()
    shared.recorded("k1")
    assert waited.exception() is None
