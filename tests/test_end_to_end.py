"""End to end on the local remote, checked against the real gto and `dvc artifacts get`.

One registry is built per module (it takes a few dozen git and DVC calls): two models, two
versions each, stage moves, a demotion, a deregistration and a deprecation, all pushed to a
bare origin. The tests then read it back from a fresh clone, the way a deployment job would.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import baked_world, git, registry

BIN = Path(sys.executable).parent


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def tool(name: str, *args: str, cwd) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(BIN / name), *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{name} {' '.join(args)}: {proc.stderr}{proc.stdout}"
    return proc


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The registry's history, its origin, a fresh clone, and the bytes of every version."""
    baked = baked_world(tmp_path_factory.mktemp("e2e"))
    root, repo, origin = baked

    files = {}
    for name, version, size in [("churn", "v1.0.0", 3000), ("churn", "v1.1.0", 4000)]:
        path = root / f"{name}-{version}.pkl"
        path.write_bytes(os.urandom(size))
        files[(name, version)] = path
    for version in ("v0.1.0", "v0.2.0"):
        folder = root / f"fraud-{version}" / "model"
        (folder / "weights").mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps({"version": version}))
        (folder / "weights" / "layer0.bin").write_bytes(os.urandom(2048))
        files[("fraud", version)] = folder

    steps = [
        ("register", "churn", str(files["churn", "v1.0.0"]), "--version", "v1.0.0"),
        ("register", "churn", str(files["churn", "v1.1.0"]), "--bump", "minor"),
        ("register", "fraud", str(files["fraud", "v0.1.0"]), "--version", "v0.1.0"),
        ("register", "fraud", str(files["fraud", "v0.2.0"]), "--version", "v0.2.0"),
        ("promote", "churn", "v1.0.0", "prod"),
        ("promote", "churn", "v1.1.0", "staging"),
        ("promote", "churn", "v1.1.0", "prod"),
        ("demote", "churn", "staging"),
        ("promote", "fraud", "v0.2.0", "dev"),
        ("deregister", "fraud", "v0.2.0"),
    ]
    for step in steps:
        registry(repo, *step, "--push")
    before_deprecation = json.loads(registry(repo, "resolve", "fraud", "--json").stdout)
    registry(repo, "get", "fraud", "-o", str(root / "fraud-got"))
    registry(repo, "deprecate", "fraud", "--push")

    clone = baked.clone("clone")
    return {"root": root, "repo": repo, "origin": origin, "clone": clone, "files": files,
            "fraud_before_deprecation": before_deprecation}


def resolve(world, ref: str) -> dict:
    return json.loads(registry(world["clone"], "resolve", ref, "--json").stdout)


@pytest.mark.parametrize("ref, version, stage", [
    ("churn", "v1.1.0", None),
    ("churn@latest", "v1.1.0", None),
    ("churn@greatest", "v1.1.0", None),
    ("churn@v1.0.0", "v1.0.0", None),
    ("churn#prod", "v1.1.0", "prod"),
    ("churn#prod#1", "v1.0.0", None),
    ("churn@v1.1.0", "v1.1.0", None),
])
def test_fresh_clone_resolves_every_ref_form(world, ref, version, stage):
    got = resolve(world, ref)
    assert (got["name"], got["version"], got["stage"]) == ("churn", version, stage)
    assert got["commit"] == git(world["clone"], "rev-parse", f"churn@{version}^{{commit}}")
    assert got["artifact"]["md5"] == md5(world["files"]["churn", version])


def test_stage_moves_and_demotion_are_honoured(world):
    assert resolve(world, "churn@v1.1.0")["stages"] == ["prod"]
    assert resolve(world, "churn@v1.0.0")["stages"] == []
    proc = registry(world["clone"], "resolve", "churn#staging", check=False)
    assert proc.returncode == 2 and "no version of churn is in stage 'staging'" in proc.stderr


