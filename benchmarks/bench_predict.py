"""``sosrisk predict --input FILE`` against a naive pandas + scikit-learn script, whole processes, same run.

Trains a char-linear level model on the SOS-1K development folds, writes a TSV of ``--posts`` posts (ids
and texts drawn from those folds), then times, as whole processes started the way a shell starts them:

* ``naive``: a script a user could write (below, :func:`naive`): ``pandas.read_csv`` reads the TSV, a
  scikit-learn pipeline (``TfidfVectorizer`` + ``LogisticRegression``) holding the model's own vocabulary,
  weights and calibration predicts, the model's decision rule picks the level, and ``DataFrame.to_json``
  writes the same fields as ``sosrisk predict --format jsonl``;
* ``sosrisk predict``: ``sosrisk predict MODEL --input posts.tsv --format jsonl --output out.jsonl -q``.

The two run ``--repeats`` times, interleaved (each naive run followed by a predict run), so that load
from other processes on a shared machine affects both alike; the best time of each and the ratio of
each pair are kept. The outputs are compared row for row (ids, levels, probabilities).
Run: ``python benchmarks/bench_predict.py`` (``--posts 20000 --repeats 1`` for a quick look).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _env import environment, publish, sos1k_root, write_results

NAIVE = "--naive"


def naive(model_dir: str, source: str, output: str) -> None:
    """The naive script: pandas reads, scikit-learn predicts, pandas writes JSON Lines."""
    import numpy as np
    import pandas as pd
    from scipy.special import softmax
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from sosrisk.models.decision import DecisionRule
    from sosrisk.scale import level, tier_of

    config = json.loads(Path(model_dir, "config.json").read_text(encoding="utf-8"))
    with np.load(Path(model_dir, "weights.npz"), allow_pickle=False) as weights:
        ngrams, idf, coef, intercept = (weights[k] for k in ("ngrams", "idf", "coef", "intercept"))
    params = config["params"]
    vectorizer = TfidfVectorizer(
        analyzer="char",
        ngram_range=tuple(params["ngram_range"]),
        sublinear_tf=params["sublinear_tf"],
        vocabulary={gram: i for i, gram in enumerate(ngrams.tolist())},
    )
    vectorizer.idf_ = idf
    classifier = LogisticRegression()
    classifier.classes_, classifier.coef_, classifier.intercept_ = np.arange(len(intercept)), coef, intercept
    frame = pd.read_csv(source, sep="\t", dtype=str, keep_default_na=False)
    logits = classifier.decision_function(vectorizer.transform(frame["text"]))
    proba = softmax(logits / config["calibration"]["temperature"], axis=1)
    levels = DecisionRule.from_dict(config["decision"]).decide(proba, np.arange(len(intercept)))
    out = pd.DataFrame({"id": frame["id"], "text": frame["text"], "risk_level": levels})
    out["level_probabilities"] = np.round(proba, 6).tolist()
    out["level_name"] = out["risk_level"].map(lambda v: level(v).name)
    out["definition_en"] = out["risk_level"].map(lambda v: level(v).definition_en)
    out["definition_zh"] = out["risk_level"].map(lambda v: level(v).definition_zh)
    out["tier"] = out["risk_level"].map(lambda v: tier_of(v).key)
    out["tier_name"] = out["risk_level"].map(lambda v: tier_of(v).name_en)
    out["expected_level"] = np.round(proba @ np.arange(proba.shape[1]), 4)
    out.to_json(output, orient="records", lines=True, force_ascii=False)


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def compare(naive_out: Path, ours_out: Path) -> dict[str, Any]:
    """Row-for-row agreement of the two outputs."""
    same_ids = same_levels = rows = 0
    max_diff = 0.0
    with open(naive_out, encoding="utf-8") as a, open(ours_out, encoding="utf-8") as b:
        for line_a, line_b in zip(a, b, strict=True):
            x, y = json.loads(line_a), json.loads(line_b)
            rows += 1
            same_ids += x["id"] == y["id"]
            same_levels += x["risk_level"] == y["risk_level"]
            diff = max(abs(p - q) for p, q in zip(x["level_probabilities"], y["level_probabilities"], strict=True))
            max_diff = max(max_diff, diff)
    return {"rows": rows, "same_ids": same_ids, "same_levels": same_levels, "max_probability_difference": max_diff}


def render_markdown(payload: dict[str, Any]) -> str:
    env, settings, summary = payload["environment"], payload["settings"], payload["summary"]
    load = payload["load_average_at_start"]
    cores = env["machine"]["cores"]
    agreement = payload["agreement"]
    md = [
        "# Prediction benchmark: `sosrisk predict --input` against a naive script",
        "",
        f"{env['date']}, {env['machine']['cpu']} ({cores} cores), Python {env['python']}, "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items())
        + f", commit {env['git_commit']}. Load average at the start: {' '.join(load)}.",
        "",
        f"char-linear level model trained on the SOS-1K development folds; a TSV of {settings['posts']:,} posts "
        "(id, text) drawn from those folds. Whole processes, started as a shell starts them, each writing JSON "
        "Lines with the same fields; "
        f"{settings['repeats']} interleaved runs (each naive run followed by a `sosrisk predict` run).",
        "",
        "| contender | best s | posts/s | runs (s) |",
        "|---|---:|---:|---|",
    ]
    for name in ("naive", "sosrisk predict"):
        runs = summary["runs"][name]
        best = min(runs)
        md.append(f"| {name} | {best:.2f} | {settings['posts'] / best:,.0f} | {', '.join(f'{r:.2f}' for r in runs)} |")
    md += [
        "",
        f"- Best against best: **{summary['ratio_best']:.2f}x** (target 3x: "
        f"{'met' if summary['ratio_best'] >= 3 else 'not met'}).",
        "- Run by run (each naive run over the predict run right after it): "
        + ", ".join(f"{r:.2f}x" for r in summary["paired_ratios"])
        + f"; median {summary['paired_ratio_median']:.2f}x, {summary['paired_runs_at_3x']} of "
        f"{len(summary['paired_ratios'])} at 3x or more.",
        f"- Same output row for row: ids {agreement['same_ids']:,} of {agreement['rows']:,}, levels "
        f"{agreement['same_levels']:,} of {agreement['rows']:,}; largest probability difference "
        f"{agreement['max_probability_difference']:.1e}.",
        "- The naive script: `pandas.read_csv`, a scikit-learn `TfidfVectorizer` + `LogisticRegression` holding the "
        "model's vocabulary, idf, weights and temperature, the model's decision rule, `DataFrame.to_json` "
        "(see `naive` in `benchmarks/bench_predict.py`).",
    ]
    if float(load[0]) > cores:
        md.append(
            f"- The machine was shared (load average {load[0]} on {cores} cores): both contenders got a fraction "
            "of the cores, which costs the parallel `sosrisk predict` more than the one-core naive script."
        )
    return "\n".join(md) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--render", action="store_true", help="only rewrite results/predict.md from predict.json")
    args = parser.parse_args()
    if args.render:
        from _env import RESULTS

        payload = json.loads((RESULTS / "predict.json").read_text(encoding="utf-8"))
        write_results("predict", payload, render_markdown(payload))
        return 0

    import numpy as np

    from sosrisk.data import load_development
    from sosrisk.models.char_linear import CharLinearModel

    with open("/proc/loadavg", encoding="ascii") as handle:
        load_at_start = handle.read().split()[:3]
    root = sos1k_root()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sosrisk-bench-predict-"))
    workdir.mkdir(parents=True, exist_ok=True)
    dev = load_development("level", root)
    model_dir = workdir / "model-level"
    print(f"training char-linear on {len(dev)} development posts ...", file=sys.stderr)
    CharLinearModel(task="level").fit(dev.texts, dev.labels("level")).save(model_dir)
    source = workdir / "posts.tsv"
    rng = random.Random(args.posts)
    with open(source, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["id", "text"])
        for i in range(args.posts):
            writer.writerow([f"p{i}", rng.choice(dev.texts)])
    sosrisk = str(Path(sys.executable).with_name("sosrisk"))
    commands = {
        "naive": [sys.executable, __file__, NAIVE, str(model_dir), str(source), str(workdir / "naive.jsonl")],
        "sosrisk predict": [
            sosrisk, "predict", str(model_dir), "--input", str(source), "--format", "jsonl",
            "--output", str(workdir / "predict.jsonl"), "-q",
        ],
    }  # fmt: skip
    runs: dict[str, list[float]] = {name: [] for name in commands}
    for repeat in range(args.repeats):
        for name, command in commands.items():
            seconds = timed(command)
            runs[name].append(round(seconds, 3))
            print(f"[{repeat + 1}/{args.repeats}] {name}: {seconds:.2f} s", file=sys.stderr)
    paired = [round(n / p, 2) for n, p in zip(runs["naive"], runs["sosrisk predict"], strict=True)]
    summary = {
        "runs": runs,
        "ratio_best": round(min(runs["naive"]) / min(runs["sosrisk predict"]), 2),
        "paired_ratios": paired,
        "paired_ratio_median": round(float(np.median(paired)), 2),
        "paired_runs_at_3x": sum(r >= 3 for r in paired),
    }
    payload = {
        "environment": environment(("sosrisk", "numpy", "scipy", "scikit-learn", "pandas", "pyarrow")),
        "load_average_at_start": load_at_start,
        "data": str(root),
        "settings": {"posts": args.posts, "repeats": args.repeats, "cores": os.cpu_count()},
        "commands": {
            name: " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd)) for name, cmd in commands.items()
        },
        "summary": summary,
        "agreement": compare(workdir / "naive.jsonl", workdir / "predict.jsonl"),
    }
    markdown = render_markdown(payload)
    publish("predict", payload, markdown)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == NAIVE:
        naive(*sys.argv[2:5])
        raise SystemExit(0)
    raise SystemExit(main())
