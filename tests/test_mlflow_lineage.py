"""`register --mlflow-run`: an MLflow run's parameters, metrics and provenance go into the card,
and with no PATH the run's logged model is what gets registered.

A real MLflow tracking server (mlflow_server.py: sqlite backend, artifacts served by it) runs
on loopback for the module; a real run logs parameters, a metric, the source-commit tag and a
scikit-learn model through MLflow's own client.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from mlflow_server import FAST, free_port, mlflow_server  # noqa: F401  (the server fixture)
from support import baked_world, git, registry

mlflow = pytest.importorskip("mlflow")

COMMIT = "3f1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"


@pytest.fixture(scope="module")
def world(mlflow_server, tmp_path_factory):
    from sklearn.linear_model import LogisticRegression

    import mlflow.sklearn
    client = mlflow.MlflowClient(tracking_uri=mlflow_server["uri"])
    experiment = client.create_experiment("churn-training")
    mlflow.set_tracking_uri(mlflow_server["uri"])
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
            "experiment": experiment, "own": own, "uri": mlflow_server["uri"]}


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


def test_without_mlflow_installed_one_line_names_the_extra(world, tmp_path):
    """MLflow is an optional extra. A Python path entry that shadows it with a module raising
    ImportError stands in for a venv without it: the helper itself is untouched."""
    shadow = tmp_path / "no-mlflow"
    shadow.mkdir()
    (shadow / "mlflow.py").write_text("raise ImportError('No module named mlflow')\n")
    repo = world["repo"]
    before = state(repo)
    for args in (["register", "ghost", "--mlflow-run", world["run"].info.run_id,
                  "--mlflow-uri", world["uri"]],
                 ["import", "mlflow", "--uri", world["uri"]]):
        proc = registry(repo, *args, check=False,
                        env={"PYTHONPATH": f"{shadow}:{repo / 'src'}"})
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().splitlines() == [
            proc.stderr.strip()] and 'pip install -e ".[mlflow]"' in proc.stderr
    assert state(repo) == before
