"""Encoder inference speed: our prediction path against the SOS-1K paper's, on the same model, same run.

The paper's code pads every post to 150 tokens, evaluates in batches of 8 in file order, and predicts
one post at a time (also padded to 150). Ours tokenises once, sorts by length, pads each batch only to
its longest post, and runs under ``torch.inference_mode``. Both use the same weights, tokenizer and
thread count; their probabilities are compared too. Optionally int8 dynamic quantisation of the
linear layers is measured (speed and agreement with the float model).

The model is a fine-tuned encoder directory (``--model``), or by default e5-small with a freshly
initialised head (the same network and cost; the speed does not depend on the weights' values).
Repetitions of the paths are interleaved and the best time of each is kept, because the machine is
shared. Run: ``python benchmarks/bench_encoder_inference.py``; results go to
``results/encoder_inference.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from _env import environment, sos1k_root, write_results

PAPER_MAX_LENGTH = 150
PAPER_EVAL_BATCH = 8


def load_encoder(model_dir: Path | None) -> Any:
    """A fitted EncoderModel: the given directory, or e5-small with a fresh head (level task)."""
    from sosrisk.models import load_model
    from sosrisk.models.encoder import EncoderModel
    from sosrisk.models.encoder_network import classifier_class

    if model_dir is not None:
        model = load_model(model_dir)
        if not isinstance(model, EncoderModel):
            raise SystemExit(f"{model_dir} holds a {model.kind!r} model; expected an encoder.")
        return model
    import torch

    model = EncoderModel(task="level", backbone="e5-small")
    model.classes_ = np.arange(11)
    encoder, tokenizer, _ = model.load_backbone(show_progress=False)
    tokenizer.enable_truncation(model.settings().max_length)
    model.tokenizer_ = tokenizer
    torch.manual_seed(0)
    model.network_ = classifier_class()(encoder, 11, model.resolved_pooling_, 0.1).eval()
    return model


def paper_logits(model: Any, texts: list[str], batch_size: int) -> np.ndarray:
    """The paper's path: every post padded (and truncated) to 150 tokens, file order, ``no_grad``."""
    import torch

    tokenizer = model.tokenizer_
    prefix = model.resolved_prefix_ or ""
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            rows = [
                e.ids[:PAPER_MAX_LENGTH]
                for e in tokenizer.encode_batch([prefix + t for t in texts[start : start + batch_size]])
            ]
            ids = np.full((len(rows), PAPER_MAX_LENGTH), model.pad_id_, dtype=np.int64)
            mask = np.zeros_like(ids)
            for i, row in enumerate(rows):
                ids[i, : len(row)] = row
                mask[i, : len(row)] = 1
            out.append(model.network_(torch.from_numpy(ids), torch.from_numpy(mask)).double().numpy())
    return np.concatenate(out)


