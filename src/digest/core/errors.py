"""Exceptions that carry a message meant for the user, and the exit code that goes with it."""

from __future__ import annotations


class DigestError(Exception):
    """An error whose message is complete and fit to print on one line."""

    exit_code = 1


class ConfigError(DigestError):
    """Bad configuration or usage: exit code 2."""

    exit_code = 2


class UsageError(DigestError):
    """Bad command-line input: exit code 2."""

    exit_code = 2


class RecordError(DigestError):
    """A day record on disk cannot be read; nothing is overwritten."""


class FetchError(DigestError):
    """arXiv could not be reached or answered garbage beyond the retry budget."""


class LockedError(DigestError):
    """Another run holds the site lock."""


class ModelAuthError(DigestError):
    """The model service refused the key or the account has no balance: stop the run."""