def test_deregistration_then_deprecation(world):
    assert world["fraud_before_deprecation"]["version"] == "v0.1.0"
    proc = registry(world["clone"], "resolve", "fraud", check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: model 'fraud' is deprecated")
    assert proc.stderr.count("\n") == 1


def test_every_tag_reached_origin(world):
    tags = set(git(world["root"], "ls-remote", "--tags", "--refs", str(world["origin"]))
               .replace("refs/tags/", "").split()[1::2])
    assert {"churn@v1.0.0", "churn@v1.1.0", "fraud@v0.1.0", "fraud@v0.2.0", "churn#prod#1",
            "churn#staging#2", "churn#prod#3", "churn#staging!#4", "fraud#dev#1",
            "fraud@v0.2.0!", "fraud@deprecated"} == tags


@pytest.mark.parametrize("ref, version", [("churn#prod", "v1.1.0"), ("churn@v1.0.0", "v1.0.0"),
                                          ("churn@latest", "v1.1.0")])
def test_get_in_fresh_clone_returns_registered_bytes(world, tmp_path, ref, version):
    out = tmp_path / "model.pkl"
    registry(world["clone"], "get", ref, "-o", str(out))
    assert out.read_bytes() == world["files"]["churn", version].read_bytes()


def test_directory_artifact_round_trips(world):
    """fraud is a folder of files; before its deprecation `get fraud` returned all of them."""
    sent, got = world["files"]["fraud", "v0.1.0"], world["root"] / "fraud-got"
    files = sorted(p.relative_to(sent) for p in sent.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(got) for p in got.rglob("*") if p.is_file())
    assert all((sent / f).read_bytes() == (got / f).read_bytes() for f in files)


def test_deprecated_model_cannot_be_fetched(world, tmp_path):
    out = tmp_path / "fraud"
    proc = registry(world["clone"], "get", "fraud@v0.1.0", "-o", str(out), check=False)
    assert proc.returncode == 2 and "deprecated" in proc.stderr
    assert not out.exists()


def test_get_from_origin_url_without_a_clone(world, tmp_path):
    out = tmp_path / "prod.pkl"
    registry(world["repo"], "get", "churn#prod", "--repo", str(world["origin"]), "-o", str(out),
             cwd=tmp_path)
    assert out.read_bytes() == world["files"]["churn", "v1.1.0"].read_bytes()


def test_get_refuses_to_overwrite_without_force(world, tmp_path):
    out = tmp_path / "model.pkl"
    out.write_bytes(b"keep me")
    proc = registry(world["clone"], "get", "churn", "-o", str(out), check=False)
    assert proc.returncode == 2 and "--force" in proc.stderr
    assert out.read_bytes() == b"keep me"
    registry(world["clone"], "get", "churn", "-o", str(out), "--force")
    assert out.read_bytes() == world["files"]["churn", "v1.1.0"].read_bytes()


# ------------------------------------------------------------------ interoperability


def test_gto_show_agrees_with_registry_list(world):
    ours = {m["name"]: m for m in json.loads(
        registry(world["clone"], "list", "--json").stdout) if not m["deprecated"]}
    theirs = json.loads(tool("gto", "show", "--json", cwd=world["clone"]).stdout)
    assert set(ours) == set(theirs) == {"churn"}
    for name, model in theirs.items():
        assert ours[name]["latest"] == model["version"]
        assert ours[name]["stages"] == {s: v for s, v in model["stage"].items() if v}


@pytest.mark.parametrize("ref", ["churn@latest", "churn#prod", "churn@v1.0.0"])
def test_gto_show_ref_agrees_with_resolve(world, ref):
    theirs = json.loads(tool("gto", "show", ref, "--json", cwd=world["clone"]).stdout)
    ours = resolve(world, ref)
    assert [(v["version"], v["commit_hexsha"]) for v in theirs] == [
        (ours["version"], ours["commit"])]


@pytest.mark.parametrize("tag", ["churn@v1.0.0", "churn#prod#3", "churn#prod#1"])
def test_gto_check_ref_agrees_with_resolve(world, tag):
    theirs = json.loads(tool("gto", "check-ref", tag, "--json", cwd=world["clone"]).stdout)
    ours = resolve(world, tag)
    assert (theirs["artifact"], theirs["version"], theirs["commit_hexsha"], theirs["tag"]) == (
        ours["name"], ours["version"], ours["commit"], tag)


@pytest.mark.parametrize("args, version", [(["--rev", "v1.0.0"], "v1.0.0"),
                                           (["--stage", "prod"], "v1.1.0")])
def test_dvc_artifacts_get_returns_the_same_bytes(world, tmp_path, args, version):
    out = tmp_path / "dvc-got.pkl"
    tool("dvc", "artifacts", "get", str(world["origin"]), "churn", *args, "-o", str(out),
         cwd=tmp_path)
    assert out.read_bytes() == world["files"]["churn", version].read_bytes()
