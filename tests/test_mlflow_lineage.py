"""`register --mlflow-run`: an MLflow run's parameters, metrics and provenance go into the card,
and with no PATH the run's logged model is what gets registered.

A real MLflow tracking server (sqlite backend, artifacts served by it) runs on loopback for the
module; a real run logs parameters, a metric, the source-commit tag and a scikit-learn model
through MLflow's own client. `mlflow server` starts worker processes, so it runs in a session of
its own and the whole process group is stopped at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from support import baked_world, git, registry

mlflow = pytest.importorskip("mlflow")

COMMIT = "3f1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
# a server that does not answer must fail at once, not after MLflow's minutes of retries
FAST = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
         f"sqlite:///{root}/mlflow.db", "--artifacts-destination", str(root / "artifacts"),
         "--serve-artifacts", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mlflow server did not start: "
                                       + (root / "server.log").read_text()[-2000:])
                time.sleep(0.2)
        yield {"uri": uri, "root": root}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def world(server, tmp_path_factory):
    from sklearn.linear_model import LogisticRegression

    import mlflow.sklearn
    client = mlflow.MlflowClient(tracking_uri=server["uri"])
    experiment = client.create_experiment("churn-training")
    mlflow.set_tracking_uri(server["uri"])
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_params({"C": 0.5, "solver": "lbfgs"})
        mlflow.log_metric("auc", 0.91)
        mlflow.set_tag("mlflow.source.git.commit", COMMIT)
        model = LogisticRegression(C=0.5).fit([[0], [1], [2], [3]], [0, 0, 1, 1])
        logged = mlflow.sklearn.log_model(model, name="model")
    root = tmp_path_factory.mktemp("mlflow-registry")
    own = Path(mlflow.artifacts.download_artifacts(
        artifact_uri=client.get_logged_model(logged.model_id).artifact_location,
        dst_path=str(root / "mlflow-download")))
    baked = baked_world(root / "registry")
    return {"repo": baked.repo, "root": root, "run": client.get_run(run.info.run_id),
            "experiment": experiment, "own": own, "uri": server["uri"]}


def state(repo: Path) -> tuple[str, str, str]:
    return (git(repo, "rev-parse", "HEAD"), git(repo, "tag", "--list"),
            git(repo, "status", "--porcelain"))


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_register_a_run_records_its_lineage_and_its_model(world):
    run, repo = world["run"], world["repo"]
    registry(repo, "register", "churn", "--mlflow-run", run.info.run_id, "--version", "v1.0.0",
             env={**FAST, "MLFLOW_TRACKING_URI": world["uri"]})
    registered = repo / "models" / "churn" / "model"
    assert files(registered) == files(world["own"]) and "MLmodel" in files(registered)

    front = yaml.safe_load((repo / "models" / "churn" / "card.md").read_text()
                           .split("---\n")[1])
    recorded = front["registry"]["lineage"]
    assert recorded["params"] == {"C": "0.5", "solver": "lbfgs"}
    assert recorded["run"] == {
        "source": "mlflow", "uri": world["uri"],
        "experiment": {"id": world["experiment"], "name": "churn-training"},
        "run_id": run.info.run_id,
        "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run.info.start_time // 1000)),
        "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run.info.end_time // 1000)),
        "source_commit": COMMIT}
    metrics = front["model-index"][0]["results"][0]["metrics"]
    assert metrics == [{"type": "auc", "name": "auc", "value": 0.91}]

    shown = json.loads(registry(repo, "lineage", "churn@v1.0.0", "--json").stdout)
    assert shown["recorded"] is True and shown["params"] == {"C": "0.5", "solver": "lbfgs"}
    assert shown["run"] == recorded["run"]
    text = registry(repo, "lineage", "churn@v1.0.0").stdout
    assert f"run: {run.info.run_id} at {world['uri']} (experiment churn-training" in text
    assert f"source commit {COMMIT})" in text


def test_an_explicit_metrics_file_and_path_win_over_the_run(world):
    run, repo = world["run"], world["repo"]
    model = world["root"] / "tuned.pkl"
    model.write_bytes(b"a model trained elsewhere from the same run")
    metrics = world["root"] / "metrics.json"
    metrics.write_text(json.dumps({"auc": 0.88}))
    registry(repo, "register", "tuned", str(model), "--mlflow-run", run.info.run_id,
             "--mlflow-uri", world["uri"], "--metrics", str(metrics), env=FAST)
    front = yaml.safe_load((repo / "models" / "tuned" / "card.md").read_text()
                           .split("---\n")[1])
    assert front["registry"]["artifact"]["path"] == "models/tuned/tuned.pkl"
    assert front["registry"]["lineage"]["run"]["run_id"] == run.info.run_id
    assert front["model-index"][0]["results"][0]["metrics"][0]["value"] == 0.88


def test_an_unknown_run_changes_nothing(world):
    repo = world["repo"]
    before = state(repo)
    proc = registry(repo, "register", "ghost", "--mlflow-run", "0" * 32, "--mlflow-uri",
                    world["uri"], check=False, env=FAST)
    assert proc.returncode == 2
    assert f"MLflow run {'0' * 32} not found at {world['uri']}" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert state(repo) == before


def test_a_server_that_does_not_answer_changes_nothing(world):
    repo = world["repo"]
    before = state(repo)
    closed = f"http://ci:s3cret@127.0.0.1:{free_port()}"
    proc = registry(repo, "register", "ghost", "--mlflow-run", world["run"].info.run_id,
                    "--mlflow-uri", closed, check=False, env=FAST)
    assert proc.returncode == 1
    assert "check that the tracking server is up" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "s3cret" not in proc.stderr
    assert state(repo) == before
