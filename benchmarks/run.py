"""`make bench`: the helper against gto, dvc and git's own floor, on registries of 1k-100k tags.

For each size, `synth.py` bakes a registry from the template and fills it with `git fast-import`
(see that file for its shape). Then, in one run and on the same machine:

- the helper, as a user runs it (`python -m model_registry ...` from the registry's src/):
  `resolve NAME@latest`, `resolve NAME#prod`, `history NAME`, `check-ref TAG`, `list`,
  `which MD5` and `--help`;
- the floor each command cannot beat: starting the interpreter and running `git for-each-ref`
  over the same refs (one model's, or all), asking for the fields the registry needs (name,
  type, commit, tagger, dates, message, signature; `which` finds hashes in the messages);
- gto and DVC on the same registry: `gto show NAME@latest`, `gto show`, `gto check-ref TAG` and
  `dvc.api.artifacts_show(NAME)` (a fresh interpreter each, as a CI step would run them);
- last, consumers that have only the registry's URL (a bare copy served over file:// with
  uploadpack.allowFilter), after a 1 MB version of NAME is registered and pushed:
  `registry resolve NAME --repo URL`, `registry get NAME --repo URL`, their floor (git fetching
  NAME's tags), `git clone --no-checkout` with and without `--filter=blob:none`, and
  `dvc artifacts get URL NAME`.

Every helper command and floor runs with the tags packed (as `git clone` leaves them) and loose
(one file per tag, as `git tag` and `git fetch` leave them; the helper's first read there is
timed on its own, since it may pack them); gto and DVC run with packed refs, their best case.
Helper commands and floors take turns, after one warm-up run each; the table shows medians of
--runs runs, wall-clock and CPU (gto and DVC: up to 3 runs within 20 s, no warm-up). The
answers of gto, DVC and the helper are compared on the same registries; any difference is
printed and fails the run.

gto takes minutes at 100k tags: it runs there only when the 1k -> 10k growth predicts it ends
within --gto-limit seconds (default 120); otherwise the table says it was skipped, and why.

    python benchmarks/run.py                         # 1k, 10k, 100k: the table, and JSON
    python benchmarks/run.py --sizes 1k,10k --runs 3
    python benchmarks/run.py --s3                    # then the S3 transfer benchmarks

The JSON (every run's time, the registries, the targets) goes to benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE.parent
sys.path.insert(0, str(HERE))
import synth  # noqa: E402

PY = sys.executable
BIN = Path(PY).parent
SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}
STATES = ("packed", "loose")
# What the registry reads of each tag: the floor asks git for the same.
FIELDS = ("%(refname:strip=2)", "%(objecttype)", "%(*objectname)", "%(taggername)",
          "%(taggeremail:trim)", "%(taggerdate:unix)", "%(*committerdate:unix)", "%(contents)",
          "%(contents:signature)")
FORMAT = "%1f".join(FIELDS) + "%1e"
FLOOR = "import subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, check=True)"
# The helper's read cache (model_registry/readcache.py): a cold row removes it before each run.
READ_CACHE = os.path.join(".git", "model-registry-cache.json")
# A cold row moves the cache aside for its run and back after it, so the plain rows that follow
# (and a round in which a slow cold row is not run) still find it warm.
COLD = 'mv -f "$0" "$0.warm" 2>/dev/null; "$@"; s=$?; mv -f "$0.warm" "$0" 2>/dev/null; exit $s'
ARTIFACTS_SHOW = ("import json, sys, dvc.api; "
                  "print(json.dumps(dvc.api.artifacts_show(sys.argv[1], repo='.')))")
# Modules the read path must not import (GitPython is `git`; gitdb is its object store).
HEAVY = ("dvc", "git", "gitdb", "jsonschema", "gto", "scmrepo", "dulwich", "pygit2")


# ---------------------------------------------------------------- measuring


@dataclass
class Timing:
    """Seconds of each run of one command, wall-clock and CPU, and what the last run printed.

    CPU is user + system time of the command and every process it waited for (its git
    calls): unlike wall-clock time it hardly changes when other work shares the machine.
    """

    runs: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    note: str = ""  # why there is no number, or what to know about it
    failed: str = ""  # the error of a run that exited non-zero
    output: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.runs) if self.runs and not self.failed else None

    @property
    def cpu_median(self) -> float | None:
        return statistics.median(self.cpu) if self.cpu and not self.failed else None

    def add(self, run: "Run") -> None:
        self.runs.append(run.seconds)
        self.cpu.append(run.cpu)
        self.output = run.proc.stdout


@dataclass
class Run:
    seconds: float
    cpu: float
    proc: subprocess.CompletedProcess


def run_once(argv: list[str], cwd: str, env: dict, timeout: float | None = None) -> Run:
    """Run once; on timeout, stop the command and everything it started (git, too)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, None)):
                try:
                    os.killpg(proc.pid, sig)
                    proc.communicate(timeout=wait)
                    break
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    continue
            raise
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Run(seconds, cpu, subprocess.CompletedProcess(argv, proc.returncode, out, err))


