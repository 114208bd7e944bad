"""The fine-tuned raiser (``sosrisk.scope.raiser``): what it adds, on the same model pair with and without it.

For each model pair whose level model's stage has a raiser, every count is taken twice in the same run: once with the
stage as saved, once with its raiser set aside (the rest of the stage and both models unchanged). Counted:

- probe files given with ``--probe`` (the posts raised: level 6+ or high risk, as ``sosrisk score`` queues them);
- the 13,766 held-out ordinary sentences of ``bench_scope.py`` (in scope, level 6+, high risk), how many of them the
  raiser read (in its band) and raised, and the seconds the pair took on them;
- the behavioural suites' pass counts per group.

Run: ``python benchmarks/bench_raiser.py --model NAME LEVEL_DIR BINARY_DIR [--model ...] [--probe FILE ...]``;
results go to ``results/raiser.{json,md}`` (``--name NAME``: ``results/raiser_NAME.{json,md}``). ``-`` for LEVEL_DIR
counts the binary model alone, whose own stage (and raiser) then decides the scope, as when a team scores with the
binary model only; its "level 6+" counts are ``-``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from _env import environment, run_line, write_results
from bench_probes import count
from bench_scope import heldout_parts
from sosrisk import load_model
from sosrisk.assess import answer_columns
from sosrisk.behaviour import SUITES, load_cases, pass_rates, run_cases
from sosrisk.models import RiskModel
from sosrisk.scope.danger import RAISER_RULE
from sosrisk.scope.raiser import Raiser, read_probe


class Counting:
    """A raiser's ``probability`` that counts the posts it reads."""

    def __init__(self, raiser: Raiser) -> None:
        self.original = raiser.probability
        self.read = 0

    def __call__(self, texts: Any) -> np.ndarray:
        self.read += len(texts)
        return self.original(texts)


def ordinary_counts(
    level: RiskModel | None, binary: RiskModel
) -> tuple[dict[str, int | None], list[list[dict[str, Any]]]]:
    """How many held-out ordinary sentences the pair (or the binary model alone: no level 6+ count) puts in scope,
    at level 6+ and high risk; each one's rule hits."""
    ordinary = [t for texts in heldout_parts().values() for t in texts]
    columns = answer_columns(ordinary, level_model=level, binary_model=binary)
    assert columns.in_scope is not None and columns.high_risk is not None and columns.rule_hits is not None
    counted = {
        "sentences": len(ordinary),
        "in_scope": int(columns.in_scope.sum()),
        "level_6_plus": None if columns.risk_level is None else int((columns.risk_level >= 6).sum()),
        "high_risk": int(columns.high_risk.sum()),
    }
    return counted, columns.rule_hits


def suite_passes(level: RiskModel | None, binary: RiskModel) -> dict[str, int]:
    """The behavioural suites' pass counts per group."""
    cases = [c for s in SUITES for c in load_cases(s)]
    return {r["group"]: r["passed"] for r in pass_rates(run_cases(cases, level_model=level, binary_model=binary))}


def counts(level: RiskModel | None, binary: RiskModel, probes: list[Path], counting: Counting | None) -> dict[str, Any]:
    out: dict[str, Any] = {path.stem: count(level, binary, read_probe(path))["raised"] for path in probes}
    if counting is not None:
        counting.read = 0
    started = time.perf_counter()
    counted, rule_hits = ordinary_counts(level, binary)
    out["ordinary"] = {
        "sentences": counted["sentences"],
        "seconds": round(time.perf_counter() - started, 1),
        **{key: value for key, value in counted.items() if key != "sentences"},
        "raiser_read": None if counting is None else counting.read,
        "raiser_raised": sum(any(h["rule"] == RAISER_RULE for h in hits) for hits in rule_hits),
    }
    out["suites"] = suite_passes(level, binary)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", nargs=3, action="append", metavar=("NAME", "LEVEL_DIR", "BINARY_DIR"), required=True)
    parser.add_argument("--probe", type=Path, nargs="*", default=[])
    parser.add_argument("--name", default=None, help="results/raiser_NAME.{json,md} (default results/raiser)")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for name, level_dir, binary_dir in args.model:
        level, binary = None if level_dir == "-" else load_model(level_dir), load_model(binary_dir)
        deciding = binary_dir if level is None else level_dir  # the model whose stage decides the scope
        stage = (binary if level is None else level).scope_
        if stage is None or stage.raiser is None:
            raise SystemExit(f"{deciding}: its scope stage has no fine-tuned raiser")
        raiser = stage.raiser
        counting = Counting(raiser)
        raiser.probability = counting  # type: ignore[method-assign]
        results[name] = {"with": counts(level, binary, args.probe, counting)}
        stage.raiser = None
        results[name]["without"] = counts(level, binary, args.probe, None)
        stage.raiser = raiser
        results[name]["raiser"] = {
            "threshold": raiser.threshold_,
            "danger_band": raiser.danger_band_,
            "farewell_band": raiser.farewell_band_,
            "report": raiser.report_,
        }
    env = environment(("sosrisk", "numpy", "scikit-learn", "torch", "transformers"))
    text = markdown(env, results, [p.stem for p in args.probe])
    write_results(
        "raiser" if args.name is None else f"raiser_{args.name}",
        {"environment": env, "models": args.model, "results": results},
        text,
    )
    print(text)


def markdown(env: dict[str, Any], results: dict[str, Any], probes: list[str]) -> str:
    lines = ["# The fine-tuned raiser: the same pair without and with it", "", run_line(env) + ".", ""]
    groups = list(next(iter(results.values()))["with"]["suites"])
    head = ["pair", *probes, "ordinary in scope / L6+ / high", "raiser read / raised (ordinary)", "seconds", *groups]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, runs in results.items():
        for when in ("without", "with"):
            row = runs[when]
            ordinary = row["ordinary"]
            cells = [f"{name} {when}", *(str(row[p]) for p in probes)]
            level_6_plus = "-" if ordinary["level_6_plus"] is None else ordinary["level_6_plus"]
            cells.append(f"{ordinary['in_scope']} / {level_6_plus} / {ordinary['high_risk']}")
            cells.append(
                f"{ordinary['raiser_read'] if ordinary['raiser_read'] is not None else '-'} / "
                f"{ordinary['raiser_raised']}"
            )
            cells.append(str(ordinary["seconds"]))
            cells += [str(row["suites"][g]) for g in groups]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Held-out ordinary sentences: {next(iter(results.values()))['with']['ordinary']['sentences']}."]
    for name, runs in results.items():
        r = runs["raiser"]
        lines.append(
            f"- {name}: bar {r['threshold']:.4f}, bands {r['danger_band']:.4f} (plain-danger) and "
            f"{r['farewell_band']:.4f} (farewell); trained on {r['report'].get('training_posts')}"
        )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
