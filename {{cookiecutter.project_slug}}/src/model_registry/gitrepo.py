"""Git, through the `git` command: the registry's tags, commits and pushes.

Only the git CLI is used (no GitPython, no dulwich): it is always there, it honours the user's
config (identity, signing, credentials), and one `for-each-ref` reads every tag a query needs.
Reads keep the tags packed (see Git._pack_loose_tags): loose tag files slow every prefix query.
"""

from __future__ import annotations

import itertools
import os
import posixpath
import re
import subprocess
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from .errors import InputError, RegistryError
from .readcache import ReadCache
from .tags import DEPRECATE, Event, make_event, tag_prefix

# What the registry reads of each tag, in the order both ways of reading tags give it (see
# Git.tags). `%(object)` is the tagged object as the tag names it (`%(*objectname)` would read
# that object too); `%(objectname)` is the tag object's own id, which keys the read cache.
_FIELDS = ("%(refname:strip=2)", "%(objecttype)", "%(object)", "%(taggerdate:raw)",
           "%(objectname)", "%(taggername)", "%(taggeremail:trim)", "%(contents)",
           "%(contents:signature)")
_FORMAT = "%1f".join(_FIELDS) + "%1e"
# cat-file's line before an object ("<oid> missing" for one this clone lacks), and that line
# followed by a tag object's header as git writes it (others are read by _tag_record).
_BATCH_HEADER = re.compile(rb"[0-9a-f]+ (?:([a-z]+) ([0-9]+)|missing|ambiguous)\n")
_TAG_OBJECT = re.compile(rb"[0-9a-f]+ tag ([0-9]+)\nobject ([0-9a-f]+)\ntype [a-z]+\n"
                         rb"tag [^\n]*\ntagger ([^<\n]*)<([^>\n]*)> ([0-9]+ [-+][0-9]{4})\n\n")
_ID_LINE = re.compile("^([0-9a-f]+) refs/tags/(.*)$", re.M)  # a `show-ref --tags` line
_GLOB = re.compile(r"[*?[]")  # a path pattern of Git.prefetch, not a path
# Lines that start a signature in a tag's message (git's own list, gpg-interface.c).
_SIGNATURE_STARTS = (b"-----BEGIN PGP SIGNATURE-----", b"-----BEGIN PGP MESSAGE-----",
                     b"-----BEGIN SSH SIGNATURE-----", b"-----BEGIN SIGNED MESSAGE-----")
LOOSE_TAGS = 512  # loose tag files in one folder of refs/tags before a read packs them
# Where a partial clone (Git.fetch_part) keeps the commit of the remote's HEAD; its own HEAD
# is detached there (fetching into the branch HEAD names would make git read that commit's
# tree, fetching it on demand).
_REMOTE_HEAD = "refs/remotes/origin/HEAD"
# What Git.fetch_part asks the server to leave out: trees and files, else files (a server may
# refuse tree filters alone, uploadpackfilter.tree.allow); one that ignores filters sends all.
_FILTERS = ("tree:0", "blob:none")


def model_refspecs(model: str) -> list[str]:
    """The refspecs that fetch every tag of one model: versions and deregistrations
    (`name@...`), stages (`name#...`), the name as its tags spell it (`dir=name`)."""
    prefix = tag_prefix(model)
    return [f"refs/tags/{prefix}{mark}*:refs/tags/{prefix}{mark}*" for mark in "@#"]


