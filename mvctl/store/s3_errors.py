"""What an S3 failure means to the person running mvctl, with the fix, never a botocore traceback.

boto3 reports the same problem in several shapes: a ``ClientError`` with an error code, an
HTTP status with no code (a HEAD has no body), a connection error, or, from its transfer
manager, an ``S3UploadFailedError`` whose cause is one of those. ``translate`` finds the
underlying failure and names the bucket and key it was about.
"""

from __future__ import annotations

from mvctl.errors import MvctlError, NotFoundError, StoreError

CREDENTIAL_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
    }
)
CREDENTIALS_FIX = (
    "Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and that they may "
    "read, write, list and delete objects in the bucket."
)


def translate(
    error: BaseException, *, doing: str, bucket: str, key: str | None, endpoint: str | None
) -> MvctlError | None:
    """The MvctlError for a boto3 failure, or None when ``error`` is not one (a bug: re-raise)."""
    if isinstance(error, MvctlError):
        return error
    cause = _underlying(error)
    where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    name = type(cause).__name__
    if name == "NoCredentialsError" or name == "PartialCredentialsError":
        return StoreError(
            f"no AWS credentials were found for the store s3://{bucket} ({doing})",
            fix="Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE.",
        )
    if name in (
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ConnectionClosedError",
        "ReadTimeoutError",
        "ProxyConnectionError",
    ):
        target = endpoint or "the S3 endpoint"
        return StoreError(
            f"cannot reach {target} while {doing} {where}: {cause}",
            fix="Check the network, or the endpoint in MVCTL_S3_ENDPOINT_URL / AWS_ENDPOINT_URL.",
        )
    response = getattr(cause, "response", None)
    if not isinstance(response, dict):
        if _is_boto(cause):
            return StoreError(f"S3 failed while {doing} {where}: {cause}")
        return None
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = str(response.get("Error", {}).get("Message", "")) or code or f"HTTP {status}"
    if code == "NoSuchBucket" or (status == 404 and key is None):
        return StoreError(
            f"the bucket {bucket} does not exist ({doing} {where})",
            fix=f"Create it (`aws s3 mb s3://{bucket}`) or fix the bucket in `store:` / MVCTL_STORE.",
        )
    if code in ("NoSuchKey", "404") or status == 404:
        return NotFoundError(
            f"blob {where} is missing from the store",
            fix="Restore it from a backup, or re-run the apply that produced it.",
        )
    if code in CREDENTIAL_CODES or status == 403:
        return StoreError(
            f"S3 refused the request ({code or 'HTTP 403'}) while {doing} {where}",
            fix=CREDENTIALS_FIX,
        )
    return StoreError(f"S3 error {code or status} while {doing} {where}: {message}")


def _underlying(error: BaseException) -> BaseException:
    """boto3's transfer errors wrap the real one as their cause or context."""
    seen = error
    while type(seen).__name__ in (
        "S3UploadFailedError",
        "S3TransferFailedError",
        "RetriesExceededError",
    ):
        inner = seen.__cause__ or seen.__context__ or getattr(seen, "last_exception", None)
        if inner is None:
            break
        seen = inner
    return seen


def _is_boto(error: BaseException) -> bool:
    module = type(error).__module__
    return module.startswith(("botocore", "boto3", "s3transfer"))
