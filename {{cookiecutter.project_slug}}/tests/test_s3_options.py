"""Which DVC remotes the helper reaches through botocore itself, and which it leaves to DVC:
an S3 remote is read and written directly only when botocore can be given every one of its
options the way dvc-s3 gives them to s3fs. The options are read by DVC's own `Config`, with
the defaults it fills in, as the helper reads them."""

from __future__ import annotations

import pytest
from dvc.config import Config

from model_registry.storage import s3


def remote_options(tmp_path, *lines: str) -> dict:
    dvc_dir = tmp_path / ".dvc"
    dvc_dir.mkdir()
    (dvc_dir / "config").write_text(
        "[core]\n    remote = storage\n['remote \"storage\"']\n"
        + "".join(f"    {line}\n" for line in lines))
    return Config(str(dvc_dir))["remote"]["storage"]


@pytest.mark.parametrize("lines", [
    ["url = s3://models/registry"],
    ["url = s3://models", "endpointurl = http://127.0.0.1:9000"],
    ["url = s3://models/registry", "region = eu-west-1", "profile = ml-team"],
    ["url = s3://models/registry", "access_key_id = AKIAEXAMPLE", "secret_access_key = x",
     "session_token = y"],
    ["url = s3://models/registry", "ssl_verify = false", "use_ssl = true",
     "read_timeout = 30", "connect_timeout = 5"],
    ["url = s3://models/registry", "verify = true", "listobjects = true"],
])
def test_an_s3_remote_with_client_options_only_goes_through_botocore(tmp_path, lines):
    assert s3.usable(remote_options(tmp_path, *lines))


@pytest.mark.parametrize("lines", [
    ["url = /srv/dvc-storage"],
    ["url = gs://models/registry"],
    ["url = s3://models/registry", "sse = aws:kms"],
    ["url = s3://models/registry", "acl = bucket-owner-full-control"],
    ["url = s3://models/registry", "version_aware = true"],
    ["url = s3://models/registry", "allow_anonymous_login = true"],
    ["url = s3://models/registry", "credentialpath = /etc/aws/credentials"],
    ["url = s3://models/registry", "jobs = 4"],
])
def test_any_other_remote_or_option_is_left_to_dvc(tmp_path, lines):
    assert not s3.usable(remote_options(tmp_path, *lines))


def test_objects_are_where_dvc_push_puts_them():
    remote = s3.Remote({"url": "s3://models/team/registry", "region": "us-east-1",
                        "access_key_id": "a", "secret_access_key": "b"}, jobs=2)
    oid = "0123456789abcdef0123456789abcdef"
    assert (remote.bucket, remote.key(oid)) == (
        "models", "team/registry/files/md5/01/23456789abcdef0123456789abcdef")
    assert remote.key(oid + ".dir").endswith("/01/23456789abcdef0123456789abcdef.dir")
