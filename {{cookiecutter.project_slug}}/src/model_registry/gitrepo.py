"""Git, through the `git` command: the registry's tags, commits and pushes.

Only the git CLI is used (no GitPython, no dulwich): it is always there, it honours the user's
config (identity, signing, credentials), and one `for-each-ref` reads every tag a query needs.
"""

from __future__ import annotations

import os
import subprocess

from .errors import InputError, RegistryError
from .tags import Event, make_event

_FIELDS = (
    "%(refname:strip=2)", "%(objecttype)", "%(*objectname)", "%(taggername)",
    "%(taggeremail:trim)", "%(taggerdate:raw)", "%(*committerdate:unix)", "%(contents)",
    "%(contents:signature)",
)
_FORMAT = "%1f".join(_FIELDS) + "%1e"


class Git:
    def __init__(self, root: str):
        self.root = root

    @classmethod
    def discover(cls, path: str = ".") -> "Git":
        try:
            out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=path,
                                 capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise InputError("git is not installed: install git and try again") from None
        if out.returncode != 0:
            raise InputError(f"{os.path.abspath(path)} is not in a git repository: "
                             "run this inside a registry clone, or pass --repo URL")
        return cls(out.stdout.strip())

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

    def tags(self, model: str | None = None) -> tuple[list[Event], list[str]]:
        """The registry events of `model` (or of all models) and every tag name seen.

        Lightweight and foreign tags are not events (gto ignores them too), but their names
        still count for the stage counter, as gto counts them.
        """
        if model:
            base = f"refs/tags/{model}"
            patterns = [f"{base}@*", f"{base}#*", f"{base}#*/**"]
        else:
            patterns = ["refs/tags/"]
        raw = self.run("for-each-ref", f"--format={_FORMAT}", *patterns).stdout
        events, names = [], []
        for record in raw.split("\x1e"):
            fields = record.lstrip("\n").split("\x1f")  # not str.strip(): it eats \x1e/\x1f
            if len(fields) != len(_FIELDS):
                continue
            name, kind, target, tagger, email, when, commit_time, contents, signature = fields
            names.append(name)
            if kind != "tag":
                continue
            message = contents[: len(contents) - len(signature)] if signature else contents
            when, _, zone = when.partition(" ")
            event = make_event(name, target, int(when or 0), tagger=tagger, tagger_email=email,
                               zone=zone or "+0000",
                               message=message.strip(), commit_time=int(commit_time or 0),
                               signed=bool(signature))
            if event:
                events.append(event)
        return events, names

    def tag_exists(self, tag: str) -> bool:
        return self.run("rev-parse", "-q", "--verify", f"refs/tags/{tag}", check=False).returncode == 0

    # ------------------------------------------------------------ reading files at a revision

    def read(self, rev: str, path: str) -> bytes | None:
        """The bytes of `path` at `rev`, or None if it is not there."""
        proc = subprocess.run(["git", "cat-file", "blob", f"{rev}:{path}"], cwd=self.root,
                              capture_output=True, check=False)
        return proc.stdout if proc.returncode == 0 else None

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
        """Many `rev:path` blobs in one `git cat-file --batch` pass (None where missing)."""
        if not specs:
            return {}
        proc = subprocess.run(["git", "cat-file", "--batch"], cwd=self.root, check=True,
                              input="".join(f"{s}\n" for s in specs).encode(),
                              capture_output=True)
        out, pos, found = proc.stdout, 0, {}
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

    def create_tag(self, tag: str, commit: str, message: str, when: tuple[int, str],
                   sign: bool = False) -> None:
        flag = "-s" if sign else "-a"
        self.run("tag", flag, "-m", message, tag, commit,
                 env={"GIT_COMMITTER_DATE": f"{when[0]} {when[1]}"})

    def delete_tag(self, tag: str) -> None:
        self.run("tag", "-d", tag, check=False)

    def remotes(self) -> list[str]:
        return self.out("remote").split()

    def push(self, remote: str, refspecs: list[str]) -> subprocess.CompletedProcess:
        return self.run("push", "--atomic", "--porcelain", remote, *refspecs, check=False)

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