def public_url(url: str | None) -> str | None:
    """A remote URL fit to publish: any user name and password (a CI token) removed."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    if parts.scheme in ("ssh", "git+ssh") and "@" in parts.netloc:
        user, host = parts.netloc.rsplit("@", 1)
        return urlunsplit(parts._replace(netloc=f"{user.split(':', 1)[0]}@{host}"))
    return url


class Git:
    def __init__(self, root: str, git_dir: str | None = None):
        self.root = root
        self._git_dir = git_dir  # the common git folder (a worktree's main one), if known
        self._cache: ReadCache | None = None

    @classmethod
    def discover(cls, path: str = ".") -> "Git":
        try:
            out = subprocess.run(["git", "rev-parse", "--show-toplevel", "--git-common-dir"],
                                 cwd=path, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise InputError("git is not installed: install git and try again") from None
        if out.returncode != 0:
            raise InputError(f"{os.path.abspath(path)} is not in a git repository: "
                             "run this inside a registry clone, or pass --repo URL")
        root, _, git_dir = out.stdout.strip().partition("\n")
        return cls(root, os.path.abspath(os.path.join(path, git_dir)) if git_dir else None)

    def run(self, *args: str, env: dict | None = None, input: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(["git", *args], cwd=self.root, capture_output=True, text=True,
                              input=input, env={**os.environ, **env} if env else None)
        if check and proc.returncode != 0:
            detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            raise RegistryError(f"git {args[0]} failed: {detail[-1] if detail else 'no output'}")
        return proc

    def out(self, *args: str) -> str:
        return self.run(*args).stdout.strip()

    # ------------------------------------------------------------ reading tags

    def tags(self, model: str | list[str] | None = None,
             listed: list[tuple[str, str]] | None = None
             ) -> tuple[list[Event], list[tuple[str, str]]]:
        """The registry events of `model` (or of several, or of all models: those `listed`
        by tag_ids, if given) and the name and object id of every tag seen.

        Lightweight and foreign tags are not events (gto ignores them too), but their names
        still count for the stage counter, as gto counts them. Commit times are read only for
        models with a deprecation, the one rule that needs them (see tags.Event).

        One model's few hundred tags come from one `for-each-ref`. All tags come from their
        objects, streamed by `cat-file` (see _tag_objects): for-each-ref reads every object
        before it prints the first record, cat-file prints each as it reads it, so parsing
        runs beside git's reading instead of after it.
        """
        models = [model] if isinstance(model, str) else model or []
        if models:
            patterns = []
            for name in models:
                prefix = tag_prefix(name)  # `dir:name` is tagged `dir=name`
                self._pack_loose_tags(prefix)
                base = f"refs/tags/{prefix}"
                patterns += [f"{base}@*", f"{base}#*", f"{base}#*/**"]
            raw = self.run("for-each-ref", f"--format={_FORMAT}", *patterns).stdout
            records = _records(raw, len(_FIELDS))
            names = [(fields[0], fields[4]) for fields in records]
        else:
            names = self.tag_ids() if listed is None else listed
            records = self._tag_objects(names)
        events = []
        for name, kind, target, when, tag_id, tagger, email, contents, signature in records:
            if kind != "tag":
                continue
            message = (contents[: len(contents) - len(signature)] if signature
                       else contents).strip()
            when, _, zone = when.partition(" ")
            event = make_event(name, target, int(when or 0), tagger, email, message,
                               bool(signature), zone or "+0000", tag_id)
            if event:
                events.append(event)
        self._add_commit_times(events)
        return events, names

    def _tag_objects(self, listed: list[tuple[str, str]]):
        """For each (name, object id), the record for-each-ref would print for that tag,
        read from the object itself by one `git cat-file --batch --buffer` (a thread feeds it
        the ids; --buffer spares a write per object). Its output is parsed a chunk at a time
        with regular expressions at known offsets: per-object reads cost more than git's work.
        """
        names = iter(listed)
        data, pos = b"", 0
        with self._batch("".join(f"{oid}\n" for _, oid in listed), "--buffer") as out:
            for chunk in iter(lambda: out.read1(1 << 20), b""):
                data, pos = data[pos:] + chunk, 0
                while True:
                    tag = _TAG_OBJECT.match(data, pos)
                    if tag:  # the usual tag: its fields from one match
                        size, target, tagger, email, when = tag.groups()
                        end = tag.start(2) - len(b"object ") + int(size)
                        if end >= len(data):
                            break  # the rest of it (and its newline) is still to come
                        name, oid = next(names)
                        pos = end + 1
                        yield (name, "tag", target.decode(), when.decode(), oid,
                               tagger.decode(errors="replace").strip(),
                               email.decode(errors="replace"), *_message(data[tag.end():end]))
                        continue
                    header = _BATCH_HEADER.match(data, pos)
                    if header is None:
                        break  # the rest of the line is still to come
                    kind, size = header.groups()
                    start = header.end()
                    end = start + int(size or 0)
                    if size is not None and end >= len(data):
                        break
                    name, oid = next(names)
                    pos = end + 1 if size is not None else start
                    if kind == b"tag":
                        yield (name, "tag", *_tag_record(data[start:end], oid))
                    else:  # a lightweight tag, or "missing": an object this clone lacks
                        yield name, (kind or b"").decode(), "", "", oid, "", "", "", ""

    def tag_ids(self) -> list[tuple[str, str]]:
        """Every tag's name and object id: cheap, as git reads no tag object for it
        (`show-ref` lists 100k tags in a third of for-each-ref's time)."""
        self._pack_loose_tags(None)
        proc = self.run("show-ref", "--tags", check=False)
        if proc.returncode not in (0, 1):  # 1: no tags at all
            raise RegistryError(f"git show-ref failed: {proc.stderr.strip() or 'no output'}")
        return [(name, oid) for oid, name in _ID_LINE.findall(proc.stdout)]

    def cache(self) -> ReadCache:
        """The read cache of this repository (see readcache), loaded once."""
        if self._cache is None:
            if self._git_dir is None:
                self._git_dir = os.path.join(self.root,
                                             self.out("rev-parse", "--git-common-dir"))
            self._cache = ReadCache(self._git_dir)
        return self._cache

    def _add_commit_times(self, events: list[Event]) -> None:
        """Fill in commit_time for the events of models with a deprecation.

        Asking for-each-ref for `%(*committerdate)` makes it read every tag's commit too, a
        third of the cost of reading all tags; deprecations are rare, so only theirs are read.
        """
        deprecated = {e.model for e in events if e.action == DEPRECATE}
        dated = [e for e in events if e.model in deprecated]
        if not dated:
            return
        objects = self.run("cat-file", "--batch-check=%(objectname) %(objecttype)",
                           input="".join(f"{c}\n" for c in {e.commit for e in dated})).stdout
        commits = [line.split()[0] for line in objects.splitlines() if line.endswith(" commit")]
        times = dict(line.split() for line in self.run(
            "log", "--no-walk=unsorted", "--format=%H %ct", "--stdin",
            input="".join(f"{c}\n" for c in commits)).stdout.splitlines()) if commits else {}
        for e in dated:
            e.commit_time = int(times.get(e.commit, 0))

    def _pack_loose_tags(self, model: str | None) -> None:
        """Move the tags into packed-refs once one folder of refs/tags holds many loose files.

        `git tag` and `git fetch` write each tag as a file, and a query for one model's tags
        (`refs/tags/churn@*`) reads every file in its folder: with 90k loose tags it takes about
        1 s, packed a few ms. Past LOOSE_TAGS files, `git pack-refs` packs them (the first read
        after a big fetch pays for that, once). It is safe while others read, and if it fails
        (a read-only clone, another process packing) reading still works, only slower.
        """
        folder = os.path.join(self.root, ".git", "refs", "tags",
                              *(model.split("/")[:-1] if model else ()))
        try:
            with os.scandir(folder) as entries:
                loose = sum(1 for _ in itertools.islice(entries, LOOSE_TAGS))
        except OSError:  # no such folder; .git is a file (a worktree); refs kept otherwise
            return
        if loose >= LOOSE_TAGS:
            self.run("pack-refs", check=False)

    def tag_exists(self, tag: str) -> bool:
        return self.run("rev-parse", "-q", "--verify", f"refs/tags/{tag}", check=False).returncode == 0

    # ------------------------------------------------------------ a part of a remote repository

    @classmethod
    def fetch_part(cls, url: str, folder: str, refspecs: list[str]) -> "Git":
        """A repository in the empty `folder` holding, of the one at `url`, the refs
        `refspecs` name and HEAD, shallow (the commits they point at, not their history) and
        partial: tag objects and commits only, in one fetch whose cost grows with what the
        refspecs name, not with the repository. origin is a promisor remote, as in a partial
        clone: git fetches a tree or file the moment something reads it, and `prefetch`
        brings several in one round trip.

        A server that refuses tree filters is asked to leave out files alone; one that
        ignores filters (uploadpack.allowFilter unset) sends the commits' files as well. Where
        no shallow fetch works (dumb HTTP, a remote HEAD that names no branch, an empty
        repository, an old git), a clone without checkout. All give the same answers, so none
        is reported. Raises RegistryError with git's last line if `url` cannot be read.
        """
        if os.path.exists(url):  # a path: git runs in `folder`, and fetches later from there
            url = os.path.abspath(url)
        git = cls(folder)
        git.run("init", "--quiet")
        git.run("config", "remote.origin.url", url)
        git.run("config", "remote.origin.promisor", "true")
        wanted = [f"+HEAD:{_REMOTE_HEAD}", *refspecs]
        for spec in _FILTERS:
            proc = git.run("fetch", "--quiet", "--no-tags", "--depth=1", f"--filter={spec}",
                           "--no-auto-maintenance", "origin", *wanted, env={"LC_ALL": "C"},
                           check=False)
            if proc.returncode == 0:
                git.run("update-ref", "--no-deref", "HEAD", _REMOTE_HEAD)
                return git
            if "filter" not in proc.stderr:  # not the filter refused: no other filter helps
                break
        import shutil  # imported here: only this fallback needs it
        shutil.rmtree(os.path.join(folder, ".git"))
        proc = subprocess.run(["git", "clone", "--quiet", "--no-checkout", url, folder],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            reason = (proc.stderr.strip().splitlines() or ["failed"])[-1]
            raise RegistryError(f"could not fetch from {public_url(url)} ({reason}): check the "
                                "URL and your access to it")
        return git

    def prefetch(self, wanted: dict[str, list[str]]) -> None:
        """Fetch from origin what a partial clone (`fetch_part`) lacks of the files `wanted`
        names ({revision: paths}; a path's last part may be a glob, `models/churn/*.dvc`):
        the revisions' trees in one round trip, then the files in another, instead of one
        round trip per object as git's own on-demand fetching takes. Objects the clone has are
        not fetched again (git then connects to nothing). Best effort: whatever this misses,
        git still fetches when it is read."""
        import fnmatch
        revs = list(wanted)
        trees = self.run("log", "--no-walk=unsorted", "--format=%T", *revs, check=False)
        if trees.returncode != 0 or not self._fetch_objects(trees.stdout.split()):
            return
        blobs = []
        for rev, paths in wanted.items():
            asked = sorted({posixpath.dirname(p) + "/" if _GLOB.search(p) else p for p in paths})
            blobs += [oid for _, kind, oid, path in self.tree(rev, asked, check=False)
                      if kind == "blob" and any(fnmatch.fnmatchcase(path, p) for p in paths)]
        self._fetch_objects(blobs)

    def _fetch_objects(self, oids: list[str]) -> bool:
        """Fetch these objects from origin in one round trip, trees without the files under
        them, as git's on-demand fetching asks for them; whether git succeeded."""
        if not oids:
            return True
        return self.run("-c", "fetch.negotiationAlgorithm=noop", "fetch", "--quiet",
                        "--no-tags", "--no-write-fetch-head", "--recurse-submodules=no",
                        "--no-auto-maintenance", "--filter=blob:none", "--stdin", "origin",
                        input="".join(f"{oid}\n" for oid in oids), check=False
                        ).returncode == 0

    # ------------------------------------------------------------ reading files at a revision

    def tree(self, rev: str, paths: list[str], recursive: bool = False, check: bool = True
             ) -> list[tuple[str, str, str, str]]:
        """(mode, type, object id, path) of each entry git holds at `paths` in `rev`: the
        entries a path names or a folder (`dir/`) holds, with `recursive` every file below.
        Paths are literal: a `*` in a file name is that character."""
        listed = self.run("ls-tree", "-z", *(["-r"] if recursive else []), "--full-tree", rev,
                          "--", *paths, env={"GIT_LITERAL_PATHSPECS": "1"}, check=check).stdout
        found = []
        for entry in filter(None, listed.split("\0")):
            info, _, path = entry.partition("\t")
            mode, kind, oid = info.split()
            found.append((mode, kind, oid, path))
        return found

    def read(self, rev: str, path: str) -> bytes | None:
        """The bytes of `path` at `rev`, or None if it is not there."""
        proc = subprocess.run(["git", "cat-file", "blob", f"{rev}:{path}"], cwd=self.root,
                              capture_output=True, check=False)
        return proc.stdout if proc.returncode == 0 else None

    @contextmanager
    def reader(self):
        """`read(rev, path)` as Git.read, for reads that depend on one another (a file, then
        a path found in it): one `git cat-file --batch` answers them all, one at a time."""
        proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=self.root,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)

        def read(rev: str, path: str) -> bytes | None:
            spec = f"{rev}:{path}"
            if "\n" in spec:  # the batch protocol is line by line
                return self.read(rev, path)
            proc.stdin.write(spec.encode() + b"\n")
            proc.stdin.flush()
            header = proc.stdout.readline().split()
            if len(header) != 3:  # "<spec> missing", "<spec> ambiguous"
                return None
            data = proc.stdout.read(int(header[2]) + 1)[:-1]
            return data if header[1] == b"blob" else None

        try:
            yield read
        finally:
            proc.stdin.close()
            proc.stdout.close()
            proc.wait()

    def verify_tag(self, tag: str, allowed_signers: str) -> bool:
        """Whether the tag's signature is good; SSH signatures are checked against
        `allowed_signers` (git's format), OpenPGP ones against the user's keyring."""
        return self.run("-c", f"gpg.ssh.allowedSignersFile={allowed_signers}", "verify-tag",
                        "--", tag, check=False).returncode == 0

    def changed_files(self, base: str, paths: list[str]) -> tuple[list[str], str]:
        """Files under `paths` that differ between the work tree and the merge base of `base`
        and HEAD (what a pull request from here changes), and that merge base."""
        if self.run("rev-parse", "-q", "--verify", f"{base}^{{commit}}", check=False).returncode:
            raise InputError(f"unknown revision {base!r}: fetch it (git fetch origin) or name "
                             "another, e.g. --base origin/main")
        merge_base = self.out("merge-base", base, "HEAD")
        changed = self.out("diff", "--name-only", merge_base, "--", *paths).splitlines()
        untracked = self.out("ls-files", "--others", "--exclude-standard", "--", *paths)
        return sorted(set(changed) | set(untracked.splitlines())), merge_base

    def read_many(self, specs: list[str]) -> dict[str, bytes | None]:
        """Many `rev:path` blobs in one `git cat-file --batch` pass (None where missing).

        A thread feeds git the names while this one reads the answer in one call: reading a
        hundred megabytes through subprocess's poll loop would cost more than git's work.
        """
        if not specs:
            return {}
        with self._batch("".join(f"{s}\n" for s in specs), check=True) as answer:
            out = answer.read()
        pos, found = 0, {}
        for spec in specs:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if header[-1] not in (b"missing", b"ambiguous"):
                size = int(header[-1])
                found[spec] = out[pos:pos + size]
                pos += size + 1
            else:
                found[spec] = None
        return found

    @contextmanager
    def _batch(self, lines: str, *flags: str, check: bool = False):
        """The output of `git cat-file --batch FLAGS` fed `lines` by a thread, so that it can
        be read as git writes it (writing all first would stall once both pipes are full);
        with `check`, a failed cat-file raises once it is read."""
        import threading
        proc = subprocess.Popen(["git", "cat-file", "--batch", *flags], cwd=self.root,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

        def feed():
            with proc.stdin:
                try:
                    proc.stdin.write(lines.encode())
                except BrokenPipeError:  # git stopped early: its answers and status say why
                    pass

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            yield proc.stdout
        finally:
            proc.stdout.close()
            feeder.join()
            error = proc.stderr.read().decode(errors="replace").strip()
            proc.stderr.close()
            status = proc.wait()
        if check and status != 0:
            raise RegistryError(f"git cat-file failed: {error or 'no output'}")

    def head(self) -> str | None:
        proc = self.run("rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def branch(self) -> str:
        name = self.run("symbolic-ref", "-q", "--short", "HEAD", check=False).stdout.strip()
        if not name:
            raise InputError("HEAD is detached: check out a branch (git switch main) first")
        return name

    def identity_time(self) -> tuple[int, str]:
        """The time git would stamp on a tag now (honours GIT_COMMITTER_DATE), and its zone."""
        proc = self.run("var", "GIT_COMMITTER_IDENT", check=False)
        if proc.returncode != 0:
            raise InputError('git has no identity: run git config user.name "Your Name" and '
                             'git config user.email you@example.com')
        *_, when, zone = proc.stdout.split()
        return int(when), zone

    # ------------------------------------------------------------ writing

    def commit(self, paths: list[str], message: str) -> str:
        """Commit exactly `paths` as they are in the work tree (added, changed or deleted)."""
        known = set(self.out("ls-files", "--cached", "--", *paths).splitlines())
        known |= set(self.out("ls-tree", "-r", "--name-only", "HEAD", "--", *paths).splitlines()
                     if self.head() else [])
        paths = [p for p in paths if p in known or os.path.exists(os.path.join(self.root, p))]
        self.run("add", "--all", "--", *paths)
        head = self.head()
        if head and self.run("diff", "--cached", "--quiet", "HEAD", "--", *paths,
                             check=False).returncode == 0:
            return head  # already committed, e.g. by a run whose push was interrupted
        self.run("commit", "--quiet", "--only", "-m", message, "--", *paths)
        return self.out("rev-parse", "HEAD")

    def undo_commit(self) -> bool:
        """Move the branch back to HEAD's parent, keeping uncommitted work; False if git
        refuses (a change in the work tree would be lost)."""
        return self.run("reset", "--quiet", "--keep", "HEAD~1", check=False).returncode == 0

    def create_tag(self, tag: str, commit: str, message: str, when: tuple[int, str],
                   sign: bool = False, tagger: tuple[str, str] | None = None) -> None:
        """An annotated (or signed) tag dated `when`; `tagger` (name, email) names someone
        other than git's identity as its tagger."""
        flag = "-s" if sign else "-a"
        who = ({"GIT_COMMITTER_NAME": tagger[0], "GIT_COMMITTER_EMAIL": tagger[1]} if tagger
               else {})
        self.run("tag", flag, "-m", message, tag, commit,
                 env={"GIT_COMMITTER_DATE": f"{when[0]} {when[1]}", **who})

    def delete_tag(self, tag: str) -> None:
        self.run("tag", "-d", tag, check=False)

    def remotes(self) -> list[str]:
        return self.out("remote").split()

    def push(self, remote: str, refspecs: list[str], absent: list[str] = ()
             ) -> subprocess.CompletedProcess:
        """All refspecs or none; each ref in `absent` is created only if the remote lacks it
        (a lease on "no such ref", checked by the receiving side as it updates)."""
        leases = [f"--force-with-lease={ref}:" for ref in absent]
        return self.run("push", "--atomic", "--porcelain", *leases, remote, *refspecs,
                        check=False)

    def remote_has(self, remote: str, ref: str) -> bool:
        return bool(self.run("ls-remote", remote, ref, check=False).stdout.strip())

    def remote_tags(self, remote: str, pattern: str) -> set[str]:
        """Names of the tags on `remote` matching `pattern` (e.g. refs/tags/churn@*)."""
        out = self.run("ls-remote", "--tags", "--refs", remote, pattern, check=False).stdout
        return {line.split("refs/tags/", 1)[1] for line in out.splitlines() if "refs/tags/" in line}

    def fetch_tags(self, remote: str) -> None:
        """Fetch the remote's tags; existing local tags are never overwritten."""
        self.run("fetch", "--quiet", remote, "refs/tags/*:refs/tags/*", check=False)

    def remote_tag_commit(self, remote: str, tag: str) -> str | None:
        """The commit `tag` points to on `remote`, or None if the remote has no such tag."""
        out = self.run("ls-remote", "--tags", remote, f"refs/tags/{tag}",
                       f"refs/tags/{tag}^{{}}", check=False).stdout.split()
        peeled = [out[i] for i in range(0, len(out) - 1, 2) if out[i + 1].endswith("^{}")]
        return (peeled or out[:1] or [None])[0]


def _tag_record(body: bytes, oid: str) -> tuple[str, ...]:
    """for-each-ref's fields of a tag object with any header (no tagger, extra lines), after
    its name and type: the tagged object, `taggerdate:raw`, the tag's id, `taggername`,
    `taggeremail:trim`, `contents` and `contents:signature`."""
    head, _, contents = body.partition(b"\n\n")
    target = when = tagger = email = ""
    for line in head.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key == b"object":
            target = value.decode()
        elif key == b"tagger":
            who, _, when = value.decode(errors="replace").rpartition("> ")
            tagger, _, email = who.partition(" <")
    return (target, when, oid, tagger.strip(), email, *_message(contents))


def _message(contents: bytes) -> tuple[str, str]:
    """A tag's `contents` and `contents:signature`: from the last line that starts a
    signature, as git finds it."""
    cut = len(contents)
    if b"-----BEGIN " in contents:
        at = 0
        for line in contents.splitlines(keepends=True):
            if line.startswith(_SIGNATURE_STARTS):
                cut = at
            at += len(line)
    return contents.decode(errors="replace"), contents[cut:].decode(errors="replace")


def _records(raw: str, width: int) -> list[list[str]]:
    """The fields of each for-each-ref record (`%1f` between fields, `%1e` after each)."""
    records = []
    for record in raw.split("\x1e"):
        fields = record.lstrip("\n").split("\x1f")  # not str.strip(): it eats \x1e/\x1f
        if len(fields) == width:
            records.append(fields)
    return records