def measure(argv: list[str], cwd: str, env: dict, runs: int, *, warmup: bool = True,
            budget: float | None = None, timeout: float | None = None) -> Timing:
    """Median over `runs` runs (after a warm-up run), or as many as fit in `budget` seconds."""
    timing = Timing()
    if warmup:
        run = run_once(argv, cwd, env, timeout)
        if run.proc.returncode != 0:
            timing.failed = _last_line(run.proc)
            return timing
    while len(timing.runs) < runs and (budget is None or sum(timing.runs) < budget):
        try:
            run = run_once(argv, cwd, env, timeout)
        except subprocess.TimeoutExpired:
            timing.note = f"stopped after {timeout:.0f} s"
            break
        if run.proc.returncode != 0:
            timing.failed = _last_line(run.proc)
            break
        timing.add(run)
    return timing


def measure_interleaved(commands: list[tuple[list[str], str, dict]], runs: int,
                        budget: float = 30) -> list[Timing]:
    """Like measure(), for several commands at once, taking turns: one warm-up run of each,
    then run i of every command before run i+1 of any, so that a machine busy with something
    else slows them alike and their ratios hold.

    A command slower than 2 s counts its warm-up as a run (caches matter little at that
    scale), and takes no more runs once its runs add up to `budget` seconds.
    """
    timings = [Timing() for _ in commands]
    for timing, (argv, cwd, env) in zip(timings, commands):
        run = run_once(argv, cwd, env)
        if run.proc.returncode != 0:
            timing.failed = _last_line(run.proc)
        elif run.seconds > 2:
            timing.add(run)
    for _ in range(runs):
        for timing, (argv, cwd, env) in zip(timings, commands):
            if timing.failed or len(timing.runs) >= runs or sum(timing.runs) >= budget:
                continue
            run = run_once(argv, cwd, env)
            if run.proc.returncode != 0:
                timing.failed = _last_line(run.proc)
                continue
            timing.add(run)
    return timings


def _last_line(proc: subprocess.CompletedProcess) -> str:
    lines = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()
    return f"exit {proc.returncode}: {lines[-1][:160]}"


# ---------------------------------------------------------------- what is measured


@dataclass
class Row:
    key: str
    label: str
    kind: str  # helper | floor | tool
    argv: object  # callable(built) -> argv list


def helper(*args) -> list[str]:
    return [PY, "-m", "model_registry", *args]


def cold(*args) -> list[str]:
    """The helper as it runs first after any tag changed: no read cache (the shell that
    moves it aside and back costs a few milliseconds)."""
    return ["sh", "-c", COLD, READ_CACHE, *helper(*args)]


def model_patterns(name: str) -> list[str]:
    """The refs of one model, as the helper asks git for them."""
    return [f"refs/tags/{name}@*", f"refs/tags/{name}#*", f"refs/tags/{name}#*/**"]


ROWS = [
    Row("floor_model", "floor: python + for-each-ref of NAME", "floor",
        lambda b: [PY, "-c", FLOOR, "git", "for-each-ref", f"--format={FORMAT}",
                   *model_patterns(b.model)]),
    Row("resolve_latest", "registry resolve NAME@latest", "helper",
        lambda b: helper("resolve", f"{b.model}@latest", "--json")),
    Row("resolve_stage", "registry resolve NAME#prod", "helper",
        lambda b: helper("resolve", f"{b.model}#prod", "--json")),
    Row("history_model", "registry history NAME", "helper",
        lambda b: helper("history", b.model, "--json")),
    Row("check_ref", "registry check-ref TAG", "helper",
        lambda b: helper("check-ref", b.check_ref_tag, "--json")),
    Row("floor_all", "floor: python + for-each-ref of all tags", "floor",
        lambda b: [PY, "-c", FLOOR, "git", "for-each-ref", f"--format={FORMAT}", "refs/tags/"]),
    Row("list_cold", "registry list, cold read cache", "helper",
        lambda b: cold("list", "--json")),
    Row("list", "registry list", "helper", lambda b: helper("list", "--json")),
    Row("which_cold", "registry which MD5, cold read cache", "helper",
        lambda b: cold("which", b.which_md5, "--json")),
    Row("which", "registry which MD5", "helper",
        lambda b: helper("which", b.which_md5, "--json")),
    Row("help", "registry --help", "helper", lambda b: helper("--help")),
    Row("gto_show_latest", "gto show NAME@latest", "tool",
        lambda b: [str(BIN / "gto"), "show", f"{b.model}@latest", "--json"]),
    Row("gto_show", "gto show", "tool", lambda b: [str(BIN / "gto"), "show", "--json"]),
    Row("gto_check_ref", "gto check-ref TAG", "tool",
        lambda b: [str(BIN / "gto"), "check-ref", b.check_ref_tag, "--json"]),
    Row("dvc_artifacts_show", "dvc.api.artifacts_show(NAME)", "tool",
        lambda b: [PY, "-c", ARTIFACTS_SHOW, b.model]),
]
BY_KEY = {r.key: r for r in ROWS}
# Timed once, on loose tags, before any other helper run there (it is the run that packs them).
FIRST_READ = Row("first_read", "registry resolve NAME@latest, first read", "helper", None)
DISPLAY = [BY_KEY[k] for k in ("floor_model", "resolve_latest", "resolve_stage", "history_model",
                               "check_ref")] + [FIRST_READ] + [
    r for r in ROWS if r.key not in ("floor_model", "resolve_latest", "resolve_stage",
                                     "history_model", "check_ref")]


