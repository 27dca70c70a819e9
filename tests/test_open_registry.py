"""Any git repository with gto's tags, read as it is: no registry.yaml, no helper committed.

The repository is built here the way a team using gto builds one: `gto register`, `gto assign`
and `gto deprecate`, with a model tracked by DVC, one committed to git, and one in a folder
(`sub:net`, whose tags read `sub=net`); then tags gto writes in its other modes, made by hand:
a registration, a deregistration and an unassignment with counters, a stage name with a slash,
and tags gto ignores. The helper runs from the template's source, as a user who installed it
would run it there. Each read command answers, and gives gto's answer where gto has one; each
writing command refuses with one line naming the way to adopt the repository, and changes
nothing.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import TEMPLATE, dvc, git, helper_env

BIN = Path(sys.executable).parent
HELPER = TEMPLATE / "{{cookiecutter.project_slug}}"  # its src/ is put on the Python path
GTO_EVENTS = {"register": "registration", "deregister": "deregistration",
              "assign": "assignment", "unassign": "unassignment", "deprecate": "deprecation"}
# Tags gto writes with counters or without them (modes other than its defaults), and tags
# gto ignores: made by hand after gto's, a few seconds apart, so their order is certain.
HAND_MADE = [
    ("churn@v0.2.0#3", "c3"),  # a registration with a counter
    ("churn#staging!#4", "c1"),  # an unassignment: staging holds no version after it
    ("churn@v0.0.1!#5", "c1"),  # a deregistration with a counter
    ("notes#ml/eu-west_2#2", "c1"),  # any stage name gto takes
    ("GTO-tag", "c3"), ("a=b", "c3"), ("churn@v1", "c3"), ("a=b=churn@v9.0.0", "c3"),
]


def registry(cwd, *args: str) -> subprocess.CompletedProcess:
    """The helper from the template's source, run in `cwd`; no bytecode is written there."""
    return subprocess.run([sys.executable, "-m", "model_registry", *args], cwd=cwd,
                          capture_output=True, text=True,
                          env=helper_env(HELPER, {"PYTHONDONTWRITEBYTECODE": "1"}))


def read(cwd, *args: str):
    """A read command's --json answer; it must succeed."""
    proc = registry(cwd, *args, "--json")
    assert proc.returncode == 0, f"registry {' '.join(args)}: {proc.stderr}"
    return json.loads(proc.stdout)


