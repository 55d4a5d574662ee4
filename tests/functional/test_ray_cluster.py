"""The Ray executor on a real two-node Ray with a real S3 store (moto's server on loopback).

The cluster is started once for the module with `ray start`: a head holding no CPU (so no
step can run there) with a Ray Client server, and a worker node with two CPUs, its own temp
folder, the S3 credentials and mvctl on its path. The apply's process has no node of its own
on the `ray://` address and is not the worker node on the GCS address: every step runs on the
worker node, in a scratch folder, with only what the store holds. What the worker reports is
verified by the apply; a local store with the cluster is refused. Each apply is a real process,
as for a user: one process joins one Ray (a process that joins another Ray after leaving one,
as in-process runs would, has its new actors dropped by Ray at once)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import S3_CREDENTIALS
from tests.functional.projects import REPO, Project, base_env, make_quickstart

pytestmark = [pytest.mark.ray, pytest.mark.s3]
ray = pytest.importorskip("ray", reason="the Ray tests need `pip install -e '.[test]'` (ray)")

RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
"""A loopback test cluster without Ray's token authentication."""


@dataclass(frozen=True)
class Cluster:
    gcs: str
    """HOST:PORT of the head's GCS."""
    client: str
    """The ray:// address of its Ray Client server."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # A short folder: Ray's sockets live under it, and a socket path has at most 107 bytes
    # (pytest's own folders, under xdist, are longer).
    folder = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    gcs, client = free_port(), free_port()
    env = {**os.environ, **RAY_ENV}
    worker_env = {**env, **S3_CREDENTIALS, "PYTHONPATH": str(REPO)}
    ray_cli = [str(Path(sys.executable).with_name("ray")), "start"]
    common = ["--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    head = [
        "--head",
        f"--port={gcs}",
        f"--ray-client-server-port={client}",
        "--num-cpus=0",
        "--include-dashboard=false",
        f"--temp-dir={folder / 'head'}",
    ]
    node = [f"--address=127.0.0.1:{gcs}", "--num-cpus=2", f"--temp-dir={folder / 'node'}"]
    groups = []
    try:
        for args, node_env in ((head, env), (node, worker_env)):
            # A session of its own: the node's daemons stay in its process group, killed below.
            starter = subprocess.Popen(
                [*ray_cli, *args, *common],
                env=node_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            groups.append(starter.pid)
            output, _ = starter.communicate(timeout=180)
            assert starter.returncode == 0, output.decode(errors="replace")
        saved = {name: os.environ.get(name) for name in RAY_ENV}
        os.environ.update(RAY_ENV)
        try:
            yield Cluster(f"127.0.0.1:{gcs}", f"ray://127.0.0.1:{client}")
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    finally:
        for pgid in groups:
            with suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        for pid in _node_processes(folder):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)


def _node_processes(folder: Path) -> list[int]:
    """Processes of the test's nodes that left their group: their command line names the
    nodes' temp folder."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if str(folder).encode() in cmdline:
            pids.append(int(proc.name))
    return pids


def s3_env(bucket: str, endpoint: str) -> dict[str, str]:
    return {
        **S3_CREDENTIALS,
        **RAY_ENV,
        "MVCTL_STORE": f"s3://{bucket}/mvctl",
        "MVCTL_S3_ENDPOINT_URL": endpoint,
    }


def quickstart(root: Path) -> Project:
    """The quickstart with one version, scored without the speed metrics."""
    project = make_quickstart(root)
    project.edit_config(
        "metrics: [accuracy, precision, recall, f1, roc_auc, log_loss, latency_p95_ms, qps]",
        "metrics: [accuracy, f1, roc_auc]",
    )
    project.edit_config("      speed: {batch_size: 32, repetitions: 10, warmup: 2}\n", "")
    project.edit_config(
        '      "1.1.0":\n        description: more and deeper trees\n'
        "        params: {train: {n_estimators: 300, max_depth: 10}}\n",
        "",
    )
    project.edit_config('      staging: "1.1.0"\n', "")
    return project


