"""A fine-tuned danger net: e5-small fine-tuned to tell plainly written danger from everyday text, as a raiser.

The plain-danger and farewell nets are logistic regressions on a sentence embedding, and to them a quiet farewell and
an everyday goodbye are the same post (docs/scope.md). This measures the lever named there: a model that reads the
whole post, e5-small fine-tuned (`EncoderModel`, binary, the fast recipe: lower six layers frozen, 3 epochs, at most
128 tokens) on
- in: the team's hard positives and quiet farewells (templates), the SOS-1K development posts at level 6+, and the
  helper-written plain acts and quiet farewells of `src/sosrisk/scope/probes/`;
- out: the team's everyday goodbyes, 1,500 hard negatives and the recovery posts (templates), 3,000 ordinary training
  sentences, the SOS-1K development posts at level 0-3, and the helper-written everyday goodbyes.

Used as a raiser: a post the prefilter lets through whose probability is above the model's bar (a quantile of its
probabilities on the prefilter-passed ordinary training sentences it did not train on, like the nets' bars) is raised
to review (the plain-danger net's hit, level 6+ and high risk) unless a rule already put it at 6+ or it asks help for
someone else. Two models, each trained with half of the probe files (`FOLD_A`, `FOLD_B`), are judged on the other
half; a third, trained with both halves, is what would ship, and what ``--judge`` files (unread, blind) judge.

Run: ``python benchmarks/fine_tuned_net.py --cl LEVEL BINARY --best LEVEL BINARY --models-dir DIR
[--judge FILE ...] [--judge-suite TSV]``. The three fine-tuned models are written to ``DIR`` (about 11 minutes each on
two cores) and reused when their training data's fingerprint matches. Results: ``results/fine_tuned_net.{json,md}``.
"""

from __future__ import annotations

import argparse
import csv
import functools
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from _env import environment, run_line, write_results
from bench_probes import is_raised
from bench_raiser import ordinary_counts, suite_passes
from bench_scope import heldout_parts
from sosrisk import load_model
from sosrisk.assess import assess
from sosrisk.behaviour import SUITES, Case, load_cases, pass_rates, run_cases
from sosrisk.data import load_development
from sosrisk.models import RiskModel
from sosrisk.models.base import data_fingerprint
from sosrisk.models.encoder import EncoderModel
from sosrisk.scope.danger import DangerNet
from sosrisk.scope.raiser import ORDINARY_POSTS, PROBES, read_probe, training_posts
from sosrisk.scope.rules import rule_floors
from sosrisk.scope.stage import ScopeDecision, ScopeStage
from sosrisk.scope.training import ScopeSettings, _stable_sample, gate_negatives

FOLD_A = (
    "everyday_goodbyes_1",
    "everyday_goodbyes_3",
    "everyday_goodbyes_5",
    "everyday_goodbyes_7",
    "quiet_farewells_1",
    "quiet_farewells_3",
    "quiet_farewells_5",
    "plain_acts_1",
)
FOLD_B = (
    "everyday_goodbyes_2",
    "everyday_goodbyes_4",
    "everyday_goodbyes_6",
    "quiet_farewells_2",
    "quiet_farewells_4",
    "quiet_farewells_6",
    "plain_acts_2",
)
QUANTILES = (0.99, 0.995, 0.998, 0.999)
# chosen on the two folds before the blind run, by the rule written first (docs/scope.md): the lowest quantile at which,
# summed over both folds, everyday goodbyes raised rise by 2 at most, held-out ordinary text at level 6+ by 3 at most
# per fold, and no calm suite group loses more than 2 cases per fold
CHOSEN = 0.998
CALM = ("hyperbole", "negation_recovery", "third_person", "help_for_others")


def kind_of(stem: str) -> str:
    return re.sub(r"_\d+$", "", stem)


@functools.cache
def ordinary_training() -> tuple[str, ...]:
    """The gate's ordinary training sentences (its sources' training parts), read once per run."""
    return tuple(t for texts in gate_negatives(ScopeSettings(hard_negatives=False)).values() for t in texts)


def training_set(probe_stems: tuple[str, ...]) -> tuple[list[str], np.ndarray, dict[str, int]]:
    """The fine-tuned net's training posts and labels (1: danger): the package's raiser posts
    (:func:`sosrisk.scope.raiser.training_posts`) with the SOS-1K development posts at level 6+ and 0-3 and the
    probe files ``probe_stems`` only."""
    development = load_development("level")
    levels = development.labels("level")
    return training_posts(
        [t for t, v in zip(development.texts, levels, strict=True) if v >= 6],
        [t for t, v in zip(development.texts, levels, strict=True) if v <= 3],
        list(ordinary_training()),
        probes={stem: read_probe(PROBES / f"{stem}.txt") for stem in probe_stems},
    )


