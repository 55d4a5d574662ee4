"""Content-addressed blobs in S3 (or an S3-compatible service): ``s3://bucket/prefix``.

Blobs live at ``<prefix>/objects/ab/cdef...`` like the local store's files. A file is hashed
before it is sent, so its key is known and a blob the store already holds is not uploaded
again. An object appears under its key only when its upload completes: a single PUT is atomic,
and a multipart upload (files over the multipart threshold) becomes visible only on
CompleteMultipartUpload; one that fails is aborted by boto3's transfer manager, so no parts are
left behind. A source file that changes while it is sent is caught by its stat, and the
object is removed. Every read hashes the bytes as they arrive and refuses them if they do not
match the key's digest.

Settings come from the environment: ``MVCTL_S3_ENDPOINT_URL`` (else ``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL``) for S3-compatible services, ``MVCTL_S3_SSE`` (``AES256`` or ``aws:kms``)
and ``MVCTL_S3_KMS_KEY_ID`` for server-side encryption; credentials and region are boto3's
own (``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ``AWS_DEFAULT_REGION``, ...). Requests are retried
with exponential backoff (botocore's standard retry mode). boto3 is imported when a store is
opened, never with the CLI.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvctl.errors import DigestMismatchError, StoreError, UsageError
from mvctl.store.blobs import CHUNK, DIGEST_PREFIX, hash_file, hex_of
from mvctl.store.s3_errors import translate

MIB = 1024 * 1024
SSE_MODES = ("AES256", "aws:kms", "aws:kms:dsse")
ENDPOINT_ENVS = ("MVCTL_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
WRITE_CHECK_KEY = "tmp/write-check"


@dataclass(frozen=True)
class S3Settings:
    """How to reach the bucket and how to write to it."""

    endpoint_url: str | None = None
    sse: str | None = None
    kms_key_id: str | None = None
    multipart_threshold: int = 64 * MIB
    multipart_chunksize: int = 16 * MIB
    max_concurrency: int = 8
    max_attempts: int = 8

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> S3Settings:
        endpoint = next((environ[name] for name in ENDPOINT_ENVS if environ.get(name)), None)
        sse = environ.get("MVCTL_S3_SSE") or None
        if sse is not None and sse not in SSE_MODES:
            raise UsageError(
                f"MVCTL_S3_SSE={sse!r} is not a server-side encryption mode S3 knows",
                fix=f"Use one of {', '.join(SSE_MODES)}, or unset it.",
            )
        return cls(
            endpoint_url=endpoint, sse=sse, kms_key_id=environ.get("MVCTL_S3_KMS_KEY_ID") or None
        )


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix without surrounding slashes) of ``s3://bucket/prefix``."""
    rest = url[len("s3://") :] if url.startswith("s3://") else ""
    bucket, _, prefix = rest.partition("/")
    if not bucket or not all(c.isalnum() or c in ".-_" for c in bucket):
        raise UsageError(
            f"store {url!r} is not an S3 URL with a bucket name",
            fix="Write it as s3://BUCKET or s3://BUCKET/PREFIX in `store:` or MVCTL_STORE.",
        )
    return bucket, prefix.strip("/")


class _HashingWriter:
    """A write-only sink: boto3 writes a download into it in order, and it hashes as it goes.

    It has no ``seek``, so boto3's transfer manager writes the ranges it fetches in parallel
    strictly in order, which is what a running hash needs.
    """

    def __init__(self, out: Any) -> None:
        self.out = out
        self.hasher = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.hasher.update(data)
        written: int = self.out.write(data)
        return written


