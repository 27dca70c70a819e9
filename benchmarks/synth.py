"""Synthetic registries for the benchmarks: baked from the template, filled by `git fast-import`.

A registry of N tags is what the helper itself would leave after years of use, written in one
`git fast-import` stream instead of N `registry` calls:

- the template is baked with cookiecutter (registry.yaml, .gto, dvc.yaml, the helper, a first
  commit), exactly as a team would start;
- every version is one commit that changes that model's `.dvc` pointer and its card (the card
  from `cards.new_card` with the `registry:` block the helper fills: name, version,
  previous_version, artifact path/md5/sha256/size); a model's first commit also adds its
  `dvc.yaml` artifacts entry and `.gitignore`, as `registry register` does;
- every event is an annotated tag in GTO's grammar, stamped with strictly increasing tagger
  times: registrations, stage moves (dev, then staging, then prod), demotions, a few
  deregistrations, and a deprecation for one model in fifty;
- models are interleaved at random across the history, as teams work in parallel; most have
  plain names, so their tags share one directory, refs/tags/ (one in ten lives in a team's
  namespace, `team-3/ltv-0004`).

Each model gets the same number of tags (200 by default), so registries of 1k, 10k and 100k
tags differ in how many models they hold (5, 50, 500), not in how big one model is. The model
`churn` has the same history at every size and ends with a version in prod: the benchmarks
query it. (Every commit rewrites the models/ folder, so fast-import's work grows with commits
times models: more, smaller models would make the 100k build slower, not the registry harder.)

Only the git side is synthetic: there are no artifact bytes in a DVC remote (run.py's consumer
rows register one real version with the helper before they time `get --repo`). Each artifact's
content is `artifact_bytes(name, version)`, so `which` can be asked about a file as well as a
hash.

    python benchmarks/synth.py --tags 10000 build/bench      # prints what it built
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import time
import zlib
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
T0 = 1_700_000_000  # tagger time of the first event (Nov 2023); one event a minute after it
STEP = 60
NAME = "Registry Bench"
EMAIL = "bench@example.com"
IDENTITY = {"GIT_AUTHOR_NAME": NAME, "GIT_AUTHOR_EMAIL": EMAIL,
            "GIT_COMMITTER_NAME": NAME, "GIT_COMMITTER_EMAIL": EMAIL}
FAMILIES = ("churn", "fraud", "ranker", "forecast", "ltv", "pricing", "ocr", "search")
BENCH_MODEL = "churn"
ARTIFACT = "model.pkl"
STAGES = ("dev", "staging", "prod")
PER_MODEL = 200  # tags of each model
MARKER = ".synthetic-registry"  # in the folder build() fills; it only ever replaces such a folder


@dataclass
class Built:
    """A synthetic registry and what the benchmarks ask of it."""

    root: str
    tags: int
    models: int
    versions: int
    commits: int
    deprecated: list[str]
    model: str  # the model the benchmarks resolve (BENCH_MODEL)
    model_tags: int
    check_ref_tag: str  # a registration tag of `model`, for check-ref
    which_md5: str  # the md5 of one version's artifact, for which
    which_sha256: str
    which_version: str  # NAME@vX.Y.Z whose artifact that is
    seconds: dict = field(default_factory=dict)


def model_name(i: int) -> str:
    """`fraud-0001`, ...; one model in ten lives in a team's namespace (`team-3/ltv-0004`)."""
    if i == 0:
        return BENCH_MODEL
    base = f"{FAMILIES[i % len(FAMILIES)]}-{i:04d}"
    return f"team-{i % 7}/{base}" if i % 10 == 4 else base


def artifact_bytes(model: str, version: str) -> bytes:
    """The content of a version's artifact: 2 KiB, unique to the version."""
    return hashlib.sha256(f"{model}@{version}".encode()).digest() * 64


# ---------------------------------------------------------------- what happens to one model