def trained(folder: Path, probe_stems: tuple[str, ...], *, quiet: bool) -> tuple[RiskModel, dict[str, Any]]:
    """The fine-tuned net of ``probe_stems``: loaded from ``folder`` where its training data is the same, else
    trained there."""
    texts, labels, counts = training_set(probe_stems)
    fingerprint = data_fingerprint(texts, labels.tolist())
    if (folder / "config.json").exists():
        model = load_model(folder)
        if model.training_.get("data_fingerprint") == fingerprint:
            return model, {"counts": counts, "reused": True, "trained_at": model.training_.get("trained_at")}
    model = EncoderModel(task="binary", epochs=3, max_length=128, target_recall=0.95)
    model.fit(texts, labels, show_progress=not quiet)
    model.save(folder)
    return model, {"counts": counts, "reused": False, "trained_at": model.training_.get("trained_at")}


class Probabilities:
    """A fine-tuned net's probability of danger, computed once per post."""

    def __init__(self, model: RiskModel) -> None:
        self.model = model
        self.memo: dict[str, float] = {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.memo))
        if missing:
            self.memo.update(zip(missing, self.model.predict_proba(missing)[:, 1].tolist(), strict=True))
        return np.array([self.memo[t] for t in texts])


def passing(stage: ScopeStage, texts: list[str]) -> np.ndarray:
    """The posts the stage's prefilter lets through to the sentence encoder."""
    if not texts:
        return np.zeros(0, dtype=bool)
    return stage.prefilter.probability(texts) >= stage.prefilter.threshold_


def bars(model: RiskModel, probability: Probabilities, stage: ScopeStage) -> dict[float, float]:
    """The model's bars: quantiles of its probabilities on the prefilter-passed ordinary training sentences it did not
    train on."""
    ordinary = list(ordinary_training())
    seen = set(_stable_sample(ordinary, ORDINARY_POSTS, "veto-ord"))  # the ones training_set gives every model
    unseen = [t for t in dict.fromkeys(ordinary) if t not in seen]
    unseen = [t for t, ok in zip(unseen, passing(stage, unseen), strict=True) if ok]
    scores = probability(unseen)
    return {q: float(np.quantile(scores, q)) for q in QUANTILES} | {"sentences": len(unseen)}  # type: ignore[dict-item]


def raised(level: RiskModel, binary: RiskModel, texts: list[str]) -> np.ndarray:
    return np.array([is_raised(a) for a in assess(texts, level_model=level, binary_model=binary)])


def fold_counts(
    level: RiskModel, binary: RiskModel, probability: Probabilities, stems: tuple[str, ...], cuts: dict[float, float]
) -> dict[str, Any]:
    """Held-out probe files, the read suites' mft cases and held-out ordinary text: raised before, and raised in
    addition at each bar (prefilter passed, not raised before)."""
    stage = level.scope_
    sets: dict[str, list[str]] = {}
    for stem in stems:
        sets.setdefault(kind_of(stem), []).extend(read_probe(PROBES / f"{stem}.txt"))
    for case in (c for s in SUITES for c in load_cases(s)):
        if case.check == "mft":
            sets.setdefault(f"suite:{case.group}", []).append(case.text)
    sets["ordinary"] = [t for texts in heldout_parts().values() for t in texts]
    out: dict[str, Any] = {}
    for name, texts in sets.items():
        before = raised(level, binary, texts)
        through = passing(stage, texts)
        scores = np.zeros(len(texts))
        rows = np.flatnonzero(through & ~before)
        scores[rows] = probability([texts[i] for i in rows])
        out[name] = {
            "posts": len(texts),
            "raised": int(before.sum()),
            "added": {str(q): int((scores > cut).sum()) for q, cut in cuts.items() if q in QUANTILES},
        }
    return out


def patched(probability: Probabilities, cut: float) -> Any:
    """ScopeStage.decide with the fine-tuned net raising above ``cut``."""
    original = ScopeStage.decide

    def decide(self: ScopeStage, texts: Any) -> ScopeDecision:
        decision = original(self, texts)
        texts = list(texts)
        filled = np.array([bool(t.strip()) for t in texts])
        through = filled.copy()
        through[filled] = passing(self, [t for t, f in zip(texts, filled, strict=True) if f])
        someone_else = decision.someone_else if decision.someone_else is not None else np.zeros(len(texts), bool)
        rows = [i for i in np.flatnonzero(through & ~someone_else) if decision.floors[i] < 6]
        hits = list(decision.rule_hits)
        if rows:
            for i, score in zip(rows, probability([texts[i] for i in rows]), strict=True):
                if score > cut:
                    hits[i] = [*hits[i], DangerNet.hit(texts[i])]
        floors = rule_floors(hits)
        in_scope = (decision.gate_in_scope & ~someone_else) | (filled & (floors >= 0))
        return ScopeDecision(
            decision.scope_probability,
            decision.gate_in_scope,
            in_scope,
            floors,
            hits,
            decision.someone_else,
            decision.recovered,
        )

    return original, decide


