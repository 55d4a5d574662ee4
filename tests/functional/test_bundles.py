"""`mvctl export` / `mvctl import` and `bundle:` versions, end to end through the CLI.

A real project trains a logistic regression once per module and exports it; the refusals are
built from that real bundle by rewriting its tar archive the way an attacker would, and each
must leave the config, the project folder and the state as they were.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from tests.functional.projects import Project, base_env
from tests.functional.scored_project import make_scored

pytestmark = pytest.mark.slow

EMPTY_TARGET = "project: target\nmodels: {}\n"


def _keys(folder: Path, name: str) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = folder / f"{name}.pem"
    public = folder / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A trained source project (SQLite, local store) and its bundles."""
    root = tmp_path_factory.mktemp("source")
    source = make_scored(root / "proj")
    applied = source.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    private, public = _keys(root, "release")
    other_private, other_public = _keys(root, "other")
    made = {
        "root": source.root,
        "signed": root / "churn-1.0.0.tar.gz",
        "unsigned": root / "churn-1.0.0-unsigned.tar.gz",
        "other_version": root / "churn-1.1.0.tar.gz",
        "public": public,
        "other_private": other_private,
        "other_public": other_public,
    }
    for args in (
        ("churn:production", "-o", str(made["signed"]), "--with-steps", "--sign-key", str(private)),
        ("churn@1.0.0", "-o", str(made["unsigned"])),
        ("churn@1.1.0", "-o", str(made["other_version"])),
    ):
        result = source.mvctl("export", *args)
        assert result.code == 0, result.text
    return made


def _target(tmp_path: Path, state_url: str | None = None, config: str = EMPTY_TARGET) -> Project:
    project = Project(tmp_path / "target", base_env(state_url))
    project.write("mvctl.yaml", config)
    return project


