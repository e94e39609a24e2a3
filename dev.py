#!/usr/bin/env python3
"""Set up and run QIRO with nothing but Python 3.11.

    python3 dev.py run     # venv + install, database ready, serve on 127.0.0.1:8000
    python3 dev.py test    # venv + install, ruff, mypy, the whole test suite

With DATABASE_URL unset an embedded PostgreSQL (data in .qiro/pgdata) is
started for the command and stopped when it ends. With DATABASE_URL set, that
server is used and nothing is started. Extra arguments after ``test`` go to
pytest (``python3 dev.py test -- -k security``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".qiro-installed"


def sh(*args: str | Path) -> int:
    """Run a command; Ctrl-C reaches it through the terminal and we wait for it to clean up."""
    child = subprocess.Popen([str(a) for a in args], cwd=ROOT)  # noqa: S603 - our own commands
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue


def requirements() -> list[str]:
    """The project's dependencies with the dev extras, from pyproject.toml.

    Installed directly: the project runs from this folder and is never built.
    """
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["dev"]]


def ensure_venv() -> None:
    """Create .venv and install the project with its dev extras when pyproject changes."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and PYTHON.exists():
        return
    if sys.version_info[:2] != (3, 11):
        print(
            f"warning: QIRO targets Python 3.11; this is {sys.version.split()[0]}", file=sys.stderr
        )
    if not PYTHON.exists():
        print("Creating .venv …", flush=True)
        venv.create(VENV, with_pip=True)
    wanted_packages = requirements()
    print(
        f"Installing {len(wanted_packages)} dependencies and what they need "
        "(a few minutes on an empty pip cache) …",
        flush=True,
    )
    pip: list[str | Path] = [PYTHON, "-m", "pip", "install", "--disable-pip-version-check"]
    if pip_with_progress(*pip, "-q", "--upgrade", "pip") or pip_with_progress(
        *pip, *wanted_packages
    ):
        sys.exit("error: installing the dependencies failed (see pip's message above)")
    STAMP.write_text(wanted)


def pip_with_progress(*args: str | Path) -> int:
    """Run pip, showing one short line per package it fetches; all of its output on failure."""
    child = subprocess.Popen(  # noqa: S603 - our own commands
        [str(a) for a in args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, bufsize=1,
    )  # fmt: skip
    assert child.stdout is not None
    lines: list[str] = []
    fetched = 0
    for line in child.stdout:
        lines.append(line)
        if line.startswith("Collecting "):
            fetched += 1
            print(f"  [{fetched:>3}] {line.split()[1]}", flush=True)
        elif line.startswith(("Installing collected", "Successfully installed")):
            print("  " + line.strip()[:100] + ("…" if len(line.strip()) > 100 else ""), flush=True)
    code = child.wait()
    if code:
        sys.stdout.write("".join(lines[-60:]))
    return code


def run(args: list[str]) -> int:
    return sh(PYTHON, "-m", "qiro.embedded", "exec", "--", PYTHON, "manage.py", "serve", *args)


def lint() -> int:
    commands: list[list[str | Path]] = [
        [PYTHON, "-m", "ruff", "check", "."],
        [PYTHON, "-m", "ruff", "format", "--check", "."],
        [PYTHON, "-m", "mypy", "."],
    ]
    for command in commands:
        print("$", " ".join(str(c) for c in command[2:]), flush=True)
        if code := sh(*command):
            return code
    return 0


def test(args: list[str]) -> int:
    skip_lint = "--skip-lint" in args
    args = [a for a in args if a not in ("--skip-lint", "--")]
    if not skip_lint and (code := lint()):
        return code
    workers = ["-n", os.environ.get("QIRO_TEST_WORKERS", "auto")]
    pytest: list[str | Path] = [PYTHON, "-m", "pytest", *workers, *args]
    return sh(PYTHON, "-m", "qiro.embedded", "exec", "--", *pytest)


def main() -> int:
    command, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command not in {"run", "test", "lint"}:
        print(__doc__)
        return 2
    ensure_venv()
    if command == "run":
        return run(args)
    if command == "lint":
        return lint()
    return test(args)


if __name__ == "__main__":
    sys.exit(main())
