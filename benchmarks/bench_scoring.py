"""Batch scoring throughput and memory: the local engine on one and on all cores, Ray, and a naive loop.

Generates JSONL inputs of ``--posts`` posts (default one million) and a tenth of that, with texts drawn
from the SOS-1K development folds, trains a char-linear level model on those folds, then runs every
contender in its own process while sampling the resident memory of its whole process tree (workers,
and Ray's raylet, object store and actors included):

* ``naive``: ``pandas.read_json(lines=True)`` loads everything, then ``model.predict`` on all texts (with
  one BLAS thread, its fastest setting on this machine and the engines' setting too);
* ``local, 1 core`` / ``local, N cores``: ``sosrisk.scoring.score`` with ``workers=1`` / ``workers=N``, in a
  process that keeps the memory it frees as ``sosrisk score`` does (``sosrisk.scoring.allocator``);
* ``ray, N cores``: the same with ``engine="ray"`` on a Ray instance started on this machine.

Every engine's levels are checked against the naive loop's predictions. The naive loop and the local
engine on all cores run ``--repeats`` times, interleaved, and the best time of each is kept, so that
load from other processes on a shared machine affects both alike.
Run: ``python benchmarks/bench_scoring.py`` (``--posts 100000 --skip-ray`` for a quick look).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _env import environment, publish, sos1k_root, write_results

CHILD = "--child"


# ----------------------------------------------------------------------------------------- children
def child(kind: str, model_dir: str, source: str, output: str, workers: int, chunk_size: int) -> None:
    """Run one contender and print its timing as JSON (the parent measures memory)."""
    started = time.perf_counter()
    if kind == "naive":
        import numpy as np
        import pandas as pd
        from threadpoolctl import threadpool_limits

        from sosrisk.models import load_model

        threadpool_limits(1, user_api="blas")  # its fastest setting here, as the engines use: no spinning threads
        model = load_model(model_dir)
        frame = pd.read_json(source, lines=True, dtype=False)
        levels = model.predict(frame["text"].tolist())
        np.save(output, np.asarray(levels, dtype=np.int8))
        posts = len(frame)
    else:
        from sosrisk.scoring import ScoreSettings, score
        from sosrisk.scoring.allocator import keep_freed_memory

        keep_freed_memory()  # as `sosrisk score` does; the workers do it themselves
        summary = score(
            model_dir,
            source,
            output,
            ScoreSettings(engine=kind, chunk_size=chunk_size),
            workers=workers,
            overwrite=True,
            show_progress=False,
        )
        posts = summary.scored
    print(json.dumps({"seconds": time.perf_counter() - started, "posts": posts}))


# ------------------------------------------------------------------------------------------- memory
def _tree(root: int) -> list[int]:
    """``root`` and all its descendants, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _rss_and_cpu(pid: int) -> tuple[int, float]:
    """Resident bytes and CPU seconds (user + system) of one process; zeros when it is gone."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            rss = int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0, 0.0
    return rss, cpu


def _steal_seconds() -> float:
    """CPU time the hypervisor gave to other guests, over all CPUs (Linux ``/proc/stat``; 0 elsewhere).

    On a virtual machine this is the interference a load average cannot show: time this machine's
    processes were ready to run but their virtual CPU was not running.
    """
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def run_child(args: list[str]) -> dict[str, Any]:
    """Run this script as a child contender; return its timing and the peak RSS of its process tree."""
    process = subprocess.Popen(
        ["nice", "-n", "10", sys.executable, __file__, CHILD, *args], stdout=subprocess.PIPE, text=True
    )
    peak = 0
    cpu: dict[int, float] = {}  # the largest CPU time seen per process of the tree
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            total = 0
            for pid in _tree(process.pid):
                rss, seconds = _rss_and_cpu(pid)
                total += rss
                cpu[pid] = max(cpu.get(pid, 0.0), seconds)
            peak = max(peak, total)
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    steal_before = _steal_seconds()
    sampler.start()
    stdout, _ = process.communicate()
    stop.set()
    sampler.join()
    steal = _steal_seconds() - steal_before
    if process.returncode != 0:
        raise RuntimeError(f"contender {args[0]} failed with exit status {process.returncode}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mib"] = round(peak / 2**20, 1)
    # CPU time of the whole tree (sampled every 0.1 s, so a little is missed): on a shared machine this
    # says how much work each contender needs per post, whatever the other processes took.
    result["cpu_seconds"] = round(sum(cpu.values()), 2)
    result["cpu_us_per_post"] = round(1e6 * result["cpu_seconds"] / max(result["posts"], 1), 2)
    result["posts_per_second"] = round(result["posts"] / result["seconds"], 1)
    result["steal_seconds"] = round(steal, 2)
    result["seconds"] = round(result["seconds"], 2)
    return result


# ------------------------------------------------------------------------------------------- parent
def render_markdown(payload: dict[str, Any]) -> str:
    """The results table and its reading, from the JSON payload."""
    env, settings, best, small, summary = (
        payload[k] for k in ("environment", "settings", "best", "small_input", "summary")
    )
    load = payload.get("load_average_at_start") or payload["load_average_at_end"]
    load_when = "at the start" if "load_average_at_start" in payload else "at the end"
    cores = env["machine"]["cores"]
    naive_rate = best["naive"]["posts_per_second"]
    md = [
        "# Batch scoring benchmark",
        "",
        f"{env['date']}, {env['machine']['cpu']} ({cores} cores), Python {env['python']}, "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items())
        + f", commit {env['git_commit']}. Load average {load_when}: {' '.join(load)}.",
        "",
        f"char-linear level model, JSONL input of {settings['posts']:,} posts drawn from the SOS-1K development "
        f"folds, chunks of {settings['chunk_size']:,}; best of {settings['repeats']} interleaved runs for the naive "
        "loop and the local engine on all cores. CPU is user + system time of the whole process tree per post; "
        "peak memory is the resident memory of the whole process tree; steal is the CPU time the hypervisor "
        "gave other guests during the run (interference from outside this virtual machine).",
        "",
        f"| contender | posts/s | vs naive | CPU µs/post | peak MiB ({settings['posts']:,}) | "
        f"peak MiB ({settings['posts'] // 10:,}) | steal s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in best.items():
        small_peak = f"{small[name]['peak_rss_mib']:,.0f}" if name in small else ""
        steal = f"{result['steal_seconds']:.2f}" if "steal_seconds" in result else ""
        md.append(
            f"| {name} | {result['posts_per_second']:,.0f} | {result['posts_per_second'] / naive_rate:.2f}x "
            f"| {result['cpu_us_per_post']:.1f} | {result['peak_rss_mib']:,.0f} | {small_peak} | {steal} |"
        )
    md += [
        "",
        f"- Local engine on all cores vs the naive loop, wall clock: {summary['local_all_cores_vs_naive']}x "
        f"(target 2x: {'met' if summary['target_2x_naive_met'] else 'not met'} by the best runs).",
    ]
    if "paired_ratios" in summary:
        md.append(
            "- Run by run (each naive run and the engine run right after it): "
            + ", ".join(f"{r:.2f}x" for r in summary["paired_ratios"])
            + f"; median {summary['paired_ratio_median']:.2f}x, {summary['paired_runs_at_2x']} of "
            f"{len(summary['paired_ratios'])} at 2x or more."
        )
    md += [
        f"- Peak memory growth when the input grows 10x: {summary['peak_rss_growth_10x_input_mib']} MiB "
        f"(the naive loop holds the whole input: {best['naive']['peak_rss_mib']:,.0f} MiB).",
        f"- Every engine gave the naive loop's levels, row for row: "
        f"{all(r.get('same_levels_as_naive', True) for r in best.values())}.",
    ]
    if float(load[0]) > cores:
        ratio = summary["naive_cpu_per_post_over_local_all_cores"]
        md += [
            f"- The machine was shared (load average {load[0]} on {cores} cores): every contender got a fraction of "
            "a core whatever its number of processes, so these wall-clock ratios do not measure parallel speed-up. "
            f"CPU per post does: the local engine on all cores needs {1 / ratio:.2f}x the naive loop's CPU per "
            f"post, so with {cores} idle cores it could reach at most about {cores * ratio:.1f}x the naive rate (an "
            "upper bound from CPU time, not a measurement). Rerun on an idle machine for the wall-clock ratio.",
        ]
    return "\n".join(md) + "\n"


def generate(path: Path, texts: list[str], n: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(json.dumps({"id": f"p{i}", "text": rng.choice(texts)}, ensure_ascii=False) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=1_000_000, help="posts in the large input")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="cores for the parallel runs")
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2, help="runs of the naive loop and the local engine")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None, help="where inputs and outputs go (default: a temp dir)")
    parser.add_argument("--render", action="store_true", help="only rewrite results/scoring.md from scoring.json")
    args = parser.parse_args()
    if args.render:
        from _env import RESULTS

        payload = json.loads((RESULTS / "scoring.json").read_text(encoding="utf-8"))
        write_results("scoring", payload, render_markdown(payload))
        return 0

    import numpy as np
    import pandas as pd

    from sosrisk.data import load_development
    from sosrisk.models.char_linear import CharLinearModel

    with open("/proc/loadavg", encoding="ascii") as handle:
        load_at_start = handle.read().split()[:3]  # before this benchmark adds its own processes
    root = sos1k_root()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sosrisk-bench-scoring-"))
    workdir.mkdir(parents=True, exist_ok=True)
    dev = load_development("level", root)
    model_dir = workdir / "model-level"
    print(f"training char-linear on {len(dev)} development posts ...", file=sys.stderr)
    CharLinearModel(task="level").fit(dev.texts, dev.labels("level")).save(model_dir)
    sizes = {"large": args.posts, "small": args.posts // 10}
    inputs = {}
    for name, n in sizes.items():
        inputs[name] = workdir / f"posts-{name}.jsonl"
        print(f"generating {n:,} posts in {inputs[name]} ...", file=sys.stderr)
        generate(inputs[name], dev.texts, n, seed=n)

    def contender(kind: str, size: str, workers: int) -> dict[str, Any]:
        label = f"{kind}, {workers} core{'s' if workers > 1 else ''}" if kind != "naive" else "naive"
        output = workdir / f"out-{kind}-{workers}-{size}.{'npy' if kind == 'naive' else 'parquet'}"
        print(f"[{size}] {label} ...", file=sys.stderr)
        result = run_child([kind, str(model_dir), str(inputs[size]), str(output), str(workers), str(args.chunk_size)])
        result.update({"contender": label, "input": size, "posts_in_input": sizes[size], "output": str(output)})
        rate, cpu, peak = result["posts_per_second"], result["cpu_us_per_post"], result["peak_rss_mib"]
        print(f"    {rate:>10,.0f} posts/s, {cpu:.1f} us CPU/post, peak {peak:,.0f} MiB", file=sys.stderr)
        return result

    runs: list[dict[str, Any]] = []
    best: dict[str, dict[str, Any]] = {}
    for _ in range(args.repeats):  # interleaved: the naive loop and the local engine on all cores
        for kind, workers in (("naive", 1), ("local", args.workers)):
            result = contender(kind, "large", workers)
            runs.append(result)
            if result["contender"] not in best or result["seconds"] < best[result["contender"]]["seconds"]:
                best[result["contender"]] = result
    for kind, workers in [("local", 1), *([] if args.skip_ray else [("ray", args.workers)])]:
        result = contender(kind, "large", workers)
        runs.append(result)
        best[result["contender"]] = result
    small = {}
    for workers in sorted({1, args.workers}):
        result = contender("local", "small", workers)
        runs.append(result)
        small[result["contender"]] = result

    # every engine must give the naive loop's levels, row for row
    naive_levels = np.load(best["naive"]["output"])
    for name, result in best.items():
        if name != "naive":
            levels = pd.read_parquet(result["output"], columns=["risk_level"])["risk_level"].to_numpy()
            result["same_levels_as_naive"] = bool(np.array_equal(levels, naive_levels))
    naive_rate = best["naive"]["posts_per_second"]
    parallel = f"local, {args.workers} cores" if args.workers > 1 else "local, 1 core"
    summary = {
        "local_all_cores_vs_naive": round(best[parallel]["posts_per_second"] / naive_rate, 2),
        "local_one_core_vs_naive": round(best["local, 1 core"]["posts_per_second"] / naive_rate, 2),
        "peak_rss_growth_10x_input_mib": {
            name: round(best[name]["peak_rss_mib"] - small[name]["peak_rss_mib"], 1) for name in small
        },
        "target_2x_naive_met": best[parallel]["posts_per_second"] >= 2 * naive_rate,
    }
    # Each repeat runs the naive loop and then the local engine: the ratio within a pair is measured at
    # nearly the same moment. On a machine whose speed drifts, their spread says how far to trust the best.
    naive_runs = [r for r in runs if r["contender"] == "naive"]
    local_runs = [r for r in runs if r["contender"] == parallel and r["input"] == "large"][: len(naive_runs)]
    paired = [round(n["seconds"] / r["seconds"], 2) for n, r in zip(naive_runs, local_runs, strict=True)]
    summary["paired_ratios"] = paired
    summary["paired_ratio_median"] = round(float(np.median(paired)), 2)
    summary["paired_runs_at_2x"] = sum(ratio >= 2 for ratio in paired)
    # CPU time per post is what a contender needs whatever else runs on the machine: with N idle cores
    # the local engine can reach at most N x (naive CPU per post / its CPU per post) of the naive rate.
    summary["naive_cpu_per_post_over_local_all_cores"] = round(
        best["naive"]["cpu_us_per_post"] / best[parallel]["cpu_us_per_post"], 2
    )
    if not args.skip_ray:
        summary["ray_vs_naive"] = round(best[f"ray, {args.workers} cores"]["posts_per_second"] / naive_rate, 2)
    with open("/proc/loadavg", encoding="ascii") as handle:
        load = handle.read().split()[:3]
    env = environment(("sosrisk", "numpy", "scipy", "pandas", "pyarrow", "ray"))
    payload = {
        "environment": env,
        "load_average_at_start": load_at_start,
        "load_average_at_end": load,
        "data": str(root),
        "settings": {
            "posts": args.posts,
            "workers": args.workers,
            "chunk_size": args.chunk_size,
            "repeats": args.repeats,
        },
        "best": best,
        "small_input": small,
        "runs": runs,
        "summary": summary,
    }
    markdown = render_markdown(payload)
    publish("scoring", payload, markdown)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CHILD:
        kind, model_dir, source, output, workers, chunk_size = sys.argv[2:8]
        child(kind, model_dir, source, output, int(workers), int(chunk_size))
        raise SystemExit(0)
    raise SystemExit(main())
