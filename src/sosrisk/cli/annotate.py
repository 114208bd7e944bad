"""``sosrisk annotate``: LLM pre-annotation into a review file, and agreement with expert labels."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .augment import llm_options, llm_values
from .options import quiet_option


@click.command("annotate")
@click.argument("input_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Review file to write (.tsv, .csv or .jsonl). Needed unless INPUT_FILE is already a review file.",
)
@click.option(
    "--strategy",
    type=click.Choice(["scene", "scene+levels"]),
    default="scene+levels",
    show_default=True,
    help="Prompt: the scene definition alone, or with a description of every level (the paper's two prompts).",
)
@click.option("--batch-size", type=click.IntRange(1, 200), default=20, show_default=True, help="Posts per request.")
@click.option("--temperature", type=click.FloatRange(0, 2), default=0.0, show_default=True)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 10),
    default=3,
    show_default=True,
    help="Requests per post before a post whose answer cannot be read is flagged.",
)
@click.option(
    "--columns",
    type=click.Choice(["ours", "official"]),
    default="ours",
    show_default=True,
    help="Name the text and level columns text/risk_level or comment/myLabel.",
)
@click.option(
    "--compare",
    "expert_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Expert-labelled file: print the agreement (accuracy, Cohen's kappa, confusion matrix, per level).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the agreement as JSON.")
@quiet_option
def annotate(
    input_file: Path,
    out: Path | None,
    strategy: str,
    batch_size: int,
    temperature: float,
    max_attempts: int,
    columns: str,
    expert_file: Path | None,
    as_json: bool,
    quiet: bool,
    **endpoint: object,
) -> None:
    """Pre-annotate the posts of INPUT_FILE with an LLM into a review file that annotators accept or correct.

    Every request and answer goes to a ledger (default: OUT + '.ledger.jsonl'), so a stopped run
    resumes without paying twice. Posts whose answer cannot be read are retried, then flagged with an
    empty risk_level: never guessed. 'sosrisk train --train REVIEW' reads the reviewed file.
    With INPUT_FILE a review file and --compare, only the agreement is computed (no requests).
    """
    from ..annotate import annotate_posts, compare_review, is_review_file, write_review

    review = input_file
    if not is_review_file(input_file):
        if out is None:
            raise click.UsageError("--out REVIEW_FILE is needed to annotate (INPUT_FILE is not a review file).")
        from ..data import read_posts
        from ..llm import ChatClient, Ledger, LLMError, LLMOptions

        posts = read_posts(input_file)
        for problem in posts.problems:
            click.echo(f"note: {problem}", err=True)
        options = LLMOptions.build(
            llm_values(
                endpoint["base_url"],  # type: ignore[arg-type]
                endpoint["llm_model"],  # type: ignore[arg-type]
                endpoint["api_key"],  # type: ignore[arg-type]
                endpoint["timeout"],  # type: ignore[arg-type]
                endpoint["max_retries"],  # type: ignore[arg-type]
            )
        )
        ledger_path = endpoint["ledger_path"] or out.with_name(out.name + ".ledger.jsonl")
        ledger = Ledger(ledger_path)  # type: ignore[arg-type]
        with ChatClient(options) as client:
            try:
                run = annotate_posts(
                    posts,
                    strategy=strategy,
                    client=client,
                    ledger=ledger,
                    batch_size=batch_size,
                    temperature=temperature,
                    max_attempts=max_attempts,
                    show_progress=not quiet,
                )
            except LLMError as exc:
                raise click.ClickException(
                    f"{exc} The answers received so far are in the ledger {ledger_path}: run the same command "
                    "again to continue without paying for them twice."
                ) from exc
        write_review(out, run, columns=columns)
        click.echo(run.summary(), err=as_json)
        for flag in run.problems:
            click.echo(f"flagged: {flag}", err=True)
        click.echo(f"wrote the review file {out} (ledger: {ledger_path})", err=as_json)
        review = out
    elif expert_file is None:
        raise click.UsageError(f"{input_file} is already a review file; pass --compare EXPERT_FILE to compare it.")
    if expert_file is not None:
        result = compare_review(review, expert_file)
        click.echo(json.dumps(result.to_dict()) if as_json else result.render())


for _option in llm_options():
    annotate = _option(annotate)