# ---------------------------------------------------------------- consumers: from the URL

# The 1 MB artifact `get --repo` fetches: a new version of NAME registered before the consumer
# rows run, its bytes in the registry's local DVC remote.
CONSUMER_BYTES = 1_000_000
# What no `get --repo` can beat: the interpreter starting and git fetching NAME's tags, shallow
# and without trees or files, into a new repository.
FETCH_FLOOR = """\
import subprocess, sys, tempfile
url, name = sys.argv[1:]
with tempfile.TemporaryDirectory() as d:
    subprocess.run(["git", "init", "-q", d], check=True)
    subprocess.run(["git", "-C", d, "fetch", "-q", "--no-tags", "--depth=1", "--filter=tree:0",
                    url, f"refs/tags/{name}@*:refs/tags/{name}@*",
                    f"refs/tags/{name}#*:refs/tags/{name}#*"], check=True)
"""
# A clone into a new folder of the scratch folder $0, removed after (as get --repo removes its
# own): git clone --no-checkout FLAGS... URL.
CLONE = ('d=$(mktemp -d -p "$0") && git clone -q --no-checkout "$@" "$d"; s=$?; rm -rf "$d"; '
         'exit $s')


@dataclass
class Served:
    """The registry as a consumer sees it: a bare copy served over file:// with
    uploadpack.allowFilter, as GitHub and GitLab allow partial clones, and the 1 MB version."""

    url: str
    model: str
    version: str
    commit: str
    artifact: str  # the registered bytes, to compare outputs with
    scratch: str  # the consumers' working folder, outside any repository


CONSUMER_ROWS = [
    Row("fetch_floor", "floor: python + git fetch of NAME's tags", "floor",
        lambda c: [PY, "-c", FETCH_FLOOR, c.url, c.model]),
    Row("resolve_url", "registry resolve NAME --repo URL", "helper",
        lambda c: helper("resolve", c.model, "--repo", c.url, "--json")),
    Row("get_url", "registry get NAME --repo URL (1 MB)", "helper",
        lambda c: helper("get", c.model, "--repo", c.url, "-o", "got.bin", "--force", "--json")),
    Row("clone", "git clone --no-checkout URL", "git",
        lambda c: ["sh", "-c", CLONE, c.scratch, c.url]),
    Row("clone_blobless", "git clone --no-checkout --filter=blob:none", "git",
        lambda c: ["sh", "-c", CLONE, c.scratch, "--filter=blob:none", c.url]),
    Row("dvc_artifacts_get", "dvc artifacts get URL NAME (1 MB)", "tool",
        lambda c: [str(BIN / "dvc"), "artifacts", "get", c.url, c.model, "-o", "dvc.bin",
                   "--force"]),
]


def serve(built: synth.Built, dest: Path, env: dict) -> Served:
    """Serve the registry as a consumer reaches it: a bare copy, with the registry's new
    version of NAME (a 1 MB artifact) pushed to it and to the DVC remote by the helper."""
    served = dest / "served.git"
    scratch = dest / "consumer"
    scratch.mkdir(parents=True, exist_ok=True)
    root = Path(built.root)
    artifact = dest / "consumer-artifact" / synth.ARTIFACT
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.write_bytes(os.urandom(CONSUMER_BYTES))
    for argv, cwd in ((["git", "clone", "--quiet", "--bare", str(root), str(served)], dest),
                      (["git", "config", "uploadpack.allowFilter", "true"], served),
                      (["git", "remote", "add", "origin", str(served)], root),
                      (helper("register", built.model, str(artifact), "--bump", "major",
                              "--push", "--json"), root)):
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")
    registered = json.loads(proc.stdout)
    return Served(url=served.as_uri(), model=built.model, version=registered["version"],
                  commit=registered["commit"], artifact=str(artifact), scratch=str(scratch))


def bench_consumers(built: synth.Built, dest: Path, label: str, args, estimates: dict) -> dict:
    """Time NAME's consumers from the registry's URL: the helper, git's floor and clones, then
    DVC; check that they got the registered version's bytes."""
    helper_env, tool_env = environment(built, True), environment(built, False)
    served = serve(built, dest, helper_env)
    times = {}
    rows = [r for r in CONSUMER_ROWS if r.kind != "tool"]
    found = measure_interleaved([(r.argv(served), served.scratch, helper_env) for r in rows],
                                args.runs)
    times.update(zip((r.key for r in rows), found))
    for row in CONSUMER_ROWS:
        if row.kind == "tool" and not args.no_gto:
            times[row.key] = tool_timing(row, row.argv(served), built, tool_env, label, args,
                                         estimates, cwd=served.scratch)
    for row in CONSUMER_ROWS:
        if row.key in times:
            print(f"[{label}] url    {row.label:44} {fmt(times[row.key])}", flush=True)
    return {"url": served.url, "version": served.version, "times": times,
            "checks": check_consumers(served, times)}


