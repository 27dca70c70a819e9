"""Credentials that must never reach git: what `check` looks for in the files git publishes."""

from __future__ import annotations

import re

# DVC remote options that hold credentials: never in .dvc/config, which git tracks.
SECRET_KEYS = {"access_key_id", "secret_access_key", "session_token", "password",
               "sas_token", "connection_string", "account_key", "gdrive_client_secret"}

_CREDENTIALS = {
    "an AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a secret access key setting": re.compile(r"(?i)secret_access_key\s*[:=]\s*\S{16,}"),
}


def credentials_in(text: str) -> list[str]:
    """Kinds of credential that `text` appears to hold (a file git would publish)."""
    return [what for what, pattern in _CREDENTIALS.items() if pattern.search(text)]
