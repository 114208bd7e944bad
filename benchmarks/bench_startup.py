"""How long a user waits for one answer: whole ``sosrisk predict`` processes on one post, before and after.

A crisis worker who pastes one post into ``sosrisk predict``, a script that calls the CLI per post, a
service worker that restarts: all of them wait for the process to start, load the models and the scope
stage, and answer. Contenders, each a whole process started as a shell starts it, on the same post:

* ``before``: the code of ``--baseline`` (default: the commit before the featurizer's numpy build) from a
  temporary git worktree;
* ``after``: this checkout.

For every ``--models NAME LEVEL_DIR BINARY_DIR`` (repeatable; both tasks answered, scope stage on) the
contenders run in interleaved rounds (``--repeats``), and the best and the median of each are kept. The
answers (JSON Lines) must be the same byte for byte, or the benchmark fails.

Run: ``python benchmarks/bench_startup.py --models char-linear models/level models/binary``; results go to
``results/startup.{json,md}`` (``--name NAME``: ``results/startup_NAME.{json,md}``, to keep an earlier comparison).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _env import REPO, baseline_checkout, environment, write_results

NAME = "startup"
BASELINE = "30c0766"  # main before the featurizer's numpy build
# one ordinary post (most of a stream: the prefilter turns it away, the sentence encoder is never loaded) and
# one in the tree hole's register (it reaches the sentence encoder and, in scope, the risk models)
POSTS = {"ordinary": "今天加班到十点，老板还骂我，烦死了", "tree hole": "我真的撑不下去了，每天都想消失"}


def run(src: Path, level: str, binary: str, post: str, output: Path) -> float:
    """Seconds of one whole ``sosrisk predict LEVEL BINARY POST`` process."""
    command = [sys.executable, "-m", "sosrisk", "predict", level, binary, post, "--format", "jsonl", "-q"]
    command += ["--output", str(output)]
    env = {**os.environ, "PYTHONPATH": str(src)}
    started = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def render(payload: dict[str, Any]) -> str:
    env = payload["environment"]
    lines = [
        "# One answer: whole `sosrisk predict` processes on one post, before and after",
        "",
        f"Run: {env['date']} · {env['machine']['cpu']} ({env['machine']['cores']} cores) · commit {env['git_commit']}"
        f" (before: {payload['baseline']}) · {env['versions']} · load average at start {payload['load_average']}",
        "",
        "`sosrisk predict LEVEL BINARY POST`, both tasks, scope stage on; posts: "
        + "; ".join(f"{kind} `{post}`" for kind, post in payload["posts"].items())
        + f". {payload['repeats']} interleaved rounds. The answers were the same byte for byte in every round.",
        "",
        "| models | post | before: best s | after: best s | before: median s | after: median s | best vs best |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for result in payload["runs"].values():
        before, after = result["before"], result["after"]
        lines.append(
            f"| {result['models']} | {result['post']} | {min(before):.2f} | {min(after):.2f} |"
            f" {statistics.median(before):.2f} | {statistics.median(after):.2f} | {min(before) / min(after):.2f}x |"
        )
    lines += ["", "Runs (seconds, in order):", ""]
    for key, result in payload["runs"].items():
        lines.append(f"- {key}: before {result['before']}, after {result['after']}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models", nargs=3, action="append", required=True, metavar=("NAME", "LEVEL_DIR", "BINARY_DIR")
    )
    parser.add_argument("--baseline", default=BASELINE, help="the commit whose code is 'before'")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--name", default=None, help="results/startup_NAME.{json,md} (default results/startup)")
    args = parser.parse_args()
    if args.repeats < 1:
        raise SystemExit("--repeats must be at least 1")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with baseline_checkout(args.baseline, "sosrisk-startup-") as (work, worktree):
        contenders = {"before": worktree / "src", "after": REPO / "src"}
        results: dict[str, dict[str, Any]] = {}
        for name, level, binary in args.models:
            for kind, post in POSTS.items():
                times: dict[str, list[float]] = {c: [] for c in contenders}
                for round_ in range(args.repeats):
                    answers = {}
                    for contender, src in contenders.items():
                        output = work / f"{contender}.jsonl"
                        times[contender].append(round(run(src, level, binary, post, output), 3))
                        answers[contender] = output.read_bytes()
                        seconds = times[contender][-1]
                        print(f"{name}, {kind}, round {round_ + 1}: {contender} {seconds:.2f} s", file=sys.stderr)
                    if answers["before"] != answers["after"]:
                        raise SystemExit(f"{name}, {kind}: the answers of before and after differ")
                results[f"{name}, {kind}"] = {"models": name, "post": kind, **times}
        payload = {
            "environment": environment(("sosrisk", "numpy", "torch")),
            "baseline": args.baseline,
            "load_average": load,
            "repeats": args.repeats,
            "posts": POSTS,
            "runs": results,
        }
        write_results(NAME if args.name is None else f"{NAME}_{args.name}", payload, render(payload))
        print(render(payload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
