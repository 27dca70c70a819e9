"""Lineage: `register --from` records how a version was made, read back by `lineage` and `doc`.

A training repository is built here with a real DVC pipeline: params.yaml, a `prepare` stage
and a `train` stage (`dvc stage add`, `dvc repro`), and its raw data brought with `dvc import`
from a second git + DVC repository. The registry must find the train stage by the model's md5
(the model is registered from a copy with another name), record what dvc.lock says of it and
of the stage upstream, and refuse bad input before it changes anything.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from support import baked_world, data_source, dvc, git, registry, training_repo

TRAIN = """\
import yaml
p = yaml.safe_load(open("params.yaml"))["train"]
rows = open("data/prepared/train.csv").read().splitlines()
open("model.pkl", "w").write(f"model lr={p['lr']} epochs={p['epochs']} rows={len(rows)}")
"""
PARAMS = {"prepare": {"split": 0.25}, "train": {"lr": 0.05, "epochs": 3, "layers": [8, 4]}}
PUBLIC = "https://git.example.com/ml/train.git"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("lineage")
    source = data_source(root / "datasets", store=root / "datasets-store")
    train = training_repo(root / "train", TRAIN, PARAMS, raw_from=source)
    git(train, "remote", "add", "origin", "https://ci:s3cret@git.example.com/ml/train.git")
    dvc(train, "repro", "--quiet")
    git(train, "add", "-A")
    git(train, "commit", "--quiet", "-m", "pipeline")

    baked = baked_world(root / "registry")
    model = root / "churn-model.pkl"  # another name: the stage is found by md5
    shutil.copy(train / "model.pkl", model)
    registry(baked.repo, "register", "churn", str(model), "--version", "v0.1.0",
             "--from", str(train))
    return {"root": root, "repo": baked.repo, "train": train, "source": source,
            "lock": yaml.safe_load((train / "dvc.lock").read_text()),
            "import": yaml.safe_load((train / "data" / "raw.csv.dvc").read_text()),
            "commit": git(train, "rev-parse", "HEAD"), "model": model}


def lineage_json(world, ref: str) -> dict:
    return json.loads(registry(world["repo"], "lineage", ref, "--json").stdout)


def test_register_from_records_the_stage_that_made_the_model(world):
    lock, imported = world["lock"]["stages"], world["import"]
    found = lineage_json(world, "churn@v0.1.0")
    assert found["recorded"] is True
    assert found["repo"] == PUBLIC  # the CI token in origin's URL is not recorded
    assert found["training_commit"] == world["commit"]
    assert found["dirty"] is False
    assert found["training_stage"] == "train"
    assert found["cmd"] == lock["train"]["cmd"]
    assert found["params"] == {"train.lr": 0.05, "train.epochs": 3, "train.layers": [8, 4]}
    prepared = next(o for o in lock["prepare"]["outs"] if o["path"] == "data/prepared")
    assert prepared["md5"].endswith(".dir")
    assert found["deps"] == [{"path": d["path"], "md5": d["md5"]}
                             for d in lock["train"]["deps"]]
    assert {"path": "data/prepared", "md5": prepared["md5"]} in found["deps"]
    raw = next(d for d in lock["prepare"]["deps"] if d["path"] == "data/raw.csv")
    assert raw["md5"] == md5(world["source"] / "raw.csv")
    source_dep = imported["deps"][0]["repo"]
    assert found["upstream"] == [{
        "stage": "prepare", "cmd": lock["prepare"]["cmd"],
        "deps": [{"path": d["path"], "md5": d["md5"],
                  **({"repo": str(world["source"]), "rev_lock": source_dep["rev_lock"]}
                     if d["path"] == "data/raw.csv" else {})}
                 for d in lock["prepare"]["deps"]],
        "params": {"prepare.split": 0.25},
        "outs": [{"path": "data/prepared", "md5": prepared["md5"]}]}]
    assert source_dep["rev_lock"] == git(world["source"], "rev-parse", "HEAD")
    assert "upstream_truncated" not in found


def test_lineage_text_shows_the_chain(world):
    lock = world["lock"]["stages"]
    text = registry(world["repo"], "lineage", "churn@v0.1.0").stdout
    assert f"repo: {PUBLIC}\ncommit: {world['commit']}\nstage: train\n" in text
    assert f"cmd: {lock['train']['cmd']}" in text
    assert "  train.lr: 0.05\n" in text
    raw = next(d for d in lock["prepare"]["deps"] if d["path"] == "data/raw.csv")
    assert (f"    data/raw.csv  md5 {raw['md5']} (imported from {world['source']} at "
            f"{world['import']['deps'][0]['repo']['rev_lock']})") in text
    assert f"  prepare: {lock['prepare']['cmd']}" in text
    prepared = next(o for o in lock["prepare"]["outs"] if o["path"] == "data/prepared")
    assert f"    -> data/prepared  md5 {prepared['md5']}\n" in text  # what train read of it
    assert "s3cret" not in text


def test_doc_places_lineage_under_annex_iv_point_2(world):
    text = registry(world["repo"], "doc", "churn@v0.1.0").stdout
    point2 = text.split("(Annex IV point 2)", 1)[1].split("(Annex IV point 3)", 1)[0]
    lock = world["lock"]["stages"]
    method = point2.split("(Annex IV 2(a))", 1)[1].split("(Annex IV 2(b))", 1)[0]
    assert f"| training repository | {PUBLIC} |" in method
    assert "| stage | train |" in method and f"| command | {lock['train']['cmd']} |" in method
    assert f"| upstream stage prepare | {lock['prepare']['cmd']} |" in method
    params = point2.split("(Annex IV 2(b))", 1)[1].split("(Annex IV 2(d))", 1)[0]
    assert "| train.lr | 0.05 |" in params and "| prepare.split | 0.25 |" not in params
    data = point2.split("(Annex IV 2(d))", 1)[1]
    prepared = next(o for o in lock["prepare"]["outs"] if o["path"] == "data/prepared")
    assert f"| data/prepared | {prepared['md5']} | this repository | train |" in data
    raw = next(d for d in lock["prepare"]["deps"] if d["path"] == "data/raw.csv")
    assert f"| data/raw.csv | {raw['md5']} | {world['source']} at " in data
    assert "not recorded" not in point2


def test_an_artifact_no_stage_made_is_recorded_as_outside_the_pipeline(world):
    other = world["root"] / "hand-made.pkl"
    other.write_text("trained in a notebook")
    registry(world["repo"], "register", "notebook", str(other), "--from", str(world["train"]))
    found = lineage_json(world, "notebook")
    assert found["training_stage"] is None and found["outside_pipeline"] is True
    assert found["cmd"] is None and found["deps"] == [] and found["params"] == {}
    assert found["training_commit"] == world["commit"]
    assert "stage: none (made outside the DVC pipeline" in registry(
        world["repo"], "lineage", "notebook").stdout


def test_params_alone_and_a_version_without_lineage(world):
    model = world["root"] / "plain.pkl"
    model.write_text("plain")
    params = world["root"] / "hyper.json"
    params.write_text(json.dumps({"optimizer": {"name": "adam", "beta": 0.9}, "seed": 7}))
    registry(world["repo"], "register", "plain", str(model), "--params", str(params))
    found = lineage_json(world, "plain")
    assert found["params"] == {"optimizer.name": "adam", "optimizer.beta": 0.9, "seed": 7}
    assert found["repo"] is None and found["training_commit"] is None
    model.write_text("plain, again")
    registry(world["repo"], "register", "plain", str(model))
    assert lineage_json(world, "plain@v0.0.2")["recorded"] is False
    assert "lineage not recorded" in registry(world["repo"], "lineage", "plain@v0.0.2").stdout
    assert "| training lineage | not recorded |" in registry(
        world["repo"], "doc", "plain@v0.0.2").stdout


def test_allow_dirty_records_the_dirty_tree(world):
    dirty = world["root"] / "dirty-clone"
    git(world["root"], "clone", "--quiet", str(world["train"]), str(dirty))
    (dirty / "train.py").write_text(TRAIN + "# tried something\n")
    model = world["root"] / "dirty.pkl"
    model.write_text("dirty model")
    registry(world["repo"], "register", "dirty", str(model), "--from", str(dirty),
             "--allow-dirty")
    found = lineage_json(world, "dirty")
    assert found["dirty"] is True and found["repo"] == str(world["train"])


def snapshot(repo: Path) -> dict:
    return {"refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
            "status": git(repo, "status", "--porcelain", "--ignored", "--untracked-files=all"),
            "files": {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*"))
                      if p.is_file() and ".git" not in p.relative_to(repo).parts[:1]}}


def _not_a_repo(world) -> list[str]:
    folder = world["root"] / "no-git"
    folder.mkdir(exist_ok=True)
    return ["--from", str(folder)]


def _dirty(world) -> list[str]:
    dirty = world["root"] / "dirty-refused"
    if not dirty.exists():
        git(world["root"], "clone", "--quiet", str(world["train"]), str(dirty))
        (dirty / "params.yaml").write_text("train: {lr: 9}\n")
    return ["--from", str(dirty)]


def _params_file(text: str):
    def args(world) -> list[str]:
        path = world["root"] / f"params-{abs(hash(text))}.yaml"
        path.write_text(text)
        return ["--params", str(path)]
    return args


def _bad_lock(world) -> list[str]:
    repo = world["root"] / "bad-lock"
    if not repo.exists():
        repo.mkdir()
        git(repo, "init", "--quiet", "-b", "main")
        (repo / "dvc.lock").write_text("schema: '2.0'\nstages: [unclosed\n")
        git(repo, "add", "-A")
        git(repo, "commit", "--quiet", "-m", "broken lock")
    return ["--from", str(repo)]


@pytest.mark.parametrize("make_args, says", [
    (_not_a_repo, "is not a git repository"),
    (_dirty, "has uncommitted changes (params.yaml)"),
    (_params_file("train: [unclosed\n"), "fix the YAML"),
    (_params_file("- 1\n- 2\n"), "must hold a mapping of parameters"),
    (_bad_lock, "dvc.lock at line"),
], ids=["not-a-repository", "dirty-tree", "params-not-yaml", "params-not-a-mapping",
        "dvc-lock-not-yaml"])
def test_bad_lineage_input_changes_nothing(world, make_args, says):
    model = world["root"] / "refused.pkl"
    model.write_text("never registered")
    args = make_args(world)
    before = snapshot(world["repo"])
    proc = registry(world["repo"], "register", "refused", str(model), *args, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], lines
    assert snapshot(world["repo"]) == before


def test_a_long_pipeline_is_cut_with_a_note(world):
    """dvc.lock as DVC writes it, for a chain of 60 stages: the card keeps 50 upstream."""
    repo = world["root"] / "long-pipeline"
    repo.mkdir()
    git(repo, "init", "--quiet", "-b", "main")
    model = world["root"] / "long.pkl"
    model.write_text("the end of a long chain")
    hashes = [hashlib.md5(f"stage {i}".encode()).hexdigest() for i in range(60)]
    hashes[-1] = md5(model)
    stages = {f"s{i}": {"cmd": f"step {i}", "deps": [{"path": f"in{i}", "md5": hashes[i - 1]}]
                        if i else [], "outs": [{"path": f"in{i + 1}", "md5": hashes[i]}]}
              for i in range(60)}
    (repo / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "long")
    registry(world["repo"], "register", "long", str(model), "--from", str(repo))
    found = lineage_json(world, "long")
    assert found["training_stage"] == "s59"
    assert [u["stage"] for u in found["upstream"]] == [f"s{i}" for i in range(58, 8, -1)]
    assert found["upstream_truncated"].startswith("only the first 50 upstream stages")
    assert "note: only the first 50 upstream stages" in registry(
        world["repo"], "lineage", "long").stdout