def gto(cwd, *args: str) -> str:
    proc = subprocess.run([str(BIN / "gto"), *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"gto {' '.join(args)}: {proc.stderr}{proc.stdout}"
    return proc.stdout


def churn_bytes(take: int, size: int) -> bytes:
    """churn's artifact as committed at c1, c2 or c3 (v0.0.1, v0.1.0, v0.2.0)."""
    return hashlib.sha512(str(take).encode()).digest() * (size // 64)


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def gto_repo(tmp_path_factory):
    """The repository and the commits c1..c3 its versions sit on."""
    root = tmp_path_factory.mktemp("open")
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet", "-b", "main")
    dvc(repo, "init", "--quiet")
    dvc(repo, "remote", "add", "--default", "storage", str(root / "dvc-remote"))
    (repo / "models" / "churn").mkdir(parents=True)
    (repo / "sub").mkdir()
    (repo / "notes").mkdir()
    (repo / "dvc.yaml").write_text(
        "artifacts:\n  churn:\n    path: models/churn/model.pkl\n    type: model\n"
        "  notes:\n    path: notes/weights.txt\n    type: model\n")
    (repo / "sub" / "dvc.yaml").write_text("artifacts:\n  net:\n    path: net.bin\n")
    (repo / "notes" / "weights.txt").write_text("committed to git itself\n")
    (repo / "sub" / "net.bin").write_bytes(hashlib.sha256(b"net").digest() * 64)
    dvc(repo, "add", "--quiet", "sub/net.bin")
    commits = {}
    for n, size in ((1, 2000), (2, 3000), (3, 4000)):
        (repo / "models" / "churn" / "model.pkl").write_bytes(churn_bytes(n, size))
        dvc(repo, "add", "--quiet", "models/churn/model.pkl")
        dvc(repo, "push", "--quiet")
        commits[f"c{n}"] = commit(repo, f"churn, take {n}")
        if n == 1:
            for name in ("churn", "notes", "sub:net", "old"):
                gto(repo, "register", name, "--version", "v0.0.1" if name == "churn" else
                    "v1.0.0")
            gto(repo, "assign", "churn", "--version", "v0.0.1", "--stage", "staging")
            gto(repo, "assign", "notes", "--version", "v1.0.0", "--stage", "prod")
            gto(repo, "deprecate", "old")
        if n == 2:
            gto(repo, "register", "churn", "--bump-minor")
            gto(repo, "assign", "churn", "--version", "v0.1.0", "--stage", "prod")
            gto(repo, "assign", "sub:net", "--version", "v1.0.0", "--stage", "prod")
    later = int(time.time()) + 10  # after every tag gto wrote
    for i, (tag, at) in enumerate(HAND_MADE):
        git(repo, "tag", "--annotate", "--message", f"made by hand: {tag}", tag, commits[at],
            env={"GIT_COMMITTER_DATE": f"{later + i} +0000"})
    git(repo, "tag", "x@tag", commits["c3"])  # lightweight: gto reads no such tag
    return {"repo": repo, "root": root, **commits}


def test_the_repository_has_nothing_of_a_registry(gto_repo):
    files = git(gto_repo["repo"], "ls-files").split()
    assert not {"registry.yaml", ".gto"} & set(files)
    assert not any(f.startswith(("src/", "models/churn/card")) for f in files)


def test_list_gives_gto_show(gto_repo):
    ours = {m["name"]: m for m in read(gto_repo["repo"], "list")}
    theirs = json.loads(gto(gto_repo["repo"], "show", "--json"))
    assert set(theirs) == {"churn", "notes", "sub:net"}  # gto shows the folder as `sub:net`
    assert set(ours) == set(theirs) | {"old"} and ours["old"]["deprecated"]
    for name, model in theirs.items():
        assert ours[name]["latest"] == model["version"]
        assert ours[name]["stages"] == {s: v for s, v in model["stage"].items() if v}
    assert ours["churn"]["latest"] == "v0.2.0" and ours["churn"]["versions"] == [
        "v0.2.0", "v0.1.0"]
    assert ours["churn"]["stages"] == {"prod": "v0.1.0"}
    assert ours["notes"]["stages"] == {"ml/eu-west_2": "v1.0.0", "prod": "v1.0.0"}


def test_history_gives_gto_history(gto_repo):
    def rows(events, *keys):
        return sorted(tuple(str(e[k]) for k in keys) for e in events)

    ours = read(gto_repo["repo"], "history")
    theirs = json.loads(gto(gto_repo["repo"], "history", "--json"))
    assert read(gto_repo["repo"], "history", "sub:net") == [
        e for e in ours if e["name"] == "sub:net"]
    assert {e["tag"] for e in ours} >= {tag for tag, _ in HAND_MADE[:4]}
    for e in ours:
        e["event"] = GTO_EVENTS[e["event"]]
    assert rows(ours, "tag", "name", "event", "version", "stage", "commit", "tagger") == rows(
        theirs, "ref", "artifact", "event", "version", "stage", "commit", "author")
    # in gto's order too, though gto wrote several tags within one second
    assert [e["tag"] for e in ours] == [e["ref"] for e in theirs]


@pytest.mark.parametrize("ref", [
    "churn", "churn@latest", "churn@v0.1.0", "churn#prod", "notes#ml/eu-west_2", "notes",
    "sub:net", "sub:net#prod", "sub:net@v1.0.0", "churn@v0.2.0#3", "sub=net@v1.0.0",
])
def test_resolve_gives_gto_show(gto_repo, ref):
    ours = read(gto_repo["repo"], "resolve", ref)
    # gto show NAME lists every version; NAME@latest is what resolve NAME gives. gto takes
    # no full tag, so the version the tag registers is asked instead.
    shown = {"churn": "churn@latest", "notes": "notes@latest", "sub:net": "sub:net@latest",
             "churn@v0.2.0#3": "churn@v0.2.0", "sub=net@v1.0.0": "sub:net@v1.0.0"}.get(ref, ref)
    theirs = json.loads(gto(gto_repo["repo"], "show", shown, "--json"))
    assert [(v["artifact"], v["version"], v["commit_hexsha"]) for v in theirs] == [
        (ours["name"], ours["version"], ours["commit"])]


def test_resolve_answers_with_the_artifact(gto_repo):
    churn = read(gto_repo["repo"], "resolve", "churn#prod")
    pointer = (gto_repo["repo"] / "models" / "churn" / "model.pkl.dvc")
    assert (churn["version"], churn["commit"]) == ("v0.1.0", gto_repo["c2"])
    assert churn["artifact"]["path"] == "models/churn/model.pkl"
    at_c2 = git(gto_repo["repo"], "show", f"{gto_repo['c2']}:models/churn/model.pkl.dvc")
    assert churn["artifact"]["md5"] in at_c2 and churn["artifact"]["md5"] not in (
        pointer.read_text())


def test_resolve_from_the_repository_url(gto_repo):
    ours = read(gto_repo["root"], "resolve", "sub:net#prod", "--repo",
                gto_repo["repo"].as_uri())
    assert (ours["name"], ours["version"], ours["commit"]) == ("sub:net", "v1.0.0",
                                                              gto_repo["c1"])


def test_a_model_dvc_yaml_does_not_list_resolves_and_get_says_why(tmp_path):
    """gto registers any name, with or without an `artifacts:` entry: resolve answers which
    version it is, as `gto show` does, with no artifact; get has nothing to fetch."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet", "-b", "main")
    (repo / "README.md").write_text("a model kept elsewhere\n")
    head = commit(repo, "start")
    gto(repo, "register", "elsewhere", "--version", "v1.0.0")
    ours = read(repo, "resolve", "elsewhere")
    theirs = json.loads(gto(repo, "show", "elsewhere@latest", "--json"))
    assert [(v["version"], v["commit_hexsha"]) for v in theirs] == [(ours["version"],
                                                                     ours["commit"])]
    assert (ours["commit"], ours["artifact"]) == (head, None)
    proc = registry(repo, "get", "elsewhere", "-o", str(tmp_path / "out"))
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1
    assert "elsewhere v1.0.0 has no entry in dvc.yaml" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("ref, error", [
    ("churn#staging", "no version of churn is in stage 'staging'"),  # unassigned by hand
    ("churn@v0.0.1", "churn has no active version v0.0.1"),  # deregistered by hand
    ("old", "model 'old' is deprecated"),
    ("x", "no model named 'x'"),  # only a lightweight `x@tag`
    ("a:b", "no model named 'a:b'"),  # only `a=b`, which gto ignores too
])
def test_what_gto_does_not_show_resolves_to_nothing(gto_repo, ref, error):
    proc = registry(gto_repo["repo"], "resolve", ref)
    assert proc.returncode == 2 and error in proc.stderr and proc.stderr.count("\n") == 1
    shown = subprocess.run([str(BIN / "gto"), "show", ref, "--json"], cwd=gto_repo["repo"],
                           capture_output=True, text=True)
    assert shown.returncode != 0 or json.loads(shown.stdout) == []


def test_show_answers_without_a_card(gto_repo):
    shown = read(gto_repo["repo"], "show", "churn#prod")
    assert (shown["version"], shown["card"], shown["text"]) == ("v0.1.0", None, "")
    proc = registry(gto_repo["repo"], "show", "sub:net")
    assert proc.returncode == 0
    assert "name: sub:net" in proc.stdout and "card: none at sub=net@v1.0.0" in proc.stdout


@pytest.mark.parametrize("tag", [
    "churn@v0.0.1", "churn#prod#2", "churn@v0.2.0#3", "churn#staging!#4", "churn@v0.0.1!#5",
    "notes#ml/eu-west_2#2", "sub=net@v1.0.0", "sub=net#prod#1", "old@deprecated",
])
def test_check_ref_gives_gto_check_ref(gto_repo, tag):
    ours = read(gto_repo["repo"], "check-ref", tag)
    theirs = json.loads(gto(gto_repo["repo"], "check-ref", tag, "--json"))
    assert ours == theirs


@pytest.mark.parametrize("tag", ["GTO-tag", "a=b", "x@tag", "churn@v1"])
def test_check_ref_refuses_tags_gto_ignores(gto_repo, tag):
    proc = registry(gto_repo["repo"], "check-ref", tag)
    assert proc.returncode == 2 and "is not a registry tag" in proc.stderr
    assert gto(gto_repo["repo"], "check-ref", tag, "--json").strip() in ("", "{}", "[]")


@pytest.mark.parametrize("ref", ["churn#prod", "churn@v0.2.0", "sub:net", "notes"])
def test_verify_checks_what_the_version_has(gto_repo, ref):
    """No card to check: the signature, and the bytes in the DVC remote (or in git)."""
    result = read(gto_repo["repo"], "verify", ref)
    assert result["ok"] and [v["signature"] for v in result["versions"]] == ["unsigned"]


def test_which_finds_a_version_by_the_md5_dvc_records(gto_repo, tmp_path):
    """No card holds the hashes: a version is found by its DVC pointer's md5, or its file."""
    artifact = tmp_path / "seen-in-production.pkl"
    artifact.write_bytes(churn_bytes(2, 3000))
    md5 = hashlib.md5(artifact.read_bytes()).hexdigest()
    for asked in (md5, str(artifact)):
        found = read(gto_repo["repo"], "which", asked)
        assert [(m["name"], m["version"], m["md5"], m["status"], m["stages"], m["card"])
                for m in found] == [("churn", "v0.1.0", md5, "active", ["prod"], None)]
    net = hashlib.md5((gto_repo["repo"] / "sub" / "net.bin").read_bytes()).hexdigest()
    assert [m["name"] for m in read(gto_repo["repo"], "which", net)] == ["sub:net"]
    proc = registry(gto_repo["repo"], "which", "0" * 32)
    assert proc.returncode == 2 and proc.stderr.startswith("error: no registered version")
    assert proc.stderr.count("\n") == 1


def test_doc_documents_the_version_from_its_tags(gto_repo):
    proc = registry(gto_repo["repo"], "doc", "churn#prod")
    assert proc.returncode == 0, proc.stderr
    assert "Technical documentation: churn v0.1.0" in proc.stdout
    assert f"tag churn@v0.1.0 on commit {gto_repo['c2']}" in proc.stdout


def test_site_lists_every_model_and_the_stages_as_first_used(gto_repo, tmp_path):
    proc = registry(gto_repo["repo"], "site", "-o", str(tmp_path / "site"))
    assert proc.returncode == 0, proc.stderr
    index = (tmp_path / "site" / "index.html").read_text()
    assert all(f">{name}</a>" in index for name in ("churn", "notes", "sub:net", "old"))
    assert 'href="models/sub%3Anet/v1.0.0.html"' in index  # the page of `sub:net` v1.0.0
    assert (tmp_path / "site" / "models" / "sub:net" / "v1.0.0.html").is_file()
    tags = git(gto_repo["repo"], "for-each-ref", "refs/tags",
               "--format=%(taggerdate:unix) %(refname:strip=2)").splitlines()
    staged = sorted((int(when), name) for when, _, name in (t.partition(" ") for t in tags)
                    if "#" in name.partition("@")[0])  # stage tags, not counted versions
    first_used = []
    for _, name in staged:  # in gto's order: by time, then by name
        stage = name.split("#")[1].rstrip("!")
        first_used += [stage] if stage not in first_used else []
    assert first_used[-1] == "ml/eu-west_2"
    assert f"Stages in promotion order: {', '.join(first_used)}." in index


def test_site_takes_the_stages_gto_lists(gto_repo, tmp_path):
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(gto_repo["repo"]), str(clone))
    (clone / ".gto").write_text("stages: [dev, staging, prod]\n")
    proc = registry(clone, "site", "-o", str(tmp_path / "site"))
    assert proc.returncode == 0, proc.stderr
    index = (tmp_path / "site" / "index.html").read_text()
    assert "Stages in promotion order: dev, staging, prod." in index


def state(repo: Path) -> dict:
    """Everything a refused command must leave as it was."""
    return {"refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
            "head": git(repo, "rev-parse", "HEAD"),
            "files": git(repo, "status", "--porcelain", "--untracked-files=all", "--ignored"),
            "dvc-cache": sorted(p.name for p in (repo / ".dvc" / "cache").rglob("*"))}


@pytest.mark.parametrize("args", [
    ["register", "churn", "{artifact}"], ["register", "fresh", "{artifact}", "--push"],
    ["promote", "churn", "v0.2.0", "prod"], ["demote", "churn", "prod"],
    ["deregister", "churn", "v0.1.0"], ["deprecate", "notes"], ["release"],
    ["promote", "churn", "v0.2.0", "prod", "--push"],
])
def test_writing_commands_refuse_with_the_way_to_adopt(gto_repo, tmp_path, args):
    artifact = tmp_path / "model.pkl"
    artifact.write_bytes(b"new bytes")
    before = state(gto_repo["repo"])
    proc = registry(gto_repo["repo"], *(a.format(artifact=artifact) for a in args))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: no registry.yaml in ")
    assert "Adopting an existing repository" in proc.stderr
    assert "cookiecutter --overwrite-if-exists --skip-if-file-exists" in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stdout == ""
    assert state(gto_repo["repo"]) == before
