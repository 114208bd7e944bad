"""``sosrisk augment``: balancing plans, samples, augmented training files, pool tracing, the word table."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .options import MODEL_KIND, RegistryChoice, data_root_option, quiet_option, task_option

F = TypeVar("F", bound=Callable[..., Any])


def _methods() -> list[str]:
    from ..augment.core import augmentation_methods

    return augmentation_methods()


def _is_method(name: str) -> bool:
    from ..augment.core import AUGMENTERS

    return name in AUGMENTERS


def _translators() -> list[str]:
    from ..augment.translate import available_translators

    return available_translators()


def _is_translator(name: str) -> bool:
    from ..augment.translate import TRANSLATORS

    return name in TRANSLATORS


def _source_options(command: F) -> F:
    """--train / --data / --holdout-fold / --eval: which posts are trained on and which are held out."""
    options = [
        click.option(
            "--train",
            "train_files",
            multiple=True,
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="Labelled training file(s) (repeatable). Default: the official SOS-1K folds.",
        ),
        data_root_option,
        click.option(
            "--holdout-fold",
            type=click.IntRange(1, 5),
            default=None,
            help="Official fold left out of training and never used to make posts (pool rounds made from it "
            "are not used).",
        ),
        click.option(
            "--eval",
            "evaluation_files",
            multiple=True,
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="Evaluation file(s): new posts that look like one of their posts are left out.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _method_options(command: F) -> F:
    """The method, its size and everything the methods need."""
    options = [
        click.option("--method", type=RegistryChoice(_methods, _is_method), required=True, help="How to make posts."),
        click.option(
            "--size",
            default="largest",
            show_default=True,
            help="N (raise smaller classes to N), largest, KxLargest (e.g. 2xlargest) or xF (multiply each class).",
        ),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed: same seed, same posts."),
        click.option(
            "--table",
            "table_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Synonym word table (default: built on demand into the data home).",
        ),
        click.option(
            "--rate",
            type=click.FloatRange(0, 1, min_open=True),
            default=0.3,
            show_default=True,
            help="Synonym: share of replaceable words swapped per variant.",
        ),
        click.option(
            "--pivots",
            default="en,es,fr,ar,ja",
            show_default=True,
            help="Back-translation: pivot languages, comma-separated.",
        ),
        click.option(
            "--translator",
            type=RegistryChoice(_translators, _is_translator),
            default="chat",
            show_default=True,
            help="Back-translation: 'chat' (the LLM endpoint) or a registered translation-API adapter.",
        ),
        click.option(
            "--temperature",
            type=click.FloatRange(0, 2),
            default=1.0,
            show_default=True,
            help="LLM generation temperature.",
        ),
        click.option(
            "--posts-per-call",
            type=click.IntRange(1, 200),
            default=30,
            show_default=True,
            help="LLM generation: posts asked for per call (six real examples are shown each time).",
        ),
        *llm_options(),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def llm_options() -> list[Callable[[F], F]]:
    """Endpoint options shared by augment and annotate (the environment supplies what is not given)."""
    return [
        click.option(
            "--base-url",
            default=None,
            help="OpenAI-compatible API root, e.g. https://api.openai.com/v1 (default: $SOSRISK_LLM_BASE_URL).",
        ),
        click.option("--llm-model", default=None, help="Chat model name (default: $SOSRISK_LLM_MODEL)."),
        click.option(
            "--api-key",
            default=None,
            help="API key (default: $SOSRISK_LLM_API_KEY; prefer the variable: a key typed here stays in the "
            "shell history).",
        ),
        click.option("--timeout", type=click.FloatRange(0, min_open=True), default=None, help="Seconds per request."),
        click.option("--max-retries", type=click.IntRange(0, 20), default=None, help="Retries of a failed request."),
        click.option(
            "--ledger",
            "ledger_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="JSONL ledger of every request and answer (reruns answer from it).",
        ),
    ]


def llm_values(
    base_url: str | None, llm_model: str | None, api_key: str | None, timeout: float | None, max_retries: int | None
) -> dict[str, Any]:
    """The LLMOptions fields given on the command line."""
    values: dict[str, Any] = {"base_url": base_url, "model": llm_model, "api_key": api_key}
    if timeout is not None:
        values["timeout_s"] = timeout
    if max_retries is not None:
        values["max_retries"] = max_retries
    return values


def _prepare(kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """The parsed spec and the resources for the method options in ``kwargs``."""
    from ..augment.core import AugmentSpec
    from ..augment.generate import GenerationSettings
    from ..augment.runner import build_resources

    spec = AugmentSpec.parse(f"{kwargs['method']}:{kwargs['size']}")
    resources = build_resources(
        spec,
        root=kwargs["data_root"],
        llm=llm_values(
            kwargs["base_url"], kwargs["llm_model"], kwargs["api_key"], kwargs["timeout"], kwargs["max_retries"]
        ),
        ledger_path=kwargs["ledger_path"],
        translator=kwargs["translator"],
        pivots=[p.strip() for p in kwargs["pivots"].split(",") if p.strip()],
        table_path=kwargs["table_path"],
        synonym_rate=kwargs["rate"],
        generation=GenerationSettings(temperature=kwargs["temperature"], posts_per_call=kwargs["posts_per_call"]),
    )
    return spec, resources


def _run(task: str, kwargs: dict[str, Any], show_progress: bool) -> tuple[Any, Any]:
    from ..augment.runner import augmented_training_set

    spec, resources = _prepare(kwargs)
    try:
        return augmented_training_set(
            task,  # type: ignore[arg-type]
            spec,
            train_files=list(kwargs["train_files"]) or None,
            root=kwargs["data_root"],
            holdout_fold=kwargs["holdout_fold"],
            evaluation_files=list(kwargs["evaluation_files"]) or None,
            resources=resources,
            seed=kwargs["seed"],
            show_progress=show_progress,
        )
    finally:
        if resources.client is not None:
            resources.client.close()


@click.group()
def augment() -> None:
    """Balance training data with synonym replacement, back-translation, LLM generation or the authors' pools.

    Only training posts are read to plan and to make posts; the evaluation data is never touched.
    """


@augment.command("plan")
@task_option
@click.option("--size", default="largest", show_default=True, help="N, largest, KxLargest or xF.")
@_source_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan_command(
    task: str,
    size: str,
    train_files: tuple[Path, ...],
    data_root: Path | None,
    holdout_fold: int | None,
    evaluation_files: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Show how many posts each class would get, before anything is made."""
    from ..augment.plan import plan_balance
    from ..data import PostSet, load_folds, read_many

    if train_files:
        posts = read_many(list(train_files), task=task)
    else:
        folds = load_folds(task, data_root)  # type: ignore[arg-type]
        posts = PostSet.concat([f for k, f in enumerate(folds, start=1) if k != holdout_fold])
    plan = plan_balance(task, posts.labels(task), size)  # type: ignore[arg-type]
    click.echo(json.dumps(plan.to_dict()) if as_json else plan.render())


