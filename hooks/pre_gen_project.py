"""Reject bad answers with a one-line reason before cookiecutter writes any file; and when
the bake goes into an existing repository, save every file of it the bake may overwrite or
delete, for post_gen_project.py to put back (see ADOPTION).
"""

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys

# The model/stage name grammar of the tag format. The helper's model_registry.tags.NAME_PATTERN
# is the source of truth; hooks run before the helper exists, so a template test pins the two
# equal.
NAME_PATTERN = r"[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?"

ANSWERS = {
    "project_slug": {{ cookiecutter.project_slug | tojson }},
    "remote": {{ cookiecutter.remote | tojson }},
    "local_remote_path": {{ cookiecutter.local_remote_path | tojson }},
    "s3_url": {{ cookiecutter.s3_url | tojson }},
    "s3_endpoint_url": {{ cookiecutter.s3_endpoint_url | tojson }},
    "stages": {{ cookiecutter.stages | tojson }},
    "contact_email": {{ cookiecutter.contact_email | tojson }},
}

# Adopting: `cookiecutter --overwrite-if-exists --skip-if-file-exists` bakes into an existing
# folder. --skip-if-file-exists spares the rendered files it finds, but cookiecutter copies the
# `_copy_without_render` files over whatever is there, replaces their folders whole, and
# without that flag overwrites every file; post_gen's pruning removes files too. So this hook
# copies each file the bake may touch into ADOPTION, with the list post_gen needs; post_gen
# puts them back and removes ADOPTION. The template is found through `_repo_dir`, which
# cookiecutter gives (cruft's updates bake into a new folder, where nothing is saved).
ADOPTION = ".registry-adopt"
TEMPLATE = {{ cookiecutter.get("_repo_dir", "") | tojson }}
PROJECT_FOLDER = "{% raw %}{{cookiecutter.project_slug}}{% endraw %}"
COPIED_WHOLE = {{ cookiecutter.get("_copy_without_render", []) | tojson }}


def problems(answers):
    """Every reason the answers cannot make a working registry (empty: they can)."""
    found = []
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", answers["project_slug"]):
        found.append(f"project_slug {answers['project_slug']!r}: use lower-case letters, "
                     "digits, '.', '_' and '-', starting with a letter or digit")
    stages = [s.strip() for s in answers["stages"].split(",")]
    if not all(stages) or len(set(stages)) != len(stages):
        found.append(f"stages {answers['stages']!r}: give distinct names separated by commas")
    for stage in stages:
        if stage and not re.fullmatch(NAME_PATTERN, stage):
            found.append(f"stage {stage!r}: use letters, digits, '-', '_' and '/', starting "
                         "and ending with a letter or digit")
    if answers["remote"] == "local":
        path = answers["local_remote_path"]
        if not (path.startswith("/") or path.startswith("~/")) or any(c in path for c in "\n\r"):
            found.append(f"local_remote_path {path!r}: use an absolute path or ~/..., so every "
                         "clone on this machine finds the same storage")
    else:
        if not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?", answers["s3_url"]):
            found.append(f"s3_url {answers['s3_url']!r}: use s3://bucket or s3://bucket/prefix "
                         "with a valid bucket name")
        endpoint = answers["s3_endpoint_url"]
        if endpoint and not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", endpoint):
            found.append(f"s3_endpoint_url {endpoint!r}: use http(s)://host[:port], or leave it "
                         "empty for AWS")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", answers["contact_email"]):
        found.append(f"contact_email {answers['contact_email']!r}: give an e-mail address")
    return found


def files_under(folder):
    return [os.path.normpath(os.path.join(top, name))
            for top, _, names in os.walk(folder) for name in names]


def adoption_problem():
    """Why this folder, which holds files already, cannot be adopted (None: it can)."""
    here = os.path.abspath(".")
    if os.path.exists(ADOPTION):
        return (f"an earlier bake into {here} stopped before it finished: put back what you "
                f"need from {ADOPTION}/files, delete {ADOPTION}, then bake again")
    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], capture_output=True,
                            text=True)
    if inside.stdout.strip() != "true":
        return (f"{here} already holds files but is not a git repository: run `git init` "
                "there first, or bake into a new folder")
    if not TEMPLATE:
        return ("this cookiecutter does not say where the template is, so the files of "
                f"{here} cannot be kept safe: upgrade cookiecutter (2.2 or later)")
    return None


def save_existing():
    """Copy every file of the repository the bake may touch into ADOPTION/files and write
    ADOPTION/manifest.json: the template's files, which of them (and of its folders) existed,
    and every file kept (those, plus all files in folders cookiecutter replaces whole)."""
    template = os.path.join(TEMPLATE, PROJECT_FOLDER)
    files, folders, kept = [], [], set()
    for top, dirs, names in os.walk(template):
        relative = os.path.relpath(top, template)
        for name in dirs:
            path = os.path.normpath(os.path.join(relative, name))
            if os.path.isdir(path):
                folders.append(path)
                if any(fnmatch.fnmatch(path, pattern) for pattern in COPIED_WHOLE):
                    kept.update(files_under(path))
        for name in names:
            path = os.path.normpath(os.path.join(relative, name))
            files.append(path)
            if os.path.isfile(path):
                kept.add(path)
    for path in sorted(kept):
        saved = os.path.join(ADOPTION, "files", path)
        os.makedirs(os.path.dirname(saved), exist_ok=True)
        shutil.copy2(path, saved)
    manifest = {"template_files": sorted(files), "existing_folders": sorted(folders),
                "kept": sorted(kept)}
    with open(os.path.join(ADOPTION, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    reasons = problems(ANSWERS)
    if not reasons and os.listdir("."):
        reasons = [reason for reason in [adoption_problem()] if reason]
    if reasons:
        print(f"error: {reasons[0]}", file=sys.stderr)
        sys.exit(1)
    if os.listdir("."):
        os.makedirs(ADOPTION)
        save_existing()
