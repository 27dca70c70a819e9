"""MLflow, read: a tracking server reached through MLflow's client (`connect`), and a run's
parameters, metrics, provenance and logged model (`register --mlflow-run`; `import mlflow`
reads its registry through mlflow_source).

MLflow is an optional extra, so it is imported inside `connect` alone: every other command, and
a registry installed without it, never pays for it. Everything here is read before the registry
changes, so a missing run or a server that does not answer leaves nothing committed or tagged.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from contextlib import contextmanager

from .errors import InputError, NotFoundError, RegistryError
from .gitrepo import public_url
from .units import iso_utc

INSTALL = 'pip install -e ".[mlflow]"'
COMMIT_TAG = "mlflow.source.git.commit"
HISTORY_TAG = "mlflow.log-model.history"  # where MLflow 2 lists a run's logged models
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_USERINFO = re.compile(r"//[^/@\s]*@")


class Server:
    """A tracking server and MLflow's client for it; `call` turns MLflow's failures into the
    registry's one-line errors, naming `option`, the flag that gave the server's URI."""

    def __init__(self, uri: str, client, option: str):
        self.uri, self.client, self.option = uri, client, option
        self.public = public_url(uri)

    def call(self, function, *args, missing: str | None = None, refused: str | None = None,
             failed=None, **kwargs):
        """`function` against the server. What does not exist is bad input (exit 2, the
        `missing` message), as is a request MLflow refuses (`refused`); a server that does
        not answer or fails is an error (exit 1; `failed(why)` words a failure that says more
        than that the server is down)."""
        from mlflow.exceptions import MlflowException
        try:
            return function(*args, **kwargs)
        except MlflowException as exc:
            code = getattr(exc, "error_code", "")
            if code == "RESOURCE_DOES_NOT_EXIST" and missing:
                raise NotFoundError(missing) from None
            if code == "INVALID_PARAMETER_VALUE" and refused:
                raise InputError(refused) from None
            if isinstance(exc.__context__, OSError):  # requests' connection errors, timeouts
                raise RegistryError(f"MLflow at {self.public} did not answer: check that the "
                                    f"tracking server is up and {self.option} is right"
                                    ) from None
            # MLflow's message repeats the request's URL, credentials and all; a download's
            # opens with a header line ending in ':', the cause on the last line
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            text = ((lines[-1] if lines[0].endswith(":") else lines[0]) if lines
                    else type(exc).__name__)
            first = _USERINFO.sub("//", text)
            if failed:
                raise RegistryError(failed(first[:200])) from None
            raise RegistryError(f"MLflow at {self.public} failed ({first[:200]}): check that "
                                f"the tracking server is up and {self.option} is right"
                                ) from None
        except OSError as exc:
            raise RegistryError(f"MLflow at {self.public} could not be reached "
                                f"({_USERINFO.sub('//', str(exc))}): check that the tracking "
                                "server is up") from None

    @contextmanager
    def download(self, artifact_uri: str, name: str, missing: str, failed=None):
        """The files at `artifact_uri` (runs:/, models:/ or the server's own) in a temporary
        folder called `name` (what the registry names the artifact after), removed after."""
        from mlflow.artifacts import download_artifacts
        work = tempfile.mkdtemp(prefix="registry-mlflow-")
        try:
            got = self.call(download_artifacts, artifact_uri=artifact_uri,
                            dst_path=os.path.join(work, "download"), tracking_uri=self.uri,
                            registry_uri=self.uri, missing=missing, failed=failed)
            target = os.path.join(work, name)
            os.replace(got, target)
            yield target
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def run(self, run_id: str, models: bool = True) -> "Run":
        """The run `run_id`; with `models`, where the models it logged are."""
        missing = (f"MLflow run {run_id} not found at {self.public}: check the run id and "
                   f"{self.option}")
        refused = f"MLflow refused run id {run_id!r}: give the run's 32-character id"
        run = self.call(self.client.get_run, run_id, missing=missing, refused=refused)
        experiment = self.call(self.client.get_experiment, run.info.experiment_id,
                               missing=missing)
        return Run(self, run, experiment.name, _logged_models(self, run) if models else [])


class Run:
    """A run as read from the server: what the card records, and where its model is."""

    def __init__(self, server: Server, run, experiment_name: str | None,
                 models: list[tuple[str, str]]):
        self.params = dict(run.data.params)
        # a metric MLflow kept as NaN or infinity is not a measure a card can state
        self.metrics = {k: v for k, v in run.data.metrics.items() if math.isfinite(v)}
        self.user = run.info.user_id or None
        self.record = {
            "source": "mlflow",
            "uri": server.public,
            "experiment": {"id": run.info.experiment_id, "name": experiment_name},
            "run_id": run.info.run_id,
            "start": iso_utc(run.info.start_time // 1000) if run.info.start_time else None,
            "end": iso_utc(run.info.end_time // 1000) if run.info.end_time else None,
            "source_commit": run.data.tags.get(COMMIT_TAG),
        }
        self._models = models  # (name, artifact URI) of each model the run logged
        self._server = server

    @contextmanager
    def model_folder(self):
        """The run's logged model, downloaded into a temporary folder named after it, removed
        once the registration is over."""
        run_id = self.record["run_id"]
        if len(self._models) != 1:
            if not self._models:
                raise InputError(f"MLflow run {run_id} logged no model: pass the model file or "
                                 "folder to register as PATH")
            names = ", ".join(name for name, _ in self._models)
            raise InputError(f"MLflow run {run_id} logged {len(self._models)} models ({names}): "
                             "download the one to register and pass it as PATH")
        name, uri = self._models[0]
        with self._server.download(uri, name if _SAFE_NAME.match(name) else "model",
                                   missing=f"the model MLflow run {run_id} logged is gone from "
                                   f"{self._server.public}: pass the model file or folder to "
                                   "register as PATH") as target:
            yield target


def connect(uri: str | None, needs: str, option: str) -> Server:
    """The tracking server `uri` (default: MLFLOW_TRACKING_URI); `needs` names the command or
    flag that asked, and `option` the flag that gives the URI, for the messages."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise InputError(f"{needs} needs the tracking server: pass {option} URI or set "
                         "MLFLOW_TRACKING_URI")
    # the registry prints its own progress and errors: MLflow's bars and its INFO lines
    # ("Downloading artifacts") would interleave with them
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    try:
        import mlflow
    except ImportError:
        raise InputError(f"{needs} needs MLflow, which is not installed: {INSTALL}") from None
    return Server(uri, mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri), option)


def read(run_id: str, uri: str | None) -> Run:
    """The run `run_id` on the tracking server `uri` (default: MLFLOW_TRACKING_URI)."""
    return connect(uri, "--mlflow-run", "--mlflow-uri").run(run_id)


def _logged_models(server: Server, run) -> list[tuple[str, str]]:
    """(name, artifact URI) of each model the run logged: MLflow 3's logged models whose
    source is the run, else the artifact paths MLflow 2 lists in the run's history tag."""
    run_id = run.info.run_id
    if hasattr(server.client, "search_logged_models"):
        found = server.call(server.client.search_logged_models,
                            experiment_ids=[run.info.experiment_id],
                            filter_string=f"source_run_id = '{run_id}'")
        if found:
            return [(m.name, m.artifact_location) for m in found]
    try:
        history = json.loads(run.data.tags.get(HISTORY_TAG) or "[]")
    except ValueError:
        history = []
    paths = dict.fromkeys(h["artifact_path"] for h in history
                          if isinstance(h, dict) and h.get("artifact_path"))
    return [(os.path.basename(p.rstrip("/")), f"runs:/{run_id}/{p}") for p in paths]
