"""``sosrisk train``, ``cv``, ``evaluate`` and ``predict``."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from .options import (
    MODEL_KIND,
    RegistryChoice,
    data_root_option,
    parse_settings,
    quiet_option,
    scope_options,
    scope_settings,
    set_option,
    task_option,
)

model_option = click.option(
    "--model",
    "model_kind",
    type=MODEL_KIND,
    default="char-linear",
    show_default=True,
    help="Model kind (see 'sosrisk models'); 'best' is the configuration that won our cross-validation.",
)
target_recall_option = click.option(
    "--target-recall",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=None,
    help="Binary task: choose the threshold for this recall of high-risk posts on new posts (default 0.8; it "
    "aims a little higher on the held-out posts it is chosen on, so that new posts reach it with 80% confidence).",
)


backbone_option = click.option(
    "--backbone",
    default=None,
    help="encoder: 'e5-small' (offline), a preset of the paper (see 'sosrisk backbone presets'), a hub id or a folder.",
)


# what the scope stage did, shown beside the metrics where the folds report it
_SCOPE_KEYS = ("out_of_scope_share", "at_risk_in_scope", "at_risk_recovered")


def _recipes() -> list[str]:
    from ..models.encoder_recipes import RECIPES

    return list(RECIPES)


recipe_option = click.option(
    "--recipe",
    type=RegistryChoice(_recipes),
    default=None,
    help="encoder: training recipe (default fast; sos1k-paper = the authors' settings).",
)
epochs_option = click.option("--epochs", type=click.IntRange(1), default=None, help="encoder: number of epochs.")


def _params(settings: tuple[str, ...], target_recall: float | None, **encoder_options: Any) -> dict[str, Any]:
    params = parse_settings(settings)
    if target_recall is not None:
        params["target_recall"] = target_recall
    params.update({k: v for k, v in encoder_options.items() if v is not None})
    return params


@click.command()
@task_option
@model_option
@click.option(
    "--train",
    "train_files",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Labelled post file(s) to train on (repeatable). Default: all five official SOS-1K folds.",
)
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Model directory to write."
)
@data_root_option
@set_option
@target_recall_option
@backbone_option
@recipe_option
@epochs_option
@click.option("--resume", is_flag=True, help="encoder/ensemble: continue an interrupted run from OUT/checkpoints.")
@click.option(
    "--augment",
    "augment_spec",
    default=None,
    metavar="METHOD[:SIZE]",
    help="Augment the training posts first (see 'sosrisk augment'), e.g. pool-llm:116 or synonym:largest.",
)
@scope_options
@quiet_option
def train(
    task: str,
    model_kind: str,
    train_files: tuple[Path, ...],
    out: Path,
    data_root: Path | None,
    settings: tuple[str, ...],
    target_recall: float | None,
    backbone: str | None,
    recipe: str | None,
    epochs: int | None,
    resume: bool,
    augment_spec: str | None,
    no_scope: bool,
    scope_sources: str | None,
    out_of_scope_files: tuple[Path, ...],
    scope_set: tuple[str, ...],
    quiet: bool,
) -> None:
    """Train a model and save it as a model directory (config.json + weights, no pickle).

    By default the directory also holds a scope stage: a gate that tells posts about the writer's own
    suicide risk from ordinary text, and safety-net rules (see README, "Out of scope").
    """
    from ..models import get_model_class
    from ..training import train_model

    params = _params(settings, target_recall, backbone=backbone, recipe=recipe, epochs=epochs)
    checkpoints = out / "checkpoints"
    if getattr(get_model_class(model_kind), "supports_checkpoints", False):
        params.update(checkpoint_dir=str(checkpoints), resume=resume)
    elif resume:
        raise click.UsageError(f"--resume is for the encoder and ensemble kinds, not {model_kind!r}.")
    augmentation = None
    if augment_spec is not None:
        from ..augment.runner import augmented_training_file

        augmented, augmentation = augmented_training_file(
            task,  # type: ignore[arg-type]
            augment_spec,
            train_files=list(train_files) or None,
            root=data_root,
            show_progress=not quiet,
        )
        train_files = (augmented,)
    model, posts = train_model(
        task,  # type: ignore[arg-type]
        model=model_kind,
        train_files=list(train_files) or None,
        root=data_root,
        params=params,
        scope=scope_settings(no_scope, scope_sources, out_of_scope_files, scope_set),
        show_progress=not quiet,
    )
    for problem in posts.problems:
        click.echo(f"note: {problem}", err=True)
    if augmentation is not None:
        model.training_["augmentation"] = augmentation
        click.echo(
            "note: augmented variants of a post fall into different folds of the model's own cross-validation, "
            "so its numbers below are optimistic; 'sosrisk augment cv' gives an honest estimate",
            err=True,
        )
    model.save(out)
    if checkpoints.is_dir():
        import shutil

        shutil.rmtree(checkpoints)
    oof = model.cv_metrics_.get("oof", {})
    summary = ", ".join(f"{k} {oof[k]:.3f}" for k in ("weighted_f1", "qwk", "high_risk_recall") if k in oof)
    click.echo(f"saved {model.kind} ({task}) trained on {len(posts)} posts to {out}")
    if summary:
        decision = model.cv_metrics_["selection"]["decision"]
        click.echo(f"cross-validated inside the training data: {summary}; decision: {decision}")
    if model.scope_ is not None:
        report = model.scope_.gate.report_
        sources = ", ".join(f"{name} {count}" for name, count in report["out_of_scope_posts"].items())
        click.echo(
            f"scope gate: threshold {report['threshold']:.4f} keeps {report['oof_kept_at_risk']:.1%} of the at-risk "
            f"and {report['oof_kept_in_scope']:.1%} of all training posts in scope (out of fold); "
            f"out-of-scope posts: {sources}"
        )
        extra = model.training_.get("scope") or {}
        mined = extra.get("risk_negatives_mined")
        skips = getattr(model, "members_skipping_ordinary_posts", None)  # ensembles only
        skipping = skips() if skips is not None else []
        not_by = f" (not by the {', '.join(skipping)} member{'s' if len(skipping) > 1 else ''})" if skipping else ""
        if mined is not None and extra.get("risk_negative_weight"):
            click.echo(
                f"ordinary posts learnt as level 0 / low risk: all {extra['risk_negatives']} that this scope stage "
                f"lets through (of {mined['pool']} ordinary training posts), each weighted "
                f"{extra['risk_negative_weight']:.3g}{not_by}"
            )
        elif mined is not None:
            click.echo(
                f"ordinary posts learnt as level 0 / low risk: {extra['risk_negatives']}, drawn from the "
                f"{mined['gate_passed']} of {mined['pool']} ordinary training posts this scope stage lets "
                f"through{not_by}"
            )
        elif extra.get("risk_negatives"):
            click.echo(
                f"ordinary posts learnt as level 0 / low risk: {extra['risk_negatives']}, an equal share of each "
                f"source{not_by}"
            )
        raiser = model.scope_.raiser
        if raiser is not None:
            posts = raiser.report_.get("training_posts", {})
            danger = sum(n for name, n in posts.items() if name.startswith("in:"))
            everyday = sum(n for name, n in posts.items() if name.startswith("out:"))
            click.echo(
                f"fine-tuned raiser: learnt {danger} danger and {everyday} everyday posts; reads posts above either "
                f"net's band ({raiser.report_['band_quantile']:.0%} of {raiser.report_['ordinary_for_band']} ordinary "
                f"training posts), raises above {raiser.threshold_:.4f}"
            )


@click.command()
@task_option
@model_option
@data_root_option
@set_option
@target_recall_option
@backbone_option
@recipe_option
@epochs_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option(
    "--save-predictions",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the out-of-fold predictions as JSONL (fold, label, prediction, probabilities).",
)
@scope_options
@quiet_option
def cv(
    task: str,
    model_kind: str,
    data_root: Path | None,
    settings: tuple[str, ...],
    target_recall: float | None,
    backbone: str | None,
    recipe: str | None,
    epochs: int | None,
    as_json: bool,
    save_predictions: Path | None,
    no_scope: bool,
    scope_sources: str | None,
    out_of_scope_files: tuple[Path, ...],
    scope_set: tuple[str, ...],
    quiet: bool,
) -> None:
    """Cross-validate over the five official folds: per-fold and mean +/- std metrics."""
    from ..training import cross_validate

    result = cross_validate(
        task,  # type: ignore[arg-type]
        model=model_kind,
        root=data_root,
        params=_params(settings, target_recall, backbone=backbone, recipe=recipe, epochs=epochs),
        scope=scope_settings(no_scope, scope_sources, out_of_scope_files, scope_set),
        show_progress=not quiet,
    )
    report = result.to_dict()
    if save_predictions is not None:
        from ..atomic import atomic_write

        with atomic_write(save_predictions) as handle:
            fold_sizes = [int(m["n"]) for m in result.per_fold]
            fold_of = [k + 1 for k, size in enumerate(fold_sizes) for _ in range(size)]
            for fold_number, label, pred, proba in zip(
                fold_of, result.oof_labels, result.oof_predictions, result.oof_proba, strict=True
            ):
                record = {
                    "fold": fold_number,
                    "label": int(label),
                    "prediction": int(pred),
                    "probabilities": [round(float(p), 6) for p in proba],
                }
                handle.write(json.dumps(record) + "\n")
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    keys = _metric_keys(task) + [k for k in _SCOPE_KEYS if k in result.per_fold[0]]
    lines = ["fold  " + "  ".join(f"{k:>13}" for k in keys)]
    for fold in result.per_fold:
        lines.append(f"{int(fold['fold']):>4}  " + "  ".join(f"{fold[k]:>13.4f}" for k in keys))
    lines.append("mean  " + "  ".join(f"{report['mean'][k]:>13.4f}" for k in keys))
    lines.append(" std  " + "  ".join(f"{report['std'][k]:>13.4f}" for k in keys))
    click.echo(f"{model_kind} on the {task} task, five official folds ({result.seconds:.1f} s)")
    click.echo("\n".join(lines))
    for problem in result.problems:
        click.echo(f"note: {problem}", err=True)


def _metric_keys(task: str) -> list[str]:
    common = ["accuracy", "weighted_f1", "macro_f1"]
    if task == "level":
        return [*common, "qwk", "mae", "within_one", "under_by_3plus"]
    return [*common, "high_risk_precision", "high_risk_recall", "high_risk_f1"]


@click.command()
@click.argument("model_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the flat metrics.")
@click.option("--plots", type=click.Path(file_okay=False, path_type=Path), default=None, help="Write PNG plots here.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the full report (per-level rows, confusion matrix, reliability) as JSON.",
)
def evaluate(
    model_dir: Path, files: tuple[Path, ...], as_json: bool, plots: Path | None, report_path: Path | None
) -> None:
    """Evaluate a saved model on labelled post files (official or our column names)."""
    from ..evaluation import evaluate_model
    from ..models import load_model

    model = load_model(model_dir)
    report = evaluate_model(model, list(files), plots_dir=plots)
    if report_path is not None:
        from ..atomic import atomic_write_text

        atomic_write_text(report_path, json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    if as_json:
        click.echo(json.dumps(report["metrics"]))
    else:
        _print_report(model, report)
    for path in report["plots"]:  # with --json, stdout stays one JSON object
        click.echo(f"wrote {path}", err=as_json)
    for problem in report["problems"]:  # leakage and other notes are never silent
        click.echo(f"note: {problem}", err=True)


def _print_report(model: Any, report: dict[str, Any]) -> None:
    """The evaluation report as a readable table."""
    metrics = report["metrics"]
    click.echo(f"{model.kind} ({model.task}) on {int(metrics['n'])} posts")
    for key, value in metrics.items():
        if key != "n":
            click.echo(f"  {key:<22} {value:.4f}")
    click.echo("per class:")
    click.echo("  label  precision  recall     f1  support")
    for row in report["per_class"]:
        click.echo(
            f"  {int(row['label']):>5}  {row['precision']:>9.3f}  {row['recall']:>6.3f}  "
            f"{row['f1']:>5.3f}  {int(row['support']):>7}"
        )
    click.echo("confusion matrix (rows: true, columns: predicted):")
    for label, row in zip(report["labels"], report["confusion_matrix"], strict=True):
        click.echo(f"  {label:>3} " + " ".join(f"{v:>4}" for v in row))


@click.command()
@click.argument("model_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("texts", nargs=-1)
@click.option(
    "--input",
    "input_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Post file (TSV/CSV/JSONL/Parquet with a text column, or .txt with one post per line; .gz too).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here (all or nothing) instead of standard output.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default="table", show_default=True)
@click.option("--no-text", is_flag=True, help="Leave the post text out of the output.")
@click.option("--text-column", default=None, help="--input: column / JSON key of the text (default: text or comment).")
@click.option("--id-column", default=None, help="--input: column / JSON key of the post id (default: id or post_id).")
@click.option(
    "--max-chars", type=click.IntRange(min=1), default=20_000, show_default=True, help="Longer texts are refused."
)
@quiet_option
def predict(
    model_dir: Path,
    texts: tuple[str, ...],
    input_file: Path | None,
    output: Path | None,
    fmt: str,
    no_text: bool,
    text_column: str | None,
    id_column: str | None,
    max_chars: int,
    quiet: bool,
) -> None:
    """Assess posts given as arguments, in --input FILE, or one per line on standard input.

    MODEL_DIR is a level or a binary model, or a folder holding level/ and/or binary/; a second model
    directory may follow it (a level model and a binary model give both answers). Each answer carries
    the level (with its probabilities, tier and definition) and/or the high-risk flag. Labels in the file
    are ignored; a bad row stops the command with its file and line (use 'sosrisk score' to set bad rows
    aside instead).
    """
    from ..scoring.allocator import keep_freed_memory
    from ..scoring.predict import predict as run_predict

    keep_freed_memory()  # this process exists only for this command (see sosrisk.scoring.allocator)
    model_dirs = [model_dir]
    if texts and (Path(texts[0]) / "config.json").is_file():  # a second model directory
        model_dirs.append(Path(texts[0]))
        texts = texts[1:]
    if texts and input_file is not None:
        raise click.UsageError("Give texts as arguments or --input FILE, not both.")
    source = "argument"
    post_texts: list[str] | None = list(texts) if texts else None
    if input_file is None and post_texts is None:
        source = "standard input"
        post_texts = [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    options: dict[str, Any] = {
        "input_file": input_file,
        "texts": post_texts,
        "text_source": source,
        "fmt": fmt,
        "include_text": not no_text,
        "max_chars": max_chars,
        "text_column": text_column,
        "id_column": id_column,
        "show_progress": not quiet,
    }
    from ..atomic import atomic_write

    target: contextlib.AbstractContextManager[Any] = (
        atomic_write(output, "wb") if output is not None else contextlib.nullcontext(sys.stdout.buffer)
    )
    with target as handle:  # the answers are written only once every post has one
        run_predict(model_dirs, output=handle, **options)


@click.command("models")
def models_command() -> None:
    """List the model kinds this installation knows."""
    from ..models import available_kinds

    for kind in available_kinds():
        click.echo(kind)


COMMANDS = [train, cv, evaluate, predict, models_command]
