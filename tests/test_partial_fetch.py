"""`get --repo URL` and `resolve --repo URL` fetch only what they need, from any git server.

One registry with three models (one in a namespace) is pushed to a bare origin that allows
filters (`uploadpack.allowFilter`, as GitHub and GitLab do), and mirrored to servers that
ignore filters, refuse tree filters, or have a HEAD that names no branch. What the helper
fetched is read from git's own packet trace (GIT_TRACE_PACKET): the refs the server listed for
it and every object it asked for. Every server gives the same bytes and answers.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support import baked_world, git, helper_env, registry

# A line of GIT_TRACE_PACKET as the fetching side logs it: `fetch<` what it received,
# `fetch>` what it sent.
PACKET = re.compile(r"packet: +fetch([<>]) (.*)$")
MODELS = ("churn", "fraud", "team/ltv")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Three models with two versions each and stages, pushed to an origin that allows
    filters; the bytes of every version; mirrors of origin under other server settings."""
    baked = baked_world(tmp_path_factory.mktemp("partial"))
    root, repo, origin = baked
    files = {}
    for name in MODELS:
        for n, version in enumerate(("v1.0.0", "v1.1.0")):
            path = root / name / version / "model.bin"
            path.parent.mkdir(parents=True)
            path.write_bytes(os.urandom(3000 + n))
            files[name, version] = path
            registry(repo, "register", name, str(path), "--version", version, "--push")
        registry(repo, "promote", name, "v1.0.0", "prod", "--push")
    git(origin, "config", "uploadpack.allowFilter", "true")
    servers = {"filters": origin}
    for name, settings in (("no-filters", {}),
                           ("no-tree-filters", {"uploadpack.allowFilter": "true",
                                                "uploadpackfilter.tree.allow": "false"}),
                           ("no-head", {"uploadpack.allowFilter": "true"})):
        mirror = root / f"{name}.git"
        git(root, "clone", "--quiet", "--mirror", str(origin), str(mirror))
        for key, value in settings.items():
            git(mirror, "config", key, value)
        servers[name] = mirror
    git(servers["no-head"], "symbolic-ref", "HEAD", "refs/heads/gone")
    return {"root": root, "repo": repo, "files": files, "servers": servers}


def fetched(world, tmp_path, *args: str) -> tuple[dict, list[tuple[str, str]]]:
    """Run `registry ARGS --json` from an empty folder with git's packet trace on; returns
    its answer and the trace's (direction, packet) pairs of the fetching side."""
    trace = tmp_path / "packets.log"
    proc = registry(world["repo"], *args, "--json", cwd=tmp_path,
                    env={"GIT_TRACE_PACKET": str(trace)})
    assert proc.stderr == ""  # no fallback is ever reported
    packets = [m.groups() for m in map(PACKET.search, trace.read_text().splitlines()) if m]
    trace.unlink()
    return json.loads(proc.stdout), packets


def listed_refs(packets) -> set[str]:
    """The refs the server listed to the helper (ls-refs answers)."""
    return {p.split()[1] for d, p in packets if d == "<" and re.match("[0-9a-f]{40} ", p)}


def wanted(packets) -> set[str]:
    return {p.split()[1] for d, p in packets if d == ">" and p.startswith("want ")}


def model_refs(origin: Path, name: str) -> set[str]:
    return {f"refs/tags/{t}" for t in git(origin, "tag", "--list", f"{name}@*", f"{name}#*"
                                          ).split()}


def objects_of(origin: Path, name: str) -> set[str]:
    """Every object of one model a fetch could ask for: its tag objects, its commits (but
    HEAD's, which every fetch needs), and its card and pointer at each of them."""
    refs = git(origin, "for-each-ref", "--format=%(objectname) %(*objectname)",
               f"refs/tags/{name}@*", f"refs/tags/{name}#*").split()
    commits = set(refs[1::2]) - {git(origin, "rev-parse", "HEAD")}
    files = {git(origin, "rev-parse", f"{c}:models/{name}/{f}")
             for c in commits for f in ("card.md", "model.bin.dvc")}
    return set(refs[::2]) | commits | files


