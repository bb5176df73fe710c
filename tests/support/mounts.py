"""Small filesystems for the machine-fault tests: tmpfs mounts and read-only bind
mounts, undone whatever happens. They need root (CAP_SYS_ADMIN), as in CI; a test
that cannot mount here is skipped with the reason."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=20)


def remount(target: Path, options: str) -> subprocess.CompletedProcess[str]:
    """``mount -o remount,OPTIONS TARGET`` (``ro``, ``rw``, ``size=64m``, ``ro,bind``)."""
    return _run("mount", "-o", f"remount,{options}", str(target))


@contextmanager
def mounted(target: Path, *mount_args: str) -> Iterator[Path]:
    """``mount ARGS TARGET`` for the length of the block; skips the test if this
    machine does not let us mount (not root, no CAP_SYS_ADMIN in a container)."""
    result = _run("mount", *mount_args, str(target))
    if result.returncode != 0:
        pytest.skip(f"cannot mount here (needs root): {result.stderr.strip()}")
    try:
        yield target
    finally:
        if _run("umount", str(target)).returncode != 0:
            _run("umount", "-l", str(target))  # still busy: detach now, free when idle


@contextmanager
def tmpfs(directory: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``1m``, ``16m``) mounted on ``directory``."""
    directory.mkdir(exist_ok=True)
    with mounted(directory, "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs"):
        yield directory
