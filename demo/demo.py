"""A model's walk through a registry baked from this template: `make demo` runs it.

1. Bake the template into build/demo/ (wiped first, so the demo can run again), with the DVC
   remote and a bare git "origin" inside that folder: everything the demo keeps lives there.
2. Train two versions of a small scikit-learn classifier on the breast cancer data set that ships
   with scikit-learn (no download) through a DVC pipeline: a training repository with params.yaml,
   a `prepare` stage writing the data set to a CSV and a `train` stage reading it (`dvc stage
   add`, `dvc repro`), each run committed.
3. Register both with the registry's helper (`registry register ... --from REPO --push`), which
   records the training commit, stage, command, data and parameters, and promote the first to prod.
4. Clone origin afresh and fetch `#prod` and `@latest` there; fetch one version straight from
   the origin URL, outside any clone.
5. Show `registry lineage` of the latest version and the Annex IV point 2 part of `registry doc`.
6. Compare the md5 of every registered file with the file fetched back; exit 1 on any mismatch or
   failed step (the failing command's stderr is printed).
"""

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

from cookiecutter.main import cookiecutter

TEMPLATE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(TEMPLATE, "build", "demo")
MODEL = "breast-cancer"


class StepFailed(Exception):
    """A step of the walk-through failed."""


def say(text=""):
    print(text, flush=True)


def shown(arg):
    """An argument as printed: paths inside the demo folder read $DEMO/..."""
    return shlex.quote(arg).replace(DEMO, "$DEMO") if DEMO in arg else shlex.quote(arg)


def run(args, cwd, env=None, words=None):
    """Run a command, print it shell-style (as `words`) with its output; stop if it fails."""
    prompt = "demo" if cwd == DEMO else os.path.basename(cwd)
    command = " ".join(shown(a) for a in (words or args))
    say(f"{prompt}$ {command}")
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    for line in proc.stdout.rstrip().splitlines():
        say(f"    {line.replace(DEMO, '$DEMO')}")
    if proc.returncode != 0:
        raise StepFailed(f"`{command}` (in {cwd}) exited {proc.returncode}:\n"
                         f"{proc.stderr.strip() or '(no stderr)'}")
    return proc.stdout


def registry(*args, cwd, src):
    """The helper, as `python -m model_registry` from the registry's src/ (no install needed)."""
    env = dict(os.environ, PYTHONPATH=src)
    return run([sys.executable, "-m", "model_registry", *args], cwd, env, ["registry", *args])


def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def ensure_git_identity():
    """Registering makes commits and annotated tags, so git needs a name and an e-mail."""
    def configured(key):
        return subprocess.run(["git", "config", key], capture_output=True, text=True).stdout.strip()

    if not (configured("user.email") or os.environ.get("GIT_AUTHOR_EMAIL")) or not (
            configured("user.name") or os.environ.get("GIT_AUTHOR_NAME")):
        for who in ("AUTHOR", "COMMITTER"):
            os.environ[f"GIT_{who}_NAME"] = "Registry Demo"
            os.environ[f"GIT_{who}_EMAIL"] = "demo@example.com"
        say("git has no user identity here: the demo commits and tags as "
            "'Registry Demo <demo@example.com>' (your git config is not changed)\n")


PREPARE_SCRIPT = """\
import csv, os
from sklearn.datasets import load_breast_cancer

data = load_breast_cancer()
os.makedirs("data", exist_ok=True)
with open("data/breast_cancer.csv", "w", newline="") as f:
    out = csv.writer(f)
    out.writerow([*data.feature_names, "target"])
    out.writerows([*map(repr, row), int(t)] for row, t in zip(data.data.tolist(), data.target))
"""

TRAIN_SCRIPT = """\
import csv, json, pickle, yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

p = yaml.safe_load(open("params.yaml"))["train"]
rows = list(csv.reader(open("data/breast_cancer.csv")))[1:]
x, y = [[float(v) for v in r[:-1]] for r in rows], [int(r[-1]) for r in rows]
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=p["test_size"], stratify=y,
                                                    random_state=p["seed"])
model = make_pipeline(StandardScaler(), LogisticRegression(C=p["C"], max_iter=p["max_iter"],
                                                           random_state=0))
model.fit(x_train, y_train)
predicted = model.predict(x_test)
metrics = {"accuracy": round(accuracy_score(y_test, predicted), 4),
           "f1": round(f1_score(y_test, predicted), 4),
           "roc_auc": round(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]), 4)}
pickle.dump(model, open("model.pkl", "wb"))
json.dump(metrics, open("metrics.json", "w"), indent=2)
"""


