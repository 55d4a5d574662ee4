"""ed25519 keys and signatures over a bundle's manifest, through the `cryptography` package.

Keys are PEM files: a PKCS#8 private key signs (`export --sign-key`), its public key verifies
(`import --verify-key`, a version's `verify_key:`). A signer is shown by its fingerprint,
``ed25519:`` and the first 16 hex digits of the sha256 of the raw public key, so two keys
never print alike by accident.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from mvctl.errors import UsageError

ALGORITHM = "ed25519"


def fingerprint(public_raw: bytes) -> str:
    return f"{ALGORITHM}:{hashlib.sha256(public_raw).hexdigest()[:16]}"


def sign_manifest(manifest: bytes, key_file: Path) -> bytes:
    """The ``manifest.sig`` member: the signature and the public key that checks it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = _read_key_file(key_file, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise UsageError(
            f"the signing key {key_file} is not an unencrypted PEM private key ({error})",
            fix="Make one with `openssl genpkey -algorithm ed25519 -out signing.pem`.",
        ) from error
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(
            f"the signing key {key_file} is not an ed25519 key",
            fix="Make one with `openssl genpkey -algorithm ed25519 -out signing.pem`.",
        )
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    body = {
        "algorithm": ALGORITHM,
        "public_key": base64.b64encode(public).decode(),
        "signature": base64.b64encode(key.sign(manifest)).decode(),
    }
    return json.dumps(body, sort_keys=True, indent=2).encode() + b"\n"


def public_key_raw(key_file: Path) -> bytes:
    """The raw ed25519 public key in a PEM public key file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = _read_key_file(key_file, "verify key")
    fix = (
        "Give the signer's PEM public key, e.g. from "
        "`openssl pkey -in signing.pem -pubout -out signing.pub`."
    )
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as error:
        raise UsageError(f"the verify key {key_file} is not a PEM public key", fix=fix) from error
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"the verify key {key_file} is not an ed25519 public key", fix=fix)
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def check_signature(manifest: bytes, signature_member: bytes) -> bytes | None:
    """The raw public key that signed ``manifest``, or None when the signature is malformed
    or does not match."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        body: Any = json.loads(signature_member)
        if not isinstance(body, dict) or body.get("algorithm") != ALGORITHM:
            return None
        public = base64.b64decode(body["public_key"], validate=True)
        signature = base64.b64decode(body["signature"], validate=True)
        Ed25519PublicKey.from_public_bytes(public).verify(signature, manifest)
    except (ValueError, KeyError, TypeError, InvalidSignature):
        return None
    return public


def _read_key_file(key_file: Path, what: str) -> bytes:
    try:
        return key_file.read_bytes()
    except OSError as error:
        raise UsageError(
            f"cannot read the {what} {key_file}: {error.strerror or error}",
            fix="Check the path.",
        ) from error