@augment.command("show")
@task_option
@_method_options
@_source_options
@click.option(
    "-n", "--per-label", type=click.IntRange(1, 100), default=3, show_default=True, help="Posts shown per label."
)
@quiet_option
def show_command(task: str, per_label: int, quiet: bool, **kwargs: Any) -> None:
    """Make posts as 'run' would and print a few per label with their source, without writing a file."""
    train, result = _run(task, kwargs, show_progress=not quiet)
    sources = {
        f"{s}:{line}": text
        for text, s, line in zip(train.texts, train.frame["source"], train.frame["line"], strict=True)
    }
    shown: dict[int, int] = {}
    for post in result.added:
        label = post.risk_level if task == "level" else post.high_risk
        if label is None or shown.get(label, 0) >= per_label:
            continue
        shown[label] = shown.get(label, 0) + 1
        click.echo(f"[label {label}] {post.origin}: {post.text}")
        if post.derived_from and post.derived_from in sources:
            click.echo(f"      from: {sources[post.derived_from]}")
    click.echo(result.render(), err=True)


@augment.command("run")
@task_option
@_method_options
@_source_options
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Augmented training file to write (.tsv or .csv): the training posts followed by the new ones.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@quiet_option
def run_command(task: str, out: Path, as_json: bool, quiet: bool, **kwargs: Any) -> None:
    """Write an augmented training file that 'sosrisk train --train FILE' reads."""
    from ..augment.plan import plan_balance
    from ..augment.posts import write_augmented

    if not as_json and not quiet:
        click.echo("making posts to this plan (computed from the training posts only):", err=True)
    train, result = _run(task, kwargs, show_progress=not quiet)
    if not as_json and not quiet:
        click.echo(plan_balance(task, train.labels(task), result.plan.size).render(), err=True)  # type: ignore[arg-type]
    write_augmented(out, result.rows(train))
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "out": str(out), "training_posts": len(train)}))
        return
    click.echo(result.render())
    click.echo(
        f"wrote {len(train) + len(result.added)} posts ({len(train)} training + {len(result.added)} new) to {out}"
    )


