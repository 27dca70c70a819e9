"""Moving a large artifact through S3: the registry against boto3 (the floor) and plain DVC.

One run starts SeaweedFS on loopback (the fixture the S3 tests use), makes a random artifact
(1 GiB by default) and, for each repeat, times side by side on the same bytes:

    upload    md5 of the file + boto3 upload_file      the floor: hash it, send it
              dvc add, dvc push                         plain DVC, the two steps
              registry register --push                  hash, track, upload, commit, tag, git push
    download  boto3 download_file                       the floor
              ... then sha256 of the file               the floor of a download checked as get checks it
              dvc pull                                  plain DVC, fresh cache
              registry get                              a fresh clone: download, verify, write
              registry get, again                       the same clone: from the DVC cache

Each repeat changes the artifact's first bytes, so every upload is a new object and no tool
finds its work already done. Each timed step starts after `sync`: a step writing gigabytes
(a copy into the work tree, a cache entry) would otherwise have the kernel write them back
during the next step, and charge the next tool for them. It prints every time, then the
medians with throughput and the ratio to the floor, and checks the targets: `get` at least
0.8x boto3's download throughput, `register --push` within 1.3x of md5 + boto3 upload.

    python benchmarks/s3_transfer.py                    # 1 GiB, 3 repeats
    python benchmarks/s3_transfer.py --size-mib 256 --repeat 5 --json results.json

Exit status 0 whether or not the targets are met (it measures; it does not judge a machine).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE.parent
sys.path.insert(0, str(TEMPLATE / "tests"))

from s3_server import seaweedfs  # noqa: E402  (the tests' SeaweedFS fixture, as a context)

BIN = Path(sys.executable).parent
IDENTITY = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
GET_TARGET = 0.8       # registry get throughput / boto3 download throughput, at least
REGISTER_TARGET = 1.3  # registry register --push time / (md5 + boto3 upload) time, at most

UPLOAD = [("floor_upload", "md5 + boto3 upload_file (floor)"),
          ("boto3_upload", "  boto3 upload_file alone"),
          ("dvc_add_push", "dvc add + dvc push"),
          ("dvc_push", "  dvc push alone"),
          ("register", "registry register --push")]
DOWNLOAD = [("boto3_download", "boto3 download_file (floor)"),
            ("floor_verified", "  then sha256 of what it wrote"),
            ("dvc_pull", "dvc pull (fresh cache)"),
            ("get", "registry get (fresh clone)"),
            ("get_cached", "registry get (from the DVC cache)")]


def run(cmd: list[str], cwd: Path, env: dict) -> float:
    """Seconds `cmd` took; raises with its output if it failed."""
    os.sync()  # the previous step's writes are on disk, not written back during this one
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip() or proc.stdout}")
    return took


def timed(fn, *args) -> float:
    os.sync()
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def digest_of(path: Path, algorithm=hashlib.md5) -> str:
    digest = algorithm()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def make_artifact(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        for _ in range(size // (4 << 20)):
            f.write(os.urandom(4 << 20))
        f.write(os.urandom(size % (4 << 20)))


def renew(path: Path) -> None:
    """New first bytes: a new object for every tool, at no cost of writing the file again."""
    with open(path, "r+b") as f:
        f.write(os.urandom(4096))


class Bench:
    def __init__(self, work: Path, server, size: int):
        self.work, self.server, self.size = work, server, size
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
                    **IDENTITY, **server.env, "DVC_NO_ANALYTICS": "1",
                    "AWS_EC2_METADATA_DISABLED": "true"}
        self.client = server.client()
        self.artifact = work / "artifact.bin"
        make_artifact(self.artifact, size)
        self.plain = self._plain_dvc_repo()
        self.registry, self.origin = self._registry()

    def _plain_dvc_repo(self) -> Path:
        repo = self.work / "plain"
        repo.mkdir()
        dvc = [str(BIN / "dvc")]
        for cmd in (["git", "init", "--quiet", "-b", "main"], dvc + ["init", "--quiet"],
                    dvc + ["remote", "add", "-d", "storage", f"s3://{self.server.bucket}/plain"],
                    dvc + ["remote", "modify", "storage", "endpointurl", self.server.endpoint]):
            run(cmd, repo, self.env)
        return repo

    def _registry(self) -> tuple[Path, Path]:
        from cookiecutter.main import cookiecutter

        out = self.work / "registry"
        repo = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(out),
                                 extra_context={"remote": "s3",
                                                "s3_url": f"s3://{self.server.bucket}/registry",
                                                "s3_endpoint_url": self.server.endpoint}))
        origin = out / "origin.git"
        run(["git", "init", "--quiet", "--bare", "-b", "main", str(origin)], out, self.env)
        run(["git", "remote", "add", "origin", str(origin)], repo, self.env)
        run(["git", "push", "--quiet", "origin", "main"], repo, self.env)
        return repo, origin

    def helper(self, repo: Path, *args: str) -> list[str]:
        return [sys.executable, "-m", "model_registry", *args]

    def helper_env(self, repo: Path) -> dict:
        return {**self.env, "PYTHONPATH": str(self.registry / "src")}

    def once(self, n: int) -> dict[str, float]:
        renew(self.artifact)
        t: dict[str, float] = {}
        key, out = f"floor/{n}", self.work / "out.bin"

        # the floor: hash the file, send it; fetch it back
        t["md5"] = timed(digest_of, self.artifact)
        t["boto3_upload"] = timed(self.client.upload_file, str(self.artifact),
                                  self.server.bucket, key)
        t["floor_upload"] = t["md5"] + t["boto3_upload"]
        t["boto3_download"] = timed(self.client.download_file, self.server.bucket, key, str(out))
        t["floor_verified"] = t["boto3_download"] + timed(digest_of, out, hashlib.sha256)
        out.unlink()

        # plain DVC
        dvc = [str(BIN / "dvc")]
        data = self.plain / "data.bin"
        shutil.copyfile(self.artifact, data)
        t["dvc_add"] = run(dvc + ["add", "--quiet", "data.bin"], self.plain, self.env)
        t["dvc_push"] = run(dvc + ["push", "--quiet"], self.plain, self.env)
        t["dvc_add_push"] = t["dvc_add"] + t["dvc_push"]
        shutil.rmtree(self.plain / ".dvc" / "cache")
        data.unlink()
        t["dvc_pull"] = run(dvc + ["pull", "--quiet"], self.plain, self.env)
        shutil.rmtree(self.plain / ".dvc" / "cache")
        data.unlink()

        # the registry, as a user runs it
        env = self.helper_env(self.registry)
        version = f"v{n + 1}.0.0"
        t["register"] = run(self.helper(self.registry, "register", "big", str(self.artifact),
                                        "--version", version, "--push"), self.registry, env)
        clone = self.work / f"clone-{n}"
        run(["git", "clone", "--quiet", str(self.origin), str(clone)], self.work, self.env)
        t["get"] = run(self.helper(clone, "get", f"big@{version}", "-o", str(out)), clone, env)
        if digest_of(out) != digest_of(self.artifact):
            raise RuntimeError("registry get returned other bytes than were registered")
        out.unlink()
        t["get_cached"] = run(self.helper(clone, "get", f"big@{version}", "-o", str(out)),
                              clone, env)
        out.unlink()
        shutil.rmtree(clone)
        shutil.rmtree(self.registry / ".dvc" / "cache", ignore_errors=True)
        return t


def report(runs: list[dict[str, float]], size: int) -> tuple[str, dict]:
    mb = size / 1e6
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    lines = [f"{size / (1 << 20):.0f} MiB artifact, {len(runs)} run(s), SeaweedFS on loopback; "
             "median seconds, throughput, and time relative to the floor", ""]
    header = f"{'':38} {'median s':>9} {'MB/s':>7} {'x floor':>8}   runs (s)"
    for title, rows, floor in (("upload", UPLOAD, "floor_upload"),
                               ("download", DOWNLOAD, "boto3_download")):
        lines += [f"{title:38}" + header[38:]]
        for key, label in rows:
            each = " ".join(f"{r[key]:.1f}" for r in runs)
            lines.append(f"{label:38} {med[key]:9.2f} {mb / med[key]:7.0f} "
                         f"{med[key] / med[floor]:7.2f}x   {each}")
        lines.append("")
    get_ratio = med["boto3_download"] / med["get"]
    register_ratio = med["register"] / med["floor_upload"]
    lines += [f"get throughput vs boto3:            {get_ratio:.2f}x (target >= {GET_TARGET}x)"
              f"  {'met' if get_ratio >= GET_TARGET else 'NOT met'}",
              f"register --push vs md5 + boto3 upload: {register_ratio:.2f}x (target <= "
              f"{REGISTER_TARGET}x)  {'met' if register_ratio <= REGISTER_TARGET else 'NOT met'}"]
    return "\n".join(lines), {"size": size, "runs": runs, "median": med,
                              "get_vs_boto3": get_ratio, "register_vs_floor": register_ratio}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="artifact size (1024)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; medians are reported (3)")
    parser.add_argument("--json", metavar="FILE", help="also write the times as JSON")
    args = parser.parse_args(argv)
    size = args.size_mib << 20
    os.environ.update(IDENTITY)  # cookiecutter's hook commits the baked registry
    work = Path(tempfile.mkdtemp(prefix="registry-bench-s3-"))
    try:
        with seaweedfs(str(work / "seaweedfs")) as server:
            bench = Bench(work, server, size)
            runs = []
            for n in range(args.repeat):
                runs.append(bench.once(n))
                print(f"run {n + 1}/{args.repeat}: " + ", ".join(
                    f"{k} {v:.1f}s" for k, v in runs[-1].items()), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text, data = report(runs, size)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