def best_time(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None, help="a fine-tuned encoder model directory")
    parser.add_argument("--posts", type=int, default=400, help="posts in the evaluation (batch) test")
    parser.add_argument("--single", type=int, default=100, help="posts in the one-at-a-time test")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quantize", action="store_true", help="also measure int8 dynamic quantisation")
    parser.add_argument("--torch-threads", default="auto", help="ours: as sosrisk --torch-threads (default auto)")
    args = parser.parse_args()

    import torch

    from sosrisk.data import load_development
    from sosrisk.models.base import softmax
    from sosrisk.threads import choose_torch_threads, set_torch_threads

    default_threads = torch.get_num_threads()  # torch's own default, before sosrisk chooses
    # the process's threads as 'sosrisk predict' and 'sosrisk serve' choose them (--torch-threads auto)
    set_torch_threads(choose_torch_threads(args.torch_threads))
    ours_threads = torch.get_num_threads()
    model = load_encoder(args.model)
    texts = load_development("level", sos1k_root()).texts
    rng = np.random.default_rng(0)
    batch_texts = [texts[i] for i in rng.permutation(len(texts))[: args.posts]]
    single_texts = batch_texts[: args.single]
    lengths = [
        len(e.ids) for e in model.tokenizer_.encode_batch([(model.resolved_prefix_ or "") + t for t in batch_texts])
    ]
    print(
        f"threads {torch.get_num_threads()}, {len(batch_texts)} posts, mean {np.mean(lengths):.1f} tokens",
        file=sys.stderr,
    )

    def at_threads(threads: int, fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            torch.set_num_threads(threads)
            try:
                return fn()
            finally:
                torch.set_num_threads(ours_threads)

        return run

    def one_thread(fn: Callable[[], Any]) -> Callable[[], Any]:
        return at_threads(1, fn)

    paper_eval = lambda: paper_logits(model, batch_texts, PAPER_EVAL_BATCH)  # noqa: E731
    paper_pred = lambda: [paper_logits(model, [t], 1) for t in single_texts]  # noqa: E731
    ours_single = lambda: [model._logits([t], batch_size=1) for t in single_texts]  # noqa: E731
    # the paper's scripts run with torch's default threads; ours with the process's (--torch-threads);
    # the paper's path at one thread is the like-for-like comparison
    paths: dict[str, Callable[[], Any]] = {
        "paper_evaluation": at_threads(default_threads, paper_eval),
        "paper_evaluation_1_thread": one_thread(paper_eval),
        "ours_evaluation": lambda: model._logits(batch_texts, batch_size=256),
        "paper_prediction": at_threads(default_threads, paper_pred),
        "paper_prediction_1_thread": one_thread(paper_pred),
        "ours_prediction": lambda: model._logits(single_texts, batch_size=256),
        "ours_single_post": ours_single,
        "ours_single_post_1_thread": one_thread(ours_single),
        "ours_single_post_default_threads": at_threads(default_threads, ours_single),
    }
    times: dict[str, list[float]] = {name: [] for name in paths}
    for repeat in range(args.repeats):
        for name, fn in paths.items():
            times[name].append(best_time(fn))
        print(f"repeat {repeat + 1}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in times.items()), file=sys.stderr)
    ours = softmax(model._logits(batch_texts, batch_size=256))
    paper = softmax(at_threads(default_threads, paper_eval)())
    throughput = {
        name: (len(batch_texts) if "evaluation" in name else len(single_texts)) / min(ts) for name, ts in times.items()
    }
    latency_ms = {
        "paper_one_post": 1000 / throughput["paper_prediction"],
        "ours_one_post": 1000 / throughput["ours_single_post"],
        "ours_one_post_1_thread": 1000 / throughput["ours_single_post_1_thread"],
        "ours_one_post_default_threads": 1000 / throughput["ours_single_post_default_threads"],
    }
    result: dict[str, Any] = {
        "environment": environment(("sosrisk", "torch", "transformers", "tokenizers", "numpy")),
        "model": str(args.model) if args.model else "e5-small encoder with a freshly initialised head",
        "threads": {"torch_default": default_threads, "ours": ours_threads, "setting": args.torch_threads},
        "posts": {
            "evaluation": len(batch_texts),
            "prediction": len(single_texts),
            "mean_tokens": float(np.mean(lengths)),
        },
        "posts_per_second": {k: round(v, 2) for k, v in throughput.items()},
        "latency_ms": {k: round(v, 1) for k, v in latency_ms.items()},
        "times_s": {k: [round(t, 3) for t in v] for k, v in times.items()},
        "speedup": {
            "evaluation": round(throughput["ours_evaluation"] / throughput["paper_evaluation"], 2),
            "prediction": round(throughput["ours_prediction"] / throughput["paper_prediction"], 2),
            "evaluation_vs_paper_at_1_thread": round(
                throughput["ours_evaluation"] / throughput["paper_evaluation_1_thread"], 2
            ),
            "prediction_vs_paper_at_1_thread": round(
                throughput["ours_prediction"] / throughput["paper_prediction_1_thread"], 2
            ),
            "single_post_latency": round(throughput["ours_single_post"] / throughput["paper_prediction"], 2),
        },
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "agreement_with_paper_path": {
            "max_abs_probability_difference": float(np.abs(ours - paper).max()),
            "same_argmax": float(np.mean(ours.argmax(1) == paper.argmax(1))),
        },
    }
    if args.quantize:
        network = model.network_
        quantized = torch.ao.quantization.quantize_dynamic(network, {torch.nn.Linear}, dtype=torch.qint8)
        model.network_ = quantized
        q_times = [best_time(lambda: model._logits(batch_texts, batch_size=256)) for _ in range(args.repeats)]
        q_proba = softmax(model._logits(batch_texts, batch_size=256))
        model.network_ = network
        result["int8_dynamic"] = {
            "posts_per_second": round(len(batch_texts) / min(q_times), 2),
            "speedup_over_float_ours": round(min(times["ours_evaluation"]) / min(q_times), 2),
            "max_abs_probability_difference": float(np.abs(q_proba - ours).max()),
            "same_argmax": float(np.mean(q_proba.argmax(1) == ours.argmax(1))),
        }
    env = result["environment"]
    md = [
        "# Encoder inference: ours vs the SOS-1K paper's prediction path",
        "",
        f"{env['date']} · {env['machine']['cpu']} ({env['machine']['cores']} cores, shared with other work) · "
        f"torch {env['versions'].get('torch')} · torch's default {default_threads} threads, ours {ours_threads} "
        f"(--torch-threads {args.torch_threads}) · commit {env['git_commit']}",
        "",
        f"Model: {result['model']}. Posts: {len(batch_texts)} SOS-1K development posts (mean "
        f"{np.mean(lengths):.1f} tokens) for evaluation, the first {len(single_texts)} of them one at a time for "
        f"prediction. Best of {args.repeats} interleaved repetitions.",
        "",
        "| path | paper (pad to 150) posts/s | ours posts/s | speed-up |",
        "|---|---|---|---|",
        f"| evaluation (paper: batches of 8) | {throughput['paper_evaluation']:.1f} | "
        f"{throughput['ours_evaluation']:.1f} | **{result['speedup']['evaluation']:.2f}x** |",
        f"| prediction of {len(single_texts)} posts (paper: one at a time, as its predict.py; ours: "
        f"`sosrisk predict`, batched) | {throughput['paper_prediction']:.1f} | "
        f"{throughput['ours_prediction']:.1f} | **{result['speedup']['prediction']:.2f}x** |",
        f"| latency of one post alone | {latency_ms['paper_one_post']:.0f} ms | {latency_ms['ours_one_post']:.0f} ms | "
        f"{result['speedup']['single_post_latency']:.2f}x |",
        "",
        f"The paper's path runs with torch's default {default_threads} threads, as its scripts do; ours with the "
        f"threads the process chose at start (--torch-threads {args.torch_threads}: {ours_threads}; 'auto' is one "
        f"thread when the machine is busy, torch's default otherwise; 1-minute load average "
        f"{result['load_average_1min_at_end']} on {os.cpu_count()} cores at the end of this run). One post alone "
        f"takes {latency_ms['ours_one_post_1_thread']:.0f} ms on our path at one thread and "
        f"{latency_ms['ours_one_post_default_threads']:.0f} ms at {default_threads}. The machine is shared with "
        "other work; the paths were timed in interleaved repetitions.",
        "",
        f"Same answers: max |probability difference| "
        f"{result['agreement_with_paper_path']['max_abs_probability_difference']:.2e}, same argmax on "
        f"{result['agreement_with_paper_path']['same_argmax']:.1%} of posts.",
    ]
    if "int8_dynamic" in result:
        q = result["int8_dynamic"]
        md += [
            "",
            f"int8 dynamic quantisation of the linear layers (not enabled by default): {q['posts_per_second']:.1f} "
            f"posts/s ({q['speedup_over_float_ours']:.2f}x our float path), max |probability difference| "
            f"{q['max_abs_probability_difference']:.3f}, same argmax on {q['same_argmax']:.1%} of posts.",
        ]
    write_results("encoder_inference", result, "\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