class S3Store:
    """A blob store in an S3 bucket under a prefix."""

    def __init__(self, url: str, settings: S3Settings | None = None) -> None:
        self.bucket, self.prefix = parse_s3_url(url)
        self.display = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.settings = settings or S3Settings.from_env(os.environ)
        try:
            import boto3
            from boto3.s3.transfer import TransferConfig
            from botocore.config import Config
        except ImportError as error:
            raise StoreError(
                f"the store {self.display} needs boto3, which is not installed",
                fix="Install it with `pip install 'mvctl[s3]'`.",
            ) from error
        config = Config(
            retries={"max_attempts": self.settings.max_attempts, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
            s3={"addressing_style": "path"} if self.settings.endpoint_url else None,
        )
        self.client: Any = boto3.session.Session().client(
            "s3", endpoint_url=self.settings.endpoint_url, config=config
        )
        self._transfer = TransferConfig(
            multipart_threshold=self.settings.multipart_threshold,
            multipart_chunksize=self.settings.multipart_chunksize,
            max_concurrency=self.settings.max_concurrency,
        )
        self._extra: dict[str, str] = {}
        if self.settings.sse:
            self._extra["ServerSideEncryption"] = self.settings.sse
            if self.settings.kms_key_id:
                self._extra["SSEKMSKeyId"] = self.settings.kms_key_id

    def key(self, digest: str) -> str:
        hexdigest = hex_of(digest)
        return f"{self._objects()}{hexdigest[:2]}/{hexdigest[2:]}"

    def _objects(self) -> str:
        return f"{self.prefix}/objects/" if self.prefix else "objects/"

    @contextmanager
    def _errors(self, doing: str, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except Exception as error:
            translated = translate(
                error, doing=doing, bucket=self.bucket, key=key, endpoint=self.settings.endpoint_url
            )
            if translated is None:
                raise
            raise translated from error

    def check(self) -> None:
        """Fail early, with the fix, when the bucket is missing or the credentials are refused."""
        with self._errors("opening the store"):
            self.client.head_bucket(Bucket=self.bucket)

    def location(self, digest: str) -> str:
        return f"s3://{self.bucket}/{self.key(digest)}"

    def check_writable(self) -> None:
        """Write one small object beside the blobs (always the same key, so nothing piles up,
        and outside ``objects/``, so gc never sees it): credentials that may read but not
        write fail here instead of after training."""
        key = f"{self.prefix}/{WRITE_CHECK_KEY}" if self.prefix else WRITE_CHECK_KEY
        with self._errors("writing", key):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=b"", **self._extra)

    def put_file(self, path: Path) -> str:
        digest = hash_file(path)
        if self.has(digest):
            return digest
        key = self.key(digest)
        before = path.stat()
        with self._errors("uploading", key):
            self.client.upload_file(
                str(path), self.bucket, key, ExtraArgs=self._extra or None, Config=self._transfer
            )
        after = path.stat()
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            with self._errors("removing a changed upload", key):
                self.client.delete_object(Bucket=self.bucket, Key=key)
            raise StoreError(
                f"{path} changed while it was uploaded to s3://{self.bucket}/{key}",
                fix="Make sure nothing writes the file during `mvctl apply`, then run it again.",
            )
        return digest

    def put_bytes(self, data: bytes) -> str:
        digest = DIGEST_PREFIX + hashlib.sha256(data).hexdigest()
        if self.has(digest):
            return digest
        key = self.key(digest)
        with self._errors("uploading", key):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **self._extra)
        return digest

    def has(self, digest: str) -> bool:
        key = self.key(digest)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as error:
            if _status(error) == 404 and _code(error) != "NoSuchBucket":
                return False
            with self._errors("looking up", key):
                raise
        return True

    def get_file(self, digest: str, dest: Path) -> None:
        """Download to a temporary name beside ``dest``, hashing as it arrives; rename if right."""
        key = self.key(digest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        temp = dest.with_name(dest.name + ".mvctl-tmp")
        try:
            with temp.open("wb") as out:
                sink = _HashingWriter(out)
                with self._errors("downloading", key):
                    self.client.download_fileobj(self.bucket, key, sink, Config=self._transfer)
            self._check_digest(digest, key, DIGEST_PREFIX + sink.hasher.hexdigest())
            os.replace(temp, dest)
        finally:
            temp.unlink(missing_ok=True)

    def get_bytes(self, digest: str) -> bytes:
        key = self.key(digest)
        with self._errors("downloading", key):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
        self._check_digest(digest, key, DIGEST_PREFIX + hashlib.sha256(data).hexdigest())
        return data

    def verify(self, digest: str) -> None:
        """Stream the object through sha256 without keeping it."""
        key = self.key(digest)
        hasher = hashlib.sha256()
        with self._errors("reading", key):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            try:
                for chunk in body.iter_chunks(CHUNK):
                    hasher.update(chunk)
            finally:
                body.close()
        self._check_digest(digest, key, DIGEST_PREFIX + hasher.hexdigest())

    def _check_digest(self, digest: str, key: str, actual: str) -> None:
        if actual != digest:
            raise DigestMismatchError(
                f"blob {digest} at s3://{self.bucket}/{key} is corrupt (its content hashes to {actual})",
                fix=f"Delete it (`aws s3 rm s3://{self.bucket}/{key}`) and re-run `mvctl apply` "
                "to rebuild it.",
            )

    def list(self) -> Iterator[str]:
        objects = self._objects()
        with self._errors("listing", objects):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=objects
            )
            for page in pages:
                for item in page.get("Contents", ()):
                    name = str(item["Key"])[len(objects) :].replace("/", "")
                    if len(name) == 64 and all(c in "0123456789abcdef" for c in name):
                        yield DIGEST_PREFIX + name

    def delete(self, digest: str) -> None:
        key = self.key(digest)
        with self._errors("deleting", key):
            self.client.delete_object(Bucket=self.bucket, Key=key)


def _status(error: Exception) -> int | None:
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
