"""``--model best`` before and after the shared backbone (#14): whole ``sosrisk predict`` processes, same run.

Contenders, each a whole process started as a shell starts it, on the same posts:

* ``before``: the code of ``--baseline`` (default: the commit before the shared backbone) from a temporary
  git worktree, on the model directories as ``sosrisk train --model best`` wrote them then (each encoder
  member a whole 470 MB checkpoint);
* ``after``: this checkout on the same models saved again by this code (:func:`compact`: the encoder
  members keep only the layers fine-tuning changed, over the shared e5-small);
* ``after, bfloat16``: the same with ``--encoder-precision bfloat16``.

Each predicts both tasks (``sosrisk predict MODELS``, level and binary) with the scope stage on, as a user
runs it, for the 999 SOS-1K development posts (in scope: the tree hole) by default. Runs are interleaved
(``--repeats`` rounds of before, after, after-bf16) and the best of each is kept. Reported: seconds,
posts/s, the ratio to ``before``, peak memory, the directories' sizes, and agreement with ``before`` post
by post (levels, high-risk flags, largest probability difference, high-risk posts turned low).

Run: ``python benchmarks/bench_best_speed.py --level models/best-level --binary models/best-binary``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _env import REPO, baseline_checkout, environment, publish, sos1k_root

NAME = "best_speed"
BASELINE = "6b2b0bb"  # main before the shared backbone
# runs sosrisk's CLI and prints the process's peak resident memory (KiB) on stderr's last line
CHILD = (
    "import atexit, resource, runpy, sys\n"
    "atexit.register(lambda: print('peak_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr))\n"
    "sys.argv = ['sosrisk', *sys.argv[1:]]\n"
    "runpy.run_module('sosrisk', run_name='__main__')\n"
)


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def compact(source: Path, dest: Path) -> float:
    """Save ``source`` again with this checkout's code (a new process: nothing shared with the timed runs)."""
    started = time.perf_counter()
    script = f"from sosrisk import load_model; load_model({str(source)!r}).save({str(dest)!r})"
    subprocess.run([sys.executable, "-c", script], check=True, env=_env(REPO / "src"))
    return time.perf_counter() - started


def _env(src: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src)
    return env