def test_the_quickstart_trains_on_the_cluster_through_ray_client_and_an_s3_store(
    cluster: Cluster, s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    from mvctl.store.s3 import S3Settings, S3Store

    project = quickstart(tmp_path / "proj")
    env = s3_env(s3_bucket, s3_endpoint)
    executor = f"ray:{cluster.client}"
    applied = project.mvctl(
        "apply", "--auto-approve", "--executor", executor, extra_env=env, process=True
    )
    assert applied.code == 0, applied.text
    shown = json.loads(project.mvctl("show", "cancer@1.0.0", "--json", extra_env=env).out)
    store = S3Store(f"s3://{s3_bucket}/mvctl", S3Settings(endpoint_url=s3_endpoint))
    artifact = shown["artifact_digest"]
    model = store.get_bytes(artifact)  # refuses bytes that do not hash to the digest
    assert "sha256:" + hashlib.sha256(model).hexdigest() == artifact
    assert model[:2] == b"PK"  # a skops archive
    assert not (project.root / ".mvctl" / "store").exists()

    project.edit_config('production: "1.0.0"', 'production: "1.0.0"\n      canary: "1.0.1"')
    project.edit_config(
        "    aliases:",
        '      "1.0.1": {params: {train: {n_estimators: 20}}}\n    aliases:',
    )
    again = project.mvctl(
        "apply", "--auto-approve", "--executor", executor, extra_env=env, process=True
    )
    assert again.code == 0, again.text
    steps = json.loads(project.mvctl("show", "cancer@1.0.1", "--json", extra_env=env).out)
    lineage = steps["lineage"]["steps"]
    assert lineage["prepare"]["cached"] is True and lineage["train"]["cached"] is False
    assert store.has(steps["artifact_digest"]) and steps["artifact_digest"] != artifact
    unchanged = project.mvctl(
        "apply", "--auto-approve", "--executor", executor, extra_env=env, process=True
    )
    assert unchanged.code == 0 and "No changes" in unchanged.out, unchanged.text


UNDECLARED = """\
import os
from mvctl import step
print("running in", os.getcwd(), flush=True)
print(open("data/secret.csv").read())
step.output("out.txt").write_text("never")
"""


def test_a_step_reading_an_undeclared_file_fails_on_the_worker(
    cluster: Cluster, s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    project = Project(tmp_path / "proj", base_env(None))
    project.write("steps/step.py", UNDECLARED)
    project.write("data/secret.csv", "a,b\n1,2\n")
    project.write(
        "mvctl.yaml",
        """\
        project: undeclared
        models:
          m:
            pipeline:
              - {name: only, run: python steps/step.py, deps: [steps/step.py], outputs: [out.txt]}
            versions: {"1": {}}
        """,
    )
    env = s3_env(s3_bucket, s3_endpoint)
    failed = project.mvctl(
        "apply", "--auto-approve", "--executor", f"ray:{cluster.gcs}", extra_env=env, process=True
    )
    assert failed.code == 1, failed.text
    assert "step only exited with code 1" in failed.text, project.mvctl(
        "logs", "m@1", "only", extra_env=env
    ).out
    log = project.mvctl("logs", "m@1", "only", extra_env=env).out
    assert "FileNotFoundError" in log and "data/secret.csv" in log, log
    assert "only its declared file deps and upstream outputs" in log, log
    (cwd,) = [line.split("running in ", 1)[1] for line in log.splitlines() if "running in" in line]
    assert cwd != str(project.root) and "mvctl-step-" in cwd, cwd


POISONER = """\
import hashlib, os
import boto3
from mvctl import step
p = step.params()
content = b"the real model"
key = "mvctl/objects/{0}/{1}".format(*(lambda h: (h[:2], h[2:]))(hashlib.sha256(content).hexdigest()))
client = boto3.session.Session().client("s3", endpoint_url=p["endpoint"])
client.put_object(Bucket=p["bucket"], Key=key, Body=b"something else")
step.output("model.bin").write_bytes(content)
"""


def test_an_output_blob_that_is_not_what_the_worker_reported_is_refused(
    cluster: Cluster, s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    """The step squats the key its output will have with other bytes: the worker, finding the
    key taken, reports the digest without uploading; the apply reads the blob, refuses it,
    removes it and records no output."""
    from mvctl.store.s3 import S3Settings, S3Store

    project = Project(tmp_path / "proj", base_env(None))
    project.write("steps/poison.py", POISONER)
    project.write(
        "mvctl.yaml",
        f"""\
        project: poisoned
        models:
          m:
            pipeline:
              - name: train
                run: python steps/poison.py
                deps: [steps/poison.py]
                params: {{bucket: {s3_bucket}, endpoint: "{s3_endpoint}"}}
                outputs: [model.bin]
            versions: {{"1": {{}}}}
        """,
    )
    env = s3_env(s3_bucket, s3_endpoint)
    refused = project.mvctl(
        "apply", "--auto-approve", "--executor", f"ray:{cluster.gcs}", extra_env=env, process=True
    )
    assert refused.code == 1, refused.text
    assert "output 'model.bin' is not what the worker reported" in refused.text, refused.text
    assert "the blob was removed and nothing was recorded" in refused.text, refused.text
    digest = "sha256:" + hashlib.sha256(b"the real model").hexdigest()
    store = S3Store(f"s3://{s3_bucket}/mvctl", S3Settings(endpoint_url=s3_endpoint))
    assert not store.has(digest)
    shown = json.loads(project.mvctl("show", "m@1", "--json", extra_env=env).out)
    assert shown["status"] == "failed" and shown["artifact_digest"] is None, shown


def test_a_local_store_with_a_multi_node_cluster_is_refused_with_the_fix(
    cluster: Cluster, tmp_path: Path
) -> None:
    project = Project(tmp_path / "proj", base_env(None))
    project.write("steps/step.py", UNDECLARED)
    project.write(
        "mvctl.yaml",
        """\
        project: local
        models:
          m:
            pipeline:
              - {name: only, run: python steps/step.py, deps: [steps/step.py], outputs: [out.txt]}
            versions: {"1": {}}
        """,
    )
    refused = project.mvctl(
        "apply",
        "--auto-approve",
        "--executor",
        f"ray:{cluster.gcs}",
        extra_env=RAY_ENV,
        process=True,
    )
    assert refused.code == 1, refused.text
    assert (
        "is a cluster of 2 nodes, whose workers cannot read or write the local store" in refused.err
    )
    assert "Use an S3 store (`store: s3://BUCKET/PREFIX` or MVCTL_STORE)" in refused.err
    assert "Traceback" not in refused.text
    assert json.loads(project.mvctl("history", "--json").out)["applies"] == []
    assert not list((project.root / ".mvctl" / "store").glob("objects/*/*"))


@pytest.mark.parametrize(
    ("reported", "says"),
    [
        ({"model.bin": "GOOD", "extra.bin": "GOOD"}, "reported outputs 'extra.bin' that the step"),
        ({"model.bin": {"digest": "sha256:nothex", "size": 4}}, "is not a sha256 digest"),
        (
            {"model.bin": {"digest": "GOOD", "size": "4"}},
            "report of output 'model.bin' is malformed",
        ),
        ({"model.bin": {"digest": "ABSENT", "size": 4}}, "which is not in the store"),
        ({"model.bin": {"digest": "GOOD", "size": 5}}, "was reported as 5 bytes"),
    ],
    ids=["undeclared name", "not a digest", "malformed", "absent blob", "wrong size"],
)
def test_a_worker_report_that_does_not_match_the_store_is_refused(
    s3_endpoint: str, s3_bucket: str, reported: dict[str, object], says: str
) -> None:
    from mvctl.apply.ray_remote import verify_outputs
    from mvctl.core.resolve import ResolvedStep
    from mvctl.errors import MvctlError
    from mvctl.store.s3 import S3Settings, S3Store

    store = S3Store(f"s3://{s3_bucket}/mvctl", S3Settings(endpoint_url=s3_endpoint))
    good = store.put_bytes(b"good")
    absent = "sha256:" + hashlib.sha256(b"absent").hexdigest()
    entry = {"digest": good, "size": 4}
    concrete = {
        name: entry
        if value == "GOOD"
        else {
            key: {"GOOD": good, "ABSENT": absent}.get(v, v) if isinstance(v, str) else v
            for key, v in value.items()  # type: ignore[attr-defined]
        }
        for name, value in reported.items()
    }
    step = ResolvedStep("train", "k" * 64, {}, (), ("model.bin",))
    assert verify_outputs(step, {"model.bin": entry}, store) == {"model.bin": good}
    with pytest.raises(MvctlError) as refused:
        verify_outputs(step, concrete, store)
    assert says in refused.value.message
