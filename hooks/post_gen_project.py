"""Prune what the answers exclude, then make a new registry a git repository with a first
commit, or finish adopting an existing repository.

Adopting (the bake went into a folder that held files; pre_gen_project.py saved the ones it
could touch in ADOPTION): every saved file is put back byte for byte, and what the template
brought is fitted to the repository: a new registry.yaml takes the stages the helper read there
before (`.gto`'s, else those its tags use, in the order first used) followed by the answered
ones, and DVC's default remote when the repository had its own `.dvc/config`; a new `.gto`
takes the same stages, so gto agrees. git is left alone: no init, no commit, nothing staged;
the command that commits what was added is printed, for the repository's own review.

Safe to run again (cruft re-runs hooks on update; a second bake into an adopted repository
finds every file there and changes nothing): pruning skips what is gone, and git is left
alone inside an existing work tree or when REGISTRY_SKIP_GIT_INIT=1. DVC is not needed: its
files ship with the template, and the helper modules used here read only git and YAML.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys

ADOPTION = ".registry-adopt"  # what pre_gen_project.py saved, when adopting
CI = {{ cookiecutter.ci | tojson }}
ANSWERED_STAGES = [s.strip() for s in {{ cookiecutter.stages | tojson }}.split(",")]
PRUNE = {
    "github": [".gitlab-ci.yml"],
    "gitlab": [".github", "zizmor.yml"],
    "none": [".github", ".gitlab-ci.yml", "zizmor.yml"],
}[CI]
COMMIT_MESSAGE = "Adopt the model registry template"


def git(*args):
    return subprocess.run(["git", *args], capture_output=True, text=True)


def remove_new(files, existing=frozenset(), folders=frozenset()):
    """Remove each of `files` that is not in `existing`, then each of their folders this left
    empty that is not in `folders` (those that were there before the bake)."""
    parents = set()
    for f in files:
        if f not in existing and os.path.isfile(f):
            os.remove(f)
        parent = os.path.dirname(f)
        while parent:
            parents.add(parent)
            parent = os.path.dirname(parent)
    for folder in sorted(parents, key=len, reverse=True):  # a folder before its parent
        if folder not in folders and os.path.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)


def prune(template_files=None, existing=frozenset(), folders=frozenset()):
    """Remove the template's files the answers exclude; in a new registry (no
    `template_files`), everything under PRUNE is the template's."""
    for path in PRUNE:
        if template_files is None:
            files = [os.path.join(top, name) for top, _, names in os.walk(path)
                     for name in names] or [path]
        else:
            files = [f for f in template_files if f == path or f.startswith(path + os.sep)]
        remove_new(files, existing, folders)


def restore(kept):
    """Put back each saved file whose bytes or mode the bake changed."""
    for path in kept:
        saved = os.path.join(ADOPTION, "files", path)
        if os.path.exists(path) and os.stat(path).st_mode == os.stat(saved).st_mode:
            with open(path, "rb") as now, open(saved, "rb") as before:
                if now.read() == before.read():
                    continue
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        shutil.copy2(saved, path)


def baked_helper():
    """The helper baked into src/, imported without writing bytecode there."""
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.abspath("src"))
    import model_registry.config
    import model_registry.core
    import model_registry.errors
    import model_registry.gitrepo

    return model_registry


def stages_before(helper, gto_existed):
    """The stages the helper reads in this repository without registry.yaml, and whether
    `.gto` lists them (else they are those its tags use, and gto takes any stage). A `.gto`
    the template just brought is not the repository's, so only one it had counts."""
    gto_file = None
    if gto_existed:
        with open(helper.config.GTO_FILE, "rb") as f:
            gto_file = f.read()
    return helper.core.stages_in_use(helper.gitrepo.Git(os.path.abspath(".")), gto_file)


def set_stages(path, stages):
    """Rewrite the `stages:` line of a file the template just wrote (registry.yaml, .gto)."""
    with open(path) as f:
        text = f.read()
    text = re.sub(r"(?m)^stages: .*$", lambda _: f"stages: {json.dumps(stages)}", text)
    with open(path, "w") as f:
        f.write(text)