def dvc(*args, cwd):
    return run([sys.executable, "-m", "dvc", *args], cwd, words=["dvc", *args])


def train(folder):
    """A training repository (git + DVC) whose `train` stage fits a logistic regression on the
    breast cancer data set; trained twice, heavily then lightly regularised, each run committed.
    Returns [(model.pkl, metrics.json, commit)] per version, copied out of the repository so
    both stay; a fixed split makes every run identical."""
    os.makedirs(folder)
    for script, text in (("prepare.py", PREPARE_SCRIPT), ("train.py", TRAIN_SCRIPT)):
        with open(os.path.join(folder, script), "w") as f:
            f.write(text)
    run(["git", "init", "--quiet", "-b", "main"], folder)
    dvc("init", "--quiet", cwd=folder)
    params = {"train": {"C": 0.001, "max_iter": 1000, "test_size": 0.25, "seed": 42}}
    with open(os.path.join(folder, "params.yaml"), "w") as f:
        json.dump(params, f)  # JSON is YAML: DVC and the script read it as params.yaml
    python = os.path.basename(sys.executable)  # the stage runs this venv's python, by PATH
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    dvc("stage", "add", "--quiet", "-n", "prepare", "-d", "prepare.py",
        "-o", "data/breast_cancer.csv", f"{python} prepare.py", cwd=folder)
    dvc("stage", "add", "--quiet", "-n", "train", "-p", "train", "-d", "train.py",
        "-d", "data/breast_cancer.csv", "-o", "model.pkl", "-M", "metrics.json",
        f"{python} train.py", cwd=folder)
    runs = []
    for run_name, c in (("run-1", 0.001), ("run-2", 1.0)):
        params["train"]["C"] = c
        with open(os.path.join(folder, "params.yaml"), "w") as f:
            json.dump(params, f)
        dvc("repro", "--quiet", cwd=folder)
        run(["git", "add", "-A"], folder)
        run(["git", "commit", "--quiet", "-m", f"train with C={c}"], folder)
        kept = os.path.join(os.path.dirname(folder), run_name)
        os.makedirs(kept)
        for name in ("model.pkl", "metrics.json"):
            shutil.copy(os.path.join(folder, name), kept)
        with open(os.path.join(kept, "metrics.json")) as f:
            metrics = json.load(f)
        say(f"  {run_name}: LogisticRegression(C={c}); held-out "
            + ", ".join(f"{k} {v}" for k, v in metrics.items()))
        runs.append((os.path.join(kept, "model.pkl"), os.path.join(kept, "metrics.json")))
    return runs


def point_2(doc):
    """The section of `registry doc` for Annex IV point 2, from its heading to the next one."""
    lines = doc.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("#")
                  and "(Annex IV point 2)" in line), None)
    if start is None:
        raise StepFailed("`registry doc` has no section for Annex IV point 2")
    level = len(lines[start]) - len(lines[start].lstrip("#"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")
                and len(lines[i]) - len(lines[i].lstrip("#")) <= level), len(lines))
    return "\n".join(lines[start:end]).strip()


