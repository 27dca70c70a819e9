"""`registry`: a thin command line over model_registry.api. It parses and prints.

Exit status: 0 done; 1 failed (remote, checksum, conflict); 2 bad input or nothing found.
Errors are one line on stderr starting with `error:`; `--debug` shows the traceback too.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from functools import lru_cache

from .errors import InputError, RegistryError

EXAMPLES = """\
examples:
  registry register churn model.pkl --bump minor --push
  registry promote churn v1.4.0 prod --push
  registry get churn#prod -o model.pkl
  registry get churn@v1.4.0 --repo https://git.example.com/ml/registry.git
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one `error:` line (exit 2) like every other error."""

    def error(self, message):
        self.exit(2, f"error: {message}: see `{self.prog} --help`\n")


@lru_cache(maxsize=None)
def _width() -> int:
    """The width argparse gives help text (the terminal's, less 2), measured once: argparse
    makes a formatter for every argument it adds, and each asks the terminal again."""
    import shutil
    return shutil.get_terminal_size().columns - 2


class _Help(argparse.HelpFormatter):
    def __init__(self, prog, **kwargs):
        super().__init__(prog, width=kwargs.pop("width", None) or _width(), **kwargs)


class _RawHelp(argparse.RawDescriptionHelpFormatter, _Help):
    pass


# NAME@latest is NAME; `dir:name` is how gto names a model whose dvc.yaml is in a folder
REF_HELP = "NAME, NAME@v1.2.3, NAME#STAGE or a full tag; NAME may be gto's dir:name"


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; scripts/cli_reference.py writes the README's reference from it."""
    parser = _Parser(
        prog="registry", description="A git + DVC model registry: register, promote, resolve "
        "and retrieve model versions.", epilog=EXAMPLES,
        formatter_class=_RawHelp)
    parser.add_argument("-C", dest="chdir", metavar="PATH",
                        help="run as if started in PATH (like git -C)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=_Parser)

    def command(name, help_text, json_flag=True):
        p = sub.add_parser(name, help=help_text, description=help_text, formatter_class=_Help)
        if json_flag:
            p.add_argument("--json", action="store_true", help="print JSON for scripts")
        return p

    def writes(p, sign=True):
        p.add_argument("-m", "--message", help="message of the commit or tag")
        p.add_argument("--push", action="store_true",
                       help="push to origin (artifact to the DVC remote first)")
        if sign:
            p.add_argument("--sign", action="store_true", help="sign the tag (git tag -s)")

    p = command("register", "register a new version of a model")
    p.add_argument("name", help="model name, e.g. churn")
    p.add_argument("path", nargs="?", help="artifact file or directory (default: the run's "
                   "logged model with --mlflow-run, else the one already under models/NAME/)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--version", help="the new version, e.g. v1.4.0")
    how.add_argument("--bump", choices=("major", "minor", "patch"),
                     help="next version after the latest (default: patch)")
    p.add_argument("--metrics", metavar="FILE",
                   help='JSON object of evaluation metrics for the card, e.g. {"auc": 0.91}')
    p.add_argument("--from", dest="from_dir", metavar="DIR",
                   help="the training repository (git, with DVC's dvc.lock if any): its URL, "
                   "commit, and the stage that made the artifact go into the card's lineage")
    p.add_argument("--allow-dirty", action="store_true",
                   help="register from a training repository with uncommitted changes, "
                   "recording that it was dirty")
    p.add_argument("--params", metavar="FILE",
                   help="YAML or JSON file of hyperparameters for the card's lineage, e.g. "
                   "params.yaml")
    p.add_argument("--mlflow-run", metavar="RUN_ID",
                   help="an MLflow run: its params, metrics, experiment, times and source commit "
                   "go into the card; with no PATH its logged model is registered "
                   '(pip install -e ".[mlflow]")')
    p.add_argument("--mlflow-uri", metavar="URI",
                   help="the MLflow tracking server (default: MLFLOW_TRACKING_URI)")
    p.add_argument("--no-tag", action="store_true",
                   help="commit only; `registry release` tags it after review (pull-request flow)")
    writes(p)

    p = command("import", "bring an MLflow model registry here: each version (bytes, card, "
                "run lineage, date and user), aliases and stages; a re-run adds what is new")
    p.add_argument("source", choices=("mlflow",), metavar="SOURCE",
                   help="where from: mlflow, an MLflow tracking server's model registry "
                   '(pip install -e ".[mlflow]")')
    p.add_argument("--uri", help="the tracking server (default: MLFLOW_TRACKING_URI)")
    p.add_argument("--model", dest="models", metavar="NAME", action="append",
                   help="import this registered model only; repeat for more (default: all)")
    p.add_argument("--rename", metavar="OLD=NEW", action="append",
                   help="the name here of MLflow model OLD (default: its own name, or a slug "
                   "of it where that is not a valid name); repeat for more")
    p.add_argument("--version-tag", metavar="TAG",
                   help="the MLflow version tag that holds a version's SemVer, e.g. 1.4.0 "
                   "(default, and where it is missing: version N becomes vN.0.0)")
    p.add_argument("--dry-run", action="store_true",
                   help="print what would be imported and change nothing")
    p.add_argument("--push", action="store_true",
                   help="push to origin (artifacts to the DVC remote first)")

    p = command("promote", "assign a stage to a version")
    p.add_argument("name", help="model name")
    p.add_argument("version", help="the version to promote, e.g. v1.4.0")
    p.add_argument("stage", help="a stage listed in registry.yaml")
    writes(p)

    p = command("demote", "take a stage away from the version holding it")
    p.add_argument("name", help="model name")
    p.add_argument("stage", help="the stage to take away")
    writes(p)

    p = command("deregister", "withdraw a version (its history stays)")
    p.add_argument("name", help="model name")
    p.add_argument("version", help="the version to withdraw, e.g. v1.3.0")
    writes(p)

    p = command("deprecate", "retire a model: it resolves to nothing until a new version")
    p.add_argument("name", help="model name")
    writes(p)

    p = command("resolve", "which version, commit and artifact a ref names")
    p.add_argument("ref", help=REF_HELP)
    p.add_argument("--repo", metavar="URL", help="a registry's git URL, instead of this clone")

    p = command("get", "fetch a version's artifact, verified against its checksum")
    p.add_argument("ref", help=REF_HELP)
    p.add_argument("-o", "--output", help="where to write it (default: its file name, here)")
    p.add_argument("--repo", metavar="URL", help="a registry's git URL, instead of this clone")
    p.add_argument("--force", action="store_true", help="overwrite the output if it exists")

    command("list", "models with their latest version and stages")

    p = command("history", "the registry's events, newest first")
    p.add_argument("name", nargs="?", help="only this model")

    p = command("show", "the model card of a version")
    p.add_argument("ref", help=REF_HELP)

    p = command("lineage", "how a version was made: training repository, commit, stage, "
                "command, parameters, data and upstream stages")
    p.add_argument("ref", help=REF_HELP)

    p = command("check", "validate cards against the schema and the registry's history")
    p.add_argument("--base", metavar="REV", help="only cards changed since REV (a pull request)")
    p.add_argument("--remote", action="store_true",
                   help="also check that the artifacts are in the DVC remote")

    p = command("check-ref", "what a tag did (gto check-ref's fields), after validating it")
    p.add_argument("tag", help="a registry tag, e.g. churn@v1.4.0 or refs/tags/churn#prod#3")
    p.add_argument("--remote", action="store_true",
                   help="also check that the artifact is in the DVC remote")

    p = command("release", "tag every card version that has no tag yet (after a merge)")
    writes(p)

    p = command("which", "the registered versions whose artifact has this hash or is this file")
    p.add_argument("hash_or_file", metavar="HASH_OR_FILE", help="an md5 or sha256, or a file")

    p = command("verify", "tag signatures, card hashes, and each artifact read back from the DVC "
                "remote with its md5 checked")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("ref", nargs="?", help="one version, e.g. churn@v1.4.0")
    target.add_argument("--all", action="store_true", help="every active version")

    p = command("diff", "what changed in cards and artifacts, as Markdown for a review")
    p.add_argument("refs", nargs="*", metavar="REF", help="two versions, e.g. churn@v1.0.0 "
                   "churn@v1.1.0")
    p.add_argument("--base", metavar="REV", help="compare the work tree with REV instead")

    p = command("doc", "the model-level part of a version's technical documentation, by "
                "Annex IV")
    p.add_argument("ref", help=REF_HELP)
    p.add_argument("-o", "--output", metavar="FILE", help="write it to FILE")
    p.add_argument("--format", choices=("md", "html"), default="md",
                   help="Markdown (default) or a standalone HTML page")

    p = command("site", "a static HTML catalogue: models, versions, stages, history, charts")
    p.add_argument("-o", "--output", metavar="DIR", required=True,
                   help="folder to write the site to (replaced if `registry site` wrote it)")
    return parser


def run(args: argparse.Namespace) -> tuple[object, str]:
    """Carry out a parsed command through the Python API; returns (the typed result, the
    text for people)."""
    from . import api, storage

    if getattr(args, "json", False):
        storage.show_progress(False)  # --json output is for scripts: no progress lines
    command = _COMMANDS.get(args.command)
    if command is None:
        raise InputError(f"unknown command {args.command!r}: see `registry --help`")
    return command(api, args)


def _register(api, args):
    r = api.register(args.name, args.path, version=args.version, bump=args.bump,
                     message=args.message, metrics=args.metrics, push=args.push, sign=args.sign,
                     tag=not args.no_tag, from_dir=args.from_dir,
                     allow_dirty=args.allow_dirty, params=args.params,
                     mlflow_run=args.mlflow_run, mlflow_uri=args.mlflow_uri)
    what = f"tag {r.tag}" if r.tag else "untagged: `registry release` tags it"
    return r, (f"registered {r.name} {r.version} ({what}, commit {r.commit[:12]}, md5 "
               f"{r.artifact.md5})" + (", pushed" if r.pushed else ""))


def _import(api, args):
    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    shown = not args.json and sys.stderr.isatty()
    r = api.import_mlflow(args.uri, models=args.models, rename=args.rename,
                          version_tag=args.version_tag, dry_run=args.dry_run, push=args.push,
                          progress=progress if shown else None)
    lines = [f"MLflow at {r.uri}: {len(r.models)} model(s)"
             + (" (dry run: nothing was written)" if r.dry_run else "")]
    for m in r.models:
        new = sum(1 for s in m.steps if s.event == "register")
        lines.append(f"  {m.name} <- {m.mlflow_name!r}: {new} new version(s), {m.present} "
                     "here already")
    steps = [(m, s) for m in r.models for s in m.steps]
    if steps:
        lines.append(_table(["event", "model", "version", "stage", "mlflow", "tag"], [
            [s.event, m.name, s.version, s.stage or "-",
             s.mlflow + (f" of {s.date}" if s.date else "") + (f" by {s.tagger}" if s.tagger
                                                                else ""), s.tag or "-"]
            for m, s in steps]))
    lines += [f"note: {m.name}: {note}" for m in r.models for note in m.notes]
    if r.stages_added:
        lines.append(f"stages added to registry.yaml: {', '.join(r.stages_added)}")
    if r.pushed:
        lines.append("pushed to origin")
    return r, "\n".join(lines)


def _tag_command(api, args):
    kwargs = dict(message=args.message, push=args.push, sign=args.sign)
    if args.command == "promote":
        r = api.promote(args.name, args.version, args.stage, **kwargs)
        if not r.changed:
            return r, f"{args.name} {args.version} is already in {args.stage}"
    elif args.command == "demote":
        r = api.demote(args.name, args.stage, **kwargs)
    elif args.command == "deregister":
        r = api.deregister(args.name, args.version, **kwargs)
    else:
        r = api.deprecate(args.name, **kwargs)
    return r, f"created tag {r.tag}" + (", pushed" if r.pushed else "")


def _resolve(api, args):
    r = api.resolve(args.ref, repo=args.repo)
    return r, "\n".join(f"{k}: {v}" for k, v in _flat(api.to_json(r)).items())


def _get(api, args):
    r = api.get(args.ref, args.output, repo=args.repo, force=args.force)
    if r.verified_by == "sha256" or (r.verified_by == "md5" and r.artifact.md5):
        checksum = r.sha256 if r.verified_by == "sha256" else r.artifact.md5
        how = f"{r.verified_by} {checksum} verified"
    elif r.verified_by:  # git's object ids, or the md5s of the DVC objects it is made of
        how = f"sha256 {r.sha256}; {r.verified_by} checksums verified"
    else:
        how = f"sha256 {r.sha256}; not verified: nothing records a checksum of a URL's bytes"
    return r, f"wrote {r.name} {r.version} to {r.output} ({how})"


def _list(api, args):
    models = api.list_models()
    return models, _table(["name", "latest", "stages", "deprecated"], [
        [m.name, m.latest or "-", " ".join(f"{s}={v}" for s, v in m.stages.items()) or "-",
         "yes" if m.deprecated else ""] for m in models])


def _history(api, args):
    events = api.history(args.name)
    return events, _table(["date", "event", "tag", "version", "tagger", "message"], [
        [e.date, e.event, e.tag, e.version or "-", e.tagger,
         e.message.splitlines()[0] if e.message else ""] for e in events])


def _show(api, args):
    r = api.show(args.ref)
    if r.card is None:  # a version without a card (gto's, say): what resolve tells of it
        lines = [f"{k}: {v}" for k, v in _flat(api.to_json(r)).items()
                 if k not in ("card", "text")]
        return r, "\n".join(lines + [f"card: none at {r.tag}"])
    return r, r.text.rstrip("\n")


def _lineage(api, args):
    r = api.lineage(args.ref)
    if not r.recorded:
        return r, (f"{r.name} {r.version}: lineage not recorded (register with --from DIR or "
                   "--params FILE to record it)")
    lines = [f"{r.name} {r.version}"]
    if r.repo or r.training_commit:
        lines += [f"repo: {r.repo}", f"commit: {r.training_commit}"
                  + (" (dirty: uncommitted changes)" if r.dirty else "")]
    if r.outside_pipeline:
        lines.append("stage: none (made outside the DVC pipeline: no stage outputs this "
                     "artifact)")
    elif r.training_stage:
        lines += [f"stage: {r.training_stage}", f"cmd: {r.cmd}"]
    if r.params:
        lines.append("params:")
        lines += [f"  {k}: {v}" for k, v in r.params.items()]
    if r.deps:
        lines.append("data:")
        lines += [f"  {_dep(d)}" for d in r.deps]
    if r.upstream:
        lines.append("upstream:")
        for stage in r.upstream:
            lines.append(f"  {stage['stage']}: {stage.get('cmd')}")
            lines += [f"    {_dep(d)}" for d in stage.get("deps") or []]
            lines += [f"    -> {_dep(o)}" for o in stage.get("outs") or []]
    if r.upstream_truncated:
        lines.append(f"note: {r.upstream_truncated}")
    if r.run:
        experiment = r.run.get("experiment") or {}
        lines += [f"run: {r.run.get('run_id')} at {r.run.get('uri')} (experiment "
                  f"{experiment.get('name')}, {r.run.get('start')} to {r.run.get('end')}, "
                  f"source commit {r.run.get('source_commit')})"]
    return r, "\n".join(lines)


def _dep(dep: dict) -> str:
    source = (f" (imported from {dep['repo']} at {dep.get('rev_lock')})" if dep.get("repo")
              else "")
    return f"{dep['path']}  md5 {dep.get('md5')}{source}"


def _check_ref(api, args):
    r = api.check_ref(args.tag, remote=args.remote)
    return r, (f"{r.tag}: {r.event} of {r.artifact} {r.version or ''} at "
               f"{r.commit_hexsha[:12]}, valid")


def _release(api, args):
    if args.message:
        raise InputError("release writes its own tag messages: drop -m")
    r = api.release(push=args.push, sign=args.sign)
    if not r.tags:
        return r, "nothing to release: every card version is tagged"
    return r, "created " + ", ".join(r.tags) + (", pushed" if r.pushed else "")


def _which(api, args):
    found = api.which(args.hash_or_file)
    return found, _table(["name", "version", "status", "match", "stages", "tag", "commit"], [
        [v.name, v.version, v.status, v.match, " ".join(v.stages) or "-", v.tag, v.commit[:12]]
        for v in found])


def _verify(api, args):
    r = api.verify(None if args.all else args.ref)
    return r, "\n".join(f"ok  {v.tag} (signature: {v.signature})"
                        for v in r.versions) or "no versions to verify"


def _check(api, args):
    r = api.check(base=args.base, remote=args.remote)
    for warning in r.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not r.ok:
        raise InputError(f"{len(r.problems)} problem(s) in the registry: fix them and run "
                         "registry check again",
                         details=[str(p) for p in r.problems], data=api.to_json(r))
    warned = f", {len(r.warnings)} warning(s)" if r.warnings else ""
    return r, f"{len(r.checked)} card(s) checked, no problems{warned}"


def _diff(api, args):
    if args.base and args.refs or not args.base and len(args.refs) != 2:
        raise InputError("give two refs (registry diff churn@v1.0.0 churn@v1.1.0) or --base")
    r = api.diff(*args.refs, base=args.base)
    return r, r.markdown.rstrip("\n")


def _doc(api, args):
    r = api.doc(args.ref, args.format, output=args.output)
    if args.output:
        return r, (f"wrote the model-level technical documentation of {r.name} {r.version} "
                   f"to {args.output}")
    return r, r.text.rstrip("\n")


def _site(api, args):
    r = api.site(args.output)
    return r, (f"wrote {r.pages} pages for {len(r.models)} model(s) to {r.output}: open "
               f"{r.index}")


_COMMANDS = {
    "register": _register, "import": _import, "promote": _tag_command, "demote": _tag_command,
    "deregister": _tag_command, "deprecate": _tag_command, "resolve": _resolve, "get": _get,
    "list": _list, "history": _history, "show": _show, "lineage": _lineage,
    "check-ref": _check_ref,
    "release": _release, "which": _which, "verify": _verify, "check": _check, "diff": _diff,
    "doc": _doc, "site": _site,
}


def _flat(data: dict) -> dict:
    """resolve's answer as `key: value` lines: nested keys dotted, lists joined."""
    from .units import flatten
    return {k: ", ".join(v) if isinstance(v, list) else v for k, v in flatten(data).items()}


def _table(header: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "(none)"
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in [header] + rows)


# Commands that stream artifact bytes through DVC keep Python's cycle collector running.
_STREAMS_BYTES = ("register", "import", "get", "verify")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command not in _STREAMS_BYTES:
        # A command lives for seconds and makes few reference cycles, but reading a large
        # registry keeps 100k+ objects alive, which the collector would rescan again and
        # again: pausing it halves `list` and `which` on 100k tags. Set here, not in the
        # commands, because it is the process's setting, and CI scripts own theirs.
        gc.disable()
    try:
        return _main(args)
    finally:
        # The process ends next, and Python's last collection would walk every object left
        # (DVC's and botocore's modules: half a second after `register`) only to free
        # memory the OS takes back anyway. Frozen objects are not walked.
        gc.freeze()


def _main(args: argparse.Namespace) -> int:
    try:
        if args.chdir:
            if not os.path.isdir(args.chdir):
                raise InputError(f"-C {args.chdir}: no such folder")
            os.chdir(args.chdir)
        data, text = run(args)
    except RegistryError as exc:
        if args.debug:
            raise
        if exc.data is not None and getattr(args, "json", False):
            print(json.dumps(exc.data, indent=2))
        print(f"error: {exc}", file=sys.stderr)
        for line in exc.details:
            print(f"  {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; nothing past the last completed step was changed",
              file=sys.stderr)
        return 1
    except Exception as exc:  # the promise is one line, not a traceback, unless --debug
        if args.debug:
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc}; re-run with --debug and "
              "report it", file=sys.stderr)
        return 1
    try:
        if getattr(args, "json", False):
            from .results import to_json
            print(json.dumps(to_json(data), indent=2, sort_keys=False))
        elif text:
            print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader (`| head`) took what it wanted and left; the command itself is done.
        # Python would report the failed flush at exit, so stdout goes to /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