def plan(index: int, budget: int, seed: int) -> list[tuple[str, str, str | None]]:
    """A model's events in order, `budget` of them: (action, version, stage).

    Each version is registered, usually promoted to dev, often on to staging and prod; now and
    then a stage is taken away or an older version withdrawn. The benchmark model ends with a
    version in prod; one model in fifty ends deprecated.
    """
    rng = random.Random(f"{seed}-{index}")
    major, minor, patch = 1, 0, 0
    events: list[tuple[str, str, str | None]] = []
    registered: list[str] = []
    withdrawn: set[str] = set()
    held: dict[str, str] = {}
    while len(events) < budget:
        if registered:
            roll = rng.random()
            if roll < 0.05:
                major, minor, patch = major + 1, 0, 0
            elif roll < 0.75:
                minor, patch = minor + 1, 0
            else:
                patch += 1
        version = f"v{major}.{minor}.{patch}"
        registered.append(version)
        events.append(("register", version, None))
        for stage, chance in zip(STAGES, (0.7, 0.5, 0.5)):
            if rng.random() >= chance:
                break
            events.append(("assign", version, stage))
            held[stage] = version
        if held and rng.random() < 0.05:
            stage = rng.choice(sorted(held))
            events.append(("unassign", held.pop(stage), stage))
        older = [v for v in registered[:-1] if v not in withdrawn]
        if older and rng.random() < 0.03:
            version = rng.choice(older)
            withdrawn.add(version)
            events.append(("deregister", version, None))
            held = {s: v for s, v in held.items() if v != version}
    events = events[:budget]
    if index == 0:
        active = [v for a, v, _ in events[:budget - 1] if a == "register" and v not in withdrawn]
        events = events[:budget - 1] + [("assign", active[-1], "prod")]
    elif index % 50 == 3:
        events = events[:budget - 1] + [("deprecate", "", None)]
    return events


# ---------------------------------------------------------------- the registry


@contextmanager
def git_env(home: Path):
    """A git identity and config of the benchmark's own (no user or system config)."""
    config = home / "gitconfig"
    config.write_text("[init]\n\tdefaultBranch = main\n")
    saved = dict(os.environ)
    os.environ.update(IDENTITY, GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1",
                      DVC_NO_ANALYTICS="1")
    os.environ.pop("GIT_DIR", None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def bake(output: Path, slug: str) -> Path:
    """Bake the template into `output`/`slug`, a git repository of its own.

    The post-generation hook leaves git alone inside an existing work tree, and `output` may
    well be inside one (build/ of this template); GIT_CEILING_DIRECTORIES stops git looking
    above `output`, so the hook makes the registry its own repository, as it would for a user.
    """
    from cookiecutter.main import cookiecutter

    os.environ["GIT_CEILING_DIRECTORIES"] = str(output)
    root = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(output),
                             extra_context={"project_name": slug, "project_slug": slug,
                                            "local_remote_path": str(output / "dvc-storage")}))
    check_own_repository(root)
    return root


