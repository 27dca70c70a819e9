"""The benchmarks' synthetic registry is a real registry: the helper, gto and DVC agree on it.

benchmarks/synth.py writes years of registry history in one `git fast-import`; the benchmark
numbers mean something only if that history is what the helper would have written and the
helper reads it right. On the 1k-tag registry (5 models, 200 tags each: stage moves,
demotions, deregistrations, a deprecated model, a namespaced one), these tests check:

- its cards pass `registry check` (schema, registry block, pointers, dvc.yaml, tags);
- the helper's `list`, `resolve` and `check-ref` give gto's answers, and `resolve` gives
  `dvc.api.artifacts_show`'s commit and path; `which` finds the version an artifact came from;
- reading one model's tags and reading all tags give the same events;
- the read path imports no DVC, GitPython or jsonschema;
- with the tags loose (as `git fetch` leaves them) the answers are the same, and the first read
  packs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import astuple
from pathlib import Path

import pytest

from support import TEMPLATE, registry

sys.path.insert(0, str(TEMPLATE / "benchmarks"))
import synth  # noqa: E402

HEAVY = {"dvc", "git", "gitdb", "jsonschema", "gto", "scmrepo"}


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> synth.Built:
    started = time.perf_counter()
    built = synth.build(tmp_path_factory.mktemp("bench") / "1k", 1000)
    built.seconds["total"] = time.perf_counter() - started
    return built


def helper_json(built: synth.Built, *args: str):
    return json.loads(registry(built.root, *args, "--json").stdout)


def has_command(built: synth.Built, name: str) -> bool:
    return registry(built.root, name, "--help", check=False).returncode == 0


def test_the_registry_is_built_fast_and_its_cards_check(bench):
    assert bench.seconds["total"] < 20, bench.seconds
    assert (bench.tags, bench.models, bench.model_tags) == (1000, 5, 200)
    assert bench.deprecated and any("/" in m["name"] for m in helper_json(bench, "list"))
    out = subprocess.run(["git", "for-each-ref", "--format=%(objecttype)", "refs/tags/"],
                         cwd=bench.root, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["tag"] * 1000
    assert "no problems" in registry(bench.root, "check").stdout


def test_list_and_resolve_answer_as_gto_does(bench):
    import gto.api

    table = gto.api.show(bench.root)  # `gto show`: active models, latest, stages
    listed = {m["name"]: m for m in helper_json(bench, "list")}
    assert {n for n, m in listed.items() if not m["deprecated"]} == set(table)
    assert {n for n, m in listed.items() if m["deprecated"]} == set(bench.deprecated)
    for name, row in table.items():
        stages = {s: v for s, v in row["stage"].items() if v}
        assert (listed[name]["latest"], listed[name]["stages"]) == (row["version"], stages), name
    for ref in (f"{bench.model}@latest", f"{bench.model}#prod"):
        [shown] = gto.api.show(bench.root, ref)
        mine = helper_json(bench, "resolve", ref)
        assert (mine["version"], mine["commit"]) == (shown["version"], shown["commit_hexsha"])


def test_resolve_gives_dvc_artifacts_shows_commit_and_path(bench):
    import dvc.api

    theirs = dvc.api.artifacts_show(bench.model, repo=bench.root)
    mine = helper_json(bench, "resolve", bench.model)
    assert (mine["commit"], mine["artifact"]["path"]) == (theirs["rev"], theirs["path"])


def test_check_ref_answers_as_gto_does(bench):
    if not has_command(bench, "check-ref"):
        pytest.skip("registry check-ref is not implemented yet")
    import gto.api

    names = subprocess.run(["git", "tag", "-l", f"{bench.model}*"], cwd=bench.root,
                           capture_output=True, text=True, check=True).stdout.split()
    # one tag of each kind: registration, assignment, unassignment, deregistration
    picks = [next(t for t in names if t.startswith(f"{bench.model}@v") and "!" not in t),
             next(t for t in names if "#" in t and "!" not in t),
             next(t for t in names if "!#" in t),
             next(t for t in names if t.endswith("!"))]
    for tag in picks:
        [event] = gto.api.check_ref(bench.root, tag)
        proc = registry(bench.root, "check-ref", tag, "--json", check=False)
        mine = json.loads(proc.stdout)
        assert (mine["event"], mine["artifact"], mine["version"], mine["commit_hexsha"],
                mine.get("stage")) == (event.event, event.artifact, event.version,
                                       event.commit_hexsha, getattr(event, "stage", None)), tag


def test_which_finds_the_version_an_artifact_came_from(bench, tmp_path):
    if not has_command(bench, "which"):
        pytest.skip("registry which is not implemented yet")
    name, version = bench.which_version.split("@")
    for query in (bench.which_md5, bench.which_sha256):
        found = helper_json(bench, "which", query)
        assert [(f["name"], f["version"]) for f in found] == [(name, version)]
    artifact = tmp_path / "model.pkl"
    artifact.write_bytes(synth.artifact_bytes(name, version))
    assert helper_json(bench, "which", str(artifact))[0]["version"] == version


def test_one_model_and_all_models_read_the_same_events(bench):
    sys.path.insert(0, str(Path(bench.root) / "src"))
    from model_registry.gitrepo import Git

    git = Git(bench.root)
    every, names = git.tags()
    assert len(names) == len(every) == bench.tags
    for model in {e.model for e in every}:
        mine, _ = git.tags(model)
        assert [astuple(e) for e in mine] == [astuple(e) for e in every if e.model == model]


def test_resolve_imports_no_dvc_gitpython_or_jsonschema(bench):
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "model_registry", "resolve",
         f"{bench.model}@latest"], cwd=bench.root, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(bench.root) / "src")})
    assert proc.returncode == 0, proc.stderr[-500:]
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0]
                for line in proc.stderr.splitlines()
                if line.startswith("import time:") and "|" in line}
    assert "model_registry" in imported
    assert not imported & HEAVY, sorted(imported & HEAVY)


def test_loose_tags_give_the_same_answers_and_get_packed(bench):
    """Runs last in this module: it leaves the registry's tags packed by the helper."""
    before = {ref: helper_json(bench, "resolve", ref)
              for ref in (f"{bench.model}@latest", f"{bench.model}#prod")}
    listed = helper_json(bench, "list")
    assert synth.unpack_refs(bench.root) == bench.tags
    assert synth.loose_tags(bench.root) == bench.tags
    assert {ref: helper_json(bench, "resolve", ref) for ref in before} == before
    assert synth.loose_tags(bench.root) == 0, "the first read leaves the tags packed"
    assert helper_json(bench, "list") == listed
