"""An S3 DVC remote reached through botocore's plain client rather than through s3fs.

DVC reaches S3 through s3fs (aiobotocore on asyncio): starting it costs about a second, and it
reads each part in small asyncio chunks, which on two cores leaves a 1 GiB download at a third
of what botocore alone achieves. For a remote whose options are all in OPTIONS, each passed to
botocore as dvc-s3 passes it to s3fs, the helper uses this module instead: the same keys (DVC's
`files/md5/` layout), the same credential chain (botocore's), the same bytes. A remote with any
other option (encryption, ACLs, versioning, a credentials file of its own...) goes through DVC,
so no setting is ever dropped on the way.
"""

from __future__ import annotations

import os
from contextlib import suppress
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

# The DVC remote options this module honours, all of them client settings.
OPTIONS = frozenset({"url", "endpointurl", "region", "profile", "access_key_id",
                     "secret_access_key", "session_token", "ssl_verify", "use_ssl",
                     "read_timeout", "connect_timeout"})
# Options DVC fills in that change nothing here: `verify` (every download is verified anyway),
# `listobjects` (how DVC lists a remote; this module never lists), and anonymous access off.
NEUTRAL = frozenset({"verify", "listobjects", "allow_anonymous_login"})
S3_MAX_PARTS = 10_000


def usable(conf: dict) -> bool:
    """Whether a DVC remote's (merged, validated) options can all be honoured here."""
    url = urlsplit(str(conf.get("url", "")))
    return (url.scheme == "s3" and bool(url.netloc) and not url.query
            and not conf.get("allow_anonymous_login") and set(conf) <= OPTIONS | NEUTRAL)


def _checksums(session) -> dict:
    """No CRC32 of each part unless the user's AWS configuration asks for it. Without one,
    botocore signs each part's sha256 instead (over http it always does), which S3 checks on
    arrival: the bytes are still verified in transit, by the stronger hash, and the CRC32
    botocore adds by default since 1.36 would cost a second pass over every byte, on both
    sides (a tenth of an upload's time on loopback)."""
    from botocore.config import Config

    option = "request_checksum_calculation"
    if option not in Config.OPTION_DEFAULTS:  # an older botocore sends no CRC32
        return {}
    if os.environ.get("AWS_REQUEST_CHECKSUM_CALCULATION") or session.get_scoped_config().get(
            option):
        return {}
    return {option: "when_required"}


class Remote:
    """One S3 DVC remote: objects addressed by md5, as `dvc push` lays them out."""

    def __init__(self, conf: dict, jobs: int):
        import botocore.session
        from botocore.config import Config

        url = urlsplit(str(conf["url"]))
        self.bucket = url.netloc
        self.prefix = "/".join(p for p in (url.path.strip("/"), "files/md5") if p)
        timeouts = {k: conf[k] for k in ("connect_timeout", "read_timeout") if k in conf}
        session = botocore.session.Session(profile=conf.get("profile"))
        self.client = session.create_client(
            "s3", region_name=conf.get("region"), endpoint_url=conf.get("endpointurl"),
            verify=conf.get("ssl_verify"), use_ssl=conf.get("use_ssl", True),
            aws_access_key_id=conf.get("access_key_id"),
            aws_secret_access_key=conf.get("secret_access_key"),
            aws_session_token=conf.get("session_token"),
            config=Config(max_pool_connections=jobs + 2, **timeouts, **_checksums(session)))
        self.jobs = jobs

    def key(self, oid: str) -> str:
        return f"{self.prefix}/{oid[:2]}/{oid[2:]}"

    def size(self, oid: str) -> int | None:
        """The object's size, or None when the remote does not hold it."""
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.key(oid))["ContentLength"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def read(self, oid: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of the object, in one ranged GET."""
        if end <= start:
            return b""
        answer = self.client.get_object(Bucket=self.bucket, Key=self.key(oid),
                                        Range=f"bytes={start}-{end - 1}")
        data = answer["Body"].read()
        if len(data) != end - start:  # a server that ignores Range sends the whole object
            raise OSError(f"asked the server for {end - start} bytes at {start}, got "
                          f"{len(data)}")
        return data

    def upload(self, path: str, oid: str, part: int, advance) -> None:
        """The file at `path` to the object `oid`. A file over one part goes as a multipart
        upload, `jobs` parts in flight, each read from the file when its turn comes (memory
        stays at `jobs` parts); S3 shows the object only once every part has arrived, and a
        failed upload is aborted, so the remote never holds half an object."""
        size = os.path.getsize(path)
        key = self.key(oid)
        if size <= part:
            with open(path, "rb") as f:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=f.read())
            advance(size)
            return
        part = max(part, -(-size // S3_MAX_PARTS))
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]

        def send(number: int) -> tuple[dict, int]:
            with open(path, "rb") as f:
                f.seek((number - 1) * part)
                data = f.read(part)
            etag = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload,
                                           PartNumber=number, Body=data)["ETag"]
            return {"PartNumber": number, "ETag": etag}, len(data)

        try:
            parts = []
            pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="upload-part")
            try:
                for sent, length in pool.map(send, range(1, -(-size // part) + 1)):
                    parts.append(sent)
                    advance(length)
            finally:  # after a failed part, the parts not yet started are not sent
                pool.shutdown(cancel_futures=True)
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload,
                                                  MultipartUpload={"Parts": parts})
        except BaseException:
            with suppress(Exception):  # the upload's own error is the one to report
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key,
                                                   UploadId=upload)
            raise

    def delete(self, oid: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(oid))
