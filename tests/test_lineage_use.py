"""Using lineage: DVCLive's outputs fill the card, `diff` shows changed parameters and data,
and `which` finds the versions a data set trained.

The training repository runs a real DVC pipeline (`dvc add` raw data, a `prepare` stage that
writes a folder, a `train` stage) whose training script logs with DVCLive's `Live`; two
versions are registered from it with different learning rates, and a second model with an
explicit `--metrics` file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from support import baked_world, git, registry, train_run, training_repo
from test_lineage import md5

TRAIN = """\
import yaml
from dvclive import Live
p = yaml.safe_load(open("params.yaml"))["train"]
rows = open("data/prepared/train.csv").read().splitlines()
open("model.pkl", "w").write(f"model lr={p['lr']} rows={len(rows)}")
with Live() as live:
    live.log_params({"lr": p["lr"], "optimizer": {"name": "adam"}})
    live.log_metric("accuracy", 0.5 + p["lr"])
    live.log_metric("eval/loss", 0.25)
"""


def card_at(repo: Path, tag: str, name: str) -> dict:
    text = git(repo, "show", f"{tag}:models/{name}/card.md")
    return yaml.safe_load(text.split("---\n", 2)[1])


def metrics(front: dict) -> dict:
    return {m["name"]: m["value"] for m in front["model-index"][0]["results"][0]["metrics"]}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("lineage-use")
    train = training_repo(root / "train", TRAIN, {"prepare": {"split": 0.25},
                                                  "train": {"lr": 0.05}}, outs=("dvclive",))
    git(train, "add", "-A")
    git(train, "commit", "--quiet", "-m", "pipeline")  # DVCLive needs a commit to start
    baked = baked_world(root / "registry")
    locks = {}
    for version, lr in (("v0.1.0", 0.05), ("v0.2.0", 0.1)):
        locks[version] = train_run(train, lr)
        registry(baked.repo, "register", "churn", str(train / "model.pkl"),
                 "--version", version, "--from", str(train))
    given = root / "metrics.json"
    given.write_text(json.dumps({"f1": 0.7}))
    registry(baked.repo, "register", "explicit", str(train / "model.pkl"),
             "--from", str(train), "--metrics", str(given))
    # the pull-request flow: the card is committed for review, `release` tags it on merge
    registry(baked.repo, "register", "reviewed", str(train / "model.pkl"), "--from", str(train),
             "--no-tag")
    registry(baked.repo, "release")
    return {"root": root, "repo": baked.repo, "train": train, "locks": locks}


def test_dvclive_metrics_and_params_fill_the_card(world):
    live = json.loads((world["train"] / "dvclive" / "metrics.json").read_text())
    assert live == {"accuracy": 0.6, "eval": {"loss": 0.25}}
    front = card_at(world["repo"], "churn@v0.2.0", "churn")
    assert metrics(front) == {"accuracy": 0.6, "eval.loss": 0.25}
    assert metrics(card_at(world["repo"], "churn@v0.1.0", "churn"))["accuracy"] == 0.55
    found = json.loads(registry(world["repo"], "lineage", "churn@v0.2.0", "--json").stdout)
    # the stage's params (dvc.lock) and the ones DVCLive logged, side by side
    assert found["params"] == {"train.lr": 0.1, "lr": 0.1, "optimizer.name": "adam"}


def test_an_explicit_metrics_file_wins_over_dvclive(world):
    assert metrics(card_at(world["repo"], "explicit@v0.0.1", "explicit")) == {"f1": 0.7}


def test_diff_shows_changed_parameters_and_the_same_data(world):
    text = registry(world["repo"], "diff", "churn@v0.1.0", "churn@v0.2.0").stdout
    params = text.split("Parameters", 1)[1].split("Data", 1)[0]
    assert "train.lr" in params and "0.05" in params and "0.1" in params
    row = next(line for line in params.splitlines() if "train.lr" in line)
    assert "changed" in row
    row = next(line for line in params.splitlines() if "optimizer.name" in line)
    assert "adam" in row and "changed" not in row
    data = text.split("Data", 1)[1].split("Changed fields", 1)[0]
    lock = world["locks"]["v0.2.0"]
    prepared = next(o["md5"] for o in lock["prepare"]["outs"] if o["path"] == "data/prepared")
    row = next(line for line in data.splitlines() if "data/prepared" in line)
    assert row.count(prepared) == 2 and "changed" not in row
    train_py = next(line for line in data.splitlines() if "train.py" in line)
    assert "changed" not in train_py


def test_a_diff_without_lineage_has_no_parameters_or_data(world):
    model = world["root"] / "plain.pkl"
    model.write_text("one")
    registry(world["repo"], "register", "plain", str(model))
    model.write_text("two")
    registry(world["repo"], "register", "plain", str(model))
    text = registry(world["repo"], "diff", "plain@v0.0.1", "plain@v0.0.2").stdout
    assert "Parameters" not in text and "\nData" not in text


def which(world, what: str) -> list[dict]:
    return json.loads(registry(world["repo"], "which", what, "--json").stdout)


def test_which_lists_the_versions_trained_on_a_data_folder_or_file(world):
    lock = world["locks"]["v0.2.0"]
    prepared = next(o["md5"] for o in lock["prepare"]["outs"] if o["path"] == "data/prepared")
    assert prepared.endswith(".dir")
    found = which(world, prepared)
    rows = {(r["name"], r["version"], r["match"]) for r in found}
    assert {("churn", "v0.1.0", "training data"), ("churn", "v0.2.0", "training data"),
            ("explicit", "v0.0.1", "training data"), ("reviewed", "v0.0.1", "training data")
            } == rows
    raw = world["train"] / "data" / "raw.csv"
    by_file = which(world, str(raw))
    assert by_file == which(world, md5(raw)) == found  # raw.csv is upstream: prepare's input
    text = registry(world["repo"], "which", str(raw)).stdout
    assert text.splitlines()[0].split()[:4] == ["name", "version", "status", "match"]
    row = next(line for line in text.splitlines() if "v0.2.0" in line)
    assert row.split()[:5] == ["churn", "v0.2.0", "active", "training", "data"]


def test_which_marks_the_artifact_apart_from_training_data(world):
    found = which(world, md5(world["train"] / "model.pkl"))
    assert {(r["name"], r["version"], r["match"]) for r in found} == {
        ("churn", "v0.2.0", "artifact"), ("explicit", "v0.0.1", "artifact"),
        ("reviewed", "v0.0.1", "artifact")}


def test_which_finds_training_data_from_tags_alone(world):
    """The registration tag attests the data hashes: a card rewritten after the tag does
    not hide the version from `which`."""
    message = git(world["repo"], "tag", "-l", "--format=%(contents)", "churn@v0.1.0")
    prepared = next(o["md5"] for o in world["locks"]["v0.1.0"]["prepare"]["outs"]
                    if o["path"] == "data/prepared")
    assert f"Training-Data-MD5: {prepared}" in message


def test_release_attests_the_training_data_as_register_does(world):
    """A version tagged by `release` after review carries the same data trailers as one
    `register` tags, so `which` finds it by its data from the tag alone."""
    prepared = next(o["md5"] for o in world["locks"]["v0.2.0"]["prepare"]["outs"]
                    if o["path"] == "data/prepared")
    released = git(world["repo"], "tag", "-l", "--format=%(contents)", "reviewed@v0.0.1")
    registered = git(world["repo"], "tag", "-l", "--format=%(contents)", "explicit@v0.0.1")
    assert f"Training-Data-MD5: {prepared}" in released
    trailers = [line for line in registered.splitlines() if line.startswith("Training-Data")]
    assert trailers and [line for line in released.splitlines()
                         if line.startswith("Training-Data")] == trailers


def test_which_an_unrelated_hash_exits_2(world):
    proc = registry(world["repo"], "which", "0" * 32, check=False)
    assert proc.returncode == 2
    assert "no registered version has an artifact or training data" in proc.stderr


def test_dvclive_outputs_not_of_the_run_are_refused(world):
    metrics_file = world["train"] / "dvclive" / "metrics.json"
    kept = metrics_file.read_text()
    metrics_file.write_text(json.dumps({"accuracy": 0.99}))
    before = git(world["repo"], "rev-parse", "HEAD"), git(world["repo"], "status", "--porcelain")
    try:
        proc = registry(world["repo"], "register", "stale", str(world["train"] / "model.pkl"),
                        "--from", str(world["train"]), check=False)
    finally:
        metrics_file.write_text(kept)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not the output dvc.lock records for stage 'train'" in lines[0]
    assert (git(world["repo"], "rev-parse", "HEAD"),
            git(world["repo"], "status", "--porcelain")) == before
    assert not (world["repo"] / "models" / "stale").exists()
    assert "stale" not in git(world["repo"], "tag", "-l")