def check_consumers(served: Served, times: dict) -> dict:
    """The helper's and DVC's answers from the URL against what was registered."""
    differences, compared = [], []
    wanted = Path(served.artifact).read_bytes()
    for key, out in (("get_url", "got.bin"), ("dvc_artifacts_get", "dvc.bin")):
        timing = times.get(key)
        if timing is None or timing.failed or not timing.runs:
            continue
        path = Path(served.scratch) / out
        if not path.exists() or path.read_bytes() != wanted:
            differences.append(f"{key}: {out} is not the registered {served.version}'s bytes")
        compared.append(f"{key}: the bytes of {served.model} {served.version}")
    timing = times.get("resolve_url")
    if timing is not None and timing.output and not timing.failed:
        got = json.loads(timing.output)
        if (got["version"], got["commit"]) != (served.version, served.commit):
            differences.append(f"resolve --repo: {got['version']} {got['commit'][:12]}, "
                               f"registered {served.version} {served.commit[:12]}")
        compared.append("resolve --repo: the registered version")
    return {"compared": compared, "differences": differences}


def environment(built: synth.Built, for_helper: bool) -> dict:
    """The benchmark's own git config and identity; the helper's src/ on the path.

    PYTHON* variables of the calling shell are dropped (PYTHONDONTWRITEBYTECODE would make
    every helper run compile its modules again, which no installed helper does).
    """
    home = Path(built.root).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GIT_"))}
    env.update(synth.IDENTITY, GIT_CONFIG_GLOBAL=str(home / "gitconfig"),
               GIT_CONFIG_NOSYSTEM="1", GIT_CEILING_DIRECTORIES=str(home),
               DVC_NO_ANALYTICS="1")
    if for_helper:
        env["PYTHONPATH"] = str(Path(built.root) / "src")
    return env


def heavy_imports(built: synth.Built) -> list[str]:
    """Top-level packages from HEAVY that `registry resolve NAME@latest` imports."""
    proc = subprocess.run([PY, "-X", "importtime", "-m", "model_registry", "resolve",
                           f"{built.model}@latest"], cwd=built.root,
                          env=environment(built, True), capture_output=True, text=True)
    found = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            module = line.rsplit("|", 1)[1].strip().split(".")[0]
            if module in HEAVY:
                found.add(module)
    return sorted(found)


# ---------------------------------------------------------------- one registry


def bench_size(label: str, tags: int, args, estimates: dict) -> dict:
    """Build one registry and time everything on it: packed, then loose, then packed again."""
    dest = Path(args.build) / label
    print(f"[{label}] building a registry of {tags} tags ...", flush=True)
    built = synth.build(dest, tags)
    print(f"[{label}] {built.tags} tags, {built.models} models, {built.versions} versions; "
          f"built in {sum(built.seconds.values()):.1f} s "
          f"({', '.join(f'{k} {v:.1f} s' for k, v in built.seconds.items())})", flush=True)
    helper_env, tool_env = environment(built, True), environment(built, False)
    result = {"registry": asdict(built), "times": {}}

    def show(state, row):
        print(f"[{label}] {state:6} {row.label:44} {fmt(result['times'][state][row.key])}",
              flush=True)

    def timed_rows(state, rows):
        times = result["times"].setdefault(state, {})
        found = measure_interleaved([(r.argv(built), built.root, helper_env) for r in rows],
                                    args.runs)
        for row, timing in zip(rows, found):
            times[row.key] = timing
            show(state, row)

    # packed, as `git clone` leaves a registry: the helper, the floors, then gto and DVC
    timed_rows("packed", [r for r in ROWS if r.kind != "tool"])
    for row in ROWS:
        if row.kind == "tool" and not args.no_gto:
            result["times"]["packed"][row.key] = tool_timing(
                row, row.argv(built), built, tool_env, label, args, estimates)
            show("packed", row)

    # loose, as `git tag` and `git fetch` leave tags: git's floors first, then the helper's
    # first read (which may pack the tags: see gitrepo.Git), then the helper as it is after it
    result["unpacked"] = synth.unpack_refs(built.root)
    timed_rows("loose", [r for r in ROWS if r.kind == "floor"])
    first = Timing()
    try:
        run = run_once(BY_KEY["resolve_latest"].argv(built), built.root, helper_env,
                       timeout=args.first_read_limit)
        if run.proc.returncode:
            first.failed = _last_line(run.proc)
        else:
            first.add(run)
    except subprocess.TimeoutExpired:
        first.note = f"stopped after {args.first_read_limit:.0f} s"
        lock = Path(built.root) / ".git" / "packed-refs.lock"
        if lock.exists():  # a pack-refs stopped half-way; the refs are as they were
            lock.unlink()
    result["times"]["loose"]["first_read"] = first
    result["loose_after_first_read"] = synth.loose_tags(built.root)
    show("loose", FIRST_READ)
    timed_rows("loose", [r for r in ROWS if r.kind == "helper" and r.key != "help"])
    left = synth.loose_tags(built.root)
    result["pack_refs"] = {"loose": left, "seconds": synth.pack_refs(built.root)}
    print(f"[{label}] git pack-refs --all of the {left} tags still loose: "
          f"{result['pack_refs']['seconds']:.2f} s", flush=True)
    result["imports"] = heavy_imports(built) if label == args.sizes[0] else None
    result["checks"] = compare(built, result["times"]["packed"])
    # last: registering the consumers' version adds a commit and a tag to the registry
    result["consumer"] = bench_consumers(built, dest, label, args, estimates)
    for part in ("compared", "differences"):
        result["checks"][part] += result["consumer"]["checks"][part]
    for line in result["checks"]["differences"]:
        print(f"[{label}] DIFFERENCE: {line}", flush=True)
    return result


