"""Security and audit: signed tags, the signing policy, verify, secrets in check, which, history.

Signing is git's own (`git tag -s`) with SSH keys made here by ssh-keygen, so it works offline;
the keys that count are the ones in the registry's `allowed_signers` file, as registry.yaml says.
One registry is built per module and read by most tests:

    churn     v1.0.0 signed by the trusted key (prod: signed assignment; dev: unsigned one)
              v1.1.0 not signed                (staging: unsigned assignment)
              v1.2.0 signed by a key that is not in allowed_signers; its bytes never uploaded
              v0.9.0 v1.0.0's signed tag object with its name changed (a forgery)
    fraud     v1.0.0 the same bytes as churn v1.0.0, deregistered
    legacy    v1.0.0 the same bytes as churn v1.0.0; five events by three people at fixed
              dates (register, promote, demote, deregister, deprecate), for history

`strict` is a clone of it whose registry.yaml sets require_signed_tags: true.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from support import baked_world, git
from support import registry as run

pytestmark = pytest.mark.xdist_group("security")

T0 = 1_700_000_000


def as_json(proc) -> object:
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}{proc.stdout}"
    return json.loads(proc.stdout)


def failed(proc, code: int = 1) -> str:
    """The stderr of a command that had to fail with `code`: `error:` first, no traceback."""
    assert proc.returncode == code, f"exit {proc.returncode}: {proc.stderr}{proc.stdout}"
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def signing_key(env_key: Path) -> dict:
    """Environment that makes git sign with `env_key` for one command (git's GIT_CONFIG_*)."""
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "user.signingkey",
            "GIT_CONFIG_VALUE_0": str(env_key)}


def who(name: str, email: str, when: int) -> dict:
    stamp = f"{when} +0000"
    return {"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
            "GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp}


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    baked = baked_world(tmp_path_factory.mktemp("security"))
    root, repo, origin = baked
    remote = root / "dvc-storage"

    keys = {}
    for name in ("trusted", "stranger"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f",
                        str(root / name)], check=True, capture_output=True)
        keys[name] = root / name
    public = (root / "trusted.pub").read_text().split()
    with open(repo / "allowed_signers", "a") as f:
        f.write(f'tester@example.com namespaces="git" {public[0]} {public[1]}\n')
    git(repo, "commit", "--quiet", "-m", "Trust the release key", "allowed_signers")
    git(repo, "push", "--quiet", "origin", "main")
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", str(keys["trusted"]))

    files = {}  # one file name for every version: a new version replaces the old bytes
    for name in ("a", "b", "c"):
        files[name] = root / name / "model.pkl"
        files[name].parent.mkdir()
        files[name].write_bytes(os.urandom(1500) + name.encode())

    steps = [
        ("register", "churn", files["a"], "--version", "v1.0.0", "--sign", "--push"),
        ("register", "churn", files["b"], "--version", "v1.1.0", "--push"),
        ("promote", "churn", "v1.0.0", "prod", "--sign"),
        ("promote", "churn", "v1.0.0", "dev"),
        ("promote", "churn", "v1.1.0", "staging"),
        ("register", "fraud", files["a"], "--version", "v1.0.0"),
        ("deregister", "fraud", "v1.0.0"),
    ]
    for step in steps:
        run(repo, *map(str, step))
    run(repo, "register", "churn", str(files["c"]), "--version", "v1.2.0", "--sign",
        env=signing_key(keys["stranger"]))

    # A forgery: v1.0.0's signed tag object, renamed to v0.9.0; its signature no longer fits.
    body = subprocess.run(["git", "cat-file", "tag", "churn@v1.0.0"], cwd=repo, check=True,
                          capture_output=True).stdout
    forged = body.replace(b"tag churn@v1.0.0\n", b"tag churn@v0.9.0\n")
    obj = subprocess.run(["git", "mktag"], cwd=repo, input=forged, check=True,
                         capture_output=True).stdout.decode().strip()
    git(repo, "update-ref", "refs/tags/churn@v0.9.0", obj)

    # The audit trail of `legacy`: who did what, when, and why, ending in its deprecation.
    alice = ("Alice Auditor", "alice@example.com")
    bob = ("Bob Builder", "bob@example.com")
    carol = ("Carol Checker", "carol@example.com")
    audit = [
        (alice, ("register", "legacy", str(files["a"]), "--version", "v1.0.0", "-m",
                 "first legacy model")),
        (bob, ("promote", "legacy", "v1.0.0", "staging", "-m", "approved by QA (ticket 7)")),
        (carol, ("demote", "legacy", "staging", "-m", "rolled back: drift")),
        (alice, ("deregister", "legacy", "v1.0.0")),
        (bob, ("deprecate", "legacy", "-m", "replaced by churn")),
    ]
    for i, ((name, email), step) in enumerate(audit):
        run(repo, *step, env=who(name, email, T0 + 60 * i))
    baked.push()

    strict = baked.clone("strict")
    config = strict / "registry.yaml"
    config.write_text(config.read_text().replace("require_signed_tags: false",
                                                 "require_signed_tags: true"))
    git(strict, "commit", "--quiet", "-m", "Require signed tags", "registry.yaml")
    return SimpleNamespace(root=root, repo=repo, origin=origin, remote=remote, strict=strict,
                           files=files, keys=keys)


