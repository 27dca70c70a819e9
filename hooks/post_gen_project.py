"""Prune what the answers exclude, then make the registry a git repository with a first commit.

Safe to run again (cruft re-runs hooks on update): pruning skips what is gone, and git is left
alone inside an existing work tree or when REGISTRY_SKIP_GIT_INIT=1. DVC is not needed: its
files ship with the template.
"""

import os
import shutil
import subprocess

CI = {{ cookiecutter.ci | tojson }}
PRUNE = {
    "github": [".gitlab-ci.yml"],
    "gitlab": [".github", "zizmor.yml"],
    "none": [".github", ".gitlab-ci.yml", "zizmor.yml"],
}[CI]


def git(*args):
    return subprocess.run(["git", *args], capture_output=True, text=True)


def prune():
    for path in PRUNE:
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


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
    prune()
    init_git()
