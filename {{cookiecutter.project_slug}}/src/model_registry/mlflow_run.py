"""`register --mlflow-run`: an MLflow run's parameters, metrics and provenance, and its logged
model, read from a tracking server.

MLflow is an optional extra, so it is imported inside `read` alone: every other command, and a
registry installed without it, never pays for it. Everything here is read before the registry
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


class Run:
    """A run as read from the server: what the card records, and where its model is."""

    def __init__(self, uri: str, run, experiment_name: str | None, models: list[tuple[str, str]],
                 download):
        self.params = dict(run.data.params)
        # a metric MLflow kept as NaN or infinity is not a measure a card can state
        self.metrics = {k: v for k, v in run.data.metrics.items() if math.isfinite(v)}
        self.record = {
            "source": "mlflow",
            "uri": public_url(uri),
            "experiment": {"id": run.info.experiment_id, "name": experiment_name},
            "run_id": run.info.run_id,
            "start": iso_utc(run.info.start_time // 1000) if run.info.start_time else None,
            "end": iso_utc(run.info.end_time // 1000) if run.info.end_time else None,
            "source_commit": run.data.tags.get(COMMIT_TAG),
        }
        self._models = models  # (name, artifact URI) of each model the run logged
        self._download = download

    @contextmanager
    def model_folder(self):
        """The run's logged model, downloaded into a temporary folder named after it, removed
        once the registration is over."""
        if len(self._models) != 1:
            run_id = self.record["run_id"]
            if not self._models:
                raise InputError(f"MLflow run {run_id} logged no model: pass the model file or "
                                 "folder to register as PATH")
            names = ", ".join(name for name, _ in self._models)
            raise InputError(f"MLflow run {run_id} logged {len(self._models)} models ({names}): "
                             "download the one to register and pass it as PATH")
        name, uri = self._models[0]
        work = tempfile.mkdtemp(prefix="registry-mlflow-")
        try:
            target = os.path.join(work, name if _SAFE_NAME.match(name) else "model")
            got = _call(self.record["uri"], self.record["run_id"], self._download, uri,
                        os.path.join(work, "download"))
            os.replace(got, target)
            yield target
        finally:
            shutil.rmtree(work, ignore_errors=True)


def read(run_id: str, uri: str | None) -> Run:
    """The run `run_id` on the tracking server `uri` (default: MLFLOW_TRACKING_URI)."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise InputError("--mlflow-run needs the tracking server: pass --mlflow-uri URI or set "
                         "MLFLOW_TRACKING_URI")
    try:
        import mlflow
        from mlflow.artifacts import download_artifacts
    except ImportError:
        raise InputError(f"--mlflow-run needs MLflow, which is not installed: {INSTALL}") from None
    # the registry prints its own progress; MLflow's bars would interleave with it
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = _call(uri, run_id, client.get_run, run_id)
    experiment = _call(uri, run_id, client.get_experiment, run.info.experiment_id)

    def download(artifact_uri: str, dst: str) -> str:
        return download_artifacts(artifact_uri=artifact_uri, dst_path=dst, tracking_uri=uri)

    return Run(uri, run, experiment.name, _logged_models(uri, client, run), download)


def _logged_models(uri: str, client, run) -> list[tuple[str, str]]:
    """(name, artifact URI) of each model the run logged: MLflow 3's logged models whose
    source is the run, else the artifact paths MLflow 2 lists in the run's history tag."""
    run_id = run.info.run_id
    if hasattr(client, "search_logged_models"):
        found = _call(uri, run_id, client.search_logged_models,
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


def _call(uri: str, run_id: str, function, *args, **kwargs):
    """`function` against the server, its failures as one line: a run that does not exist is
    bad input (exit 2); a server that does not answer or fails is an error (exit 1)."""
    from mlflow.exceptions import MlflowException
    try:
        return function(*args, **kwargs)
    except MlflowException as exc:
        code = getattr(exc, "error_code", "")
        if code == "RESOURCE_DOES_NOT_EXIST":
            raise NotFoundError(f"MLflow run {run_id} not found at {public_url(uri)}: check the "
                                "run id and --mlflow-uri") from None
        if code == "INVALID_PARAMETER_VALUE":
            raise InputError(f"MLflow refused run id {run_id!r}: give the run's 32-character "
                             "id") from None
        if isinstance(exc.__context__, OSError):  # requests' connection errors and timeouts
            raise RegistryError(f"MLflow at {public_url(uri)} did not answer: check that the "
                                "tracking server is up and --mlflow-uri is right") from None
        # MLflow's message repeats the request's URL, credentials and all
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        first = _USERINFO.sub("//", text)
        raise RegistryError(f"MLflow at {public_url(uri)} failed ({first[:200]}): check that "
                            "the tracking server is up and --mlflow-uri is right") from None
    except OSError as exc:
        raise RegistryError(f"MLflow at {public_url(uri)} could not be reached "
                            f"({_USERINFO.sub('//', str(exc))}): check "
                            "that the tracking server is up") from None