# ---------------------------------------------------------------- signing


def test_sign_makes_an_ssh_signed_tag_that_git_itself_verifies(w):
    body = git(w.repo, "cat-file", "tag", "churn@v1.0.0")
    assert "-----BEGIN SSH SIGNATURE-----" in body
    signers = w.repo / "allowed_signers"
    for tag, good in [("churn@v1.0.0", True), ("churn#prod#1", True), ("churn@v1.2.0", False),
                      ("churn@v0.9.0", False)]:
        proc = subprocess.run(["git", "-c", f"gpg.ssh.allowedSignersFile={signers}",
                               "verify-tag", tag], cwd=w.repo, capture_output=True, text=True)
        assert (proc.returncode == 0) is good, (tag, proc.stderr)
    assert "SIGNATURE" not in git(w.repo, "cat-file", "tag", "churn@v1.1.0")


def test_a_registration_tag_attests_its_artifact_hashes_under_its_signature(w):
    """The tag message ends with the bytes' md5 and sha256 as git trailers, so a signed tag
    vouches for the artifact itself, and git reads them back as trailers."""
    trailers = git(w.repo, "tag", "-l", "--format=%(trailers:only,unfold)", "churn@v1.1.0")
    assert trailers.split("\n") == [f"Artifact-MD5: {md5(w.files['b'])}",
                                     f"Artifact-SHA256: {sha256(w.files['b'])}"]
    signed = git(w.repo, "cat-file", "tag", "churn@v1.0.0")
    assert (f"\n\nArtifact-MD5: {md5(w.files['a'])}\nArtifact-SHA256: {sha256(w.files['a'])}"
            "\n-----BEGIN SSH SIGNATURE-----") in signed
    history = {e["tag"]: e for e in as_json(run(w.repo, "history", "legacy", "--json"))}
    assert history["legacy@v1.0.0"]["message"].splitlines()[0] == "first legacy model"


def test_verify_finds_a_tag_whose_hashes_disagree_with_its_card(w, tmp_path):
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(w.origin), str(clone))
    commit = git(clone, "rev-parse", "churn@v1.1.0^{commit}")
    git(clone, "tag", "-a", "-m", f"Register churn v1.1.1\n\nArtifact-MD5: {'e' * 32}\n"
        f"Artifact-SHA256: {sha256(w.files['b'])}", "churn@v1.1.1", commit)
    stderr = failed(run(clone, "verify", "churn@v1.1.1", check=False), 1)
    assert f"tag churn@v1.1.1 gives the artifact md5 {'e' * 32}" in stderr
    assert "the tag does not describe this version" in stderr
    assert as_json(run(clone, "verify", "churn@v1.1.0", "--json"))["ok"] is True


