"""Check a bundle before anything in it is trusted, and unpack what the checks passed.

The bundle is read as a stream, member by member, and refused at the first thing mvctl would
not have written: a member that is not a plain file (symlink, hard link, device, folder), a
name that is absolute, holds '..' or lies outside ``artifact/`` and ``steps/``, a name seen
twice, more members or more declared bytes than the limits allow (a tar bomb is refused from
its headers, before its content is read), data after the archive's end, a gzip stream whose
checksum fails. Then every member must hash to the manifest's digest, no listed file may be
missing and no unlisted one present, and the signature, when there is one or a key requires
one, must hold. Unpacking writes only names mvctl itself built from checked names, under a
private folder.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mvctl.bundles.manifest import (
    MANIFEST,
    MEMBER_PATTERN,
    SIGNATURE,
    Manifest,
    ManifestError,
    parse_manifest,
)
from mvctl.bundles.signing import check_signature, fingerprint
from mvctl.errors import BundleError

MAX_BUNDLE_BYTES = 16 * 1024**3
"""A bundle file larger than this (compressed) is refused before it is opened."""
MAX_UNPACKED_BYTES = 32 * 1024**3
"""The members' declared sizes together, and the stream after the archive's end."""
MAX_MEMBERS = 10_000
MAX_MANIFEST_BYTES = 16 * 1024**2
MAX_SIGNATURE_BYTES = 4096
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle whose every check passed: its manifest, who signed it, where it was unpacked."""

    manifest: Manifest
    signer: str | None
    """The signing key's fingerprint, or None for an unsigned bundle."""
    unpacked: Path | None


def verify_bundle(
    path: Path,
    *,
    shown: str,
    required_key: bytes | None = None,
    key_name: str | None = None,
    unpack_to: Path | None = None,
) -> VerifiedBundle:
    """Check the bundle at ``path`` (``shown`` names it in errors); with ``required_key`` (raw
    ed25519 public key, named ``key_name``) it must be signed by that key. With ``unpack_to``,
    the checked members are written there too (refused bundles leave what was written, for the
    caller to delete with its private folder)."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise _refused(
            shown, f"cannot be read: {error.strerror or error}", "Check the path."
        ) from error
    if size == 0:
        raise _refused(shown, "is empty", "Export the version again.")
    if size > MAX_BUNDLE_BYTES:
        raise _refused(
            shown,
            f"is {size} bytes, over the limit of {MAX_BUNDLE_BYTES}",
            "Export without --with-steps, or move the data some other way.",
        )
    try:
        with gzip.open(path, "rb") as stream:
            digests, manifest_bytes, signature = _read_members(stream, shown, unpack_to)
            _check_trailer(stream, shown)
    except (OSError, EOFError, zlib.error, tarfile.TarError) as error:
        raise _refused(
            shown,
            f"is not a whole gzip-compressed tar archive ({error})",
            "It is corrupt or truncated: copy or export it again.",
        ) from error
    if manifest_bytes is None:
        raise _refused(shown, f"holds no {MANIFEST}", "Export the version again.")
    try:
        manifest = parse_manifest(json.loads(manifest_bytes))
    except (ValueError, ManifestError) as error:
        raise _refused(
            shown, f"has a {MANIFEST} mvctl cannot use: {error}", "Export it again."
        ) from error
    _check_files(manifest.files, digests, shown)
    signer = _check_signed(manifest_bytes, signature, required_key, key_name, shown)
    return VerifiedBundle(manifest, signer, unpack_to)


def _read_members(
    stream: gzip.GzipFile, shown: str, unpack_to: Path | None
) -> tuple[dict[str, str], bytes | None, bytes | None]:
    digests: dict[str, str] = {}
    manifest: bytes | None = None
    signature: bytes | None = None
    declared = 0
    count = 0
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            count += 1
            declared += member.size
            name = member.name
            if count > MAX_MEMBERS:
                raise _refused(shown, f"holds more than {MAX_MEMBERS} members", _NOT_OURS)
            if declared > MAX_UNPACKED_BYTES:
                raise _refused(
                    shown,
                    f"declares more than {MAX_UNPACKED_BYTES} bytes of content "
                    f"(at member {name!r})",
                    _NOT_OURS,
                )
            if not member.isreg() or member.issparse():
                raise _refused(
                    shown, f"holds {name!r}, which is {_kind(member)}, not a plain file", _NOT_OURS
                )
            if name in digests or (
                name in (MANIFEST, SIGNATURE) and _seen(name, manifest, signature)
            ):
                raise _refused(shown, f"holds {name!r} twice", _NOT_OURS)
            handle = archive.extractfile(member)
            if handle is None:
                raise _refused(shown, f"member {name!r} cannot be read", _NOT_OURS)
            if name == MANIFEST:
                manifest = _small(handle, member.size, MAX_MANIFEST_BYTES, name, shown)
                continue
            if name == SIGNATURE:
                signature = _small(handle, member.size, MAX_SIGNATURE_BYTES, name, shown)
                continue
            if not MEMBER_PATTERN.match(name):
                raise _refused(
                    shown,
                    f"holds the member name {name!r}: absolute, with '..', or outside "
                    "artifact/ and steps/",
                    _NOT_OURS,
                )
            digests[name] = _copy(handle, unpack_to / name if unpack_to else None)
    return digests, manifest, signature


def _check_trailer(stream: gzip.GzipFile, shown: str) -> None:
    """Read to the end, so gzip checks its CRC; only the archive's zero padding may follow."""
    read = 0
    while chunk := stream.read(CHUNK):
        read += len(chunk)
        if chunk.count(0) != len(chunk):
            raise _refused(shown, "holds data after the end of its archive", _NOT_OURS)
        if read > MAX_UNPACKED_BYTES:
            raise _refused(shown, "has an oversized tail after its archive", _NOT_OURS)


