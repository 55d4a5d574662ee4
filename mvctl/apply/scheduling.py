"""Run a plan's actions as one DAG: independent work at once, each action after what it needs.

An action waits only for the earlier actions that touch the same thing: the same version
(its training, evaluation, metadata, status), the same alias (moves, removals, pins, in plan
order), the versions its gates read as a baseline, and its model's creation. So one model's
evaluations and promotions wait for its own versions alone, while every version of every model
trains at once; how many steps really run together is the shared ``ResourcePool``'s business
(`--parallel N`, each step's `resources`). Actions that only write the state start first, so
a promotion never queues behind training that does not concern it.

Handlers run in worker threads and write the state through the apply's one state connection,
one transaction at a time, as they did in plan order. Evaluations run one at a time: they run
inside this process, where a second one at once gains nothing and would skew the latency
they measure. A handler that raises (the state failed, the apply was interrupted) stops the
steps; the running actions finish and the first error goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from mvctl.apply.session import ApplySession
from mvctl.core.plan import (
    Action,
    CreateModel,
    EvaluateVersion,
    GateCheck,
    MoveAlias,
    RecordPolicy,
    RefreshAlias,
    ReleasePin,
    RemoveAlias,
    ReplaceServedVersion,
    TrainVersion,
)
from mvctl.results.apply import ActionOutcome

Subject = tuple[str, ...]
RunAction = Callable[[ApplySession, Action], ActionOutcome]


def subjects(action: Action) -> frozenset[Subject]:
    """What ``action`` reads or changes, for ordering it after earlier actions on the same."""
    if isinstance(action, CreateModel):
        return frozenset({("model", action.model)})
    if isinstance(action, RecordPolicy):
        return frozenset({("policy",)})
    if isinstance(action, (RemoveAlias, ReleasePin, RefreshAlias)):
        return frozenset({("alias", action.model, action.alias)})
    if isinstance(action, MoveAlias):
        return frozenset(
            {("alias", action.model, action.alias), ("version", action.model, action.to_version)}
            | _baselines(action.model, action.gates)
        )
    if isinstance(action, ReplaceServedVersion):
        return frozenset(
            {("version", action.model, action.label)}
            | {("alias", action.model, alias) for alias in action.aliases}
            | _baselines(action.model, action.gates)
        )
    return frozenset({("version", action.model, action.label)})


def _baselines(model: str, gates: tuple[GateCheck, ...]) -> set[Subject]:
    return {("version", model, g.baseline_version) for g in gates if g.baseline_version}


def dependencies(actions: tuple[Action, ...]) -> list[set[int]]:
    """For each action, the indexes of the earlier actions it must wait for."""
    last: dict[Subject, int] = {}
    created: dict[str, int] = {}
    of_model: dict[str, list[int]] = {}
    needs: list[set[int]] = []
    for index, action in enumerate(actions):
        model = action.model
        waits = {last[s] for s in subjects(action) if s in last}
        if isinstance(action, CreateModel):
            waits |= set(of_model.get(model, ()))
            created[model] = index
        elif model in created:
            waits.add(created[model])
        for subject in subjects(action):
            last[subject] = index
        of_model.setdefault(model, []).append(index)
        needs.append(waits)
    return needs


def run_concurrently(
    session: ApplySession, actions: tuple[Action, ...], run_action: RunAction
) -> list[ActionOutcome]:
    """Run every action once all it waits for are done; the outcomes in plan order."""
    needs = dependencies(actions)
    outcomes: dict[int, ActionOutcome] = {}
    waiting = list(range(len(actions)))
    running: dict[Future[ActionOutcome], int] = {}
    one_evaluation = threading.Lock()
    workers = session.pool.parallel + 2
    first_error: BaseException | None = None

    def run(index: int) -> ActionOutcome:
        action = actions[index]
        if isinstance(action, EvaluateVersion):
            with one_evaluation:
                return run_action(session, action)
        try:
            return run_action(session, action)
        finally:
            if isinstance(action, TrainVersion):
                session.shared_steps.ended(f"{action.model}@{action.label}")

    session.shared_steps.plan(actions)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mvctl-action") as pool:
        try:
            while waiting or running:
                if first_error is None:
                    for index in _ready(actions, waiting, needs, outcomes, workers - len(running)):
                        waiting.remove(index)
                        action = actions[index]
                        if isinstance(action, TrainVersion):
                            session.shared_steps.started(f"{action.model}@{action.label}")
                        running[pool.submit(run, index)] = index
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    index = running.pop(future)
                    try:
                        outcomes[index] = future.result()
                    except BaseException as error:  # the others still end before it goes on
                        if first_error is None:
                            first_error = error
                            session.processes.stop()
                            session.shared_steps.stop()
        except BaseException:
            session.processes.stop()
            session.shared_steps.stop()
            wait(running)
            raise
    if first_error is not None:
        raise first_error
    return [outcomes[index] for index in range(len(actions))]


def _ready(
    actions: tuple[Action, ...],
    waiting: list[int],
    needs: list[set[int]],
    outcomes: dict[int, ActionOutcome],
    free: int,
) -> list[int]:
    """Up to ``free`` waiting actions whose dependencies are done; state-only ones first,
    then training, each in plan order."""
    ready = [i for i in waiting if needs[i] <= outcomes.keys()]
    ready.sort(key=lambda i: isinstance(actions[i], TrainVersion))
    return ready[: max(0, free)]