def tool_timing(row: Row, argv, built, env, label, args, estimates,
                cwd: str | None = None) -> Timing:
    """gto and DVC: no warm-up, up to 3 runs in 20 s; skipped where they would take too long.
    They run in the registry (or in `cwd`)."""
    limit = args.gto_limit
    guess = estimate(estimates.get(row.key, {}), SIZES[label])
    if limit and guess is not None and guess > limit:
        seen = ", ".join(f"{k}: {fmt_seconds(v)}" for k, v in estimates[row.key].items())
        return Timing(note=f"skipped: about {fmt_seconds(guess)} expected ({seen}), over "
                      f"the {limit:.0f} s limit")
    timing = measure(argv, cwd or built.root, env, 3, warmup=False, budget=20,
                     timeout=limit * 1.5 if limit else None)
    if timing.median is not None:
        estimates.setdefault(row.key, {})[label] = timing.median
    return timing


def estimate(seen: dict[str, float], tags: int) -> float | None:
    """Time at `tags` tags, growing from the largest measured size as it grew before it."""
    points = sorted((SIZES[k], v) for k, v in seen.items())
    if len(points) < 2 or tags <= points[-1][0]:
        return None
    (n1, t1), (n2, t2) = points[-2], points[-1]
    per_decade = max(t2 / t1, 1.0) ** (1 / max(1e-9, _decades(n1, n2)))
    return t2 * per_decade ** _decades(n2, tags)


def _decades(a: int, b: int) -> float:
    return math.log10(b / a)


# ---------------------------------------------------------------- the same answers


def compare(built: synth.Built, times: dict) -> dict:
    """The helper's answers against gto's and DVC's, from the outputs of the timed runs."""
    differences, compared = [], []

    def load(key):
        timing = times.get(key)
        if timing is None or not timing.output or timing.failed:
            return None
        return json.loads(timing.output)

    mine, table = load("list"), load("gto_show")
    if mine is not None and table is not None:
        listed = {m["name"]: m for m in mine if not m["deprecated"]}
        if set(listed) != set(table):
            differences.append(f"models listed: helper {sorted(set(listed) - set(table))} "
                               f"extra, gto {sorted(set(table) - set(listed))} extra")
        for name, row in table.items():
            ours = listed.get(name)
            if ours is None:
                continue
            stages = {s: v for s, v in row["stage"].items() if v}
            if (ours["latest"], ours["stages"]) != (row["version"], stages):
                differences.append(f"{name}: helper latest {ours['latest']} {ours['stages']}, "
                                   f"gto {row['version']} {stages}")
        compared.append(f"gto show: latest and stages of {len(table)} models")
    resolved, shown = load("resolve_latest"), load("gto_show_latest")
    if resolved is not None and shown is not None:
        theirs = (shown[0]["version"], shown[0]["commit_hexsha"]) if shown else None
        if theirs != (resolved["version"], resolved["commit"]):
            differences.append(f"{built.model}@latest: helper {resolved['version']} "
                               f"{resolved['commit'][:12]}, gto {theirs}")
        compared.append("gto show NAME@latest")
    artifacts = load("dvc_artifacts_show")
    if resolved is not None and artifacts is not None:
        if (artifacts["rev"], artifacts["path"]) != (resolved["commit"],
                                                     resolved["artifact"]["path"]):
            differences.append(f"dvc artifacts_show {artifacts}, helper {resolved['commit']} "
                               f"{resolved['artifact']['path']}")
        compared.append("dvc.api.artifacts_show")
    checked, event = load("check_ref"), load("gto_check_ref")
    if checked is not None and event is not None:
        for key, theirs in (("version", event.get("version")),
                            ("commit", event.get("commit_hexsha"))):
            ours = checked.get(key, checked.get("commit_hexsha") if key == "commit" else None)
            if ours != theirs:
                differences.append(f"check-ref {built.check_ref_tag}: {key} helper {ours}, "
                                   f"gto {theirs}")
        compared.append("gto check-ref")
    which = load("which")
    if which is not None:
        text = json.dumps(which)
        version = built.which_version.split("@", 1)[1]
        if version not in text:
            differences.append(f"which {built.which_md5}: {built.which_version} not in "
                               f"{text[:200]}")
        compared.append("which: the version whose artifact it is")
    for key in ("list", "which"):
        warm, first = load(key), load(f"{key}_cold")
        if warm is not None and first is not None:
            if warm != first:
                differences.append(f"{key}: the answer with a cold read cache differs")
            compared.append(f"{key} with and without the read cache")
    return {"compared": compared, "differences": differences}


# ---------------------------------------------------------------- the report


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.1f} s" if value < 100 else f"{value:.0f} s"


def fmt(timing: Timing | None) -> str:
    if timing is None:
        return "-"
    if timing.failed:
        return "failed"
    if timing.median is None:  # "skipped: ...", "stopped after ..."
        return timing.note.split()[0].rstrip(":") if timing.note else "-"
    text = fmt_seconds(timing.median)
    return text + (f" ({len(timing.runs)})" if len(timing.runs) < 3 else "")