def judged(level: RiskModel, binary: RiskModel, files: list[Path], suite: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in files:
        texts = read_probe(path)
        out[path.name] = f"{int(raised(level, binary, texts).sum())}/{len(texts)}"
    if suite is not None:
        with suite.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        cases = [Case(suite.stem, n, r["group"], r["check"], r["text"], r["variant"]) for n, r in enumerate(rows, 2)]
        out[suite.name] = {
            r["group"]: f"{r['passed']}/{r['cases']}"
            for r in pass_rates(run_cases(cases, level_model=level, binary_model=binary))
        }
    return out


def read_suites_and_ordinary(level: RiskModel, binary: RiskModel) -> dict[str, Any]:
    return {"suites": suite_passes(level, binary), "ordinary": ordinary_counts(level, binary)[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cl", nargs=2, metavar=("LEVEL_DIR", "BINARY_DIR"), required=True)
    parser.add_argument("--best", nargs=2, metavar=("LEVEL_DIR", "BINARY_DIR"))
    parser.add_argument("--models-dir", type=Path, required=True)
    parser.add_argument("--judge", type=Path, nargs="*", default=[])
    parser.add_argument("--judge-suite", type=Path)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    started = time.time()
    pairs = {"char-linear": [load_model(d) for d in args.cl]}
    if args.best:
        pairs["best"] = [load_model(d) for d in args.best]
    level, binary = pairs["char-linear"]
    results: dict[str, Any] = {"folds": {}, "training": {}}
    for name, stems, other in (("fold-a", FOLD_A, FOLD_B), ("fold-b", FOLD_B, FOLD_A), ("all", FOLD_A + FOLD_B, ())):
        model, record = trained(args.models_dir / name, stems, quiet=args.quiet)
        probability = Probabilities(model)
        cuts = bars(model, probability, level.scope_)
        results["training"][name] = record | {"bars": {str(k): v for k, v in cuts.items()}}
        if other:
            results["folds"][name] = fold_counts(level, binary, probability, other, cuts)
            continue
        original, decide = patched(probability, cuts[CHOSEN])
        results["all"] = {"before": {}, "after": {}}
        for when in ("before", "after"):
            ScopeStage.decide = original if when == "before" else decide  # type: ignore[method-assign]
            try:
                results["all"][when]["char-linear read"] = read_suites_and_ordinary(level, binary)
                for pair, (lv, bn) in pairs.items():
                    results["all"][when][pair] = judged(lv, bn, args.judge, args.judge_suite)
            finally:
                ScopeStage.decide = original  # type: ignore[method-assign]
    env = environment(("sosrisk", "numpy", "scikit-learn", "torch", "transformers"))
    results["seconds"] = round(time.time() - started, 1)
    write_results(
        "fine_tuned_net",
        {
            "environment": env,
            "arguments": {k: [str(x) for x in v] if isinstance(v, list) else str(v) for k, v in vars(args).items()},
            "chosen_quantile": CHOSEN,
            "results": results,
        },
        markdown(env, results),
    )
    print(markdown(env, results))


def markdown(env: dict[str, Any], results: dict[str, Any]) -> str:
    lines = ["# The fine-tuned danger net as a raiser", "", run_line(env) + ".", ""]
    lines += [
        "Fine-tuned models (bars: quantiles of their probabilities on prefilter-passed ordinary training sentences",
        "they did not train on):",
        "",
        "| model | reused | trained at | " + " | ".join(f"q={q}" for q in QUANTILES) + " |",
        "|---|---|---|" + "---|" * len(QUANTILES),
    ]
    for name, record in results["training"].items():
        cells = " | ".join(f"{record['bars'][str(q)]:.4f}" for q in QUANTILES)
        lines.append(f"| {name} | {record['reused']} | {record['trained_at']} | {cells} |")
    lines += [
        "",
        "Each fold model on the other half's probe files, the read suites' mft cases and held-out ordinary text",
        "(`char-linear`): posts raised today, and raised in addition at each bar.",
        "",
        "| set | fold | posts | raised | " + " | ".join(f"+ at q={q}" for q in QUANTILES) + " |",
        "|---|---|---|---|" + "---|" * len(QUANTILES),
    ]
    for fold, sets in results["folds"].items():
        for name, row in sets.items():
            added = " | ".join(str(row["added"][str(q)]) for q in QUANTILES)
            lines.append(f"| {name} | {fold} | {row['posts']} | {row['raised']} | {added} |")
    if "all" in results:
        lines += ["", f"The model trained on both halves, raising at q={CHOSEN}: before / after.", ""]
        before, after = results["all"]["before"], results["all"]["after"]
        for key in before:
            lines.append(f"- {key}: before {before[key]}; after {after[key]}")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
