"""The one exception family of the helper.

Every failure a user can meet is a RegistryError whose message is one line saying what to do
next; its exit_code is what the CLI returns (1: the operation failed, 2: bad input or nothing
found), so scripts can tell "fix your command" from "retry or investigate".
"""

from __future__ import annotations


class RegistryError(Exception):
    """An operation failed: a remote, a checksum, a conflict. Exit status 1.

    `details` are extra lines for failures that have several parts (each problem of a card);
    `data` is what `--json` prints for such a failure.
    """

    exit_code = 1

    def __init__(self, message: str, details: list[str] | None = None, data=None):
        super().__init__(message)
        self.details = details or []
        self.data = data


class InputError(RegistryError):
    """The request itself is wrong: a bad name, version, ref, path or card. Exit status 2."""

    exit_code = 2


class NotFoundError(InputError):
    """The request is well formed but names nothing in the registry. Exit status 2."""


class ConflictError(RegistryError):
    """Someone else changed origin first (a tag was taken). Exit status 1."""
