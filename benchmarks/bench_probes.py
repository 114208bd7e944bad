"""Everyday goodbyes against quiet farewells: how often trained models raise each (``src/sosrisk/scope/probes/``).

A quiet farewell (things given away, a debt repaid, thanks, "this is my last post") and an everyday goodbye (a move
abroad, a last day at work, a pet rehomed, a joke) use the same words. For each probe file and each model pair,
this reports how many posts the models raise to a reviewer (level 6+ or high risk, as ``sosrisk score`` queues
them) and by what: a regex rule of the safety net, the plain-danger net alone, or the risk models alone. On the
farewells, and on the plainly written plans and attempts (``plain_acts_*``), that is recall; on the everyday
goodbyes it is false alarms.

Run: ``python benchmarks/bench_probes.py --model NAME LEVEL_DIR BINARY_DIR [--model ...]``; results go to
``results/probes.{json,md}``.
"""

from __future__ import annotations

import argparse
from typing import Any

from _env import environment, run_line, write_results
from sosrisk import load_model
from sosrisk.assess import Assessment, assess
from sosrisk.models import RiskModel
from sosrisk.scope.danger import FAMILY as NET_FAMILY
from sosrisk.scope.raiser import PROBES, read_probe  # the read probe files ship in the package: the raiser learns them


def is_raised(answer: Assessment) -> bool:
    """Whether an assessment goes to a reviewer, as ``sosrisk score`` queues it: level 6+ or high risk."""
    return (answer.risk_level or 0) >= 6 or bool(answer.high_risk)


def count(level: RiskModel, binary: RiskModel, posts: list[str]) -> dict[str, int]:
    """How many of ``posts`` the pair raises, and by what (the first that applies: a regex rule, the net, the model)."""
    answers = assess(posts, level_model=level, binary_model=binary)
    out = dict.fromkeys(("raised", "by_regex_rule", "by_net_alone", "by_model_alone", "out_of_scope"), 0)
    out["posts"] = len(posts)
    for answer in answers:
        out["out_of_scope"] += not answer.in_scope
        if not is_raised(answer):
            continue
        out["raised"] += 1
        families = {hit["family"] for hit in answer.rule_hits or []}
        if families - {NET_FAMILY}:
            out["by_regex_rule"] += 1
        elif families:
            out["by_net_alone"] += 1
        else:
            out["by_model_alone"] += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", nargs=3, action="append", metavar=("NAME", "LEVEL_DIR", "BINARY_DIR"), required=True)
    args = parser.parse_args()
    files = sorted(PROBES.glob("*.txt"))
    results: dict[str, Any] = {}
    rows = []
    for name, level_dir, binary_dir in args.model:
        level, binary = load_model(level_dir), load_model(binary_dir)
        for path in files:
            numbers = count(level, binary, read_probe(path))
            results.setdefault(name, {})[path.stem] = numbers
            share = numbers["raised"] / numbers["posts"]
            rows.append(
                f"| `{name}` | `{path.name}` | {numbers['posts']} | {numbers['raised']} ({share:.0%}) | "
                f"{numbers['by_regex_rule']} | {numbers['by_net_alone']} | {numbers['by_model_alone']} |"
            )
    env = environment()
    markdown = "\n".join(
        [
            "# Probes: everyday goodbyes, quiet farewells and plainly written acts",
            "",
            run_line(env) + ".",
            "Raised: level 6+ or high risk. On `quiet_farewells_*` and `plain_acts_*` that is recall; on",
            "`everyday_goodbyes_*`, false alarms.",
            "",
            "| model | probe | posts | raised | by a regex rule | by the net alone | by the models alone |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    json_path, _ = write_results("probes", {"environment": env, "models": args.model, "results": results}, markdown)
    print(markdown)
    print(f"written: {json_path}")


if __name__ == "__main__":
    main()
