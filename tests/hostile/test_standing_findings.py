"""What the standing hostile suite found, each kept as a case of its own: the input, the clear
error it now gets, and every invariant the suite checks (``tests.hostile.standing``).
"""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.hostile.standing import Template, new_case


def test_a_plan_file_that_never_ends_is_refused(trained: Template, cases: Path) -> None:
    """`apply /dev/zero` read forever (a MemoryError, or the machine's memory); a FIFO would
    block. Only a regular file is read as a plan."""
    with new_case(trained, cases) as case:
        os.mkfifo(case.root / "plan.fifo")
        for planfile in ("/dev/zero", "plan.fifo"):
            result = case.run("apply", planfile, "--auto-approve", in_process=False)
            assert result.code == 1, result.text
            assert "is not a regular file" in result.err, result.text


def test_a_config_that_is_not_a_file_says_so(trained: Template, cases: Path) -> None:
    """`-c /dev/null` said the file did not exist; a name too long for the file system crashed."""
    with new_case(trained, cases) as case:
        result = case.run("-c", "/dev/null", "validate")
        assert result.code == 1 and "config file /dev/null is not a regular file" in result.err
        result = case.run("-c", "A" * 300, "plan")
        assert result.code == 1, result.text
        assert "cannot read config file" in result.err and "too long" in result.err


def test_a_store_path_too_long_is_an_error(trained: Template, cases: Path) -> None:
    with new_case(trained, cases) as case:
        case.write("mvctl.yaml", f"store: {'A' * 300}\n" + case.read_config())
        result = case.run("plan")
        assert result.code == 1, result.text
        assert "cannot read the store folder" in result.err and "too long" in result.err


def test_an_actor_that_is_not_utf8_is_refused(trained: Template, cases: Path) -> None:
    """A non-UTF-8 `--actor` reached the state database, which cannot store it."""
    with new_case(trained, cases) as case:
        for command in (b"apply", b"revert"):
            result = case.run_bytes(command, b"--auto-approve", b"--actor", b"bot\x80")
            assert result.code == 1, result.text
            assert "bytes that are not UTF-8" in result.err, result.text


NAMES_NOT_UTF8 = [
    (b"status", b"\xff"),
    (b"history", b"\xfe\xff", b"--json"),
    (b"show", b"tiny@\xff"),
    (b"logs", b"tiny@1.0.0", b"train\xff"),
    (b"compare", b"tiny@1.0.0", b"tiny@\xff"),
    (b"plan", b"--target", b"tiny@\xff"),
    (b"state", b"unlock", b"\xff"),
    (b"state", b"lock", b"--reason", b"\xff"),
]


@pytest.mark.parametrize("argv", NAMES_NOT_UTF8, ids=lambda argv: argv[0].decode())
def test_names_that_are_not_utf8_are_refused(
    trained: Template, cases: Path, argv: tuple[bytes, ...]
) -> None:
    """A name, reference or reason on the command line that is not UTF-8 went to the state
    database, which cannot encode it, or into an error that could not be printed."""
    with new_case(trained, cases) as case:
        result = case.run_bytes(*argv)
        assert result.code == 1, result.text
        assert "\\udcff' holds bytes that are not UTF-8" in result.err, result.text


def test_a_nul_in_state_or_store_is_a_config_error(trained: Template, cases: Path) -> None:
    """`store: "a\\0b"` crashed every command that opened the workspace."""
    with new_case(trained, cases) as case:
        for key in ("state", "store"):
            case.write("mvctl.yaml", f'{key}: "sqlite:///a\\0b"\n' + trained_config(trained))
            result = case.run("validate")
            assert result.code == 1, result.text
            assert f"mvctl.yaml:1:1: '{key}': the {key} location holds a NUL" in result.err, (
                result.text
            )


def trained_config(trained: Template) -> str:
    return (trained.folder / "proj" / "mvctl.yaml").read_text("utf-8")


