"""Bundles: one version packed to travel between projects (`mvctl export` / `mvctl import`).

A bundle is a gzip-compressed tar holding ``manifest.json`` (where the version came from, its
spec, params, lineage, metrics per dataset digest, gate results, and the sha256 of every other
member), optionally ``manifest.sig`` (an ed25519 signature over the manifest's exact bytes),
the model under ``artifact/`` and, when exported with its steps, the step outputs under
``steps/``. ``writing`` packs one, ``reading`` checks one before anything trusts it, and
``signing`` holds the keys.
"""
