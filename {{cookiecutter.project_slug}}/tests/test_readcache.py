"""The read cache (`.git/model-registry-cache.json`) never changes an answer: `list` and `which`
answer as they do without it while tags are added, moved and deleted, and when it is damaged."""

from __future__ import annotations

import json

import pytest

CACHE = ".git/model-registry-cache.json"
T0 = 1_700_000_000


@pytest.fixture
def world(registry_repo, tmp_path):
    """Model m: v1.0.0 from file a, v1.1.0 from file b; a clock for what comes next."""
    when = iter(range(T0, T0 + 6000, 60))

    def clock() -> dict:
        stamp = f"{next(when)} +0000"
        return {"GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp}

    md5 = {}
    for name, version in (("a", "v1.0.0"), ("b", "v1.1.0")):
        artifact = tmp_path / name / "model.pkl"
        artifact.parent.mkdir()
        artifact.write_bytes(f"weights {name}\n".encode())
        proc = registry_repo.cli("register", "m", str(artifact), "--version", version,
                                 "--json", env=clock())
        assert proc.returncode == 0, proc.stderr
        md5[name] = json.loads(proc.stdout)["artifact"]["md5"]
    return registry_repo, md5, clock


def answers(repo, md5: dict) -> dict:
    out = {"list": json.loads(repo.cli("list", "--json").stdout)}
    for name, digest in md5.items():
        proc = repo.cli("which", digest, "--json")
        out[name] = (proc.returncode, json.loads(proc.stdout or "null"))
    return out


def same_with_and_without_cache(repo, md5: dict) -> dict:
    """The answers with the cache as the last change left it, again with the cache just
    written, and with no cache at all: all three the same."""
    stale = answers(repo, md5)
    fresh = answers(repo, md5)
    assert (repo.path / CACHE).exists()
    (repo.path / CACHE).unlink()
    uncached = answers(repo, md5)
    assert stale == uncached and fresh == uncached
    return uncached


def found(answer) -> list[tuple[str, str]]:
    code, rows = answer
    return sorted((r["version"], r["status"]) for r in rows) if code == 0 else []


def test_answers_follow_tags_added_moved_and_deleted(world):
    repo, md5, clock = world
    first = same_with_and_without_cache(repo, md5)
    assert first["list"][0]["latest"] == "v1.1.0"
    assert found(first["a"]) == [("v1.0.0", "active")]

    commit_a = repo.git("rev-parse", "m@v1.0.0^{commit}")
    commit_b = repo.git("rev-parse", "m@v1.1.0^{commit}")
    repo.git("tag", "-a", "-m", "added", "m@v2.0.0", commit_a, env=clock())
    added = same_with_and_without_cache(repo, md5)
    assert added["list"][0]["latest"] == "v2.0.0"
    assert found(added["a"]) == [("v1.0.0", "active"), ("v2.0.0", "active")]

    repo.git("tag", "-f", "-a", "-m", "moved", "m@v2.0.0", commit_b, env=clock())
    moved = same_with_and_without_cache(repo, md5)
    assert found(moved["a"]) == [("v1.0.0", "active")]
    assert found(moved["b"]) == [("v1.1.0", "active"), ("v2.0.0", "active")]

    repo.git("tag", "-d", "m@v2.0.0")
    repo.git("tag", "m@v3.0.0", commit_a)  # lightweight: ignored, cached or not
    deleted = same_with_and_without_cache(repo, md5)
    assert deleted["list"][0]["latest"] == "v1.1.0"
    assert deleted == first

    assert repo.cli("deregister", "m", "v1.0.0", env=clock()).returncode == 0
    withdrawn = same_with_and_without_cache(repo, md5)
    assert found(withdrawn["a"]) == [("v1.0.0", "deregistered")]


def test_a_damaged_cache_is_ignored(world):
    repo, md5, _ = world
    expected = answers(repo, md5)
    for content in ("", "not json", '{"format": 2}',
                    '{"format": 2, "list_key": "x", "list": [], "cards_key": "z", '
                    '"cards": {"y": 3}}'):
        (repo.path / CACHE).write_text(content)
        assert answers(repo, md5) == expected, content
