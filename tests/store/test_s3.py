"""The S3 store over real HTTP against moto's server: round trips, multipart, corruption,
atomic uploads, encryption, and errors that name the bucket and the fix."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mvctl.errors import DigestMismatchError, NotFoundError, StoreError
from mvctl.store.s3 import MIB, S3Settings, S3Store

pytestmark = pytest.mark.s3


def make_store(endpoint: str, bucket: str, **settings: object) -> S3Store:
    return S3Store(f"s3://{bucket}/team/models", S3Settings(endpoint_url=endpoint, **settings))  # type: ignore[arg-type]


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_round_trip_of_files_and_bytes(s3_endpoint: str, s3_bucket: str, tmp_path: Path) -> None:
    store = make_store(s3_endpoint, s3_bucket)
    store.check()
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights" * 1000)
    digest = store.put_file(source)
    assert digest == digest_of(source.read_bytes())
    assert store.has(digest) and not store.has(digest_of(b"other"))
    assert store.key(digest).startswith("team/models/objects/")
    out = tmp_path / "restored" / "model.bin"
    store.get_file(digest, out)
    assert out.read_bytes() == source.read_bytes()
    log = store.put_bytes(b"a step's log\n")
    assert store.get_bytes(log) == b"a step's log\n"
    store.verify(log)
    assert sorted(store.list()) == sorted([digest, log])
    store.delete(log)
    assert list(store.list()) == [digest]


def test_large_files_go_up_in_several_parts(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    store = make_store(
        s3_endpoint, s3_bucket, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB
    )
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(11 * MIB))
    digest = store.put_file(source)
    head = store.client.head_object(Bucket=s3_bucket, Key=store.key(digest))
    assert head["ETag"].strip('"').endswith("-3"), head["ETag"]
    out = tmp_path / "big.out"
    store.get_file(digest, out)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == digest[len("sha256:") :]


def test_corrupt_object_is_refused_on_every_read(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    store = make_store(s3_endpoint, s3_bucket)
    digest = store.put_bytes(b"the real model")
    key = store.key(digest)
    store.client.put_object(Bucket=s3_bucket, Key=key, Body=b"tampered")
    dest = tmp_path / "model.bin"
    with pytest.raises(DigestMismatchError, match=f"s3://{s3_bucket}/{key} is corrupt"):
        store.get_file(digest, dest)
    assert not dest.exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(DigestMismatchError, match=key):
        store.get_bytes(digest)
    with pytest.raises(DigestMismatchError, match="aws s3 rm"):
        store.verify(digest)


def test_a_failed_multipart_upload_leaves_no_object_and_no_parts(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    from botocore.exceptions import EndpointConnectionError

    store = make_store(
        s3_endpoint,
        s3_bucket,
        multipart_threshold=5 * MIB,
        multipart_chunksize=5 * MIB,
        max_concurrency=1,
    )
    parts: list[int] = []

    def lose_the_network_on_part_two(params: dict, **_: object) -> None:
        parts.append(params["PartNumber"])
        if params["PartNumber"] == 2:
            raise EndpointConnectionError(endpoint_url=s3_endpoint)

    store.client.meta.events.register(
        "before-parameter-build.s3.UploadPart", lose_the_network_on_part_two
    )
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(11 * MIB))
    with pytest.raises(
        StoreError, match=f"cannot reach {s3_endpoint} while uploading s3://{s3_bucket}/"
    ):
        store.put_file(source)
    assert 2 in parts
    digest = digest_of(source.read_bytes())
    assert not store.has(digest)
    uploads = store.client.list_multipart_uploads(Bucket=s3_bucket)
    assert uploads.get("Uploads", []) == []


def test_a_file_changed_while_uploading_is_not_kept(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    store = make_store(s3_endpoint, s3_bucket)
    source = tmp_path / "model.bin"
    source.write_bytes(b"version one")
    digest = digest_of(source.read_bytes())

    def someone_writes_the_file(**_: object) -> None:
        with source.open("ab") as handle:
            handle.write(b" and more")

    store.client.meta.events.register(
        "before-parameter-build.s3.PutObject", someone_writes_the_file
    )
    with pytest.raises(StoreError, match="changed while it was uploaded"):
        store.put_file(source)
    assert not store.has(digest)


def test_server_side_encryption_is_requested(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    store = make_store(s3_endpoint, s3_bucket, sse="AES256")
    source = tmp_path / "model.bin"
    source.write_bytes(b"secret weights")
    for digest in (store.put_file(source), store.put_bytes(b"log")):
        head = store.client.head_object(Bucket=s3_bucket, Key=store.key(digest))
        assert head["ServerSideEncryption"] == "AES256"


def test_missing_object_is_not_found(s3_endpoint: str, s3_bucket: str, tmp_path: Path) -> None:
    store = make_store(s3_endpoint, s3_bucket)
    absent = digest_of(b"never stored")
    with pytest.raises(NotFoundError, match="is missing from the store"):
        store.get_file(absent, tmp_path / "x")
    with pytest.raises(NotFoundError, match=store.key(absent)):
        store.verify(absent)


def test_missing_bucket_names_it_and_the_fix(s3_endpoint: str, s3_bucket: str) -> None:
    store = make_store(s3_endpoint, "no-such-bucket-here")
    with pytest.raises(StoreError, match="the bucket no-such-bucket-here does not exist") as caught:
        store.check()
    assert "aws s3 mb s3://no-such-bucket-here" in str(caught.value)
    with pytest.raises(StoreError, match="does not exist"):
        store.put_bytes(b"x")


def test_refused_credentials_name_the_bucket_and_the_fix(
    s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto import settings

    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    store = make_store(s3_endpoint, s3_bucket)
    with pytest.raises(StoreError, match=f"S3 refused the request .* s3://{s3_bucket}") as caught:
        store.check()
    assert "AWS_ACCESS_KEY_ID" in str(caught.value)


def test_unreachable_endpoint_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    store = S3Store("s3://bucket", S3Settings(endpoint_url=endpoint, max_attempts=1))
    with pytest.raises(
        StoreError, match=f"cannot reach {endpoint} while opening the store s3://bucket"
    ):
        store.check()


def test_missing_credentials_say_what_to_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3Store("s3://bucket", S3Settings(endpoint_url=f"http://127.0.0.1:{_closed_port()}"))
    with pytest.raises(StoreError, match=r"no AWS credentials .* Set AWS_ACCESS_KEY_ID"):
        store.check()


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_check_writable_leaves_no_blob_behind(s3_endpoint: str, s3_bucket: str) -> None:
    store = make_store(s3_endpoint, s3_bucket)
    store.check_writable()
    store.check_writable()
    head = store.client.head_object(Bucket=s3_bucket, Key="team/models/tmp/write-check")
    assert head["ContentLength"] == 0
    assert list(store.list()) == []
