"""The two-stage stream: ``sosrisk score`` with and without the scope stage, on a mostly ordinary stream.

A realistic scan is mostly ordinary posts. The stream here is 99% ordinary sentences (the held-out parts of
the ordinary-text sources, never trained on) and 1% SOS-1K posts, shuffled with a fixed seed. Both runs
score it with the same model weights: once as trained (the scope stage decides first, only posts in scope
reach the model), once from a copy of the model directories with the scope stage removed. Each run is the
whole ``sosrisk score`` process, timed from a shell, in the same benchmark run.

Reported: posts/s of each run and their ratio, the same in steady state (each command is also timed on a
one-post input, the stream's first SOS-1K post, which costs the start-up: Python, loading the models and the
sentence encoder; steady-state posts/s = (posts - 1) / (seconds - one-post seconds), what a long-running
scan or the service sees once loaded), how many of the SOS-1K posts labelled high risk each run
flags, and how many ordinary posts each run puts at level 6+ or high risk. The SOS-1K posts were in the
training data of the models (trained on all five folds), so the "found" counts show what the scope stage
loses, not the models' recall; the stage's retention of unseen at-risk posts is measured out of fold in
``bench_scope.py``.

Run: ``python benchmarks/bench_two_stage.py --level models/level-best --binary models/binary-best``
(defaults to ``models/level`` and ``models/binary``); results go to ``results/two_stage_<name>.{json,md}``.
``--compare LEVEL_DIR`` also scores the stream two-stage with another level model directory and the same binary
one, in the same run (the same model without its fine-tuned raiser, say), and reports the speed against it.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from _env import REPO, environment, sos1k_root, write_results
from sosrisk.data import load_folds
from sosrisk.scope.corpora import SOURCES, read_source


def without_scope(model_dir: Path, dest: Path) -> Path:
    """A copy of a model directory with the scope stage removed (same weights, no gate, no rules)."""
    shutil.copytree(model_dir, dest, symlinks=False)
    shutil.rmtree(dest / "scope", ignore_errors=True)
    config = json.loads((dest / "config.json").read_text("utf-8"))
    config["files"].pop("scope", None)
    config["scope"] = None
    (dest / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return dest


def stream(n_posts: int, sos_share: float, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    n_sos = max(1, round(n_posts * sos_share))
    level, binary = load_folds("level", sos1k_root()), load_folds("binary", sos1k_root())
    sos = [
        (t, int(lv), int(hi))
        for fl, fb in zip(level, binary, strict=True)
        for t, lv, hi in zip(fl.texts, fl.labels("level"), fb.labels("binary"), strict=True)
    ]
    posts = [
        {"id": f"sos-{i}", "text": t, "level": lv, "high": hi} for i, (t, lv, hi) in enumerate(rng.sample(sos, n_sos))
    ]
    per_source = (n_posts - n_sos) // len(SOURCES) + 1
    ordinary, spare = [], []
    for name in SOURCES:
        held = read_source(name, part="heldout")
        chosen = rng.sample(range(len(held)), min(per_source, len(held)))
        ordinary += [{"id": f"{name}-{i}", "text": held[i]} for i in chosen]
        taken = set(chosen)
        spare += [{"id": f"{name}-{i}", "text": t} for i, t in enumerate(held) if i not in taken]
    if len(ordinary) < n_posts - n_sos:  # a long stream: the sources with sentences left fill in for the small ones
        if len(ordinary) + len(spare) < n_posts - n_sos:
            raise SystemExit(
                f"--posts {n_posts}: the held-out ordinary sentences number {len(ordinary) + len(spare)}, "
                f"fewer than the {n_posts - n_sos} the stream needs"
            )
        ordinary += rng.sample(spare, n_posts - n_sos - len(ordinary))
    posts += rng.sample(ordinary, n_posts - n_sos)
    rng.shuffle(posts)
    return posts


def run_score(models: list[Path], inputs: Path, output: Path) -> float:
    command = [sys.executable, "-m", "sosrisk", "score", *map(str, models), "-i", str(inputs), "-o", str(output), "-q"]
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO)
    return time.perf_counter() - started


def summarise(output: Path, truth: dict[str, dict[str, Any]]) -> dict[str, Any]:
    table = pq.read_table(output).to_pylist()
    sos_high = [r for r in table if truth[r["id"]].get("high") == 1]
    ordinary = [r for r in table if not r["id"].startswith("sos-")]
    return {
        "posts": len(table),
        "sos_high_risk_posts": len(sos_high),
        "sos_high_risk_flagged": sum(bool(r.get("high_risk")) for r in sos_high),
        "sos_high_risk_level6plus": sum((r.get("risk_level") or 0) >= 6 for r in sos_high),
        "ordinary_posts": len(ordinary),
        "ordinary_level6plus": sum((r.get("risk_level") or 0) >= 6 for r in ordinary),
        "ordinary_high_risk": sum(bool(r.get("high_risk")) for r in ordinary),
        "in_scope": sum(bool(r.get("in_scope")) for r in table if r.get("in_scope") is not None),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--level", type=Path, default=REPO / "models" / "level")
    parser.add_argument("--binary", type=Path, default=REPO / "models" / "binary")
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--sos-share", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=None, help="results/two_stage_<name>: default the level model's kind")
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="another level model directory (the same model without a part of its stage, say) scored two-stage with "
        "the same binary model in the same run, as a baseline for --level's two-stage run",
    )
    args = parser.parse_args()
    kind = json.loads((args.level / "config.json").read_text("utf-8"))["kind"]
    name = args.name or kind
    posts = stream(args.posts, args.sos_share, args.seed)
    truth = {p["id"]: p for p in posts}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = work / "stream.jsonl"
        inputs.write_text(
            "".join(json.dumps({"id": p["id"], "text": p["text"]}, ensure_ascii=False) + "\n" for p in posts)
        )
        first_sos = next(p for p in posts if p["id"].startswith("sos-"))
        one_post = work / "one-post.jsonl"
        one_post.write_text(json.dumps({"id": first_sos["id"], "text": first_sos["text"]}, ensure_ascii=False) + "\n")
        plain = [without_scope(args.level, work / "level"), without_scope(args.binary, work / "binary")]
        runs: dict[str, Any] = {}
        compared = []
        if args.compare:
            compared = [(f"two-stage, level model {args.compare.name}", [args.compare, args.binary])]
        for label, models in (
            ("two-stage (scope stage)", [args.level, args.binary]),
            *compared,
            ("model alone (no scope stage)", plain),
        ):
            output = work / f"{len(runs)}.parquet"
            print(f"scoring: {label} ...", file=sys.stderr, flush=True)
            seconds = run_score(models, inputs, output)
            startup = run_score(models, one_post, work / f"{len(runs)}-one.parquet")
            runs[label] = {
                "seconds": round(seconds, 2),
                "posts_per_second": round(len(posts) / seconds, 1),
                "one_post_seconds": round(startup, 2),
                "steady_posts_per_second": round((len(posts) - 1) / (seconds - startup), 1),
            }
            runs[label].update(summarise(output, truth))
    two, alone = runs["two-stage (scope stage)"], runs["model alone (no scope stage)"]
    ratio = two["posts_per_second"] / alone["posts_per_second"]
    steady = two["steady_posts_per_second"] / alone["steady_posts_per_second"]
    payload = {
        "environment": environment(("sosrisk", "numpy", "scikit-learn", "torch", "transformers")),
        "models": {"level": str(args.level), "binary": str(args.binary), "kind": kind},
        "stream": {"posts": len(posts), "sos_share": args.sos_share, "seed": args.seed},
        "runs": runs,
        "speed_ratio": round(ratio, 2),
        "steady_speed_ratio": round(steady, 2),
    }
    if compared:
        other = runs[compared[0][0]]
        payload["compare"] = {
            "level": str(args.compare),
            "speed_ratio": round(two["posts_per_second"] / other["posts_per_second"], 3),
            "steady_speed_ratio": round(two["steady_posts_per_second"] / other["steady_posts_per_second"], 3),
        }
    env = payload["environment"]
    lines = [
        f"# Two-stage stream: {kind}",
        "",
        f"Run: {env['date']} · {env['machine']['cpu']} ({env['machine']['cores']} cores) · "
        f"commit {env['git_commit']} · {env['versions']}",
        "",
        f"Stream: {len(posts)} posts, {args.sos_share:.0%} SOS-1K posts and the rest held-out ordinary sentences "
        f"(seed {args.seed}); whole `sosrisk score` processes, same weights, same run.",
        "",
        "| run | seconds | posts/s | one-post seconds | steady posts/s | in scope | SOS-1K high-risk posts flagged "
        "| of them at level 6+ | ordinary at level 6+ | ordinary high risk |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, row in runs.items():
        in_scope = row["in_scope"] if label.startswith("two-stage") else "–"
        lines.append(
            f"| {label} | {row['seconds']} | {row['posts_per_second']} | {row['one_post_seconds']} | "
            f"{row['steady_posts_per_second']} | {in_scope} | "
            f"{row['sos_high_risk_flagged']} of {row['sos_high_risk_posts']} | {row['sos_high_risk_level6plus']} | "
            f"{row['ordinary_level6plus']} of {row['ordinary_posts']} | {row['ordinary_high_risk']} |"
        )
    lines += [
        "",
        f"**Two-stage speed: {ratio:.1f}x the model alone (whole processes); {steady:.1f}x in steady state.**",
        "",
    ]
    if compared:
        lines += [
            f"Against the two-stage run of `{args.compare}` in the same run: {payload['compare']['speed_ratio']:.2f}x "
            f"its speed (whole processes), {payload['compare']['steady_speed_ratio']:.2f}x in steady state.",
            "",
        ]
    write_results(f"two_stage_{name}", payload, "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