def noted(timing, notes: list[str]) -> str:
    """A cell: the timing, or where it has none, a letter pointing to its note in `notes`."""
    cell = fmt(timing)
    if timing is not None and timing.note and timing.median is None:
        if timing.note not in notes:
            notes.append(timing.note)
        cell += f" [{chr(ord('a') + notes.index(timing.note))}]"
    return cell


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}x" if value >= 10 else f"{value:.1f}x"


def median(results: dict, label: str, state: str, key: str) -> float | None:
    timing = results.get(label, {}).get("times", {}).get(state, {}).get(key)
    return timing.median if timing else None


def cpu_median(results: dict, label: str, state: str, key: str) -> float | None:
    timing = results.get(label, {}).get("times", {}).get(state, {}).get(key)
    return timing.cpu_median if timing else None


def report(results: dict, args) -> tuple[str, list[dict]]:
    labels = [l for l in args.sizes if l in results]
    out = []
    env = results_environment()
    out.append(f"Registry benchmarks: wall-clock medians of {args.runs} runs (gto, DVC: runs in "
               "brackets where fewer than 3)")
    out.append(f"git {env['git']}, Python {env['python']}, {env['cpus']} CPUs, load average "
               f"{env['load']} at the end; helper run as `python -m model_registry`")
    out.append("")
    width = 44
    out.append("registry".ljust(width) + "".join(l.rjust(22) for l in labels))
    regs = {l: results[l]["registry"] for l in labels}
    out.append("  tags / models / versions".ljust(width) + "".join(
        f"{r['tags']} / {r['models']} / {r['versions']}".rjust(22) for r in regs.values()))
    out.append("  built in (bake, fast-import, tags)".ljust(width) + "".join(
        f"{sum(r['seconds'].values()):.1f} s".rjust(22) for r in regs.values()))
    out.append("  tags loose after the first read".ljust(width) + "".join(
        f"{results[l]['loose_after_first_read']} of {results[l]['unpacked']}".rjust(22)
        for l in labels))
    out.append("")
    head = "command".ljust(width) + "".join(f"{l} packed".rjust(12) + "loose".rjust(12)
                                            for l in labels)
    last = labels[-1]
    growth = len(labels) > 1
    if growth:
        head += f"{labels[0]}->{last}".rjust(12)
    out.append(head)
    out.append("-" * len(head))
    notes = []
    for row in DISPLAY:
        if row.key in ("gto_show_latest",):
            out.append("")
        cells = []
        for l in labels:
            for state in STATES:
                timing = results[l]["times"].get(state, {}).get(row.key)
                cells.append(noted(timing, notes).rjust(12))
        line = row.label.ljust(width) + "".join(cells)
        if growth:
            state = "loose" if row is FIRST_READ else "packed"
            line += fmt_ratio(ratio(median(results, last, state, row.key),
                                    median(results, labels[0], state, row.key))).rjust(12)
        out.append(line)
    for i, note in enumerate(notes):
        out.append(f"[{chr(ord('a') + i)}] {note}")
    out.append("packed: as `git clone` leaves tags; loose: one file per tag, as `git tag` and "
               "`git fetch` leave them.")
    out.append("loose helper rows run after the first read, which packs the tags if the helper "
               "keeps them packed;")
    out.append("gto and DVC run with packed refs only. Growth: packed (first read: loose), "
               "largest size over smallest.")

    out.append("")
    out.append("CPU time, packed refs: user + system of the command and its git processes")
    out.append("(medians; what a busy machine changes least)".ljust(width)
               + "".join(l.rjust(11) for l in labels))
    for row in DISPLAY:
        if row is FIRST_READ or not any(cpu_median(results, l, "packed", row.key)
                                        for l in labels):
            continue
        out.append(f"  {row.label}".ljust(width) + "".join(
            fmt_seconds(cpu_median(results, l, "packed", row.key)).rjust(11) for l in labels))

    out.append("")
    out.append("ratios (packed refs)".ljust(width) + "".join(l.rjust(11) for l in labels))
    for text, a, b in (
            ("gto show NAME@latest / resolve NAME@latest", "gto_show_latest", "resolve_latest"),
            ("gto show / registry list", "gto_show", "list"),
            ("resolve NAME@latest / its floor", "resolve_latest", "floor_model"),
            ("resolve NAME#prod / its floor", "resolve_stage", "floor_model"),
            ("list / its floor", "list", "floor_all"),
            ("which / its floor", "which", "floor_all")):
        out.append(f"  {text}".ljust(width) + "".join(
            fmt_ratio(ratio(median(results, l, "packed", a),
                            median(results, l, "packed", b))).rjust(11) for l in labels))
    for text, a, b in (
            ("gto show NAME@latest / resolve, CPU", "gto_show_latest", "resolve_latest"),
            ("resolve NAME@latest / its floor, CPU", "resolve_latest", "floor_model")):
        out.append(f"  {text}".ljust(width) + "".join(
            fmt_ratio(ratio(cpu_median(results, l, "packed", a),
                            cpu_median(results, l, "packed", b))).rjust(11) for l in labels))
    out.append(f"  resolve NAME@latest, loose / packed".ljust(width) + "".join(
        fmt_ratio(ratio(median(results, l, "loose", "resolve_latest"),
                        median(results, l, "packed", "resolve_latest"))).rjust(11)
        for l in labels))

    out += consumer_report(results, labels, width)

    targets = evaluate(results, labels)
    out.append("")
    out.append("targets")
    for t in targets:
        out.append(f"  {t['status']:7} {t['target']}: {t['measured']}")
    out.append("")
    for l in labels:
        checks = results[l]["checks"]
        if checks["compared"]:
            verdict = "same answers" if not checks["differences"] else \
                f"{len(checks['differences'])} DIFFERENCES (above)"
            out.append(f"helper vs gto/DVC at {l}: {verdict} ({'; '.join(checks['compared'])})")
    return "\n".join(out), targets