@augment.command("cv")
@task_option
@click.option(
    "--augment",
    "specs",
    multiple=True,
    required=True,
    metavar="METHOD[:SIZE]",
    help="Augmentation to compare with none (repeatable), e.g. pool-llm:116 or synonym:largest.",
)
@click.option("--model", "model_kind", type=MODEL_KIND, default="char-linear", show_default=True, help="Model kind.")
@data_root_option
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@quiet_option
def cv_command(
    task: str, specs: tuple[str, ...], model_kind: str, data_root: Path | None, seed: int, as_json: bool, quiet: bool
) -> None:
    """Cross-validate over the official folds with and without augmentation (offline methods): paired gains."""
    from ..augment.core import AugmentResources, cross_validate_augmented, fold_gains

    baseline = cross_validate_augmented(task, None, model=model_kind, root=data_root, show_progress=not quiet)  # type: ignore[arg-type]
    resources = AugmentResources(root=data_root)
    rows = []
    for spec in specs:
        result = cross_validate_augmented(
            task,  # type: ignore[arg-type]
            spec,
            model=model_kind,
            root=data_root,
            resources=resources,
            seed=seed,
            show_progress=not quiet,
        )
        gain, std, _ = fold_gains(result, baseline, "weighted_f1")
        rows.append((spec, result, gain, std))
    if as_json:
        click.echo(
            json.dumps(
                {"baseline": baseline.to_dict(), "augmented": [r.to_dict() for _, r, _, _ in rows]}, ensure_ascii=False
            )
        )
        return
    click.echo(f"{model_kind} on the {task} task, five official folds; gains are paired per fold")
    click.echo(f"{'augmentation':<28}{'weighted F1':>12}{'gain':>9}{'+/- sd':>8}")
    click.echo(f"{'none':<28}{baseline.summary['weighted_f1']['mean']:>12.4f}")
    for spec, result, gain, std in rows:
        click.echo(f"{spec:<28}{result.summary['weighted_f1']['mean']:>12.4f}{gain:>+9.4f}{std:>8.4f}")


@augment.command("pools")
@data_root_option
@click.option("--json", "as_json", is_flag=True, help="Print the trace as JSON.")
def pools_command(data_root: Path | None, as_json: bool) -> None:
    """Trace the authors' pool rounds to the development folds they were made from."""
    from ..augment.pools import trace_pools

    trace = trace_pools(data_root)
    if as_json:
        click.echo(json.dumps(trace.to_dict(), ensure_ascii=False))
        return
    click.echo(trace.render())
    click.echo(
        "a round is used when validating fold F only if it was not made from F; generated (llm) posts copy no "
        "development post, so their rounds follow their name (round K = every fold but K)"
    )


@augment.command("vectors")
@click.option("--backbone", default="e5-small", show_default=True, help="'e5-small' or a checkpoint folder.")
@click.option(
    "--table",
    "table_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where the table lives.",
)
@click.option("--rebuild", is_flag=True, help="Build again even if the table exists.")
@click.option(
    "--neighbours", "words", multiple=True, metavar="WORD", help="Print the replacements of WORD (repeatable)."
)
@quiet_option
def vectors_command(backbone: str, table_path: Path | None, rebuild: bool, words: tuple[str, ...], quiet: bool) -> None:
    """Build (on demand) the synonym word table distilled from e5-small, and look at neighbours."""
    from ..augment.synonyms import SynonymTable, build_synonym_table, default_table_path

    target = table_path or default_table_path(backbone)
    if rebuild or not target.is_file():
        build_synonym_table(backbone, dest=target, show_progress=not quiet)
    table = SynonymTable.load(target)
    click.echo(f"synonym table: {len(table)} words at {target}")
    for word in words:
        found = table.neighbours(word)
        shown = ", ".join(f"{w} ({s:.1f})" for w, s in found) if found else "(none: not in the table, or guarded)"
        click.echo(f"{word}: {shown}")