def main():
    if os.path.exists(DEMO):
        shutil.rmtree(DEMO)
    os.makedirs(DEMO)
    # build/demo/ sits inside this template's own git work tree; stop git from looking above
    # build/, so the baked registry gets a repository of its own. DVC's site cache stays here too.
    os.environ["GIT_CEILING_DIRECTORIES"] = os.path.dirname(DEMO)
    os.environ["DVC_SITE_CACHE_DIR"] = os.path.join(DEMO, ".dvc-site-cache")
    say(f"Demo folder: DEMO={DEMO}\n")
    ensure_git_identity()

    say("== 1. Bake a registry from the template, with a local DVC remote and a git origin")
    try:  # default_config: ignore the user's cookiecutter config and keep its replay file here
        repo = cookiecutter(TEMPLATE, no_input=True, output_dir=DEMO, extra_context={
            "remote": "local", "local_remote_path": os.path.join(DEMO, "dvc-storage")},
            default_config={"replay_dir": os.path.join(DEMO, ".cookiecutter", "replay"),
                            "cookiecutters_dir": os.path.join(DEMO, ".cookiecutter", "templates")})
    except Exception as exc:
        raise StepFailed(f"baking the template failed: {type(exc).__name__}: {exc}") from None
    if not os.path.isdir(os.path.join(repo, ".git")):
        raise StepFailed("the post-generation hook did not make the registry a git repository")
    say(f"baked {repo.replace(DEMO, '$DEMO')} (DVC remote: $DEMO/dvc-storage)")
    origin = os.path.join(DEMO, "origin.git")
    run(["git", "init", "--quiet", "--bare", "-b", "main", origin], DEMO)
    run(["git", "remote", "add", "origin", origin], repo)
    run(["git", "push", "--quiet", "-u", "origin", "main"], repo)

    say(f"\n== 2. Train two versions of '{MODEL}' through a DVC pipeline (scikit-learn, breast "
        "cancer data set)")
    training = os.path.join(DEMO, "training", "repo")
    (pkl1, metrics1), (pkl2, metrics2) = train(training)

    say("\n== 3. Register both versions with their lineage and promote the first to prod")
    src = os.path.join(repo, "src")
    # the first run is the training repository's previous commit: register it from a clone
    # checked out there, so its lineage names the commit that made it
    first = os.path.join(DEMO, "training", "first-run")
    run(["git", "clone", "--quiet", training, first], DEMO)
    run(["git", "checkout", "--quiet", "HEAD~1"], first)
    registry("register", MODEL, pkl1, "--version", "v1.0.0", "--metrics", metrics1, "--from",
             first, "--push", cwd=repo, src=src)
    registry("register", MODEL, pkl2, "--bump", "minor", "--metrics", metrics2, "--from",
             training, "--push", cwd=repo, src=src)
    registry("promote", MODEL, "v1.0.0", "prod", "--push", cwd=repo, src=src)

    say("\n== 4. Fetch them back: from a fresh clone of origin, and from the origin URL alone")
    clone = os.path.join(DEMO, "clone")
    fetched = os.path.join(DEMO, "fetched")
    os.makedirs(fetched)
    run(["git", "clone", "--quiet", origin, clone], DEMO)
    checks = [(f"{MODEL}#prod", "v1.0.0", pkl1, clone), (f"{MODEL}@latest", "v1.1.0", pkl2, clone),
              (f"{MODEL}@v1.1.0", "v1.1.0", pkl2, None)]
    rows = []
    for ref, expected, registered, cwd in checks:
        out = os.path.join(fetched, re.sub(r"[^a-zA-Z0-9.-]+", "_", ref) + ".pkl")
        if cwd:
            text = registry("get", ref, "-o", out, cwd=cwd, src=os.path.join(cwd, "src"))
        else:
            text = registry("get", ref, "--repo", origin, "-o", out, cwd=DEMO, src=src)
        got = re.search(r"wrote \S+ (v\S+) to", text)
        version = got.group(1) if got else "?"
        ok = version == expected and md5(registered) == md5(out)
        rows.append([ref + ("" if cwd else " (--repo)"), version, md5(registered), md5(out),
                     "match" if ok else "MISMATCH"])

    say("\n== 5. What the registry says now (read from the clone)")
    registry("list", cwd=clone, src=os.path.join(clone, "src"))
    registry("history", MODEL, cwd=clone, src=os.path.join(clone, "src"))

    say(f"\n== 6. How {MODEL}@v1.1.0 was made, and the Annex IV point 2 part of its "
        "documentation")
    registry("lineage", f"{MODEL}@v1.1.0", cwd=clone, src=os.path.join(clone, "src"))
    say(f"registry doc {MODEL}@v1.1.0  (Annex IV point 2 only)")
    env = dict(os.environ, PYTHONPATH=os.path.join(clone, "src"))
    proc = subprocess.run([sys.executable, "-m", "model_registry", "doc", f"{MODEL}@v1.1.0"],
                          cwd=clone, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise StepFailed(f"`registry doc {MODEL}@v1.1.0` exited {proc.returncode}:\n"
                         f"{proc.stderr.strip() or '(no stderr)'}")
    for line in point_2(proc.stdout).splitlines():
        say(f"    {line.replace(DEMO, '$DEMO')}")

    say("\n== Checksums: registered file vs fetched file")
    header = ["ref", "version", "md5 registered", "md5 fetched", "result"]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    for row in [header] + rows:
        say("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    say(f"\nExplore it: cd {shlex.quote(repo)} && PYTHONPATH=src {shlex.quote(sys.executable)} "
        "-m model_registry list")
    if any(row[-1] != "match" for row in rows):
        say("\nFAILED: a fetched file differs from the one registered")
        return 1
    say("\nAll fetched files match what was registered.")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except StepFailed as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        sys.exit(1)