def check_own_repository(root: Path) -> None:
    """Refuse to go on unless `root` is the top of its own git repository with a commit.

    Everything after the bake writes to git (fast-import, reset --hard, pack-refs); run in
    the wrong repository, that would rewrite someone's branch and work tree.
    """
    proc = subprocess.run(["git", "rev-parse", "--show-toplevel", "--absolute-git-dir"],
                          cwd=root, capture_output=True, text=True)
    lines = proc.stdout.split()
    if proc.returncode != 0 or len(lines) != 2 or Path(lines[0]).resolve() != root.resolve() \
            or Path(lines[1]).resolve() != (root / ".git").resolve():
        raise RuntimeError(f"{root} is not a git repository of its own (git says "
                           f"{proc.stdout.strip() or proc.stderr.strip()!r}): not writing to it")
    if subprocess.run(["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=root,
                      capture_output=True).returncode != 0:
        raise RuntimeError(f"{root} has no first commit: the template's hook did not make one")


def _git(root: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """git in the registry at `root` and nowhere else (its .git named explicitly)."""
    return subprocess.run(["git", f"--git-dir={root / '.git'}", f"--work-tree={root}", *args],
                          cwd=root, **kwargs)


def _helper(root: Path):
    """The helper's card and YAML modules and its registration message, so cards and tags are
    written the way it writes them, and the baked registry's config.

    They come from the template, which the bake copies verbatim: a process that builds several
    registries (and deletes them) must not keep importing from the first one.
    """
    src = str(TEMPLATE / "{{cookiecutter.project_slug}}" / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    from model_registry import cards, config, yamlio
    from model_registry.tags import with_hashes

    return cards, config.load(str(root)), yamlio, with_hashes


def _plain(value: str) -> bool:
    """Whether YAML writes `value` unquoted (hex digests that are all digits read as ints)."""
    return not value.isdigit()


def _data(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return b"data %d\n%s\n" % (len(raw), raw)


def build(dest: Path, tags: int, *, per_model: int = PER_MODEL, seed: int = 7) -> Built:
    """Bake a registry into `dest`/registry (`dest` is replaced if this script made it) holding
    `tags` annotated tags, rounded up to whole models of `per_model` tags each.

    Its refs are packed, as a fresh `git clone` leaves them; `unpack_refs` makes them loose, as
    `git tag` and `git fetch` leave them, and `pack_refs` packs them again.
    """
    dest = Path(dest).resolve()
    if dest.exists() and any(dest.iterdir()):
        if not (dest / MARKER).exists():
            raise RuntimeError(f"{dest} is not empty and was not made by this script: "
                               "choose an empty or new folder")
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / MARKER).write_text("a synthetic registry for the benchmarks; safe to delete\n")
    seconds = {}
    started = time.perf_counter()
    with git_env(dest):
        root = bake(dest, "registry")
        seconds["bake"] = time.perf_counter() - started
        built = _fill(root, tags, per_model, seed, seconds)
    built.seconds = {k: round(v, 3) for k, v in seconds.items()}
    return built


def _fill(root: Path, tags: int, per_model: int, seed: int, seconds: dict) -> Built:
    """Commits through `git fast-import`, then the tags: one pack of tag objects, and
    packed-refs.

    fast-import would write each tag as a loose ref, creating and renaming a lock file per tag
    in one directory; at 100k tags that is most of the build. Tag objects are simple enough to
    write straight into a pack (`git index-pack` checks and indexes it), and packed-refs is what
    `git clone` writes.
    """
    started = time.perf_counter()
    cards, cfg, yamlio, with_hashes = _helper(root)
    check_own_repository(root)
    git_dir = root / ".git"
    base = _git(root, "rev-parse", "HEAD", capture_output=True, text=True,
                check=True).stdout.strip()
    count = -(-tags // per_model)
    names = [model_name(i) for i in range(count)]
    plans = [plan(i, per_model, seed) for i in range(count)]
    order = [i for i, p in enumerate(plans) for _ in p]
    random.Random(seed).shuffle(order)
    # the card each model starts from: the template with this registry's defaults, split where
    # `cards.update` appends the registry block (the end of the front matter)
    heads, tails = [], []
    for name in names:
        text = cards.new_card(name, cfg.defaults, cfg.card_profile)
        close = text.index("\n---\n", 4) + 1
        heads.append(text[:close])
        tails.append(text[close:])

    who = f"{NAME} <{EMAIL}>"
    marks: dict[tuple[int, str], int] = {}  # (model, version) -> mark of its commit
    latest: dict[int, str] = {}
    counters = [0] * count
    seen = [0] * count
    artifacts: list[str] = []
    events: list[tuple[str, int, int, str]] = []  # tag name, commit mark, time, message
    deprecated = []
    tip, mark = None, 0
    which = None
    marks_file = git_dir / "bench-marks"
    stream = subprocess.Popen(["git", f"--git-dir={git_dir}", "fast-import", "--quiet",
                               f"--export-marks={marks_file}"],
                              cwd=root, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    out = stream.stdin
    for step, i in enumerate(order):
        action, version, stage = plans[i][seen[i]]
        seen[i] += 1
        name, when = names[i], T0 + step * STEP
        if action == "register":
            mark += 1
            content = artifact_bytes(name, version)
            md5 = hashlib.md5(content).hexdigest()
            sha = hashlib.sha256(content).hexdigest()
            path = f"models/{name}/{ARTIFACT}"
            previous = latest.get(i)
            if _plain(md5) and _plain(sha):
                block = (f"registry:\n  name: {name}\n  version: {version}\n"
                         f"  previous_version: {previous or 'null'}\n  artifact:\n"
                         f"    path: {path}\n    md5: {md5}\n    sha256: {sha}\n"
                         f"    size: {len(content)}\n")
            else:
                block = yamlio.dump({"registry": {
                    "name": name, "version": version, "previous_version": previous,
                    "artifact": {"path": path, "md5": md5, "sha256": sha,
                                 "size": len(content)}}})
            pointer = (f"outs:\n- md5: {md5}\n  size: {len(content)}\n  hash: md5\n"
                       f"  path: {ARTIFACT}\n")
            message = f"Register {name} {version}"
            out.write(f"commit refs/heads/main\nmark :{mark}\n"
                      f"author {who} {when} +0000\ncommitter {who} {when} +0000\n".encode())
            out.write(_data(message + "\n"))
            if tip is None:
                out.write(f"from {base}\n".encode())
            out.write(f"M 100644 inline {path}.dvc\n".encode() + _data(pointer))
            out.write(f"M 100644 inline models/{name}/card.md\n".encode()
                      + _data(heads[i] + block + tails[i]))
            if i not in latest:
                artifacts.append(name)
                artifacts.sort()
                entries = "".join(f"  {n}:\n    path: models/{n}/{ARTIFACT}\n    type: model\n"
                                  for n in artifacts)
                out.write(b"M 100644 inline dvc.yaml\n" + _data("artifacts:\n" + entries))
                out.write(f"M 100644 inline models/{name}/.gitignore\n".encode()
                          + _data(f"/{ARTIFACT}\n"))
            tip = mark
            latest[i] = version
            marks[(i, version)] = mark
            if i == 0 and which is None and seen[i] > per_model // 2:
                which = (md5, sha, f"{name}@{version}")
            tag, target = f"{name}@{version}", mark
            message = with_hashes(message, md5, sha)  # as register tags it
        elif action == "assign":
            counters[i] += 1
            tag, target = f"{name}#{stage}#{counters[i]}", marks[(i, version)]
            message = f"Promote {name} {version} to {stage}"
        elif action == "unassign":
            counters[i] += 1
            tag, target = f"{name}#{stage}!#{counters[i]}", marks[(i, version)]
            message = f"Demote {name} {version} from {stage}"
        elif action == "deregister":
            tag, target = f"{name}@{version}!", marks[(i, version)]
            message = f"Deregister {name} {version}"
        else:
            tag, target = f"{name}@deprecated", tip
            message = f"Deprecate {name}"
            deprecated.append(name)
        events.append((tag, target, when, message))
    out.close()
    if stream.wait() != 0:
        raise RuntimeError(f"git fast-import failed: {stream.stderr.read().decode()}")
    commit_of = {}
    with open(marks_file) as f:
        for line in f:
            number, sha = line.split()
            commit_of[int(number[1:])] = sha
    os.remove(marks_file)
    seconds["fast-import"] = time.perf_counter() - started

    started = time.perf_counter()
    refs = _write_tags(root, [(tag, commit_of[target], when, message)
                              for tag, target, when, message in events])
    _write_packed_refs(git_dir, refs)
    seconds["tags"] = time.perf_counter() - started

    started = time.perf_counter()
    _git(root, "reset", "--quiet", "--hard", "main", check=True)
    seconds["checkout"] = time.perf_counter() - started
    first_tag = next(f"{BENCH_MODEL}@{v}" for a, v, _ in plans[0] if a == "register")
    return Built(root=str(root), tags=len(events), models=count, versions=mark,
                 commits=mark + 1, deprecated=deprecated, model=BENCH_MODEL,
                 model_tags=len(plans[0]), check_ref_tag=first_tag, which_md5=which[0],
                 which_sha256=which[1], which_version=which[2])


def _write_tags(root: Path, tags: list[tuple[str, str, int, str]]) -> dict[str, tuple[str, str]]:
    """Annotated tag objects, as `git tag -a -m MESSAGE` writes them, in one new pack.

    Returns {refname: (tag object id, commit id)}.
    """
    who = f"{NAME} <{EMAIL}>"
    body, refs = [], {}
    for name, commit, when, message in tags:
        raw = (f"object {commit}\ntype commit\ntag {name}\ntagger {who} {when} +0000\n\n"
               f"{message}\n").encode()
        oid = hashlib.sha1(b"tag %d\0%s" % (len(raw), raw)).hexdigest()
        refs[f"refs/tags/{name}"] = (oid, commit)
        size, head = len(raw), []
        byte = (4 << 4) | (size & 0x0F)  # object type 4: tag
        size >>= 4
        while size:
            head.append(byte | 0x80)
            byte, size = size & 0x7F, size >> 7
        head.append(byte)
        body.append(bytes(head) + zlib.compress(raw))
    pack = b"PACK" + struct.pack(">II", 2, len(body)) + b"".join(body)
    pack += hashlib.sha1(pack).digest()
    _git(root, "index-pack", "--stdin", input=pack, capture_output=True, check=True)
    return refs


def _write_packed_refs(git_dir: Path, refs: dict[str, tuple[str, str]]) -> None:
    """packed-refs as `git pack-refs` writes it: sorted, each tag followed by its commit."""
    lines = ["# pack-refs with: peeled fully-peeled sorted \n"]
    for ref in sorted(refs, key=str.encode):
        oid, peeled = refs[ref]
        lines.append(f"{oid} {ref}\n^{peeled}\n")
    tmp = git_dir / "packed-refs.bench-tmp"
    tmp.write_text("".join(lines))
    os.replace(tmp, git_dir / "packed-refs")


def unpack_refs(root: str) -> int:
    """Make every packed tag a loose ref file, as `git tag` and `git fetch` leave them.

    Returns how many were unpacked.
    """
    git_dir = Path(root) / ".git"
    packed = git_dir / "packed-refs"
    if not packed.exists():
        return 0
    keep, count, current = [], 0, None
    for line in packed.read_text().splitlines(keepends=True):
        if line.startswith("#"):
            keep.append(line)
            continue
        if line.startswith("^"):
            if current is None:
                keep.append(line)
            continue
        oid, ref = line.split()
        if ref.startswith("refs/tags/"):
            path = git_dir / ref
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(oid + "\n")
            count, current = count + 1, ref
        else:
            keep.append(line)
            current = None
    tmp = git_dir / "packed-refs.bench-tmp"
    tmp.write_text("".join(keep))
    os.replace(tmp, packed)
    return count


def pack_refs(root: str) -> float:
    """`git pack-refs --all`, as a user (or `git gc`) would run it; returns its seconds."""
    started = time.perf_counter()
    _git(Path(root), "pack-refs", "--all", check=True)
    return time.perf_counter() - started


def loose_tags(root: str) -> int:
    """How many tags are loose ref files (the rest are in packed-refs)."""
    top = os.path.join(root, ".git", "refs", "tags")
    return sum(len(files) for _, _, files in os.walk(top))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="folder to build in (replaced)")
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--per-model", type=int, default=PER_MODEL, help="tags of each model")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--loose", action="store_true",
                        help="leave the tags loose (as `git tag` and `git fetch` do)")
    args = parser.parse_args(argv)
    built = build(args.dest, args.tags, per_model=args.per_model, seed=args.seed)
    if args.loose:
        unpack_refs(built.root)
    print(json.dumps(asdict(built), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
