"""Generated large configurations, for the scale test and the load benchmark."""

from __future__ import annotations


def big_config(models: int = 1000, versions: int = 10) -> str:
    """A configuration of ``models`` models with ``versions`` versions each, in the design's
    style: a two-step pipeline, an evaluation, and aliases per model."""
    lines = ["project: scale", "models:"]
    for m in range(models):
        lines += [
            f"  model-{m:05d}:",
            "    owners: [team-a]",
            "    task: binary-classification",
            "    pipeline:",
            "      - name: prepare",
            "        run: python steps/prepare.py",
            "        deps: [data/customers.csv, steps/prepare.py]",
            f"        params: {{test_size: 0.2, seed: {m}}}",
            "        outputs: [train.npz]",
            "      - name: train",
            "        uses: sklearn",
            "        with: {estimator: sklearn.ensemble.RandomForestClassifier}",
            "        params: {n_estimators: 100, random_state: 7}",
            "        deps: [prepare]",
            "    evaluation:",
            "      dataset: data/holdout.csv",
            "      label: churned",
            "      metrics: [accuracy, f1, roc_auc]",
            '      gates: ["f1 >= 0.80"]',
            "    versions:",
        ]
        lines += [
            f'      "1.{v}.0": {{params: {{train: {{n_estimators: {100 + v}}}}}, description: v{v}}}'
            for v in range(versions)
        ]
        lines += [
            f'    aliases: {{production: "1.0.0", staging: "1.{versions - 1}.0"}}',
        ]
    return "\n".join(lines) + "\n"