def run(src: Path, models: Path, posts: Path, output: Path, extra: list[str]) -> tuple[float, int]:
    """Seconds and peak KiB of one whole ``sosrisk predict`` process."""
    command = [sys.executable, "-c", CHILD, *extra, "predict", str(models), "--input", str(posts)]
    command += ["--output", str(output), "--format", "jsonl", "-q"]
    started = time.perf_counter()
    done = subprocess.run(command, env=_env(src), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    peak = [line for line in done.stderr.splitlines() if line.startswith("peak_kib")]
    return seconds, int(peak[-1].split()[1]) if peak else -1


def agreement(reference: Path, other: Path) -> dict[str, Any]:
    rows = same_level = same_high = high_to_low = low_to_high = 0
    max_diff = 0.0
    with open(reference, encoding="utf-8") as a, open(other, encoding="utf-8") as b:
        for line_a, line_b in zip(a, b, strict=True):
            x, y = json.loads(line_a), json.loads(line_b)
            rows += 1
            same_level += x["risk_level"] == y["risk_level"]
            same_high += x["high_risk"] == y["high_risk"]
            high_to_low += bool(x["high_risk"]) and not y["high_risk"]
            low_to_high += (not x["high_risk"]) and bool(y["high_risk"])
            pairs = zip(x["level_probabilities"], y["level_probabilities"], strict=True)
            diff = max([abs(p - q) for p, q in pairs] + [abs(x["high_risk_probability"] - y["high_risk_probability"])])
            max_diff = max(max_diff, diff)
    return {
        "rows": rows,
        "same_levels": same_level,
        "same_high_risk": same_high,
        "high_risk_turned_low": high_to_low,
        "low_risk_turned_high": low_to_high,
        "max_probability_difference": max_diff,
    }


def render(payload: dict[str, Any]) -> str:
    env, s = payload["environment"], payload["settings"]
    posts = s["posts"]
    lines = [
        "# `--model best` before and after the shared backbone: whole `sosrisk predict` processes",
        "",
        f"{env['date']} · {env['machine']['cpu']} ({env['machine']['cores']} cores) · Python {env['python']} · "
        f"commit {env['git_commit']} (before: {s['baseline']}) · "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items())
        + f" · load average at start {' '.join(payload['load_average_at_start'])}",
        "",
        f"Both tasks (`sosrisk predict MODELS`: level and binary `--model best` directories, scope stage on) for "
        f"{posts:,} {s['posts_from']}; whole processes, best of {s['repeats']} interleaved rounds.",
        "",
        "| contender | best s | posts/s | vs before | peak memory | runs (s) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, result in payload["contenders"].items():
        best = min(result["seconds"])
        ratio = min(payload["contenders"]["before"]["seconds"]) / best
        lines.append(
            f"| {name} | {best:.1f} | {posts / best:.1f} | {ratio:.2f}x | {max(result['peak_kib']) / 2**20:.2f} GiB "
            f"| {', '.join(f'{r:.1f}' for r in result['seconds'])} |"
        )
    lines += ["", "| directory | before MB | after MB | after / before |", "|---|---:|---:|---:|"]
    for task, sizes in payload["sizes_mb"].items():
        lines.append(
            f"| {task} | {sizes['before']:.1f} | {sizes['after']:.1f} | {sizes['after'] / sizes['before']:.1%} |"
        )
    lines += ["", "Agreement with `before`, post by post:", ""]
    for name, a in payload["agreement"].items():
        lines.append(
            f"- {name}: levels {a['same_levels']:,}/{a['rows']:,}, "
            f"high-risk flags {a['same_high_risk']:,}/{a['rows']:,} "
            f"({a['high_risk_turned_low']} high turned low, {a['low_risk_turned_high']} low turned high), largest "
            f"probability difference {a['max_probability_difference']:.1e}"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--level", type=Path, required=True, help="a --model best level directory (as trained)")
    parser.add_argument("--binary", type=Path, required=True, help="a --model best binary directory (as trained)")
    parser.add_argument("--baseline", default=BASELINE, help="the commit whose code is 'before'")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--posts", type=Path, help="a text file of posts (default: the 999 SOS-1K development posts)")
    args = parser.parse_args()
    load = [f"{x:.2f}" for x in os.getloadavg()]
    with baseline_checkout(args.baseline, "sosrisk-best-speed-") as (work, worktree):
        before, after = work / "before", work / "after"
        before.mkdir()
        after.mkdir()
        for task, source in (("level", args.level), ("binary", args.binary)):
            os.symlink(source.resolve(), before / task)
        compact_seconds = {task: compact(before / task, after / task) for task in ("level", "binary")}
        if args.posts:
            posts_file, posts_from = args.posts, str(args.posts)
        else:
            from sosrisk.data.sos1k import load_development

            texts = load_development("level", root=sos1k_root()).texts
            posts_file = work / "posts.txt"
            posts_file.write_text("".join(t.replace("\n", " ").replace("\r", " ") + "\n" for t in texts), "utf-8")
            posts_from = "SOS-1K development posts (the five folds)"
        n_posts = len(posts_file.read_text(encoding="utf-8").splitlines())
        contenders = {
            "before": (worktree / "src", before, []),
            "after": (REPO / "src", after, []),
            "after, bfloat16": (REPO / "src", after, ["--encoder-precision", "bfloat16"]),
        }
        results: dict[str, dict[str, list[Any]]] = {name: {"seconds": [], "peak_kib": []} for name in contenders}
        outputs = {name: work / f"out-{i}.jsonl" for i, name in enumerate(contenders)}
        for round_ in range(args.repeats):
            for name, (src, models, extra) in contenders.items():
                seconds, peak = run(src, models, posts_file, outputs[name], extra)
                results[name]["seconds"].append(round(seconds, 2))
                results[name]["peak_kib"].append(peak)
                print(f"round {round_ + 1}: {name}: {seconds:.1f} s, peak {peak / 2**20:.2f} GiB", file=sys.stderr)
        payload = {
            "environment": environment(("sosrisk", "torch", "transformers", "numpy")),
            "load_average_at_start": load,
            "settings": {
                "baseline": args.baseline,
                "repeats": args.repeats,
                "posts": n_posts,
                "posts_from": posts_from,
                "models": {"level": str(args.level), "binary": str(args.binary)},
            },
            "contenders": results,
            "sizes_mb": {
                task: {"before": size_mb((before / task).resolve()), "after": size_mb(after / task)}
                for task in ("level", "binary")
            },
            "compact_seconds": compact_seconds,
            "agreement": {name: agreement(outputs["before"], outputs[name]) for name in contenders if name != "before"},
        }
        publish(NAME, payload, render(payload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
