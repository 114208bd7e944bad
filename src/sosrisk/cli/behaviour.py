"""``sosrisk behaviour``: the behavioural test suite's pass rates for a level and/or a binary model."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..suites import SUITES


@click.command("behaviour")
@click.argument("model_dirs", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--suite",
    type=click.Choice([*SUITES, "all"]),
    default="all",
    show_default=True,
    help="cases: the suite the scope stage was developed with; holdout: written after, each variant judged on"
    f" it once; holdout2 onwards: written later, each read for one choice since; {SUITES[-1]}: the newest.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (rows per group, every case).")
@click.option("--failures", is_flag=True, help="Also list the cases that failed, with the answers.")
def behaviour(model_dirs: tuple[Path, ...], suite: str, as_json: bool, failures: bool) -> None:
    """Run the behavioural suite (our own CheckList-style cases) and print the pass rate of every group.

    MODEL_DIRS: a level and/or a binary model directory, or a folder holding level/ and binary/.
    """
    from ..behaviour import load_cases, pass_rates, run_cases
    from ..models import load_directories

    models = load_directories(model_dirs)
    suites = list(SUITES) if suite == "all" else [suite]
    report = {}
    for name in suites:
        results = run_cases(load_cases(name), level_model=models.get("level"), binary_model=models.get("binary"))
        report[name] = {
            "groups": pass_rates(results),
            "failures": [
                {"line": r.case.line, "group": r.case.group, "check": r.case.check, "answers": r.answers}
                for r in results
                if not r.passed
            ],
        }
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for name, part in report.items():
        click.echo(f"suite {name}:")
        click.echo(f"  {'group':<22} {'passed':>9} {'rate':>6}  must reach")
        for row in part["groups"]:
            counts = f"{row['passed']:>4}/{row['cases']:<4}"
            click.echo(f"  {row['group']:<22} {counts} {row['pass_rate']:>6.0%}  {row['must_reach']}")
        if failures:
            for failure in part["failures"]:
                where = f"{name}.tsv:{failure['line']} {failure['group']} ({failure['check']})"
                click.echo(f"  failed {where}: {failure['answers']}")


COMMANDS = [behaviour]
