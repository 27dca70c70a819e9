"""The helper as a library: what a deployment script or a CI job does in Python, no command
line involved (git and DVC are still the real ones underneath)."""

from __future__ import annotations

import hashlib

import pytest

from model_registry import api
from model_registry.errors import InputError, NotFoundError, RegistryError
from model_registry.results import Fetched, Registered, TagWritten, Version


@pytest.fixture
def published(registry_repo):
    """An empty registry whose DVC remote is committed in .dvc/config (a local folder, no
    secret), so a clone of origin finds the bytes as a consumer's clone would."""
    config = registry_repo.path / ".dvc" / "config"
    config.write_text(config.read_text() + f"['remote \"storage\"']\n"
                      f"    url = {registry_repo.storage}\n")
    registry_repo.git("commit", "--quiet", "-am", "Publish the DVC remote")
    registry_repo.git("push", "--quiet", "origin", "main")
    return registry_repo


def test_register_promote_resolve_get_through_the_python_api(published, tmp_path):
    weights = tmp_path / "model.pkl"
    weights.write_bytes(b"weights of churn v1")
    md5 = hashlib.md5(weights.read_bytes()).hexdigest()
    here = str(published.path)
    stage = published.stages[-1]

    registered = api.register("churn", str(weights), version="v1.0.0", push=True, path=here)
    assert isinstance(registered, Registered)
    assert (registered.tag, registered.pushed, registered.artifact.md5) == (
        "churn@v1.0.0", True, md5)
    assert "churn@v1.0.0" in published.git("ls-remote", "--tags", str(published.origin))

    promoted = api.promote("churn", "v1.0.0", stage, push=True, path=here)
    assert isinstance(promoted, TagWritten) and promoted.tag == f"churn#{stage}#1"

    found = api.resolve(f"churn#{stage}", path=here)
    assert isinstance(found, Version)
    assert (found.version, found.commit, found.stage) == ("v1.0.0", registered.commit, stage)
    assert api.resolve(f"churn#{stage}", path=here) == found
    assert repr(found).startswith("Version(name='churn', version='v1.0.0', ")
    assert api.to_json(found)["artifact"] == {"path": "models/churn/model.pkl", "md5": md5,
                                             "size": len(b"weights of churn v1")}

    out = tmp_path / "deployed.pkl"
    got = api.get(f"churn#{stage}", str(out), path=here)
    assert isinstance(got, Fetched) and got.verified_by == "sha256"
    assert out.read_bytes() == b"weights of churn v1"

    # A deployment host with no clone: straight from origin's URL.
    remote_out = tmp_path / "from-url.pkl"
    from_url = api.get(f"churn#{stage}", str(remote_out), repo=str(published.origin))
    assert remote_out.read_bytes() == b"weights of churn v1"
    assert from_url.commit == registered.commit
    assert api.resolve("churn", repo=str(published.origin)).version == "v1.0.0"


def test_api_errors_are_typed_and_change_nothing(published, tmp_path):
    here = str(published.path)
    before = published.state()
    with pytest.raises(NotFoundError) as missing:
        api.resolve("churn@v9.9.9", path=here)
    assert missing.value.exit_code == 2 and "registry list" in str(missing.value)
    with pytest.raises(InputError) as bad:
        api.register("churn model", str(tmp_path), path=here)
    assert bad.value.exit_code == 2
    with pytest.raises(RegistryError):
        api.get("ghost", str(tmp_path / "out.pkl"), path=here)
    assert published.state() == before
    assert not (tmp_path / "out.pkl").exists()