def test_get_fetches_the_models_tags_and_the_files_it_reads(world, tmp_path):
    origin = world["servers"]["filters"]
    out = tmp_path / "model.bin"
    got, packets = fetched(world, tmp_path, "get", "churn@v1.1.0", "--repo", str(origin),
                           "-o", str(out))
    assert out.read_bytes() == world["files"]["churn", "v1.1.0"].read_bytes()
    assert got["commit"] == git(origin, "rev-parse", "churn@v1.1.0^{commit}")
    assert listed_refs(packets) == {"HEAD"} | model_refs(origin, "churn")
    sent = {p for d, p in packets if d == ">"}
    assert {"deepen 1", "filter tree:0"} <= sent
    asked = wanted(packets)
    assert not asked & (objects_of(origin, "fraud") | objects_of(origin, "team/ltv"))
    assert asked >= {git(origin, "rev-parse", f"churn@v1.1.0:models/churn/{f}")
                     for f in ("model.bin.dvc", "card.md")}
    assert git(origin, "rev-parse", "churn@v1.0.0:models/churn/card.md") not in asked


@pytest.mark.parametrize("ref", ["team/ltv#prod", "team/ltv", "fraud@v1.1.0"])
def test_resolve_from_a_url_answers_as_a_clone_does(world, tmp_path, ref):
    origin = world["servers"]["filters"]
    got, packets = fetched(world, tmp_path, "resolve", ref, "--repo", f"file://{origin}")
    assert got == json.loads(registry(world["repo"], "resolve", ref, "--json").stdout)
    name = ref.split("#")[0].split("@")[0]
    assert listed_refs(packets) == {"HEAD"} | model_refs(origin, name)


@pytest.mark.parametrize("server, filters", [
    ("no-filters", set()),
    ("no-tree-filters", {"filter tree:0", "filter blob:none"}),
    ("no-head", set()),
])
def test_servers_that_refuse_part_of_it_give_the_same_bytes(world, tmp_path, server, filters):
    """A server ignoring filters sends the files too; one refusing tree filters is asked to
    leave out files alone; a HEAD naming no branch takes a full clone. None of it is
    reported (fetched() checks stderr)."""
    out = tmp_path / "model.bin"
    got, packets = fetched(world, tmp_path, "get", "fraud#prod", "--repo",
                           str(world["servers"][server]), "-o", str(out))
    assert out.read_bytes() == world["files"]["fraud", "v1.0.0"].read_bytes()
    assert got["version"] == "v1.0.0"
    assert {p for d, p in packets if d == ">" and p.startswith("filter ")} == filters


def test_api_takes_a_url(world, tmp_path):
    """The Python API's get and resolve with repo=URL fetch the same way."""
    origin = world["servers"]["filters"]
    script = ("import json, sys; from model_registry import api; "
              "r = api.resolve('churn#prod', repo=sys.argv[1]); "
              "g = api.get('churn#prod', sys.argv[2], repo=sys.argv[1]); "
              "print(json.dumps([api.to_json(r), api.to_json(g)]))")
    trace = tmp_path / "packets.log"
    out = tmp_path / "api.bin"
    proc = subprocess.run([sys.executable, "-c", script, str(origin), str(out)], cwd=tmp_path,
                          capture_output=True, text=True,
                          env=helper_env(world["repo"], {"GIT_TRACE_PACKET": str(trace)}))
    assert proc.returncode == 0, proc.stderr
    resolved, got = json.loads(proc.stdout)
    assert resolved["version"] == got["version"] == "v1.0.0"
    assert out.read_bytes() == world["files"]["churn", "v1.0.0"].read_bytes()
    packets = [m.groups() for m in map(PACKET.search, trace.read_text().splitlines()) if m]
    assert listed_refs(packets) == {"HEAD"} | model_refs(origin, "churn")


@pytest.mark.parametrize("args, status, message", [
    (("get", "churn", "--repo", "{root}/nowhere.git"), 1, "error: could not fetch from "),
    (("get", "ghost", "--repo", "{origin}"), 2, "error: no model named 'ghost'"),
    (("resolve", "churn@v9.0.0", "--repo", "{origin}"), 2, "error: churn has no active "),
])
def test_a_bad_url_or_a_missing_model_is_one_line(world, tmp_path, args, status, message):
    args = [a.format(root=world["root"], origin=world["servers"]["filters"]) for a in args]
    proc = registry(world["repo"], *args, cwd=tmp_path, check=False)
    assert proc.returncode == status
    assert proc.stderr.startswith(message) and proc.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