def test_a_model_that_fails_to_predict_fails_its_evaluation(trained: Template, cases: Path) -> None:
    """A registered skops file of a LogisticRegression without its `solver` loads (every
    type in it is trusted) and then fails in predict with an AttributeError, which crashed
    apply. Now the version's evaluation fails, recorded, and apply says why."""
    source = zipfile.ZipFile(io.BytesIO(trained.skops_model))
    members = {name: source.read(name) for name in source.namelist()}
    schema = json.loads(members["schema.json"])
    del schema["content"]["content"]["solver"]
    members["schema.json"] = json.dumps(schema).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with new_case(trained, cases) as case:
        case.write("models/damaged.skops", buffer.getvalue())
        case.write(
            "mvctl.yaml",
            case.read_config().replace(
                '      "1.1.0": {params: {train: {C: 0.05}}}\n',
                '      "1.1.0": {params: {train: {C: 0.05}}}\n'
                '      "9.0.0": {artifact: models/damaged.skops}\n',
            ),
        )
        result = case.run("apply", "--auto-approve")
        assert result.code == 1, result.text
        assert "fails to predict: AttributeError" in result.text, result.text
        shown = case.run("show", "churn@9.0.0")
        assert "fails to predict" in shown.out, shown.text


def npz(**arrays: object) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def encrypted_member(data: bytes) -> bytes:
    """``data`` (a zip) with its first member flagged as encrypted."""
    changed = bytearray(data)
    changed[6:8] = struct.pack("<H", struct.unpack("<H", data[6:8])[0] | 1)
    central = changed.find(b"PK\x01\x02")
    changed[central + 8 : central + 10] = struct.pack(
        "<H", struct.unpack("<H", changed[central + 8 : central + 10])[0] | 1
    )
    return bytes(changed)


def one_array() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3, 4)))
    return buffer.getvalue()


def deflated_truncated() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("X_test.npy", one_array() * 50)
    data = buffer.getvalue()
    return data[: len(data) // 2]


DAMAGED_NPZ = {
    "empty": b"",
    "one .npy array": one_array(),
    "truncated archive": npz(X_test=np.zeros((3, 4)), y_test=np.zeros(3))[:200],
    "truncated member": deflated_truncated(),
    "encrypted member": encrypted_member(npz(X_test=np.zeros((3, 4)), y_test=np.zeros(3))),
}


@pytest.mark.parametrize("content", DAMAGED_NPZ.values(), ids=DAMAGED_NPZ)
def test_a_damaged_npz_dataset_is_an_evaluation_error(
    trained: Template, cases: Path, content: bytes
) -> None:
    """An empty NPZ ended apply as "Aborted." with exit 130 (numpy's EOFError, which click
    takes for end of input); a truncated or encrypted one was an internal error; each left
    its file open. Now each is the dataset's error, and `compare --data` says the same."""
    with new_case(trained, cases) as case:
        case.write("data/holdout.npz", content)
        case.write(
            "mvctl.yaml",
            case.read_config().replace(
                "{path: data/holdout.csv, label: churned}",
                "{path: data/holdout.npz, x_array: X_test, y_array: y_test}",
            ),
        )
        applied = case.run("apply", "--auto-approve")
        assert applied.code == 1, applied.text
        assert "dataset 'data/holdout.npz'" in applied.text, applied.text
        compared = case.run("compare", "churn@1.0.0", "churn@1.1.0", "--data", "data/holdout.npz")
        assert compared.code == 1, compared.text
        assert "NPZ" in compared.err, compared.text


def test_an_eof_error_escaping_a_command_is_a_bug_report_not_an_interrupt(
    trained: Template, cases: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """click turns an EOFError into the same Abort as Ctrl-C: one escaping a reader of a
    damaged file ended the command as "Aborted.", exit 130, with no trace of what failed."""

    def damaged(*args: object, **kwargs: object) -> None:
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    monkeypatch.setattr("mvctl.ops.status.status", damaged)
    with new_case(trained, cases) as case, pytest.raises(AssertionError, match="Internal error"):
        case.run("status")
    assert "Internal error (EOFError)" in case.commands[-1][1].err
    assert "Aborted" not in case.commands[-1][1].err
    assert case.commands[-1][1].code == 1