def consumer_median(results: dict, label: str, key: str, cpu: bool = False) -> float | None:
    timing = results.get(label, {}).get("consumer", {}).get("times", {}).get(key)
    return None if timing is None else timing.cpu_median if cpu else timing.median


def consumer_report(results: dict, labels: list[str], width: int) -> list[str]:
    """The consumers' table: wall-clock medians, growth, and CPU time of each row."""
    out = ["", f"consumers of NAME from the registry's URL (file://, uploadpack.allowFilter), "
           f"a {CONSUMER_BYTES / 1e6:.0f} MB artifact"]
    head = "command".ljust(width) + "".join(l.rjust(12) for l in labels)
    growth = len(labels) > 1
    if growth:
        head += f"{labels[0]}->{labels[-1]}".rjust(12)
    head += "   CPU " + " / ".join(labels)
    out += [head, "-" * len(head)]
    notes = []
    for row in CONSUMER_ROWS:
        cells = []
        for l in labels:
            timing = results[l].get("consumer", {}).get("times", {}).get(row.key)
            cells.append(noted(timing, notes).rjust(12))
        line = row.label.ljust(width) + "".join(cells)
        if growth:
            line += fmt_ratio(ratio(consumer_median(results, labels[-1], row.key),
                                    consumer_median(results, labels[0], row.key))).rjust(12)
        line += "   " + " / ".join(fmt_seconds(consumer_median(results, l, row.key, True))
                                   for l in labels)
        out.append(line)
    for i, note in enumerate(notes):
        out.append(f"[{chr(ord('a') + i)}] {note}")
    out.append("Each a fresh process in an empty folder. The helper fetches NAME's tags and the "
               "files it reads (partial, shallow);")
    out.append("a clone fetches every tag, as `get --repo` did before; DVC clones the "
               "repository too.")
    out.append("")
    out.append("ratios, consumers".ljust(width) + "".join(l.rjust(11) for l in labels))
    for text, a, b in (("git clone --no-checkout / get --repo", "clone", "get_url"),
                       ("dvc artifacts get / get --repo", "dvc_artifacts_get", "get_url"),
                       ("resolve --repo / its floor", "resolve_url", "fetch_floor")):
        out.append(f"  {text}".ljust(width) + "".join(
            fmt_ratio(ratio(consumer_median(results, l, a),
                            consumer_median(results, l, b))).rjust(11) for l in labels))
    return out


def evaluate(results: dict, labels: list[str]) -> list[dict]:
    targets = []

    def add(target, ok, measured):
        status = "n/a" if ok is None else ("met" if ok else "MISSED")
        targets.append({"target": target, "status": status, "measured": measured})

    def worst(label, key):
        values = [median(results, label, s, key) for s in STATES]
        values = [v for v in values if v is not None]
        return max(values) if values else None

    if "10k" in labels:
        r, g = median(results, "10k", "packed", "resolve_latest"), \
            median(results, "10k", "packed", "gto_show_latest")
        x = ratio(g, r)
        add("resolve at 10k >= 100x faster than gto show NAME@latest", x and x >= 100,
            f"{fmt_ratio(x)} ({fmt_seconds(r)} vs {fmt_seconds(g)})")
        r = median(results, "10k", "packed", "resolve_latest")
        f = median(results, "10k", "packed", "floor_model")
        x = ratio(r, f)
        cpu = ratio(cpu_median(results, "10k", "packed", "resolve_latest"),
                    cpu_median(results, "10k", "packed", "floor_model"))
        add("resolve at 10k within 3x of the floor", x and x <= 3,
            f"{fmt_ratio(x)} ({fmt_seconds(r)} vs {fmt_seconds(f)}, packed refs; "
            f"CPU {fmt_ratio(cpu)})")
    if "100k" in labels:
        for key, name, limit in (("resolve_latest", "resolve NAME@latest", 0.5),
                                 ("resolve_stage", "resolve NAME#prod", 0.5),
                                 ("list", "list", 2.0),
                                 ("list_cold", "list, cold read cache,", 2.0)):
            w = worst("100k", key)
            add(f"{name} at 100k under {limit} s (packed, and loose after the first read)",
                None if w is None else w < limit,
                " / ".join(f"{fmt_seconds(median(results, '100k', s, key))} {s}"
                           for s in STATES))
        first = median(results, "100k", "loose", "first_read")
        floor = median(results, "100k", "loose", "floor_model")
        targets.append({"target": "first read of 100k loose tags (packs them, once)",
                        "status": "info", "measured": f"{fmt_seconds(first)}; git's own "
                        f"prefix query on them: {fmt_seconds(floor)} every time"})
    big = [l for l in labels if results[l]["registry"]["versions"] >= 10_000]
    if big:
        l = big[0]
        versions = results[l]["registry"]["versions"]
        for key, how in (("which", ""), ("which_cold", ", cold read cache")):
            w = worst(l, key)
            add(f"which over 10k versions under 2 s{how} ({versions} versions, {l})",
                None if w is None else w < 2,
                "not measured" if w is None else " / ".join(
                    f"{fmt_seconds(median(results, l, s, key))} {s}" for s in STATES))
    if "100k" in labels:
        got = consumer_median(results, "100k", "get_url")
        clone = consumer_median(results, "100k", "clone")
        add(f"get --repo URL of a {CONSUMER_BYTES / 1e6:.0f} MB artifact at 100k under 2 s",
            None if got is None else got < 2,
            f"{fmt_seconds(got)}; git clone --no-checkout {fmt_seconds(clone)}")
    imports = next((results[l]["imports"] for l in labels if results[l]["imports"] is not None),
                   None)
    if imports is not None:
        add("resolve imports no DVC, GitPython or jsonschema (nor gto, scmrepo)", not imports,
            "imports " + ", ".join(imports) if imports else "none of them (-X importtime)")
    w = max((worst(l, "help") or 0) for l in labels)
    add("registry --help under 0.3 s", w < 0.3, f"{fmt_seconds(w)} (slowest median)")
    checked = [l for l in labels if results[l]["checks"]["compared"]]
    if checked:
        bad = [l for l in checked if results[l]["checks"]["differences"]]
        add("the helper answers as gto and DVC do", not bad,
            f"compared at {', '.join(checked)}" + (f"; differs at {', '.join(bad)}" if bad
                                                   else ""))
    return targets