def test_which_reads_the_card_of_a_tag_without_hashes(w, tmp_path):
    """Tags made by hand or by other tools carry no trailers: `which` finds their versions
    through their cards, as it finds the others through their tags."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(w.origin), str(clone))
    git(clone, "tag", "-a", "-m", "Register churn v1.2.1", "churn@v1.2.1")  # v1.2.0's commit
    found = as_json(run(clone, "which", md5(w.files["c"]), "--json"))
    assert sorted((r["version"], r["sha256"]) for r in found) == [
        ("v1.2.0", sha256(w.files["c"])), ("v1.2.1", sha256(w.files["c"]))]


def test_allowed_signers_is_the_registry_file_named_in_registry_yaml(w):
    assert "allowed_signers: allowed_signers" in (w.repo / "registry.yaml").read_text()
    assert "namespaces=\"git\"" in git(w.origin, "show", "main:allowed_signers")


@pytest.mark.parametrize("ref, signature, ok", [("churn@v1.0.0", "good", True),
                                              ("churn@v1.2.0", "bad", False)])
def test_verify_reports_the_signature(w, ref, signature, ok):
    proc = run(w.repo, "verify", ref, "--json", check=False)
    assert proc.returncode == (0 if ok else 1), proc.stderr
    [result] = json.loads(proc.stdout)["versions"]
    assert (result["tag"], result["signature"], result["ok"]) == (ref, signature, ok)
    if not ok:
        assert proc.stderr.startswith("error: 1 of 1 version(s) failed verification\n")
        assert f"  {ref}: signature bad" in proc.stderr.splitlines()


def test_verify_all_reports_signatures_remote_presence_and_hashes(w):
    proc = run(w.repo, "verify", "--all", "--json", check=False)
    failed(proc, 1)
    results = {r["tag"]: r for r in json.loads(proc.stdout)["versions"]}
    # Deregistered versions (fraud, legacy) are not verified; every active one is.
    assert set(results) == {"churn@v1.0.0", "churn@v1.1.0", "churn@v1.2.0", "churn@v0.9.0"}
    assert {t: (r["signature"], r["ok"]) for t, r in results.items()} == {
        "churn@v1.0.0": ("good", True), "churn@v1.1.0": ("unsigned", True),
        "churn@v1.2.0": ("bad", False), "churn@v0.9.0": ("bad", False)}
    missing, signature = results["churn@v1.2.0"]["problems"]
    assert "is not in the DVC remote" in missing and md5(w.files["c"]) in missing
    assert signature == "signature bad"


def test_verify_finds_a_card_whose_hash_disagrees_with_its_pointer(w, tmp_path):
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(w.origin), str(clone))
    card = clone / "models" / "churn" / "card.md"
    card.write_text(card.read_text().replace(md5(w.files["c"]), "d" * 32))
    git(clone, "commit", "--quiet", "-am", "Edit the card's md5 by hand")
    git(clone, "tag", "-a", "-m", "Register churn v1.3.0", "churn@v1.3.0")
    proc = run(clone, "verify", "churn@v1.3.0", check=False)
    assert f"registry.artifact.md5 {'d' * 32} does not match" in failed(proc, 1)


def test_verify_finds_a_corrupted_object_in_the_remote(w, tmp_path):
    remote = tmp_path / "remote"
    shutil.copytree(w.remote, remote)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(w.origin), str(clone))
    (clone / ".dvc" / "config.local").write_text(f"['remote \"storage\"']\n    url = {remote}\n")
    obj = remote / "files" / "md5" / md5(w.files["b"])[:2] / md5(w.files["b"])[2:]
    os.chmod(obj, 0o644)
    obj.write_bytes(b"corrupt" + obj.read_bytes()[7:])
    stderr = failed(run(clone, "verify", "churn@v1.1.0", check=False), 1)
    assert f"object {md5(w.files['b'])} is damaged in the DVC remote" in stderr
    assert as_json(run(clone, "verify", "churn@v1.0.0", "--json"))["ok"] is True


def snapshot(folder: Path) -> dict:
    """Every file under `folder` (its git folder included) with its size and md5."""
    return {str(p.relative_to(folder)): (p.stat().st_size, md5(p))
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_reads_change_nothing_in_the_repository_but_the_read_cache(w, tmp_path):
    """A clone without a work tree (what `get --repo` makes) has its allowed_signers only in
    git: checking a signature there (`doc` does) must not write a copy into .git, and no read
    command may change a file, but for the read cache that `list` and `which` keep."""
    reads = [("list",), ("history",), ("resolve", "churn#prod"), ("show", "churn@v1.0.0"),
             ("which", md5(w.files["a"])), ("diff", "churn@v1.0.0", "churn@v1.1.0"),
             ("doc", "churn@v1.0.0"), ("check-ref", "churn@v1.0.0"), ("check",)]
    for name, flags in (("no-checkout", ["--no-checkout"]), ("full", [])):
        clone = tmp_path / name
        git(tmp_path, "clone", "--quiet", *flags, str(w.origin), str(clone))
        before = snapshot(clone)
        for args in reads:  # the helper of the registry's checkout, run in the clone
            run(w.repo, *args, cwd=clone)
        after = snapshot(clone)
        assert "signed, verified against allowed_signers" in run(
            w.repo, "doc", "churn@v1.0.0", cwd=clone).stdout
        after.pop(".git/model-registry-cache.json")
        assert after == before, name


# ---------------------------------------------------------------- require_signed_tags


@pytest.mark.parametrize("ref, why", [
    ("churn@v1.1.0", "tag churn@v1.1.0 is not signed"),
    ("churn@v1.2.0", "tag churn@v1.2.0 is signed by a key not in allowed_signers"),
    ("churn@v0.9.0", "tag churn@v0.9.0 is signed by a key not in allowed_signers"),
    ("churn", "tag churn@v1.2.0 is signed by a key not in allowed_signers"),  # the latest
    ("churn#staging", "tag churn@v1.1.0 is not signed"),
    ("churn#dev", "tag churn#dev#2 is not signed"),  # a signed version, an unsigned move
])
def test_strict_registry_refuses_unsigned_or_badly_signed(w, tmp_path, ref, why):
    stderr = failed(run(w.strict, "resolve", ref, check=False), 1)
    assert why in stderr and "requires signed tags" in stderr
    out = tmp_path / "model.pkl"
    assert why in failed(run(w.strict, "get", ref, "-o", str(out), check=False), 1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("ref", ["churn@v1.0.0", "churn#prod", "churn#prod#1"])
def test_strict_registry_resolves_tags_signed_by_an_allowed_key(w, ref):
    got = as_json(run(w.strict, "resolve", ref, "--json"))
    assert (got["version"], got["tag"]) == ("v1.0.0", "churn@v1.0.0")


def test_strict_registry_gets_a_signed_version(w, tmp_path):
    out = tmp_path / "model.pkl"
    run(w.strict, "get", "churn#prod", "-o", str(out))
    assert out.read_bytes() == w.files["a"].read_bytes()


@pytest.mark.parametrize("tag, ok", [
    ("churn@v1.0.0", True), ("churn@v1.1.0", False), ("churn@v1.2.0", False),
    ("churn#dev#2", False), ("churn@v0.9.0", False),
])
def test_strict_check_ref(w, tag, ok):
    proc = run(w.strict, "check-ref", tag, "--json", check=False)
    if ok:
        assert as_json(proc)["tag"] == tag
    else:
        assert "requires signed tags" in failed(proc, 1)


def test_strict_check_ref_of_an_assignment_checks_the_version_resolve_gives(w):
    resolved = as_json(run(w.strict, "resolve", "churn#prod#1", "--json"))
    checked = as_json(run(w.strict, "check-ref", "churn#prod#1", "--json"))
    assert checked["version"] == resolved["version"] == "v1.0.0"


def test_strict_verify(w):
    stderr = failed(run(w.strict, "verify", "churn@v1.1.0", check=False), 1)
    assert "tag churn@v1.1.0 is not signed" in stderr
    assert as_json(run(w.strict, "verify", "churn@v1.0.0", "--json"))["ok"] is True
    proc = run(w.strict, "verify", "--all", "--json", check=False)
    failed(proc, 1)
    results = {r["tag"]: r for r in json.loads(proc.stdout)["versions"]}
    assert results["churn@v1.0.0"]["ok"] is True
    assert results["churn@v1.1.0"]["problems"] == [
        "signature unsigned; registry.yaml requires signed tags"]


# ---------------------------------------------------------------- secrets in check


def _dvc_config_line(line: str):
    def place(repo: Path) -> Path:
        path = repo / ".dvc" / "config"
        path.write_text(path.read_text() + f"    {line}\n")
        return path
    return place


def _card_text(text: str, body: bool = False):
    def place(repo: Path) -> Path:
        path = repo / "models" / "churn" / "card.md"
        old = path.read_text()
        path.write_text(old + text if body else old.replace("\nowner:", f"\n{text}\nowner:", 1))
        return path
    return place


AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize("place, where", [
    (_dvc_config_line(f"secret_access_key = {AWS_SECRET}"), ".dvc/config"),
    (_dvc_config_line(f"access_key_id = {AWS_KEY_ID}"), ".dvc/config"),
    (_dvc_config_line("password=hunter2hunter2"), ".dvc/config"),
    (_dvc_config_line("Session_Token = FQoGZXIvYXdzEXAMPLE"), ".dvc/config"),
    (_card_text(f"aws_key: {AWS_KEY_ID}"), "models/churn/card.md"),
    (_card_text(f"aws_secret_access_key: {AWS_SECRET}"), "models/churn/card.md"),
    (_card_text("\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n"
                "-----END OPENSSH PRIVATE KEY-----\n", body=True), "models/churn/card.md"),
], ids=["dvc-secret-key", "dvc-key-id", "dvc-password", "dvc-session-token", "card-key-id",
        "card-secret-key", "card-private-key"])
def test_check_refuses_credentials_in_tracked_files(w, place, where):
    path = None
    try:
        path = place(w.repo)
        proc = run(w.repo, "check", "--json", check=False)
    finally:
        if path is not None:
            git(w.repo, "checkout", "--", str(path.relative_to(w.repo)))
    failed(proc, 2)
    problems = json.loads(proc.stdout)["problems"]
    assert {p["file"] for p in problems} == {where}, problems
    assert any("credential" in p["message"] for p in problems), problems
    assert AWS_SECRET not in proc.stdout + proc.stderr  # the finding never echoes the secret


def test_check_passes_before_any_credential_is_added(w):
    assert as_json(run(w.repo, "check", "--json"))["ok"] is True


def test_check_accepts_credentials_kept_in_config_local(w):
    local = w.repo / ".dvc" / "config.local"
    local.write_text(f"['remote \"storage\"']\n    secret_access_key = {AWS_SECRET}\n")
    try:
        assert as_json(run(w.repo, "check", "--json"))["ok"] is True
        assert "config.local" in git(w.repo, "status", "--porcelain", "--ignored")
    finally:
        local.unlink()


# ---------------------------------------------------------------- which


def _git_log_shim(tmp_path: Path) -> tuple[dict, Path]:
    """PATH with a `git` that records each invocation, then runs the real git."""
    shim = tmp_path / "bin"
    shim.mkdir()
    log = tmp_path / "git.log"
    real = shutil.which("git")
    (shim / "git").write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec {real} "$@"\n')
    (shim / "git").chmod(0o755)
    return {"PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}, log


def test_which_finds_every_version_by_md5_active_deregistered_and_deprecated(w, tmp_path):
    env, log = _git_log_shim(tmp_path)
    found = as_json(run(w.repo, "which", md5(w.files["a"]), "--json", env=env))
    rows = {(r["name"], r["version"]): r for r in found}
    assert set(rows) == {("churn", "v1.0.0"), ("churn", "v0.9.0"), ("fraud", "v1.0.0"),
                         ("legacy", "v1.0.0")}
    assert rows["churn", "v1.0.0"]["status"] == "active"
    assert rows["churn", "v1.0.0"]["stages"] == ["dev", "prod"]
    assert rows["fraud", "v1.0.0"]["status"] == "deregistered"
    assert rows["legacy", "v1.0.0"]["status"] == "deprecated"
    for (name, version), row in rows.items():
        assert row["tag"] == f"{name}@{version}"
        assert row["commit"] == git(w.repo, "rev-parse", f"{name}@{version}^{{commit}}")
        assert row["card"] == f"models/{name}/card.md"
        assert (row["md5"], row["sha256"]) == (md5(w.files["a"]), sha256(w.files["a"]))
    # Every registration's tag object comes from one `git cat-file --batch --buffer`, the
    # cards it needs from one `git cat-file --batch`, the matching models' tags from one
    # for-each-ref (and the deprecated one's commit times from two more); no git process is
    # started per tag (there are more than a dozen tags, and a handful of calls).
    calls = log.read_text().splitlines()
    assert calls.count("cat-file --batch --buffer") == 1, calls
    assert calls.count("cat-file --batch") == 1, calls
    one_object = (["cat-file", "blob"], ["cat-file", "-p"], ["cat-file", "tag"])
    per_object = [c for c in calls if c.split()[:2] in one_object or c.startswith("show ")]
    assert per_object == [], calls
    assert len(git(w.repo, "tag").split()) > 12 and len(calls) <= 7, calls


def test_which_by_sha256_and_by_file_agree(w):
    by_sha = as_json(run(w.repo, "which", sha256(w.files["b"]).upper(), "--json"))
    by_file = as_json(run(w.repo, "which", str(w.files["b"]), "--json"))
    assert by_sha == by_file
    assert [(r["name"], r["version"], r["status"], r["stages"]) for r in by_file] == [
        ("churn", "v1.1.0", "active", ["staging"])]


def test_which_text_marks_status(w):
    out = run(w.repo, "which", md5(w.files["a"])).stdout.splitlines()
    assert out[0].split()[:3] == ["name", "version", "status"]
    assert {" ".join(line.split()[:3]) for line in out[1:]} == {
        "churn v1.0.0 active", "churn v0.9.0 active", "fraud v1.0.0 deregistered",
        "legacy v1.0.0 deprecated"}


# ---------------------------------------------------------------- history


def test_history_shows_every_event_with_who_when_what_and_commit(w):
    rows = as_json(run(w.repo, "history", "legacy", "--json"))
    commit = git(w.repo, "rev-parse", "legacy@v1.0.0^{commit}")
    expected = [
        ("legacy@v1.0.0", "register", "Alice Auditor", "alice@example.com",
         "first legacy model"),
        ("legacy#staging#1", "assign", "Bob Builder", "bob@example.com",
         "approved by QA (ticket 7)"),
        ("legacy#staging!#2", "unassign", "Carol Checker", "carol@example.com",
         "rolled back: drift"),
        ("legacy@v1.0.0!", "deregister", "Alice Auditor", "alice@example.com",
         "Deregister legacy v1.0.0"),
        ("legacy@deprecated", "deprecate", "Bob Builder", "bob@example.com",
         "replaced by churn"),
    ]
    assert len(rows) == len(expected)
    for i, (row, (tag, event, tagger, email, message)) in enumerate(zip(reversed(rows),
                                                                        expected)):
        when = datetime.fromtimestamp(T0 + 60 * i, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert (row["tag"], row["event"], row["tagger"], row["tagger_email"], row["date"],
                row["message"], row["name"]) == (tag, event, tagger, email, when, message,
                                                 "legacy"), row
        assert row["commit"] == git(w.repo, "rev-parse", f"{tag}^{{commit}}")
    assert [r["commit"] for r in rows[1:]] == [commit] * 4
    assert [r["version"] for r in reversed(rows)][:4] == ["v1.0.0"] * 4
    assert [r["stage"] for r in reversed(rows)] == [None, "staging", "staging", None, None]


def test_reading_all_tags_agrees_with_reading_one_model(w):
    """Two readers of tags: one model's come from `git for-each-ref`, all of them from their
    objects through `git cat-file` (signed and forged ones included here)."""
    everything = as_json(run(w.repo, "history", "--json"))
    for name in ("churn", "fraud", "legacy"):
        assert [r for r in everything if r["name"] == name] == as_json(
            run(w.repo, "history", name, "--json"))


def test_history_agrees_with_git_and_covers_every_model(w):
    rows = as_json(run(w.repo, "history", "--json"))
    raw = git(w.repo, "for-each-ref", "refs/tags",
              "--format=%(refname:strip=2)|%(taggername)|%(taggeremail:trim)|%(*objectname)")
    tags = {line.split("|")[0]: line.split("|")[1:] for line in raw.splitlines()}
    assert {r["tag"] for r in rows} == set(tags)
    for row in rows:
        assert [row["tagger"], row["tagger_email"], row["commit"]] == tags[row["tag"]]
    assert [r["date"] for r in rows] == sorted((r["date"] for r in rows), reverse=True)
    text = run(w.repo, "history", "legacy").stdout.splitlines()
    assert text[0].split() == ["date", "event", "tag", "version", "tagger", "message"]
    assert "Carol Checker" in text[3] and "rolled back: drift" in text[3]
