"""`import mlflow`: an MLflow model registry as its tracking server gives it: the registered
models, each one's versions (dates, user, description, tags, legacy stage, run), its aliases,
and a version's files.

MLflow is reached through mlflow_run's `connect` (its one import of MLflow, and its errors as
one line); nothing here changes the server.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

from . import mlflow_run
from .errors import InputError, NotFoundError, RegistryError

READY = "READY"  # a version whose files MLflow has finished registering
MODEL_FILE = "MLmodel"  # every MLflow model folder has one


@dataclass
class MlflowVersion:
    number: int
    created: int  # Unix time, seconds
    user: str | None  # who registered it, where the server knows (it does with auth on)
    description: str | None
    tags: dict
    stage: str | None  # the legacy stage: Staging, Production or Archived (None: none)
    run_id: str | None
    status: str


@dataclass
class MlflowModel:
    name: str
    description: str | None
    tags: dict
    aliases: dict[str, int]  # alias -> version number
    versions: list[MlflowVersion]  # oldest first


class Source:
    """An MLflow tracking server's model registry."""

    def __init__(self, uri: str | None):
        self.server = mlflow_run.connect(uri, "import mlflow", "--uri")
        self.uri = self.server.public

    def models(self, names: list[str] | None = None) -> list[MlflowModel]:
        """The registered models called `names` (all of them when None), by name."""
        client, call = self.server.client, self.server.call
        if names:
            found = [call(client.get_registered_model, name, missing=(
                f"MLflow at {self.uri} has no registered model {name!r}: check the name "
                "(MLflow's names are case-sensitive)")) for name in dict.fromkeys(names)]
        else:
            found = self._pages(client.search_registered_models, order_by=["name ASC"])
        return sorted((self._model(m) for m in found), key=lambda m: (m.name.lower(), m.name))

    def _model(self, model) -> MlflowModel:
        versions = self._pages(self.server.client.search_model_versions,
                               filter_string=f"name = {_quoted(model.name)}")
        return MlflowModel(
            name=model.name, description=model.description or None, tags=dict(model.tags),
            aliases={alias: int(number) for alias, number in model.aliases.items()},
            versions=sorted((MlflowVersion(
                number=int(v.version), created=int(v.creation_timestamp) // 1000,
                user=v.user_id or None, description=v.description or None, tags=dict(v.tags),
                stage=v.current_stage if v.current_stage not in (None, "", "None") else None,
                run_id=v.run_id or None, status=v.status) for v in versions),
                key=lambda v: v.number))

    def _pages(self, function, **kwargs) -> list:
        """Every item a paged MLflow search returns."""
        items, token = [], None
        while True:
            page = self.server.call(function, page_token=token, **kwargs)
            items += list(page)
            token = page.token
            if not token:
                return items

    def run(self, run_id: str) -> mlflow_run.Run | None:
        """The run that made a version, or None when the server no longer has it."""
        try:
            return self.server.run(run_id, models=False)
        except NotFoundError:
            return None

    @contextmanager
    def files(self, model: str, number: int):
        """The version's files (what `models:/NAME/N` names: MLmodel, weights, environment
        files), downloaded into a temporary folder named `model`, removed afterwards.

        They are fetched from where the server says the version's files are, not through
        `models:/`: MLflow resolves that URI against its process-wide registry URI, whatever
        the client was given, and `models:/` adds a file of its own (registered_model_meta)."""
        what = f"MLflow model {model!r} version {number}"
        gone = f"{what} is gone from {self.uri}: re-run to import what is there now"
        where = self.server.call(self.server.client.get_model_version_download_uri, model,
                                 str(number), missing=gone)
        fix = "check the server's artifact store, then re-run to import the rest"
        with self.server.download(
                where, "model", missing=gone,
                failed=lambda why: f"{what} could not be downloaded from {self.uri} ({why}): "
                f"{fix}") as target:
            # a store that lost the files altogether answers with an empty listing
            if not os.path.isfile(os.path.join(target, MODEL_FILE)):
                raise RegistryError(f"{what} came without its files ({MODEL_FILE} missing) from "
                                    f"{self.uri}: {fix}")
            yield target


def _quoted(name: str) -> str:
    """A model name as a string in MLflow's search filter."""
    if "'" not in name:
        return f"'{name}'"
    if '"' not in name:
        return f'"{name}"'
    raise InputError(f"MLflow model {name!r} has both kinds of quote in its name, which "
                     "MLflow's search cannot express: rename it in MLflow, then import it")
