"""What every benchmark records beside its numbers: the machine, the versions and the date."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
SHARED_SOS1K = REPO.parent / "shared" / "sos1k"


def environment(packages: tuple[str, ...] = ("sosrisk", "numpy", "scipy", "scikit-learn")) -> dict[str, Any]:
    """Machine, Python and package versions, git commit and the date of a benchmark run."""
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "machine": {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform()},
        "python": platform.python_version(),
        "versions": versions,
        "git_commit": commit,
    }


def run_line(env: dict[str, Any]) -> str:
    """A results file's "Run:" line: date, machine and commit of :func:`environment`'s record."""
    machine = env["machine"]
    return f"Run: {env['date']} · {machine['cpu']} ({machine['cores']} cores) · commit {env['git_commit']}"


def sos1k_root() -> Path:
    """The SOS-1K folder to use: $SOSRISK_SOS1K (a local copy), the shared copy beside the repo, or the data home."""
    configured = os.environ.get("SOSRISK_SOS1K")
    if configured:
        return Path(configured)
    if (SHARED_SOS1K / "suicideDataProcessing").is_dir():
        return SHARED_SOS1K
    from sosrisk.home import sos1k_dir

    return sos1k_dir()


def write_results(name: str, payload: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """Write ``results/<name>.json`` and ``results/<name>.md`` atomically."""
    from sosrisk.atomic import atomic_write_text

    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS / f"{name}.json"
    md_path = RESULTS / f"{name}.md"
    atomic_write_text(json_path, json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    atomic_write_text(md_path, markdown)
    return json_path, md_path


@contextlib.contextmanager
def baseline_checkout(commit: str, prefix: str) -> Iterator[tuple[Path, Path]]:
    """A scratch folder and, inside it, a git worktree of ``commit`` (the code a benchmark calls "before").

    Yields ``(work, worktree)``; both are removed afterwards, whatever happened.
    """
    work = Path(tempfile.mkdtemp(prefix=prefix))
    worktree = work / "baseline"
    try:
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(worktree), commit], cwd=REPO, check=True)
        yield work, worktree
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=REPO, check=False)
        shutil.rmtree(work, ignore_errors=True)


def publish(name: str, payload: dict[str, Any], markdown: str) -> None:
    """Write the results (:func:`write_results`), print the markdown, and say where the files went (stderr)."""
    import sys

    json_path, md_path = write_results(name, payload, markdown)
    print(markdown)
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