def _members(bundle: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(bundle, "r:gz") as archive:
        return [
            (member, archive.extractfile(member).read())  # type: ignore[union-attr]
            for member in archive.getmembers()
        ]


def _pack(members: list[tuple[tarfile.TarInfo, bytes]], out: Path) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    out.write_bytes(gzip.compress(buffer.getvalue()))
    return out


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def test_export_is_deterministic_and_lists_every_file(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    source = Project(exported["root"], base_env(None))
    again = tmp_path / "again.tar.gz"
    assert source.mvctl("export", "churn@1.0.0", "-o", str(again)).code == 0
    assert again.read_bytes() == exported["unsigned"].read_bytes()
    members = dict((info.name, data) for info, data in _members(exported["signed"]))
    manifest = json.loads(members["manifest.json"])
    assert set(members) == {"manifest.json", "manifest.sig", *manifest["files"]}
    assert manifest["project"] == "scored"
    assert (manifest["model"], manifest["label"]) == ("churn", "1.0.0")
    assert {m["dataset"] for m in manifest["metrics"]} == {"data/holdout.csv", "split"}
    assert manifest["gates"] and manifest["gates"][0]["alias"] == "production"
    assert [s["step"] for s in manifest["steps"]] == ["prepare", "train"]
    assert manifest["params"]["train"] == {"C": 1.0}


def test_import_declares_the_version_and_apply_registers_it(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    target = _target(tmp_path)
    imported = target.mvctl(
        "import", str(exported["signed"]), "--verify-key", str(exported["public"])
    )
    assert imported.code == 0, imported.text
    config = target.config()
    assert "bundle: bundles/churn-1.0.0.tar.gz" in config
    assert "verify_key: bundles/keys/release.pub" in config
    assert (target.root / "bundles" / "churn-1.0.0.tar.gz").read_bytes() == exported[
        "signed"
    ].read_bytes()
    plan = target.mvctl("plan")
    assert plan.code == 0, plan.text
    assert "+ import churn@1.0.0" in plan.out
    assert "verified; signed by ed25519:" in plan.out
    assert "exported from scored/churn@1.0.0" in plan.out
    applied = target.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    shown = json.loads(target.mvctl("show", "churn@1.0.0", "--json").out)
    source_shown = json.loads(
        Project(exported["root"], base_env(None)).mvctl("show", "churn@1.0.0", "--json").out
    )
    assert shown["artifact_digest"] == source_shown["artifact_digest"]
    assert shown["params"] == source_shown["params"]
    assert {e["dataset"] for e in shown["evaluations"]} == {"data/holdout.csv", "split"}
    assert target.mvctl("plan", "--detailed-exitcode").code == 0


def test_import_of_other_content_under_a_recorded_label_is_a_conflict(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    target = _target(tmp_path)
    assert target.mvctl("import", str(exported["unsigned"])).code == 0
    assert target.mvctl("apply", "--auto-approve").code == 0
    (target.root / "other.tar.gz").write_bytes(exported["other_version"].read_bytes())
    target.edit_config("bundle: bundles/churn-1.0.0.tar.gz", "bundle: other.tar.gz")
    plan = target.mvctl("plan", "--detailed-exitcode")
    assert plan.code == 3, plan.text
    assert "version_changed churn@1.0.0" in plan.out


def test_import_as_another_label(exported: dict[str, Path], tmp_path: Path) -> None:
    target = _target(tmp_path)
    assert target.mvctl("import", str(exported["unsigned"]), "--as", "2.0.0").code == 0
    assert target.mvctl("import", str(exported["unsigned"]), "--as", "2.0.0").code == 0
    again = target.mvctl("import", str(exported["other_version"]), "--as", "2.0.0")
    assert again.code == 1 and "already declared" in again.err
    assert '"2.0.0":' in target.config()


@pytest.mark.postgres
@pytest.mark.s3
def test_round_trip_from_sqlite_and_local_store_to_postgres_and_s3(
    exported: dict[str, Path],
    tmp_path: Path,
    postgres_database_url: str,
    s3_endpoint: str,
    s3_bucket: str,
) -> None:
    import boto3

    target = _target(tmp_path, postgres_database_url)
    target.env["MVCTL_STORE"] = f"s3://{s3_bucket}/models"
    target.env["AWS_ENDPOINT_URL"] = s3_endpoint
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        target.env[name] = os.environ[name]
    assert target.mvctl("import", str(exported["signed"])).code == 0
    target.write("mvctl.yaml", target.config() + '    aliases: {production: "1.0.0"}\n')
    applied = target.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    assert (
        "production"
        in json.loads(target.mvctl("show", "churn:production", "--json").out)["aliases"]
    )
    client = boto3.session.Session().client("s3", endpoint_url=s3_endpoint)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])]
    source = json.loads(
        Project(exported["root"], base_env(None)).mvctl("show", "churn@1.0.0", "--json").out
    )
    digest = source["artifact_digest"].removeprefix("sha256:")
    assert f"models/objects/{digest[:2]}/{digest[2:]}" in keys
    again = _target(tmp_path / "back")
    back = tmp_path / "back.tar.gz"
    assert target.mvctl("export", "churn:production", "-o", str(back)).code == 0
    assert again.mvctl("import", str(back)).code == 0
    assert again.mvctl("apply", "--auto-approve").code == 0


def _attacks(exported: dict[str, Path], folder: Path) -> dict[str, tuple[Path, str]]:
    good = exported["signed"]
    members = _members(good)
    names = [info.name for info, _ in members]
    artifact = next(i for i, name in enumerate(names) if name.startswith("artifact/"))
    flipped_member = list(members)
    info, data = flipped_member[artifact]
    flipped_member[artifact] = (info, bytes([data[0] ^ 1]) + data[1:])
    raw = bytearray(good.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    (folder / "flipped.tar.gz").write_bytes(bytes(raw))
    symlink = tarfile.TarInfo("artifact/link")
    symlink.type, symlink.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hardlink = tarfile.TarInfo("artifact/hard")
    hardlink.type, hardlink.linkname = tarfile.LNKTYPE, names[artifact]
    bomb = tarfile.TarInfo("artifact/huge")
    bomb.size = 64 * 1024**3
    (folder / "empty.tar.gz").write_bytes(b"")
    huge = io.BytesIO()
    huge.write(bomb.tobuf(format=tarfile.GNU_FORMAT))
    (folder / "bomb.tar.gz").write_bytes(gzip.compress(huge.getvalue()))
    unsigned = [(i, d) for i, d in members if i.name != "manifest.sig"]
    manifest_at = names.index("manifest.json")
    manifest = json.loads(members[manifest_at][1])
    manifest["label"] = "9.9.9"
    forged = list(members)
    forged[manifest_at] = _file("manifest.json", json.dumps(manifest).encode())
    return {
        "flipped byte in the file": (folder / "flipped.tar.gz", "not a whole gzip"),
        "flipped byte in the model": (
            _pack(flipped_member, folder / "member.tar.gz"),
            "but its manifest says",
        ),
        "missing file": (
            _pack([m for k, m in enumerate(members) if k != artifact], folder / "miss.tar.gz"),
            "which its manifest lists",
        ),
        "extra file": (
            _pack([*members, _file("artifact/extra.bin", b"x")], folder / "extra.tar.gz"),
            "which its manifest does not list",
        ),
        "symlink": (_pack([*members, (symlink, b"")], folder / "sym.tar.gz"), "a symlink"),
        "hard link": (_pack([*members, (hardlink, b"")], folder / "hard.tar.gz"), "a hard link"),
        "parent path": (
            _pack([*members, _file("artifact/../../evil.py", b"x")], folder / "dots.tar.gz"),
            "absolute, with '..'",
        ),
        "absolute path": (
            _pack([*members, _file("/tmp/evil.py", b"x")], folder / "abs.tar.gz"),
            "absolute, with '..'",
        ),
        "empty bundle": (folder / "empty.tar.gz", "is empty"),
        "declared-size bomb": (folder / "bomb.tar.gz", "declares more than"),
        "member-count bomb": (
            _pack(
                [*members, *(_file(f"steps/f{n}", b"") for n in range(10_001))],
                folder / "many.tar.gz",
            ),
            "more than 10000 members",
        ),
        "missing signature": (_pack(unsigned, folder / "unsigned.tar.gz"), "is not signed"),
        "forged manifest": (
            _pack(forged, folder / "forged.tar.gz"),
            "signature that does not match",
        ),
    }


ATTACKS = [
    "flipped byte in the file",
    "flipped byte in the model",
    "missing file",
    "extra file",
    "symlink",
    "hard link",
    "parent path",
    "absolute path",
    "empty bundle",
    "declared-size bomb",
    "member-count bomb",
    "missing signature",
    "forged manifest",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_hostile_bundle_is_refused_and_nothing_is_written(
    exported: dict[str, Path], tmp_path: Path, attack: str
) -> None:
    bundle, expected = _attacks(exported, tmp_path)[attack]
    target = _target(tmp_path)
    before = target.config()
    result = target.mvctl("import", str(bundle), "--verify-key", str(exported["public"]))
    assert result.code == 1, result.text
    assert expected in result.err
    assert "Traceback" not in result.text
    assert target.config() == before
    assert sorted(p.name for p in target.root.iterdir()) == ["mvctl.yaml"]
    assert not (tmp_path / "evil.py").exists()


def test_a_bundle_signed_by_another_key_is_refused(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    target = _target(tmp_path)
    result = target.mvctl(
        "import", str(exported["signed"]), "--verify-key", str(exported["other_public"])
    )
    assert result.code == 1
    assert "not by" in result.err and "other.pub" in result.err
    assert target.config() == EMPTY_TARGET


def test_a_declared_bundle_tampered_after_import_is_refused_by_plan(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    target = _target(tmp_path)
    assert target.mvctl("import", str(exported["unsigned"])).code == 0
    bad, _ = _attacks(exported, tmp_path)["extra file"]
    (target.root / "bundles" / "churn-1.0.0.tar.gz").write_bytes(bad.read_bytes())
    plan = target.mvctl("plan")
    assert plan.code == 1
    assert "mvctl.yaml:" in plan.err and "which its manifest does not list" in plan.err
    assert not (target.root / ".mvctl" / "state.db").exists()
