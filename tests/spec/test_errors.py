"""Bad configurations, as data: each YAML text must give an error at a line and column whose
message says what is wrong. The place is what a user's editor jumps to, so it is exact."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.spec.support import describe, errors_of

STEP = "pipeline: [{name: train, run: python train.py}]"


@dataclass(frozen=True)
class Case:
    id: str
    text: str | bytes
    line: int
    column: int
    expect: str
    files: dict[str, str | bytes] = field(default_factory=dict)
    in_file: str = "mvctl.yaml"
    only: bool = False
    """The expected error must be the only one (no noise after it)."""


def y(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


CASES = [
    # Duplicate keys -------------------------------------------------------------------------
    Case(
        "duplicate-top",
        y("""
        project: a
        models: {}
        project: b
        """),
        3,
        1,
        "'project' appears twice (lines 1 and 3); keep one",
        only=True,
    ),
    Case(
        "duplicate-nested",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: train
                run: python train.py
                params:
                  n_estimators: 100
                  max_depth: 6
                  n_estimators: 300
        """),
        10,
        11,
        "'n_estimators' appears twice (lines 8 and 10); keep one",
        only=True,
    ),
    Case(
        "duplicate-version",
        y(f"""
        project: a
        models:
          churn:
            {STEP}
            versions:
              "1.0.0": {{}}
              "1.0.0": {{description: again}}
        """),
        7,
        7,
        "'1.0.0' appears twice (lines 6 and 7)",
        only=True,
    ),
    # Version labels YAML reads as numbers ---------------------------------------------------
    Case(
        "label-key-float",
        y(f"""
        project: a
        models:
          churn:
            {STEP}
            versions:
              1.10: {{}}
        """),
        6,
        7,
        'version label 1.10 is read by YAML as the number 1.1; quote it: "1.10"',
        only=True,
    ),
    Case(
        "label-key-int",
        y(f"""
        project: a
        models:
          churn:
            {STEP}
            versions:
              2: {{}}
        """),
        6,
        7,
        'version label 2 is read by YAML as the number 2; quote it: "2"',
        only=True,
    ),
    Case(
        "label-alias-float",
        y(f"""
        project: a
        models:
          churn:
            {STEP}
            versions: {{"1.10": {{}}}}
            aliases:
              production: 1.10
        """),
        7,
        19,
        'version label 1.10 is read by YAML as the number 1.1; quote it: "1.10"',
        only=True,
    ),
    Case(
        "label-alias-int",
        y(f"""
        project: a
        models:
          churn:
            {STEP}
            versions: {{"2": {{}}}}
            aliases: {{production: 2}}
        """),
        6,
        27,
        'version label 2 is read by YAML as the number 2; quote it: "2"',
        only=True,
    ),
    Case(
        "label-alias-bool",
        y(f"""
        project: a
        models:
          churn:
            {STEP}
            versions: {{"on": {{}}}}
            aliases: {{production: on}}
        """),
        6,
        27,
        "version label on is read by YAML as the boolean true",
        only=True,
    ),
    # Booleans -------------------------------------------------------------------------------
    Case(
        "bool-key-on",
        y("""
        project: a
        on: push
        """),
        2,
        1,
        "key 'on' is read by YAML as a boolean",
        only=True,
    ),
    Case(
        "bool-key-yes",
        y("""
        project: a
        models:
          churn:
            yes: 1
        """),
        4,
        5,
        "key 'yes' is read by YAML as a boolean",
        only=True,
    ),
    Case(
        "bool-key-n",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: train
                run: python train.py
                params: {n: 3}
        """),
        7,
        18,
        "key 'n' is read by YAML as a boolean",
        only=True,
    ),
    Case(
        "bool-value-task",
        y("""
        project: a
        models:
          churn:
            task: yes
        """),
        4,
        11,
        "YAML reads yes as a boolean",
        only=True,
    ),
    Case(
        "bool-value-run",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: train
                run: no
        """),
        6,
        14,
        'YAML reads no as false. Quote it: "no"',
        only=True,
    ),
    Case(
        "number-value-project",
        "project: 123\n",
        1,
        10,
        'expected a string, got a number (123). Quote it: "123"',
        only=True,
    ),
    # Unknown and missing keys ---------------------------------------------------------------
    Case(
        "unknown-parms",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: train
                run: python train.py
                parms: {n_estimators: 1}
        """),
        7,
        9,
        "unknown key 'parms'. Did you mean 'params'?",
        only=True,
    ),
    Case(
        "unknown-pipline",
        y("""
        project: a
        models:
          churn:
            pipline: []
        """),
        4,
        5,
        "unknown key 'pipline'. Did you mean 'pipeline'?",
        only=True,
    ),
    Case(
        "unknown-top",
        y("""
        project: a
        modles: {}
        """),
        2,
        1,
        "did you mean 'models'?",
        only=True,
    ),
    Case(
        "python-name-not-yaml-key",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: train
                uses: sklearn
                with_: {estimator: a.B}
        """),
        7,
        9,
        "unknown key 'with_'. Did you mean 'with'?",
    ),
    Case(
        "trigger-when-with-another-occasion",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: slow, when: "f1 < 0.8", on_change: [train.py], from: "1.0.0"}
        """),
        8,
        9,
        "a trigger needs exactly one of 'schedule' (a cron expression), 'on_change' (files to "
        "watch) or 'when' (a condition on monitor samples)",
        only=True,
    ),
    Case(
        "trigger-when-without-evaluation",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}}
            triggers:
              - {name: slow, when: "f1 < 0.8", from: "1.0.0"}
        """),
        7,
        22,
        "trigger 'slow' reads `mvctl monitor` samples, and the model has no evaluation data",
        only=True,
    ),
    Case(
        "trigger-cron-never-fires",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, schedule: "0 0 31 2 *", from: "1.0.0"}
        """),
        8,
        29,
        "'0 0 31 2 *' never fires: no date matches it",
        only=True,
    ),
    Case(
        "trigger-cron-invalid",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, schedule: "61 * * * *", from: "1.0.0"}
        """),
        8,
        29,
        "'61 * * * *' is not a valid cron expression",
        only=True,
    ),
    Case(
        "trigger-cron-six-fields",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, schedule: "0 2 * * * 5", from: "1.0.0"}
        """),
        8,
        29,
        "has 6 fields; a cron schedule has 5",
        only=True,
    ),
    Case(
        "trigger-unknown-timezone",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, schedule: "0 2 * * *", timezone: Mars/Olympus, from: "1.0.0"}
        """),
        8,
        52,
        "'Mars/Olympus' is not a known IANA time zone",
        only=True,
    ),
    Case(
        "trigger-timezone-without-schedule",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, on_change: [train.py], timezone: UTC, from: "1.0.0"}
        """),
        8,
        9,
        "'timezone' is the time zone of 'schedule'",
        only=True,
    ),
    Case(
        "trigger-unknown-from",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, schedule: "@daily", from: "1.0"}
        """),
        8,
        45,
        "copies '1.0', which is neither a declared version nor an alias of this model. Did you mean '1.0.0'?",
        only=True,
    ),
    Case(
        "trigger-from-artifact-alias",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, schedule: "@daily", from: imported}
        """),
        8,
        45,
        "copies version '2.0.0' (alias 'imported' points at it), which is registered from an artifact file",
        only=True,
    ),
    Case(
        "trigger-promote-undeclared-alias",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, schedule: "@daily", from: "1.0.0", promote: staging}
        """),
        8,
        63,
        "promotes alias 'staging', which the model does not declare",
        only=True,
    ),
    Case(
        "trigger-label-same-every-time",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, schedule: "@daily", from: "1.0.0", label: "nightly"}
        """),
        8,
        61,
        "label template 'nightly' gives the same label at every firing",
        only=True,
    ),
    Case(
        "trigger-label-collides",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, schedule: "*/5 * * * *", from: "1.0.0", label: "2.0.{date}"}
        """),
        8,
        66,
        "can give one label twice",
        only=True,
    ),
    Case(
        "trigger-label-invalid",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, schedule: "@daily", from: "1.0.0", label: "v {n}"}
        """),
        8,
        61,
        "label template 'v {n}' gives invalid labels",
        only=True,
    ),
    Case(
        "trigger-label-unknown-placeholder",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, schedule: "@daily", from: "1.0.0", label: "{version}.{n}"}
        """),
        8,
        61,
        "uses {version}; a label template may use {from}, {n}, {date}, {trigger}",
        only=True,
    ),
    Case(
        "trigger-neither-schedule-nor-change",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, from: "1.0.0"}
        """),
        8,
        9,
        "a trigger needs exactly one of 'schedule' (a cron expression), 'on_change'",
        only=True,
    ),
    Case(
        "trigger-both-schedule-and-change",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, schedule: "@daily", on_change: [train.py], from: "1.0.0"}
        """),
        8,
        9,
        "a trigger needs exactly one of 'schedule'",
        only=True,
    ),
    Case(
        "trigger-watches-outside",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, on_change: [../data.csv], from: "1.0.0"}
        """),
        8,
        31,
        "'../data.csv' climbs out of the project with '..'; watched paths must stay inside the project",
        only=True,
    ),
    Case(
        "trigger-overrides-unknown-param",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, schedule: "@daily", from: "1.0.0", params: {train: {sed: 2}}}
        """),
        8,
        71,
        "step 'train' declares no param 'sed' to override. Did you mean 'seed'?",
        only=True,
    ),
    Case(
        "trigger-label-matches-a-declared-label",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py}]
            versions: {"1.0.0": {}, "nightly-20260101": {}}
            triggers:
              - {name: n, schedule: "0 2 * * *", from: "1.0.0", label: "nightly-{date}"}
        """),
        7,
        64,
        "label template 'nightly-{date}' can give 'nightly-20260101', which is declared already",
        only=True,
    ),
    Case(
        "trigger-duplicate-names",
        y("""
        project: a
        models:
          churn:
            pipeline: [{name: train, run: python train.py, params: {seed: 1}}]
            versions: {"1.0.0": {}, "2.0.0": {artifact: m.skops}}
            aliases: {production: "1.0.0", imported: "2.0.0"}
            triggers:
              - {name: n, schedule: "@daily", from: "1.0.0"}
              - {name: n, schedule: "@hourly", from: "1.0.0"}
        """),
        9,
        16,
        "trigger name 'n' is used twice (triggers 0 and 1)",
        only=True,
    ),
    Case(
        "monitoring-on-degraded-trigger-without-a-name",
        y(f"""
        project: a
        models:
          churn:
            {STEP}
            monitoring: {{rules: ["drift.psi.max < 0.2"], on_degraded: trigger}}
        """),
        5,
        50,
        "on_degraded 'trigger' is none of 'alert', 'rollback' or 'trigger NAME'",
    ),
    Case(
        "monitoring-on-degraded-unknown-trigger",
        y(f"""
        project: a
        models:
          churn:
            {STEP}
            evaluation: {{dataset: d.csv, label: y, metrics: [f1]}}
            versions: {{"1.0.0": {{}}}}
            triggers: [{{name: refit, when: "f1 < 0.8", from: "1.0.0", label: "1.{{n}}"}}]
            monitoring: {{rules: ["f1 >= 0.8"], on_degraded: trigger reffit}}
        """),
        8,
        53,
        "on_degraded fires trigger 'reffit', which the model does not declare. Did you mean "
        "'trigger refit'?",
    ),
    Case(
        "monitoring-rule-on-a-metric-not-computed",
        y(f"""
        project: a
        models:
          churn:
            {STEP}
            evaluation: {{dataset: d.csv, label: y, metrics: [accuracy]}}
            monitoring:
              rules:
                - "accuracy >= 0.8"
                - "f1 >= promoted - 0.05"
        """),
        9,
        11,
        "rule 'f1 >= promoted - 0.05' names 'f1', which is neither a metric",
    ),
    Case(
        "monitoring-rule-that-does-not-parse",
        y(f"""
        project: a
        models:
          churn:
            {STEP}
            evaluation: {{dataset: d.csv, label: y, metrics: [f1]}}
            monitoring: {{rules: ["f1 => 0.8"]}}
        """),
        6,
        26,
        "rule 'f1 => 0.8' does not read as SUBJECT OP BOUND",
    ),
    Case(
        "monitoring-without-evaluation-data",
        y(f"""
        project: a
        models:
          churn:
            {STEP}
            monitoring: {{rules: ["drift.psi.max < 0.2"]}}
        """),
        5,
        5,
        "monitoring compares live batches with the evaluation data, and the model has none",
    ),
    Case(
        "executor-type-unknown",
        y("""
        project: a
        executor: {type: dask}
        """),
        2,
        18,
        "'executor.type': 'dask' is not allowed here; expected one of 'local', 'ray'",
        only=True,
    ),
    Case(
        "verify-key-without-bundle",
        y(f"""
        project: a
        models:
          churn:
            {STEP}
            versions: {{"1.0.0": {{verify_key: k.pem}}}}
        """),
        5,
        16,
        "'verify_key' checks the signature of a 'bundle'; this version has none",
        only=True,
    ),
    Case("missing-project", "models: {}\n", 1, 1, "missing required key 'project'", only=True),
    Case(
        "missing-step-name",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - run: python train.py
        """),
        5,
        9,
        "missing required key 'name'",
        only=True,
    ),
    # Steps ----------------------------------------------------------------------------------
    Case(
        "step-run-and-uses",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: train
                run: python train.py
                uses: sklearn
                with: {estimator: a.B}
        """),
        5,
        9,
        "a step needs exactly one of 'run'",
        only=True,
    ),
    Case(
        "step-neither",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: train
                params: {a: 1}
        """),
        5,
        9,
        "a step needs exactly one of 'run'",
        only=True,
    ),
    Case(
        "step-uses-unknown",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - {name: train, uses: sklaern}
        """),
        5,
        29,
        "'sklaern' is not allowed here; expected one of 'sklearn', 'torch'. Did you mean 'sklearn'?",
    ),
    Case(
        "step-names-twice",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: a
                run: x
              - name: a
                run: y
        """),
        7,
        15,
        "step name 'a' is used twice in the pipeline (lines 5 and 7)",
        only=True,
    ),
    Case(
        "cycle",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: a
                run: x
                deps: [b]
              - name: b
                run: y
                deps: [a]
        """),
        10,
        16,
        "steps depend on each other in a cycle: a -> b -> a",
        only=True,
    ),
    Case(
        "self-dep",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: a
                run: x
                deps: [a]
        """),
        7,
        16,
        "step 'a' depends on itself",
        only=True,
    ),
    Case(
        "dep-typo",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: prepare
                run: x
              - name: train
                run: y
                deps: [prepar]
        """),
        9,
        16,
        "dep 'prepar' is neither a step of this pipeline nor a file. Did you mean step 'prepare'?",
        only=True,
    ),
    Case(
        "duplicate-output",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: a
                run: x
                outputs: [model.bin]
              - name: b
                run: y
                outputs: [model.bin]
        """),
        10,
        19,
        "output 'model.bin' is declared by steps 'a' (line 7) and 'b'",
        only=True,
    ),
    Case(
        "sklearn-without-estimator",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: train
                uses: sklearn
        """),
        5,
        9,
        "the sklearn trainer needs 'with.estimator'",
        only=True,
    ),
    Case(
        "sklearn-estimator-not-dotted",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: train
                uses: sklearn
                with: {estimator: RandomForestClassifier}
        """),
        7,
        27,
        "estimator 'RandomForestClassifier' is not a dotted import path",
        only=True,
    ),
    Case(
        "with-on-command-step",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: train
                run: python train.py
                with: {estimator: a.B}
        """),
        7,
        9,
        "'with' configures a built-in trainer",
        only=True,
    ),
    Case(
        "nan-param",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: train
                run: python train.py
                params: {lr: .nan}
        """),
        7,
        22,
        "nan cannot be hashed into a cache key",
        only=True,
    ),
    # Versions, aliases, triggers ------------------------------------------------------------
    Case(
        "override-unknown-step",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: train
                run: python train.py
                params: {n_estimators: 100}
            versions:
              "1.0.0": {params: {trian: {n_estimators: 300}}}
        """),
        9,
        26,
        "overrides params of step 'trian', which is not in the pipeline. Did you mean 'train'?",
        only=True,
    ),
    Case(
        "override-unknown-param",
        y("""
        project: a
        models:
          churn:
            pipeline:
              - name: train
                run: python train.py
                params: {n_estimators: 100}
            versions:
              "1.0.0": {params: {train: {n_estimator: 300}}}
        """),
        9,
        34,
        "step 'train' declares no param 'n_estimator' to override. "
        "Did you mean 'n_estimators'? Or declare 'n_estimator' in the params of step 'train' first",
        only=True,
    ),
    Case(
        "version-null",
        y(f"""
        project: a
        models:
          churn:
            {STEP}
            versions: {{"1.0.0": }}
        """),
        5,
        25,
        "expected a mapping, got nothing (an empty value). Write {} for a version",
        only=True,
    ),
    Case(
        "versions-without-pipeline",
        y("""
        project: a
        models:
          churn:
            versions: {"1.0.0": {}, "2.0.0": {artifact: model.skops}}
        """),
        4,
        5,
        "model 'churn' has no pipeline to train version(s) '1.0.0'",
        only=True,
    ),
    Case(
        "alias-undeclared",
        y(f"""
        project: a
        models:
          churn:
            {STEP}
            versions: {{"1.0.0": {{}}, "1.1.0": {{}}}}
            aliases: {{production: "1.0"}}
        """),
        6,
        27,
        "alias 'production' names version '1.0', which is not declared in versions. "
        "Did you mean '1.0.0'?",
        only=True,
    ),
    Case(
        "model-name-invalid",
        y("""
        project: a
        models:
          bad name: {}
        """),
        3,
        3,
        "'bad name' is not a valid model name",
        only=True,
    ),
    Case(
        "notification-without-target",
        y("""
        project: a
        notifications:
          - events: [rollback]
        """),
        3,
        5,
        "a notification needs a 'webhook' or a 'command'",
        only=True,
    ),
    Case(
        "notification-event-typo",
        y("""
        project: a
        notifications:
          - {webhook: "http://127.0.0.1:9/h", events: [apply_faild]}
        """),
        3,
        48,
        "Did you mean 'apply_failed'?",
        only=True,
    ),
    Case(
        "list-where-mapping",
        y("""
        project: a
        models: [churn]
        """),
        2,
        9,
        "expected a mapping, got a list",
        only=True,
    ),
    Case(
        "string-where-list",
        y("""
        project: a
        include: models/*.yaml
        """),
        2,
        10,
        "expected a list, got a string",
        only=True,
    ),
    # Files and YAML itself -----------------------------------------------------------------
    Case(
        "include-no-match",
        y("""
        project: a
        include: [models/*.yaml]
        """),
        2,
        11,
        "include pattern 'models/*.yaml' matches no file",
        only=True,
    ),
    Case(
        "model-twice-across-includes",
        y("""
        project: a
        include: ["models/*.yaml"]
        """),
        3,
        3,
        "model 'churn' is defined twice: at ",
        files={
            "models/a.yaml": f"models:\n  churn:\n    {STEP}\n",
            "models/b.yaml": f"# the same model again\nmodels:\n  churn:\n    {STEP}\n",
        },
        in_file="models/b.yaml",
        only=True,
    ),
    Case(
        "include-holds-project",
        "project: a\ninclude: [extra.yaml]\n",
        2,
        1,
        "an included file may only hold 'models:', not 'project'",
        files={"extra.yaml": "models: {}\nproject: b\n"},
        in_file="extra.yaml",
        only=True,
    ),
    Case(
        "include-error-placed-in-include",
        "project: a\ninclude: [extra.yaml]\n",
        3,
        5,
        "unknown key 'pipline'. Did you mean 'pipeline'?",
        files={"extra.yaml": "models:\n  churn:\n    pipline: []\n"},
        in_file="extra.yaml",
        only=True,
    ),
    Case(
        "non-utf8",
        b"project: a\n# caf\xe9\n",
        2,
        6,
        "the file is not UTF-8 text: byte 0xe9 at offset 16",
        only=True,
    ),
    Case("empty", "", 1, 1, "the configuration is empty", only=True),
    Case("only-comments", "# nothing yet\n\n", 1, 1, "the configuration is empty", only=True),
    Case(
        "list-at-top",
        "- project: a\n- models: {}\n",
        1,
        1,
        "the top level of the configuration must be a mapping of settings",
        only=True,
    ),
    Case("scalar-at-top", "just some text\n", 1, 1, "not a single value", only=True),
    Case(
        "syntax-mapping-in-value",
        "project: a: b\n",
        1,
        11,
        "YAML syntax error: mapping values are not allowed",
        only=True,
    ),
    Case(
        "syntax-unclosed-flow",
        "project: a\nmodels: {churn: {}\n",
        3,
        1,
        "YAML syntax error: did not find expected ',' or '}'",
        only=True,
    ),
    Case(
        "syntax-tab",
        "project: a\nmodels:\n\tchurn: {}\n",
        3,
        1,
        "Indent with spaces, not tabs",
        only=True,
    ),
    Case(
        "tag-python",
        "project: !!python/object/apply:os.system [echo]\n",
        1,
        10,
        "tag '!!python/object/apply:os.system' is not supported",
        only=True,
    ),
    Case(
        "tag-custom", "project: !secret name\n", 1, 10, "tag '!secret' is not supported", only=True
    ),
    Case(
        "two-documents",
        "project: a\n---\nproject: b\n",
        2,
        1,
        "a second YAML document starts here",
        only=True,
    ),
    Case("undefined-alias", "project: *name\n", 1, 10, "alias *name names no anchor", only=True),
    Case("deep-nesting", "[" * 500, 1, 101, "nesting is deeper than 100 levels", only=True),
    Case(
        "deep-block-nesting",
        "".join(f"{' ' * i}k:\n" for i in range(150)),
        101,
        101,
        "nesting is deeper than 100 levels",
        only=True,
    ),
    Case(
        "billion-laughs",
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n"
            for i in range(8)
        ),
        7,
        12,
        "aliases expand to more than 10,000,000 characters",
        only=True,
    ),
    # Deps written as a mapping -------------------------------------------------------------
    *(
        Case(
            f"dep-mapping-{name}",
            y("""
            project: a
            models:
              churn:
                pipeline:
                  - name: prepare
                    run: python p.py
                    outputs: [x]
                  - name: train
                    run: python t.py
                    deps: DEPS
            """).replace("DEPS", deps),
            10,
            column,
            expect,
            files={"data.csv": "x"},
            only=True,
        )
        for name, deps, column, expect in (
            ("typo", "[prepare, {path: data.csv, snap: false}]", 42, "Did you mean 'snapshot'?"),
            ("quoted-bool", '[{path: data.csv, snapshot: "no"}]', 43, "expected true or false"),
            ("no-path", "[{snapshot: false}]", 16, "missing required key 'path'"),
            ("names-a-step", "[{path: prepare}]", 23, "the mapping form is for files"),
            ("outside", "[{path: ../x.csv, snapshot: false}]", 23, "climbs out of the project"),
            ("number", "[3]", 16, "expected a string, got a number (3)"),
        )
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_configuration_is_reported_at_its_place(tmp_path: Path, case: Case) -> None:
    errors = errors_of(tmp_path, case.text, **case.files)
    found = [
        error
        for error in errors
        if error.place is not None
        and error.place.file.endswith(case.in_file)
        and (error.place.line, error.place.column) == (case.line, case.column)
        and case.expect.lower() in error.message.lower()
    ]
    assert found, (
        f"wanted {case.in_file}:{case.line}:{case.column} {case.expect!r}, got:\n"
        + describe(errors)
    )
    if case.only:
        assert len(errors) == 1, "expected one error, got:\n" + describe(errors)


def test_extreme_nesting_is_a_spec_error(tmp_path: Path) -> None:
    """Whichever guard trips first (ours or libyaml's own depth limit), it is a located SpecError."""
    errors = errors_of(tmp_path, "[" * 10_000)
    assert len(errors) == 1
    assert errors[0].place is not None and errors[0].place.line == 1
    assert "nesting" in errors[0].message.lower()


def test_every_problem_is_reported_in_one_pass(tmp_path: Path) -> None:
    text = y("""
        project: a
        on: x
        models:
          churn:
            task: yes
            pipeline:
              - name: train
                run: python train.py
                parms: {}
            versions:
              1.10: {}
        """)
    errors = errors_of(tmp_path, text)
    assert [(error.place.line, error.place.column) for error in errors if error.place] == [
        (2, 1),
        (5, 11),
        (9, 9),
        (11, 7),
    ], describe(errors)


def test_messages_name_the_file_and_field(tmp_path: Path) -> None:
    (error,) = errors_of(tmp_path, "project: a\nmodels:\n  churn:\n    pipline: []\n")
    assert error.place is not None and error.place.file.endswith("mvctl.yaml")
    assert error.field == "models.churn.pipline"
    assert error.message.endswith(
        "mvctl.yaml:4:5: 'models.churn.pipline': unknown key 'pipline'. Did you mean 'pipeline'?"
    )


def test_duplicate_model_names_both_places(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        "project: a\nmodels:\n  churn:\n    pipeline: [{name: t, run: x}]\ninclude: [more.yaml]\n",
        **{"more.yaml": "models:\n  churn:\n    pipeline: [{name: t, run: x}]\n"},
    )
    (error,) = errors
    assert error.place is not None and error.place.file.endswith("more.yaml")
    assert "mvctl.yaml:3:3" in error.what
