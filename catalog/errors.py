"""What can stop Seamline from reading a monitored cluster, as the callers that report it catch it: credentials that
cannot be had, a server that cannot be reached or answered with an error, a database asked for that is not there."""

from __future__ import annotations


class CredentialsError(Exception):
    """The password for a cluster cannot be had: say why, never what."""


class UnreachableError(Exception):
    """A monitored server could not be reached or answered with an error. ``kind`` is the error class."""

    def __init__(self, target: str, kind: str, message: str):
        super().__init__(f"{target}: {kind}: {message}")
        self.target, self.kind, self.message = target, kind, message


class SyncError(Exception):
    """A sync cannot be done as asked (a database named that the cluster does not have)."""