def _seen(name: str, manifest: bytes | None, signature: bytes | None) -> bool:
    return (manifest if name == MANIFEST else signature) is not None


def _small(handle: IO[bytes], size: int, limit: int, name: str, shown: str) -> bytes:
    if size > limit:
        raise _refused(shown, f"has a {name} of {size} bytes, over {limit}", _NOT_OURS)
    return handle.read()


def _copy(handle: IO[bytes], dest: Path | None) -> str:
    digest = hashlib.sha256()
    out = None
    if dest is not None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        out = dest.open("xb")
    try:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if out is not None:
                out.write(chunk)
    finally:
        if out is not None:
            out.close()
    return "sha256:" + digest.hexdigest()


def _check_files(listed: Mapping[str, str], found: Mapping[str, str], shown: str) -> None:
    missing = sorted(set(listed) - set(found))
    if missing:
        raise _refused(shown, f"lacks {missing[0]}, which its manifest lists", _TAMPERED)
    extra = sorted(set(found) - set(listed))
    if extra:
        raise _refused(shown, f"holds {extra[0]}, which its manifest does not list", _TAMPERED)
    for name in sorted(listed):
        if listed[name] != found[name]:
            raise _refused(
                shown,
                f"holds {name} with sha256 {found[name][7:19]}…, but its manifest says "
                f"{listed[name][7:19]}…",
                _TAMPERED,
            )


def _check_signed(
    manifest: bytes,
    signature: bytes | None,
    required_key: bytes | None,
    key_name: str | None,
    shown: str,
) -> str | None:
    if signature is None:
        if required_key is not None:
            raise _refused(
                shown,
                f"is not signed, but {key_name} requires a signature",
                "Ask its publisher for a bundle exported with `--sign-key`.",
            )
        return None
    signer = check_signature(manifest, signature)
    if signer is None:
        raise _refused(shown, "has a signature that does not match its manifest", _TAMPERED)
    if required_key is not None and signer != required_key:
        raise _refused(
            shown,
            f"is signed by {fingerprint(signer)}, not by {key_name} ({fingerprint(required_key)})",
            "Check that you have the publisher's public key, and where the bundle came from.",
        )
    return fingerprint(signer)


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"a symlink to {member.linkname!r}"
    if member.islnk():
        return f"a hard link to {member.linkname!r}"
    if member.isdir():
        return "a folder"
    if member.issparse():
        return "a sparse file"
    return "a device or special file"


def _refused(shown: str, what: str, fix: str) -> BundleError:
    return BundleError(f"the bundle {shown} {what}", fix=fix)


_NOT_OURS = "mvctl does not write such bundles: do not use it, and check where it came from."
_TAMPERED = "It was changed after it was exported: do not use it; export it again from its source."
