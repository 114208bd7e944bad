"""The README.md model card written into every model directory: what it is, its use and limits, its data and privacy."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from ..atomic import atomic_write_text


class CardSubject(Protocol):
    """What a model card reads of a model (every :class:`~sosrisk.models.base.RiskModel` has it)."""

    @property
    def kind(self) -> str: ...

    @property
    def task(self) -> str: ...

    @property
    def training_(self) -> dict[str, Any]: ...

    @property
    def cv_metrics_(self) -> dict[str, Any]: ...


MODEL_CARD_NAME = "README.md"

_METRIC_ROWS = {
    "level": (
        "accuracy",
        "weighted_precision",
        "weighted_recall",
        "weighted_f1",
        "macro_f1",
        "qwk",
        "mae",
        "within_one",
        "under_by_3plus",
    ),
    "binary": (
        "accuracy",
        "weighted_precision",
        "weighted_recall",
        "weighted_f1",
        "high_risk_precision",
        "high_risk_recall",
        "high_risk_f1",
    ),
}


def write_model_card(model: CardSubject, directory: Path, *, description: list[str], privacy: list[str]) -> str:
    """Write ``README.md`` into ``directory`` (atomically) and return its file name.

    ``description`` holds the lines that say what the model is (backbone, recipe, members); ``privacy`` the
    list items on what the directory reveals of the training posts.
    """
    task_words = (
        "the suicide-risk level (0-10) of the SOS-1K scale"
        if model.task == "level"
        else "whether a post is at high suicide risk (SOS-1K binary annotation)"
    )
    training: dict[str, Any] = model.training_ or {}
    lines = [
        f"# sosrisk {model.kind} model ({model.task} task)",
        "",
        f"Estimates {task_words} of a Chinese social-media post.",
        "",
        "## What it is",
        *description,
        "",
        "## Intended use",
        "Decision support for trained crisis-intervention staff who read every post the model flags: it ",
        "orders and triages, it never diagnoses and never triggers an action on its own. Posts it scores low ",
        "can still be at risk; keep a human review path for everything.",
        "",
        "## Limits",
        f"- Trained on {_sources(training)}; other platforms, dialects, long texts or other languages are ",
        "  outside what it was checked on.",
        "- The metrics below are estimated inside the training data (see the protocol below: a held-out split ",
        "  or out-of-fold predictions); with a few hundred posts or fewer their uncertainty is several points. ",
        "  Check the model on labelled posts of your own setting before relying on it.",
        "- Rare levels (8, 10) have few training examples; their per-level recall is the least reliable.",
        "",
        "## Training data",
        f"- posts: {training.get('n_posts', 'unknown')}",
        f"- data fingerprint: `{training.get('data_fingerprint', 'unknown')}`",
        f"- label counts: {training.get('label_counts', {})}",
        "",
        "## Metrics",
    ]
    metrics = (model.cv_metrics_ or {}).get("oof", {})
    if metrics:
        lines += [str(model.cv_metrics_.get("protocol", "")), "", "| metric | value |", "|---|---|"]
        lines += [f"| {key} | {metrics[key]:.4f} |" for key in _METRIC_ROWS[model.task] if key in metrics]
        selection = model.cv_metrics_.get("selection", {})
        if "decision" in selection:
            lines += ["", f"Decision rule: `{selection['decision']}`."]
            if "recall_aimed_at" in selection:
                lines.append(
                    f"The threshold is chosen for a high-risk recall of {selection['target_recall']:g} on new "
                    f"posts: on these held-out posts it aimed at {selection['recall_aimed_at']:.3f} (reached "
                    f"{selection['oof_high_risk_recall']:.3f}), so that new posts reach the target with about "
                    f"{selection['recall_confidence']:.0%} confidence."
                )
    else:
        lines.append("No held-out metrics were recorded (too few posts to hold any out).")
    lines += [
        "",
        "## Privacy",
        "What this directory reveals about the posts it was trained on (share it only where they could be shared ",
        "in that form):",
        "",
        *privacy,
        "",
        "## Loading",
        "`sosrisk.load_model(path)` or `sosrisk predict PATH ...`. Loading reads JSON, `.npz` (no pickles) and ",
        "safetensors only; no code from this directory is ever run.",
        "",
    ]
    atomic_write_text(directory / MODEL_CARD_NAME, "\n".join(lines))
    return MODEL_CARD_NAME


def _sources(training: dict[str, Any]) -> str:
    sources = training.get("sources")
    if not sources:
        return "the posts it was given (see the data fingerprint below)"
    shown = ", ".join(f"`{Path(str(source)).name}`" for source in sources[:8])
    more = f" and {len(sources) - 8} more files" if len(sources) > 8 else ""
    return f"the posts of {shown}{more}"
