"""What a version's declared `bundle:` was found to hold: a plan input, in a module of its own so
that checking bundles (``validate``) does not load the plan's types."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BundleSource:
    """What the checks found in a version's `bundle:` when the plan was made."""

    origin: str
    """project/model@label it was exported from."""
    artifact_digest: str
    signer: str | None
    """Fingerprint of the key that signed it; None: unsigned."""
    verify_key: str | None
    """The `verify_key:` its signature was checked against; None: no key required."""
    metrics: int
    """Evaluation results it carries (one per dataset and evaluation)."""
    step_outputs: int
