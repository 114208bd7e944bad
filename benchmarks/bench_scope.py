"""The scope stage, measured: gate designs, safety-net rules, SOS-1K before/after, ordinary text, behaviour.

Run: ``python benchmarks/bench_scope.py`` (all sections; ``--sections gate,rules`` for some). Every section
writes its results into ``benchmarks/results/scope.json`` as soon as it finishes (a later run of other
sections keeps them), and ``scope.md`` is rebuilt from the JSON.

Sections
--------
gate
    Gate designs compared at equal recall: for each design, a gate is trained on four SOS-1K folds against
    the training parts of the ordinary-text sources, its out-of-fold probabilities on the fifth fold are
    pooled, and the threshold is the one that keeps 99% of the at-risk posts (level 6+) in scope. Reported:
    the share of each source's held-out part the gate lets in at that threshold. ``leave-one-source-out``
    retrains the default design without one source and measures that source: how the gate does on a
    kind of text it has never seen.
rules
    Each safety-net rule family on all 999 SOS-1K posts (hits, share high risk, share level 6+, recall of
    high-risk posts) and its hits on the held-out ordinary text.
cv
    Five-fold cross-validation of char-linear on both tasks: without the scope stage (before), with it
    (after: the gate, the rules, the ordinary posts as extra level-0 examples), with it but no rules, and
    with the gate alone (no extra posts); per fold and mean.
ordinary
    The default models trained on all five folds, scored on the held-out part of every ordinary source:
    in-scope share, level 6+ share, high-risk share; before (no scope) and after. Plus leave-one-source-out.
behaviour
    The behavioural suite's pass rates (both files) for the models of ``ordinary``, before and after.
saved
    Trained model directories named with ``--level DIR --binary DIR --name NAME`` (``--model best``, say):
    the held-out ordinary text and the behavioural suites, with the stage as trained and with the same
    weights and the stage switched off. Results go under ``saved[NAME]``.

Ordinary text never comes from the People's Daily corpus (reserved for independent evaluation).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from typing import Any

import numpy as np

from _env import RESULTS, environment, sos1k_root, write_results
from sosrisk.data import PostSet, load_folds
from sosrisk.scale import RAISING_LEVEL
from sosrisk.scope.corpora import read_source
from sosrisk.scope.encoder import SentenceEncoder
from sosrisk.scope.gate import ScopeGate
from sosrisk.scope.rules import RULE_SET, families, match_rules
from sosrisk.scope.training import DEFAULT_SOURCES, ScopeSettings, gate_negatives
from sosrisk.training import cross_validate, fit_with_scope, make_model

SECTIONS = ("gate", "rules", "cv", "ordinary", "behaviour", "saved")
HELDOUT_CAP = 3000  # sentences per source's held-out part (a fixed sample), to keep the run affordable


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def heldout_parts() -> dict[str, list[str]]:
    from sosrisk.scope.training import _stable_sample

    return {name: _stable_sample(read_source(name, part="heldout"), HELDOUT_CAP, "bench") for name in DEFAULT_SOURCES}


def aligned_sos(root: Any) -> tuple[list[PostSet], list[PostSet]]:
    level, binary = load_folds("level", root), load_folds("binary", root)
    for a, b in zip(level, binary, strict=True):
        if a.texts != b.texts:
            raise SystemExit("the level and binary folds do not hold the same posts in the same order")
    return level, binary


# ---------------------------------------------------------------------------------------------- gate
GATE_DESIGNS: dict[str, dict[str, Any]] = {
    "use+char (default)": {},
    "use only": {"gate": {"char_weight": 0.0}},
    "char only": {"gate": {"embedding_weight": 0.0}},
    "use+char, no hard negatives": {"hard_negatives": False},
    "use+char, reviews only": {"sources": ("reviews",)},
    "use+char, levels 0-1 not in scope": {"exclude_low": True},
}


def gate_oof(
    level_folds: list[PostSet], settings: ScopeSettings, negatives: dict[str, list[str]], exclude_low: bool = False
) -> tuple[np.ndarray, list[ScopeGate]]:
    """Out-of-fold gate probabilities of every SOS-1K post (one gate per fold) and the five gates."""
    probs, gates = [], []
    for k, held in enumerate(level_folds):
        train = PostSet.concat([p for j, p in enumerate(level_folds) if j != k])
        y = train.labels("level")
        keep = y >= 2 if exclude_low else np.ones(len(y), dtype=bool)
        texts = [t for t, m in zip(train.texts, keep, strict=True) if m]
        gate = ScopeGate(retention=1.0, **settings.gate)  # threshold set below, from the pooled OOF
        gate.fit(texts, y[keep] >= 6, negatives)
        probs.append(gate.probability(held.texts))
        gates.append(gate)
    return np.concatenate(probs), gates


def section_gate(level_folds: list[PostSet], binary_folds: list[PostSet], heldout: dict[str, list[str]]) -> dict:
    levels = np.concatenate([f.labels("level") for f in level_folds])
    high = np.concatenate([f.labels("binary") for f in binary_folds]) == 1
    out: dict[str, Any] = {"designs": {}, "leave_one_source_out": {}}
    for name, spec in GATE_DESIGNS.items():
        log(f"gate design {name}")
        spec = dict(spec)
        exclude_low = spec.pop("exclude_low", False)
        settings = replace(ScopeSettings(prefilter_positives=False, danger_net=False), **spec)  # as measured
        negatives = gate_negatives(settings)
        oof, gates = gate_oof(level_folds, settings, negatives, exclude_low)
        threshold = float(np.quantile(oof[levels >= 6], 0.01, method="lower"))
        kept = oof >= threshold
        row = {
            "threshold": threshold,
            "kept_level6plus": float(kept[levels >= 6].mean()),
            "kept_high_risk": float(kept[high].mean()),
            "kept_levels_0_1": float(kept[levels <= 1].mean()),
            "kept_all": float(kept.mean()),
            "heldout_in_scope": {},
        }
        for source, texts in heldout.items():
            p = np.mean([g.probability(texts) for g in gates], axis=0)
            row["heldout_in_scope"][source] = float((p >= threshold).mean())
        row["heldout_in_scope_mean"] = float(np.mean(list(row["heldout_in_scope"].values())))
        out["designs"][name] = row
    from sosrisk.scope.training import _stable_sample

    for design in ("use+char (default)", "use only", "char only"):
        out["leave_one_source_out"][design] = {}
        for source in DEFAULT_SOURCES:
            log(f"gate leave-one-source-out: {design}, {source}")
            settings = replace(
                ScopeSettings(sources=tuple(s for s in DEFAULT_SOURCES if s != source)), **GATE_DESIGNS[design]
            )
            oof, gates = gate_oof(level_folds, settings, gate_negatives(settings))
            threshold = float(np.quantile(oof[levels >= 6], 0.01, method="lower"))
            sample = _stable_sample(read_source(source, part="all"), HELDOUT_CAP, "bench-loso")
            p = np.mean([g.probability(sample) for g in gates], axis=0)
            out["leave_one_source_out"][design][source] = {
                "in_scope": float((p >= threshold).mean()),
                "posts": len(sample),
            }
    return out


# ---------------------------------------------------------------------------------------------- rules
def section_rules(level_folds: list[PostSet], binary_folds: list[PostSet], heldout: dict[str, list[str]]) -> dict:
    texts = [t for f in level_folds for t in f.texts]
    levels = np.concatenate([f.labels("level") for f in level_folds])
    high = np.concatenate([f.labels("binary") for f in binary_folds]) == 1
    fold_of = np.concatenate([np.full(len(f), k + 1) for k, f in enumerate(level_folds)])
    hits = [match_rules(t) for t in texts]
    ordinary_hits = {source: [match_rules(t) for t in sample] for source, sample in heldout.items()}
    out: dict[str, Any] = {"families": {}, "rules": {}}

    def stats(selector: Any) -> dict[str, Any]:
        mask = np.array([any(selector(h) for h in row) for row in hits])
        row: dict[str, Any] = {
            "hits": int(mask.sum()),
            "share_high_risk": float(high[mask].mean()) if mask.any() else None,
            "share_level6plus": float((levels[mask] >= 6).mean()) if mask.any() else None,
            "recall_high_risk": float(mask[high].mean()),
            "hits_per_fold": [int(mask[fold_of == k].sum()) for k in range(1, 6)],
            "ordinary_hits": {
                s: int(sum(any(selector(h) for h in r) for r in rows)) for s, rows in ordinary_hits.items()
            },
        }
        row["ordinary_posts"] = sum(len(v) for v in heldout.values())
        return row

    for family in [*families(), "all"]:
        out["families"][family] = stats(lambda h, f=family: f == "all" or h.family == f)
    for rule in RULE_SET:
        out["rules"][rule.name] = {
            "family": rule.family,
            "floor": rule.floor,
            **stats(lambda h, r=rule: h.rule == r.name),
        }
    return out


# ---------------------------------------------------------------------------------------------- cv
# char-linear, with the ordinary posts drawn as an equal share of every source, as these rows were measured
# (char-linear's default until 2026-12-05; it now mines them: cv_encoders row char-linear+scope-mined)
_EQUAL = ScopeSettings(
    risk_negatives_from="sample", mine_gate_negatives=False, prefilter_positives=False, danger_net=False
)
CV_VARIANTS: dict[str, ScopeSettings] = {
    "before: no scope stage": ScopeSettings(enabled=False),
    "after: gate + rules + 1000 ordinary posts (default)": _EQUAL,
    "gate + 1000 ordinary posts, no rules": replace(_EQUAL, rules=False),
    "gate + rules, no ordinary posts": replace(_EQUAL, risk_negatives=0),
    "gate + rules + 3000 ordinary posts": replace(_EQUAL, risk_negatives=3000),
}
KEYS = {
    "level": ["weighted_f1", "qwk", "mae", "within_one", "under_by_3plus", "out_of_scope_share", "at_risk_in_scope"],
    "binary": ["weighted_f1", "high_risk_recall", "high_risk_precision", "out_of_scope_share", "at_risk_in_scope"],
}


def section_cv(level_folds: list[PostSet], binary_folds: list[PostSet]) -> dict:
    out: dict[str, Any] = {"rules_value": {}}
    texts = [t for f in level_folds for t in f.texts]
    hits = [match_rules(t) for t in texts]
    for task, folds in (("level", level_folds), ("binary", binary_folds)):
        out[task] = {}
        for name, settings in CV_VARIANTS.items():
            log(f"cv {task}: {name}")
            cv = cross_validate(task, folds=folds, scope=settings, show_progress=False)  # type: ignore[arg-type]
            result = cv.to_dict()
            out[task][name] = {"mean": result["mean"], "std": result["std"], "per_fold": result["per_fold"]}
            if not settings.rules and settings.enabled:
                out["rules_value"][task] = rules_value(task, hits, cv.oof_labels, cv.oof_predictions)
    return out


def rules_value(task: str, hits: list[list[Any]], labels: np.ndarray, predictions: np.ndarray) -> dict[str, Any]:
    """What each rule family changes on out-of-fold predictions made without rules: at-risk posts it raises
    (gains) and posts not at risk it raises (false raises)."""
    at_risk = labels >= 6 if task == "level" else labels == 1
    out: dict[str, Any] = {}
    for family in [*families(), "all"]:
        floor = np.array([max((h.floor for h in r if family in ("all", h.family)), default=-1) for r in hits])
        if task == "level":
            raised = (floor >= 0) & (predictions < floor)
        else:  # a rule flags high risk only from the plan tier up (the wish rule does not)
            raised = (floor >= RAISING_LEVEL) & (predictions == 0)
        out[family] = {
            "raised": int(raised.sum()),
            "raised_at_risk": int((raised & at_risk).sum()),
            "raised_not_at_risk": int((raised & ~at_risk).sum()),
        }
    return out


# ---------------------------------------------------------------------------------------------- ordinary
def train_all(task: str, folds: list[PostSet], settings: ScopeSettings) -> Any:
    posts = PostSet.concat(folds)
    model = make_model("char-linear", task)  # type: ignore[arg-type]
    return fit_with_scope(model, posts.texts, posts.labels(task), settings)  # type: ignore[arg-type]


def alarm_rates(level_model: Any, binary_model: Any, texts: list[str]) -> dict[str, float | None]:
    """Shares of ``texts`` in scope, at level 6+ and flagged high risk (``high_risk_binary_alone``: the binary
    model's flag before level 6+ raises it, as assessments did before 2026-12-06)."""
    from sosrisk.assess import assess

    answers = assess(texts, level_model=level_model, binary_model=binary_model, level_raises_high_risk=False)
    alone = np.array([bool(a.high_risk) for a in answers])
    level6 = np.array([a.risk_level is not None and a.risk_level >= RAISING_LEVEL for a in answers])
    rates: dict[str, float | None] = {
        "level6plus": float(np.mean(level6)) if level_model is not None else None,
        "high_risk": float(np.mean(alone | level6)) if binary_model is not None else None,
    }
    if level_model is not None and binary_model is not None:
        rates["high_risk_binary_alone"] = float(np.mean(alone))
    if answers and answers[0].in_scope is not None:
        rates["in_scope"] = float(np.mean([bool(a.in_scope) for a in answers]))
    return rates


def section_ordinary(level_folds: list[PostSet], binary_folds: list[PostSet], heldout: dict[str, list[str]]) -> dict:
    out: dict[str, Any] = {"heldout": {}, "leave_one_source_out": {}}
    for name, settings in (("before", ScopeSettings(enabled=False)), ("after", ScopeSettings())):
        log(f"ordinary: training the {name} models")
        level_model = train_all("level", level_folds, settings)
        binary_model = train_all("binary", binary_folds, settings)
        out["heldout"][name] = {s: alarm_rates(level_model, binary_model, t) for s, t in heldout.items()}
        MODELS[name] = (level_model, binary_model)
    from sosrisk.scope.training import _stable_sample

    for source in DEFAULT_SOURCES:
        log(f"ordinary leave-one-source-out: {source}")
        settings = ScopeSettings(sources=tuple(s for s in DEFAULT_SOURCES if s != source))
        level_model = train_all("level", level_folds, settings)
        binary_model = train_all("binary", binary_folds, settings)
        sample = _stable_sample(read_source(source, part="all"), HELDOUT_CAP, "bench-loso")
        out["leave_one_source_out"][source] = alarm_rates(level_model, binary_model, sample)
    return out


MODELS: dict[str, tuple[Any, Any]] = {}


def section_behaviour(level_folds: list[PostSet], binary_folds: list[PostSet]) -> dict:
    from sosrisk.behaviour import load_cases, pass_rates, run_cases

    out: dict[str, Any] = {}
    for name, settings in (("before", ScopeSettings(enabled=False)), ("after", ScopeSettings())):
        if name not in MODELS:
            MODELS[name] = (train_all("level", level_folds, settings), train_all("binary", binary_folds, settings))
        level_model, binary_model = MODELS[name]
        out[name] = {}
        for suite in ("cases", "holdout"):
            try:
                cases = load_cases(suite)
            except FileNotFoundError:
                continue
            out[name][suite] = pass_rates(run_cases(cases, level_model=level_model, binary_model=binary_model))
    return out


def section_saved(
    heldout: dict[str, list[str]],
    level_dir: str | None,
    binary_dir: str | None,
    *,
    with_off: bool = True,
    without_rules: tuple[str, ...] = (),
) -> dict:
    """Trained model directories: held-out ordinary text and the suites, stage on and the same weights off
    (and the suites again with the safety-net rules ``without_rules`` left out)."""
    from sosrisk.behaviour import SUITES, load_cases, pass_rates, run_cases
    from sosrisk.models import load_model
    from sosrisk.scope import danger

    if not level_dir and not binary_dir:
        raise SystemExit("the saved section needs --level DIR and/or --binary DIR")
    out: dict[str, Any] = {"level_dir": level_dir, "binary_dir": binary_dir, "heldout": {}, "behaviour": {}}
    for name in ("scope off (same weights)", "as trained") if with_off else ("as trained",):
        level_model = load_model(level_dir) if level_dir else None
        binary_model = load_model(binary_dir) if binary_dir else None
        if name.startswith("scope off"):
            for model in (level_model, binary_model):
                if model is not None:
                    model.scope_ = None
        started = time.perf_counter()
        log(f"saved: ordinary text, {name}")
        out["heldout"][name] = {s: alarm_rates(level_model, binary_model, t) for s, t in heldout.items()}
        out.setdefault("seconds", {})[name] = time.perf_counter() - started
        out["behaviour"][name] = {
            suite: pass_rates(run_cases(load_cases(suite), level_model=level_model, binary_model=binary_model))
            for suite in SUITES
        }
        if name == "as trained" and without_rules:
            unknown = set(without_rules) - {rule.name for rule in RULE_SET} - {danger.INSIDE_RULE, danger.GUARDED_RULE}
            if unknown:
                raise SystemExit(f"--without-rules: no such rule {sorted(unknown)}")
            stages = [m.scope_ for m in (level_model, binary_model) if m is not None and m.scope_ is not None]
            bars = [
                (s.danger.inside_threshold_, s.danger.guarded_threshold_) if s.danger is not None else (None, None)
                for s in stages
            ]
            for stage in stages:
                stage.rule_set = tuple(rule for rule in RULE_SET if rule.name not in without_rules)
                if danger.INSIDE_RULE in without_rules and stage.danger is not None:
                    stage.danger.inside_threshold_ = None  # the net without its inside bar
                if danger.GUARDED_RULE in without_rules and stage.danger is not None:
                    stage.danger.guarded_threshold_ = None  # the net without its own-voice bar
            name_without = f"without {', '.join(without_rules)}"
            out["behaviour"][name_without] = {
                suite: pass_rates(run_cases(load_cases(suite), level_model=level_model, binary_model=binary_model))
                for suite in SUITES
            }
            if {danger.INSIDE_RULE, danger.GUARDED_RULE} & set(without_rules):
                out["heldout_without"] = {s: alarm_rates(level_model, binary_model, t) for s, t in heldout.items()}
            for stage, (inside, own_voice) in zip(stages, bars, strict=True):
                stage.rule_set = RULE_SET
                if stage.danger is not None:
                    stage.danger.inside_threshold_, stage.danger.guarded_threshold_ = inside, own_voice
        if name == "as trained" and level_model is not None and binary_model is not None:
            out["behaviour"]["binary flag alone"] = {
                suite: pass_rates(
                    run_cases(
                        load_cases(suite),
                        level_model=level_model,
                        binary_model=binary_model,
                        level_raises_high_risk=False,
                    )
                )
                for suite in SUITES
            }
    return out


def pooled(rates: dict[str, dict[str, float | None]], key: str) -> float | None:
    """The share over all held-out sentences (each source weighted by its size)."""
    values = [(rates[s].get(key), len(HELDOUT[s])) for s in rates]
    if not values or any(v is None for v, _ in values):
        return None
    return sum(float(v) * n for v, n in values if v is not None) / sum(n for _, n in values)


HELDOUT: dict[str, list[str]] = {}


# ---------------------------------------------------------------------------------------------- report
def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


def markdown(payload: dict[str, Any]) -> str:
    env = payload.get("environment", {})
    lines = [
        "# The scope stage: measurements",
        "",
        f"Run: {env.get('date')} · {env.get('machine', {}).get('cpu')} ({env.get('machine', {}).get('cores')} cores) · "
        f"Python {env.get('python')} · commit {env.get('git_commit')} · {env.get('versions')}",
        "",
        "Ordinary text: the held-out 20% of each source (at most 3,000 sentences each), never used in training. "
        "None of it comes from the People's Daily corpus. Section times: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in payload.get("seconds", {}).items())
        + ". Sections run separately record their own date and commit: "
        + (
            ", ".join(f"{k} {v['date']} at {v['git_commit']}" for k, v in payload.get("section_runs", {}).items())
            or "–"
        )
        + ".",
        "",
    ]
    gate = payload.get("gate")
    if gate:
        sources = list(next(iter(gate["designs"].values()))["heldout_in_scope"])
        lines += [
            "## Gate designs at equal recall (99% of level 6+ posts kept, out of fold)",
            "",
            "| design | threshold | kept: level 6+ | kept: high risk | kept: levels 0-1 | "
            + " | ".join(f"in scope: {s}" for s in sources)
            + " | mean |",
            "|---|---|---|---|---|" + "---|" * len(sources) + "---|",
        ]
        for name, row in gate["designs"].items():
            lines.append(
                f"| {name} | {row['threshold']:.4f} | {pct(row['kept_level6plus'])} | {pct(row['kept_high_risk'])} | "
                f"{pct(row['kept_levels_0_1'])} | "
                + " | ".join(pct(row["heldout_in_scope"][s]) for s in sources)
                + f" | {pct(row['heldout_in_scope_mean'])} |"
            )
        loso = gate["leave_one_source_out"]
        lines += ["", "Leave one source out (each design trained without the source, measured on all of it):", ""]
        lines += ["| source never seen | " + " | ".join(loso) + " |", "|---|" + "---|" * len(loso)]
        for source in DEFAULT_SOURCES:
            lines.append(f"| {source} | " + " | ".join(pct(loso[d][source]["in_scope"]) for d in loso) + " |")
        lines.append("")
    rules = payload.get("rules")
    if rules:
        lines += [
            "## Safety-net rules on SOS-1K (999 posts) and on held-out ordinary text",
            "",
            "| family / rule | floor | hits on SOS-1K (per fold) | share high risk | share level 6+ "
            "| recall of high risk | hits on ordinary text |",
            "|---|---|---|---|---|---|---|",
        ]
        for family, row in rules["families"].items():
            lines.append(
                f"| **{family}** | | {row['hits']} ({', '.join(map(str, row['hits_per_fold']))}) | "
                f"{pct(row['share_high_risk'])} | {pct(row['share_level6plus'])} | {pct(row['recall_high_risk'])} | "
                f"{sum(row['ordinary_hits'].values())} of {row['ordinary_posts']} |"
            )
            for rule, r in rules["rules"].items():
                if r["family"] == family:
                    lines.append(
                        f"| {rule} | {r['floor']} | {r['hits']} | {pct(r['share_high_risk'])} | "
                        f"{pct(r['share_level6plus'])} | {pct(r['recall_high_risk'])} | "
                        f"{sum(r['ordinary_hits'].values())} |"
                    )
        lines.append("")
    cv = payload.get("cv")
    if cv:
        lines += ["## SOS-1K five-fold cross-validation, char-linear", ""]
        for task in ("level", "binary"):
            variants, keys = cv[task], KEYS[task]
            lines += [f"### {task}", "", "| variant | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
            for name, row in variants.items():
                cells = [f"{row['mean'][k]:.4f} ± {row['std'][k]:.3f}" if k in row["mean"] else "–" for k in keys]
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
            lines.append("")
        value = cv.get("rules_value") or {}
        if value:
            lines += [
                "What each rule family adds to the out-of-fold predictions of the model with the gate but no rules "
                "(posts it raises: at risk = level 6+ for levels, labelled high risk for binary):",
                "",
                "| family | levels: raised (at risk / not) | binary: raised (high risk / not) |",
                "|---|---|---|",
            ]
            for family in value.get("level", {}):
                cells = []
                for task in ("level", "binary"):
                    row = value.get(task, {}).get(family)
                    cells.append(
                        f"{row['raised']} ({row['raised_at_risk']} / {row['raised_not_at_risk']})" if row else "–"
                    )
                lines.append(f"| {family} | " + " | ".join(cells) + " |")
            lines.append("")
    ordinary = payload.get("ordinary")
    if ordinary:
        lines += [
            "## Ordinary text: the default char-linear models (both tasks) trained on all five folds",
            "",
            "| source (held-out part) | before: level 6+ | before: high risk | after: in scope | after: level 6+ "
            "| after: high risk |",
            "|---|---|---|---|---|---|",
        ]
        for source, before in ordinary["heldout"]["before"].items():
            after = ordinary["heldout"]["after"][source]
            cells = [before["level6plus"], before["high_risk"], after.get("in_scope"), after["level6plus"]]
            lines.append(f"| {source} | " + " | ".join(pct(c) for c in [*cells, after["high_risk"]]) + " |")
        lines += ["", "Leave one source out (scope stage and extra posts trained without it; all of the source):", ""]
        lines += ["| source never seen | in scope | level 6+ | high risk |", "|---|---|---|---|"]
        for source, row in ordinary["leave_one_source_out"].items():
            lines.append(
                f"| {source} | {pct(row.get('in_scope'))} | {pct(row['level6plus'])} | {pct(row['high_risk'])} |"
            )
        lines.append("")
    behaviour = payload.get("behaviour")
    if behaviour:
        lines += ["## Behavioural suite pass rates, char-linear (level + binary models)", ""]
        for suite in ("cases", "holdout"):
            if suite not in behaviour.get("after", {}):
                continue
            lines += [f"### {suite}.tsv", "", "| group | must reach | before | after |", "|---|---|---|---|"]
            before = {r["group"]: r for r in behaviour["before"][suite]}
            for row in behaviour["after"][suite]:
                b = before[row["group"]]
                lines.append(
                    f"| {row['group']} | {row['must_reach']} | {b['passed']}/{b['cases']} ({b['pass_rate']:.0%}) | "
                    f"{row['passed']}/{row['cases']} ({row['pass_rate']:.0%}) |"
                )
            lines.append("")
    for model_name, saved in payload.get("saved", {}).items():
        on = saved["heldout"]["as trained"]
        off = saved["heldout"].get("scope off (same weights)") or {s: {} for s in on}
        lines += [
            f"## Trained directories: {model_name} (level {saved['level_dir']}, binary {saved['binary_dir']})",
            "",
            "Held-out ordinary text: the same weights with the scope stage off, and as trained (high risk: "
            "the binary model's flag, raised where the level is 6+ since 2026-12-06; 'binary alone': before).",
            "",
            "| source | off: level 6+ | off: high risk | in scope | level 6+ | high risk | high risk, binary alone |",
            "|---|---|---|---|---|---|---|",
        ]
        keys = ("level6plus", "high_risk")
        for source in on:
            cells = [off[source].get(k) for k in keys] + [on[source].get("in_scope")] + [on[source][k] for k in keys]
            cells.append(on[source].get("high_risk_binary_alone"))
            lines.append(f"| {source} | " + " | ".join(pct(c) for c in cells) + " |")
        if saved.get("pooled"):
            p = saved["pooled"]
            cells = [p["off"].get(k) for k in keys] + [p["on"]["in_scope"]] + [p["on"][k] for k in keys]
            cells.append(p["on"].get("high_risk_binary_alone"))
            lines.append(f"| **all ({p['sentences']} sentences)** | " + " | ".join(pct(c) for c in cells) + " |")
            if p.get("without"):
                w = p["without"]
                lines += [
                    "",
                    "All held-out sentences without the plain-danger net's inside bar (same weights): in scope "
                    f"{pct(w['in_scope'])}, level 6+ {pct(w['level6plus'])}, high risk {pct(w['high_risk'])}.",
                ]
        b_on = saved["behaviour"]["as trained"]
        b_off = saved["behaviour"].get("scope off (same weights)")
        b_alone = saved["behaviour"].get("binary flag alone")
        from sosrisk.behaviour import SUITES

        suites = [suite for suite in SUITES if suite in b_on]  # older entries lack the later suites
        lines += [
            "",
            "Behavioural suites, pass rates: scope off → as trained"
            + (
                " (in brackets where it differs: the binary model's flag alone, as before 2026-12-06)"
                if b_alone
                else ""
            ),
            "",
            "| group | must reach | " + " | ".join(f"{suite}.tsv" for suite in suites) + " |",
            "|---|---|" + "---|" * len(suites),
        ]
        for i, row in enumerate(b_on["cases"]):
            cells = []
            for suite in suites:
                off_rate = f"{b_off[suite][i]['pass_rate']:.0%}" if b_off and suite in b_off else "–"
                cell = f"{off_rate} → {b_on[suite][i]['pass_rate']:.0%}"
                if b_alone and suite in b_alone and b_alone[suite][i]["passed"] != b_on[suite][i]["passed"]:
                    cell += f" ({b_alone[suite][i]['pass_rate']:.0%})"
                cells.append(cell)
            lines.append(f"| {row['group']} | {row['must_reach']} | " + " | ".join(cells) + " |")
        for variant, rates in saved["behaviour"].items():
            if not variant.startswith("without "):
                continue
            lines += ["", f"The same, {variant} (as trained otherwise):", ""]
            lines += [
                "| group | " + " | ".join(f"{suite}.tsv" for suite in suites) + " |",
                "|---|" + "---|" * len(suites),
            ]
            for i, row in enumerate(rates["cases"]):
                cells = [f"{rates[suite][i]['pass_rate']:.0%}" for suite in suites if suite in rates]
                lines.append(f"| {row['group']} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sections", default=",".join(SECTIONS[:-1]), help=f"comma-separated, from {SECTIONS} (all but 'saved')"
    )
    parser.add_argument("--level", help="saved: a trained level model directory")
    parser.add_argument("--binary", help="saved: a trained binary model directory")
    parser.add_argument("--name", default="saved", help="saved: the name its results are kept under")
    parser.add_argument(
        "--no-scope-off", action="store_true", help="saved: skip the run with the stage off (slow for encoders)"
    )
    parser.add_argument(
        "--without-rules",
        default="",
        metavar="RULE[,RULE]",
        help="saved: also run the behavioural suites with these safety-net rules left out (what a rule adds)",
    )
    args = parser.parse_args()
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}")
    path = RESULTS / "scope.json"
    payload: dict[str, Any] = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    payload["environment"] = environment()
    payload.setdefault("seconds", {})
    SentenceEncoder.shared().memo = {}  # every model here scores the same held-out texts
    root = sos1k_root()
    level_folds, binary_folds = aligned_sos(root)
    heldout = heldout_parts() if {"gate", "rules", "ordinary", "saved"} & set(sections) else {}
    HELDOUT.update(heldout)
    runners = {
        "gate": lambda: section_gate(level_folds, binary_folds, heldout),
        "rules": lambda: section_rules(level_folds, binary_folds, heldout),
        "cv": lambda: section_cv(level_folds, binary_folds),
        "ordinary": lambda: section_ordinary(level_folds, binary_folds, heldout),
        "behaviour": lambda: section_behaviour(level_folds, binary_folds),
        "saved": lambda: section_saved(
            heldout,
            args.level,
            args.binary,
            with_off=not args.no_scope_off,
            without_rules=tuple(r for r in args.without_rules.split(",") if r),
        ),
    }
    for section in sections:
        started = time.perf_counter()
        if section == "saved":
            result = runners[section]()
            result["pooled"] = {
                "sentences": sum(len(t) for t in heldout.values()),
                "off": {
                    k: pooled(result["heldout"]["scope off (same weights)"], k)
                    for k in ("level6plus", "high_risk")
                    if "scope off (same weights)" in result["heldout"]
                },
                "on": {
                    k: pooled(result["heldout"]["as trained"], k)
                    for k in ("in_scope", "level6plus", "high_risk", "high_risk_binary_alone")
                },
            }
            if "heldout_without" in result:
                result["pooled"]["without"] = {
                    k: pooled(result["heldout_without"], k) for k in ("in_scope", "level6plus", "high_risk")
                }
            payload.setdefault("saved", {})[args.name] = result
        else:
            payload[section] = runners[section]()
        payload["seconds"][section] = time.perf_counter() - started
        env = environment()
        payload.setdefault("section_runs", {})[section] = {"date": env["date"], "git_commit": env["git_commit"]}
        write_results("scope", payload, "(markdown pending)\n")  # the numbers first: a report bug cannot lose them
        write_results("scope", payload, markdown(payload))
        log(f"{section} done in {payload['seconds'][section]:.0f} s")
    print(markdown(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
