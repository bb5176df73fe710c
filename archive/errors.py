"""Errors every ``pdarchive`` command may raise for the CLI to report.

A module of its own, not archive/cli.py: under ``python -m archive.cli`` that module
runs as ``__main__``, and a command module importing ``archive.cli`` would raise a
second ``UsageError`` class that ``main()`` does not catch.
"""


class UsageError(Exception):
    """A one-line message for the user; exit code 2."""
