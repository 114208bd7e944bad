"""The slow marker: slow tests are left out of a plain run, and included in CI (SOSRISK_RUN_SLOW=1) or with -m."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def collected(*args: str, run_slow: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != "SOSRISK_RUN_SLOW"}
    if run_slow:
        env["SOSRISK_RUN_SLOW"] = "1"
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("args", "run_slow", "count"),
    [
        ((), False, "2/3 tests collected (1 deselected)"),
        ((), True, "3 tests collected"),
        (("-m", "slow"), False, "1/3 tests collected (2 deselected)"),
    ],
    ids=["plain run", "CI", "-m slow"],
)
def test_slow_tests_run_only_in_ci_or_when_asked_for(args: tuple[str, ...], run_slow: bool, count: str) -> None:
    output = collected("tests/test_lint.py", *args, run_slow=run_slow)  # test_lint.py has one slow test
    assert count in output
    assert ("test_mypy_is_clean" in output) == (run_slow or args == ("-m", "slow"))


def test_ci_runs_the_readme_command_with_the_slow_tests() -> None:
    ci = (REPO / ".ci" / "run").read_text("utf-8")
    readme = (REPO / "README.md").read_text("utf-8")
    command = 'python3 -m venv .venv && .venv/bin/pip install -q -e ".[all,test]" && .venv/bin/python -m pytest -q'
    assert command in readme and ci.rstrip().endswith(command)
    assert "export SOSRISK_RUN_SLOW=1" in ci.split("# --- the README's test command, verbatim ---")[0]
    assert "SOSRISK_RUN_SLOW=1" in readme