def results_environment() -> dict:
    git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.split()
    return {"git": git[-1] if git else "?", "python": platform.python_version(),
            "cpus": os.cpu_count(), "platform": platform.platform(),
            "load": ", ".join(f"{x:.1f}" for x in os.getloadavg())}


def to_json(results: dict, targets: list[dict], args) -> dict:
    def plain(value):
        if isinstance(value, Timing):
            data = asdict(value)
            data.pop("output")
            data["median"], data["cpu_median"] = value.median, value.cpu_median
            return data
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return {"environment": results_environment(), "runs": args.runs,
            "rows": {r.key: r.label for r in ROWS},
            "consumer_rows": {r.key: r.label for r in CONSUMER_ROWS}, "sizes": plain(results),
            "targets": targets}


# ---------------------------------------------------------------- S3 transfer benchmarks


def run_s3(extra: list[str], results: str) -> int:
    """The S3 transfer benchmarks live in s3_transfer.py; run it as its own step, if present.

    Its JSON goes next to ours (s3_transfer.json) unless `extra` names another file.
    """
    script = HERE / "s3_transfer.py"
    if not script.exists():
        print("S3 transfer benchmarks: benchmarks/s3_transfer.py is not there; skipped")
        return 0
    if "--json" not in extra:
        extra = [*extra, "--json", os.path.join(os.path.dirname(results), "s3_transfer.json")]
    print(f"\nS3 transfer benchmarks ({script.name} {' '.join(extra)}) ...", flush=True)
    return subprocess.run([PY, str(script), *extra], cwd=TEMPLATE).returncode


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1k,10k,100k",
                        help=f"comma-separated, of {', '.join(SIZES)} (default: all)")
    parser.add_argument("--runs", type=int, default=5,
                        help="timed runs of each helper command and floor (default 5)")
    parser.add_argument("--gto-limit", type=float, default=120,
                        help="skip gto/DVC where they are expected to take longer, in seconds; "
                        "0: always run them (default 120)")
    parser.add_argument("--no-gto", action="store_true", help="time only the helper and floors")
    parser.add_argument("--first-read-limit", type=float, default=180,
                        help="stop the first read of loose tags after this many seconds")
    parser.add_argument("--build", default=str(TEMPLATE / "build" / "bench"),
                        help="where registries are built (default build/bench)")
    parser.add_argument("--json", default=str(HERE / "results" / "latest.json"),
                        help="where to write the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the registries afterwards")
    parser.add_argument("--s3", action="store_true",
                        help="then run the S3 transfer benchmarks (benchmarks/s3_transfer.py)")
    parser.add_argument("--s3-args", default="", help="arguments for s3_transfer.py")
    args = parser.parse_args(argv)
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in args.sizes if s not in SIZES]
    if unknown or not args.sizes:
        parser.error(f"unknown size(s) {unknown}: use {', '.join(SIZES)}")
    if not args.no_gto and not (BIN / "gto").exists():
        parser.error(f"gto is not installed next to {PY}: run `make bench`, or pass --no-gto")

    started = time.perf_counter()
    results, estimates = {}, {}
    for label in args.sizes:
        results[label] = bench_size(label, SIZES[label], args, estimates)
        dest = Path(args.build) / label
        if not args.keep and (dest / synth.MARKER).exists():
            shutil.rmtree(dest, ignore_errors=True)
    text, targets = report(results, args)
    print("\n" + text)
    print(f"\n(benchmarks took {time.perf_counter() - started:.0f} s)")
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(to_json(results, targets, args), f, indent=2)
    print(f"results: {args.json}")
    status = 1 if any(results[l]["checks"]["differences"] for l in results) else 0
    if args.s3:
        status = run_s3(args.s3_args.split(), os.path.abspath(args.json)) or status
    return status


if __name__ == "__main__":
    sys.exit(main())
