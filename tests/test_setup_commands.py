"""The README's first two commands (install and crawl; run the tests) work on a
fresh Debian or Ubuntu as root and as a user, and CI runs the second from the README
itself. The system tools (id, sudo, apt-get, python3 and what the virtual
environment holds) are stand-ins that log what they are asked; the shell logic is
the README's own, run by sh."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_command(number: int) -> str:
    return subprocess.run([str(ROOT / ".ci" / "readme-command"), str(number)], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout


def _tool(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body, "utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _machine(tmp_path: Path, uid: int, *, chromium: bool = True) -> tuple[Path, dict[str, str]]:
    """A fresh machine of stand-ins; everything they are asked goes to ``log``."""
    bin_dir, venv_bin = tmp_path / "bin", tmp_path / "venv-bin"
    bin_dir.mkdir()
    venv_bin.mkdir()
    log = tmp_path / "log"
    record = f'echo "$(basename "$0") $*" >> {log}\n'
    _tool(bin_dir, "id", f'[ "$1" = -u ] && echo {uid}\n')
    _tool(bin_dir, "sudo", record + 'exec "$@"\n')
    _tool(bin_dir, "apt-get", record + (
        "" if chromium else 'case "$*" in *chromium*) exit 100;; esac\n'))
    # python3 -m venv DIR: a virtual environment whose activate puts its tools first
    _tool(bin_dir, "python3", record + (
        f'mkdir -p "$3/bin" && echo "PATH={venv_bin}:\\$PATH" > "$3/bin/activate"\n'
        f'ln -sf {venv_bin}/pip "$3/bin/pip"\n'))
    for name in ("pip", "python", "pdarchive"):
        _tool(venv_bin, name, record)
    sh = shutil.which("sh") or "/bin/sh"
    env = {"PATH": f"{bin_dir}:{Path(sh).parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    return log, env


def _run(command: str, tmp_path: Path, uid: int, **options: bool) -> list[str]:
    log, env = _machine(tmp_path, uid, **options)
    work = tmp_path / "pdarchive"
    work.mkdir()
    result = subprocess.run(["sh", "-c", command], cwd=work, env=env, capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return log.read_text("utf-8").splitlines()


@pytest.mark.parametrize("uid", [0, 1000], ids=["root", "user"])
def test_the_first_command_installs_into_a_virtual_environment_and_crawls(
        tmp_path: Path, uid: int) -> None:
    calls = _run(readme_command(1), tmp_path, uid)
    system = ["apt-get update", "apt-get install -y python3-venv"]
    assert calls == [
        *(["sudo sh -c apt-get update && apt-get install -y python3-venv"] if uid else []),
        *system, "python3 -m venv .venv", "pip install .", "pdarchive crawl"]


@pytest.mark.parametrize(("uid", "chromium"), [(0, True), (1000, True), (1000, False)],
                         ids=["root-debian", "user-debian", "user-ubuntu"])
def test_the_second_command_installs_system_packages_then_runs_the_tests(
        tmp_path: Path, uid: int, chromium: bool) -> None:
    calls = _run(readme_command(2), tmp_path, uid, chromium=chromium)
    assert calls[0].startswith("sudo sh -c apt-get update") == bool(uid)
    apt = [call for call in calls if call.startswith("apt-get")]
    assert apt[0] == "apt-get update"
    assert apt[1] == "apt-get install -y python3-venv fonts-noto-cjk redis-server"
    assert apt[2] == "apt-get install -y chromium chromium-driver"
    # pywb in an environment of its own (it pins redis 2.10), then the project's
    assert calls[-5:] == ["python3 -m venv .pywb", "pip install pywb>=2.10",
                          "python3 -m venv .venv", "pip install -e .[test,redis]",
                          "python -m pytest"]


def test_ci_runs_the_readme_test_command_then_the_linters() -> None:
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert ".ci/readme-command 2" in ci and "apt-get install" not in ci
    assert ci.index('eval "$test_command"') < ci.index("ruff check .") < ci.index("mypy")
    for number in (1, 2):
        for shell in ("sh", "bash"):
            if shutil.which(shell):
                subprocess.run([shell, "-n", "-c", readme_command(number)], check=True)


def test_a_failing_test_command_fails_ci(tmp_path: Path) -> None:
    """CI's exit status is the command's, although set -e does not stop an && list."""
    ci = tmp_path / ".ci"
    ci.mkdir()
    shutil.copy(ROOT / ".ci" / "run", ci / "run")
    shutil.copy(ROOT / ".ci" / "readme-command", ci / "readme-command")
    for status in (0, 3):
        (tmp_path / "README.md").write_text(
            f"```sh\ntrue\n```\n\n```sh\ntrue && (exit {status})\n```\n", "utf-8")
        machine = tmp_path / f"machine{status}"
        machine.mkdir()
        log, env = _machine(machine, 0)
        for name in ("chromium", "chromedriver", "ruff", "mypy"):
            _tool(Path(env["PATH"].split(":")[0]), name, f'echo "{name} $*" >> {log}\n')
        result = subprocess.run(["bash", str(ci / "run")], env={**env, **{
            key: os.environ[key] for key in ("LANG",) if key in os.environ}},
            capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == status, result.stderr
        ran = log.read_text("utf-8") if log.exists() else ""
        assert ("ruff check ." in ran) == (status == 0)