def fit_new_files(existing, before, from_gto):
    """Fit the registry.yaml this bake wrote, and .gto if it wrote that too, to the repository:
    the stages `before` (from .gto when `from_gto`), then the answered ones; DVC's default
    remote where the repository has its own DVC configuration. Returns notes for the user."""
    stages = list(dict.fromkeys(before + ANSWERED_STAGES))
    set_stages("registry.yaml", stages)
    if os.path.join(".dvc", "config") in existing:
        with open("registry.yaml") as f:
            text = f.read()
        text = re.sub(r"(?m)^remote: .*$", "remote: null  # DVC's default remote (core.remote)",
                      text)
        with open("registry.yaml", "w") as f:
            f.write(text)
    if ".gto" not in existing:
        set_stages(".gto", stages)
    elif from_gto and stages != before:
        extra = ", ".join(stages[len(before):])
        return [f"note: registry.yaml adds stages that .gto does not list ({extra}): add them "
                "to .gto too, or gto will refuse to assign them"]
    return []


def to_add(added, folders):
    """The fewest paths that name exactly the added files: a file, or its highest folder
    that did not exist before the bake (all of whose files are new)."""
    paths = set()
    for f in added:
        parts = f.split(os.sep)
        top = next((os.sep.join(parts[:i]) for i in range(1, len(parts))
                    if os.sep.join(parts[:i]) not in folders), f)
        paths.add(top)
    return sorted(paths)


def adopt():
    """Finish an adoption: put the repository's files back, fit what was added, say what to
    commit. If the repository cannot be read, remove what the bake added and say why."""
    with open(os.path.join(ADOPTION, "manifest.json")) as f:
        manifest = json.load(f)
    existing = set(manifest["kept"])
    folders = set(manifest["existing_folders"])
    template_files = manifest["template_files"]
    prune(template_files, existing, folders)
    restore(manifest["kept"])
    shutil.rmtree(ADOPTION)
    notes = []
    if "registry.yaml" not in existing:
        helper = baked_helper()
        try:
            before, from_gto = stages_before(helper, ".gto" in existing)
        except helper.errors.RegistryError as exc:  # one line: a malformed .gto, git failing
            remove_new(template_files, existing, folders)
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(1)
        notes = fit_new_files(existing, before, from_gto)
    added = [f for f in template_files if f not in existing and os.path.isfile(f)]
    here = os.path.abspath(".")
    if not added:
        print(f"{here} already has every file of the template: nothing was changed.")
        return
    kept = [f for f in template_files if f in existing]
    print(f"Adopted {here} as a model registry: {len(added)} files added, none of its own "
          "changed, nothing committed.")
    if kept:
        print(f"Kept its own {', '.join(kept)}, in place of the template's.")
    if "pyproject.toml" in existing:
        notes.append("note: its own pyproject.toml was kept, so installing it does not install "
                     "the helper: run `PYTHONPATH=src python -m model_registry`, or add the "
                     "helper's dependencies and `registry` script from the template's")
    for note in notes:
        print(note)
    print("Review what was added, then commit it:\n"
          f"  git add -- {' '.join(shlex.quote(p) for p in to_add(added, folders))}\n"
          f"  git commit -m {shlex.quote(COMMIT_MESSAGE)}")


def has_identity():
    for key, env in (("user.name", "GIT_COMMITTER_NAME"), ("user.email", "GIT_COMMITTER_EMAIL")):
        if not (os.environ.get(env) or git("config", "--get", key).stdout.strip()):
            return False
    return True


def init_git():
    if os.environ.get("REGISTRY_SKIP_GIT_INIT") == "1":
        return
    if git("rev-parse", "--is-inside-work-tree").stdout.strip() == "true":
        return
    if git("init", "--quiet", "-b", "main").returncode != 0:
        print("note: git init failed; run `git init -b main` in the new registry yourself")
        return
    git("add", "--all")
    if has_identity():
        done = git("commit", "--quiet", "-m", "Create the model registry from the template")
        if done.returncode == 0:
            return
    print("note: git has no identity here, so the first commit was not made. Run:\n"
          '  git config user.name "Your Name" && git config user.email you@example.com\n'
          '  git commit -m "Create the model registry from the template"')


if __name__ == "__main__":
    if os.path.isdir(ADOPTION):
        adopt()
    else:
        prune()
        init_git()
