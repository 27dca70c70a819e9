"""Where an artifact's bytes are, found from the path its `dvc.yaml` entry gives, as
`dvc artifacts get` finds them: it reads that path through DVC's filesystem, which joins the
files git holds at the commit with the outputs DVC tracks there. So, in this order:

- an output DVC tracks: the `.dvc` file of that path (`dvc add`), a stage output in a
  `dvc.lock` of its folder or a folder above, or a file inside a folder DVC tracks;
- a file or folder committed to git. In a folder, the outputs of the `.dvc` files and
  `dvc.lock` stages there come from DVC, and DVC's own files (`*.dvc`, `dvc.yaml`,
  `.dvcignore`) are left out, as DVC's filesystem lists the folder;
- a URL, or an absolute path outside the repository, which `dvc artifacts get` cannot read
  (it looks the path up inside the repository) and DVC's `get-url` can.

Everything is read at one commit, through `read(rev, path)` (a file's bytes, or None) and
`files(rev, path)` (what `git ls-tree -r` lists there: mode, object id and path of each
file), so a clone without a work tree serves as well as a checkout. DVC's files are plain
YAML, read with the safe loader; nothing here imports DVC.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from .. import yamlio
from ..errors import InputError, RegistryError

DVC, GIT, URL = "dvc", "git", "url"
DVC_SUFFIX = ".dvc"
LOCK_FILE = "dvc.lock"
PROJECT_FILE = "dvc.yaml"
IGNORE_FILE = ".dvcignore"
# A URL as DVC's `get-url` takes it: a scheme (s3, gs, azure, http(s), ssh, remote, ...) and ://.
URL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
SUBMODULE = "160000"


@dataclass
class Piece:
    """One part of an artifact: a blob git holds, or an object DVC tracks (a file, or a
    folder's manifest `<md5>.dir`), written at `relpath` inside the artifact ('' for the
    artifact itself). `repo_path` is a blob's path at the commit; `within`, a path inside a
    folder DVC tracks, when only that part of it is the artifact."""

    relpath: str
    source: str
    oid: str
    repo_path: str = ""
    within: str = ""


@dataclass
class Pointer:
    """Where a version's artifact is: `path` in the repository (or its URL), DVC's `md5` of
    it where DVC records one (a folder's ends in `.dir`), and the `pieces` it is read from.
    `source` says where those are: DVC (the cache or the DVC remote), GIT (the commit itself,
    with any DVC outputs inside the folder) or URL (outside the repository; an md5 there is
    what a `dvc import-url` pointer records of the source)."""

    path: str
    md5: str | None
    size: int | None = None
    nfiles: int | None = None
    source: str = DVC
    pieces: list[Piece] = field(default_factory=list)
    url: str = ""  # URL: where the bytes are (the path itself, or what an import reads)

    @property
    def is_dir(self) -> bool | None:
        """Whether the artifact is a folder; None where only reading it tells (a URL, a part
        of a folder DVC tracks)."""
        if self.source == GIT:
            return any(p.relpath for p in self.pieces)
        if self.source == URL or self.md5 is None:
            return None
        return self.md5.endswith(".dir")

    @property
    def whole_output(self) -> bool:
        """Whether the artifact is exactly one output DVC tracks, with its md5 at hand."""
        return self.source == DVC and self.md5 is not None


def read_pointer(data: bytes, source: str) -> Pointer:
    """The first output of a `.dvc` file, as it names it (relative to the file's folder)."""
    doc = yamlio.load(data, source)
    try:
        out = doc["outs"][0]
        md5 = out["md5"]
        return Pointer(out["path"], md5, out.get("size"), out.get("nfiles"),
                       pieces=[Piece("", DVC, md5)])
    except (TypeError, KeyError, IndexError):
        raise InputError(f"{source} is not a DVC pointer file: re-create it with dvc add") from None


def outside(entry: str) -> bool:
    """Whether dvc.yaml's path names something outside the repository: a URL or an absolute
    path."""
    return bool(URL_RE.match(entry)) or entry.startswith("/")


def locate(entry: str, rev: str, read, files, label: str) -> Pointer:
    """Where the artifact at `entry` (a path in the repository as dvc.yaml gives it, joined to
    the folder of that dvc.yaml; or a URL) is at commit `rev`. `label` names the artifact in
    errors ("churn v1.4.0")."""
    if outside(entry):
        return Pointer(entry, None, source=URL, url=entry)
    path = posixpath.normpath(entry)
    if path == ".." or path.startswith("../"):
        raise InputError(f"{PROJECT_FILE} at {rev[:12]} puts the artifact of {label} at "
                         f"{entry!r}, outside the repository: refusing it; give a path inside "
                         "the repository, an absolute path or a URL")
    if path == ".":
        raise InputError(f"{PROJECT_FILE} at {rev[:12]} makes the whole repository the artifact "
                         f"of {label}: refusing it; give the artifact's own path")
    outputs = Outputs(rev, read, label)
    found = outputs.at(path)
    if found is not None:
        return found
    listed = [(mode, oid, name) for mode, oid, name in files(rev, path)
              if name == path or name.startswith(path + "/")]
    if not listed:
        outputs.check_pointer(path)
        raise RegistryError(f"nothing holds {path} at {rev[:12]}, where {PROJECT_FILE} puts "
                            f"the artifact of {label}: it is neither in git nor tracked by a "
                            f".dvc file or dvc.lock beside it or above it; commit it, or fix "
                            f"{PROJECT_FILE}")
    if len(listed) == 1 and listed[0][2] == path:
        mode, oid, _ = listed[0]
        if mode == SUBMODULE:
            raise InputError(f"{path} at {rev[:12]} is a git submodule: the artifact of {label} "
                             "must be a file or folder of this repository")
        return Pointer(path, None, source=GIT, pieces=[Piece("", GIT, oid, path)])
    return Pointer(path, None, source=GIT, pieces=outputs.folder(path, listed))


class Outputs:
    """The outputs DVC tracks at one commit, read from the `.dvc` and `dvc.lock` files that
    could name a given path, each file read once."""

    def __init__(self, rev: str, read, label: str):
        self.rev, self.read, self.label = rev, read, label
        self._files: dict[str, list[tuple[str, dict]]] = {}

    def at(self, path: str) -> Pointer | None:
        """The output that is `path`, or the folder output holding it; None when DVC tracks
        neither. The `.dvc` file beside the path comes first: it is what `dvc add` writes,
        and for a registry made from the template the only file read."""
        folders = _parents(path)
        candidates = [path + DVC_SUFFIX]
        candidates += [posixpath.join(f, LOCK_FILE) if f else LOCK_FILE for f in folders]
        candidates += [f + DVC_SUFFIX for f in folders if f]
        for name in candidates:
            for out_path, out in self._outputs(name):
                if out_path == path:
                    return self._pointer(path, out, name)
                if path.startswith(out_path + "/") and str(out.get("md5", "")).endswith(".dir"):
                    within = path[len(out_path) + 1:]
                    return Pointer(path, None, source=DVC,
                                   pieces=[Piece("", DVC, out["md5"], within=within)])
        return None

    def check_pointer(self, path: str) -> None:
        """Refuse a `.dvc` file named for `path` whose output is elsewhere: a pointer edited to
        lead out of its folder, or copied from another artifact."""
        named = self._outputs(path + DVC_SUFFIX)
        if named:
            raise InputError(f"{path}{DVC_SUFFIX} at {self.rev[:12]} points at "
                             f"{named[0][0]!r}, not at {path!r}: refusing it; re-create the "
                             "pointer with dvc add")

    def folder(self, path: str, listed: list[tuple[str, str, str]]) -> list[Piece]:
        """The pieces of a folder committed to git, as DVC's filesystem lists it."""
        label = self.label
        names = sorted(name for _, _, name in listed)
        for name in names:
            if posixpath.basename(name) == IGNORE_FILE and self._ignores(name):
                raise InputError(f"{name} at {self.rev[:12]} hides files from DVC inside "
                                 f"{path}, the artifact of {label}: fetch it with `dvc "
                                 "artifacts get`, which applies it")
        for folder in _parents(path):
            ignore = posixpath.join(folder, IGNORE_FILE) if folder else IGNORE_FILE
            if self._ignores(ignore):
                raise InputError(f"{ignore} at {self.rev[:12]} may hide files of {path}, the "
                                 f"artifact of {label}, from DVC: fetch it with `dvc artifacts "
                                 "get`, which applies it")
        tracked: dict[str, str] = {}  # output path -> md5
        sources = [n for n in names if n.endswith(DVC_SUFFIX) or
                   posixpath.basename(n) == LOCK_FILE]
        sources += [posixpath.join(f, LOCK_FILE) if f else LOCK_FILE for f in _parents(path)]
        for source in sources:
            for out_path, out in self._outputs(source):
                if out_path.startswith(path + "/"):
                    tracked[out_path] = self._md5(out, out_path, source)
        pieces = [Piece(out_path[len(path) + 1:], DVC, md5) for out_path, md5 in tracked.items()]
        for mode, oid, name in listed:
            if mode == SUBMODULE:
                raise InputError(f"{path} at {self.rev[:12]}, the artifact of {label}, holds "
                                 f"the git submodule {name}: the artifact must be files of "
                                 "this repository")
            base = posixpath.basename(name)
            if base.endswith(DVC_SUFFIX) or base in (PROJECT_FILE, IGNORE_FILE):
                continue
            if any(name == t or name.startswith(t + "/") for t in tracked):
                continue
            pieces.append(Piece(name[len(path) + 1:], GIT, oid, name))
        return sorted(pieces, key=lambda p: p.relpath)

    def _pointer(self, path: str, out: dict, source: str) -> Pointer:
        if out.get("md5") is None:
            dep = self._import_source(source)
            if dep is not None:  # `dvc import-url --no-download`: DVC reads the source
                md5 = dep.get("md5")
                return Pointer(path, md5 if _is_md5(md5) else None, source=URL,
                               url=dep["path"])
        md5 = self._md5(out, path, source)
        return Pointer(path, md5, out.get("size"), out.get("nfiles"),
                       pieces=[Piece("", DVC, md5)])

    def _md5(self, out: dict, out_path: str, source: str) -> str:
        """The md5 of an output, by which its objects are found in DVC 3's layout."""
        md5 = out.get("md5")
        if not _is_md5(md5):
            raise RegistryError(f"{source} at {self.rev[:12]} records no data for {out_path} "
                                f"({self.label}): run `dvc commit` or `dvc repro` where it was "
                                "made, then commit and push")
        if out.get("hash") != "md5":  # DVC 2 wrote no `hash:`; its objects lie elsewhere
            raise RegistryError(f"{source} at {self.rev[:12]} is DVC 2's, whose objects the "
                                f"helper does not read ({self.label}): fetch it with `dvc "
                                "artifacts get`, or move it to DVC 3's layout (`dvc cache "
                                "migrate --dvc-files`, then `dvc push`)")
        return md5

    def _import_source(self, source: str) -> dict | None:
        """The dependency of a `dvc import-url` pointer (a URL, not a DVC repository)."""
        doc = self._load(source) if source.endswith(DVC_SUFFIX) else None
        deps = doc.get("deps") if isinstance(doc, dict) else None
        if not (isinstance(deps, list) and len(deps) == 1 and isinstance(deps[0], dict)):
            return None
        dep = deps[0]
        if "repo" in dep or not isinstance(dep.get("path"), str) or not outside(dep["path"]):
            return None
        return dep

    def _outputs(self, source: str) -> list[tuple[str, dict]]:
        """The outputs a `.dvc` file or `dvc.lock` lists, each with its path in the
        repository; none when the file does not exist."""
        if source not in self._files:
            self._files[source] = self._read_outputs(source)
        return self._files[source]

    def _read_outputs(self, source: str) -> list[tuple[str, dict]]:
        doc = self._load(source)
        if not isinstance(doc, dict):
            return []
        folder = posixpath.dirname(source)
        if posixpath.basename(source) == LOCK_FILE:
            stages = doc.get("stages") if isinstance(doc.get("stages"), dict) else {}
            wdirs = self._wdirs(folder)
            groups = [(wdirs.get(name.split("@")[0], "."), stage.get("outs"))
                      for name, stage in stages.items() if isinstance(stage, dict)]
        else:
            wdir = doc.get("wdir") if isinstance(doc.get("wdir"), str) else "."
            groups = [(wdir, doc.get("outs"))]
        found = []
        for wdir, outs in groups:
            for out in outs if isinstance(outs, list) else []:
                if isinstance(out, dict) and isinstance(out.get("path"), str) \
                        and not outside(out["path"]):
                    found.append((posixpath.normpath(posixpath.join(folder, wdir, out["path"])),
                                  out))
        return found

    def _wdirs(self, folder: str) -> dict[str, str]:
        """Each stage's working folder, from the dvc.yaml beside a dvc.lock (paths in the lock
        are relative to it); a templated one (`${...}`) is taken as the stage's folder."""
        doc = self._load(posixpath.join(folder, PROJECT_FILE) if folder else PROJECT_FILE)
        stages = doc.get("stages") if isinstance(doc, dict) else None
        wdirs = {}
        for name, stage in (stages.items() if isinstance(stages, dict) else []):
            body = stage.get("do", stage) if isinstance(stage, dict) else {}
            wdir = body.get("wdir") if isinstance(body, dict) else None
            if isinstance(wdir, str) and "${" not in wdir:
                wdirs[name] = wdir
        return wdirs

    def _ignores(self, name: str) -> bool:
        """Whether a .dvcignore has any pattern (`dvc init` writes one of comments only)."""
        data = self.read(self.rev, name)
        return data is not None and any(
            line.strip() and not line.strip().startswith(b"#") for line in data.splitlines())

    def _load(self, name: str):
        data = self.read(self.rev, name)
        return yamlio.load(data, f"{name} at {self.rev[:12]}") if data is not None else None


def _is_md5(value) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[0-9a-f]{32}(\.dir)?", value) is not None


def _parents(path: str) -> list[str]:
    """The folders above a path, nearest first, ending with the repository's root ('')."""
    found = []
    while path:
        path = posixpath.dirname(path)
        found.append(path)
    return found
