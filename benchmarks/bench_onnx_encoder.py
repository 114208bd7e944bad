"""Would ONNX Runtime make the encoder path faster? e5-small forward passes, torch against ONNX Runtime.

Issue #14 names ONNX Runtime as a lever for the speed of ``--model best``, whose time goes mostly to the
encoder layers (docs/encoders.md, "Inference speed"). This measures the ceiling of that lever before any of
it is built: the whole e5-small network (embeddings and 12 layers, float32) over the 999 SOS-1K development
posts, in the length-sorted batches sosrisk uses, with torch (as ``sosrisk predict`` runs it) and with ONNX
Runtime on the same network exported to ONNX, in the same process, rounds interleaved; and how far the
mean-pooled outputs differ.

onnxruntime is not a dependency of sosrisk. Run:
``pip install onnxruntime onnx onnxscript && python benchmarks/bench_onnx_encoder.py``
-> ``results/onnx_encoder.{json,md}``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _env import environment, sos1k_root, write_results

NAME = "onnx_encoder"


def pooled(states: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[..., None].astype(np.float32)
    return (states * weights).sum(1) / np.maximum(weights.sum(1), 1.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    try:
        import onnxruntime as ort
    except ImportError:
        raise SystemExit("this benchmark needs onnxruntime: pip install onnxruntime onnx onnxscript") from None
    import torch

    from sosrisk.data import load_development
    from sosrisk.models.encoder_backbone import resolve_encoder_backbone
    from sosrisk.models.encoder_network import (
        INFERENCE_BATCH,
        load_backbone_tokenizer,
        load_pretrained_encoder,
        pad_ids,
        token_batches,
    )

    torch.set_num_threads(args.threads)
    folder = resolve_encoder_backbone("e5-small")
    model = load_pretrained_encoder(folder, source="e5-small").eval()
    tokenizer = load_backbone_tokenizer(folder)
    texts = load_development("level", sos1k_root()).texts
    rows = [e.ids for e in tokenizer.encode_batch(["query: " + t for t in texts])]
    pad_id = int(model.config.pad_token_id or 0)
    batches = [[rows[i] for i in index] for index in token_batches([len(r) for r in rows], max_posts=INFERENCE_BATCH)]
    padded = [pad_ids(batch, pad_id, torch) for batch in batches]

    def run_torch() -> list[np.ndarray]:
        out = []
        with torch.inference_mode():
            for ids, mask in padded:
                states = model(input_ids=ids, attention_mask=mask).last_hidden_state
                out.append(pooled(states.numpy(), mask.numpy()))
        return out

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "e5-small.onnx"
        ids, mask = padded[0]

        class LastHidden(torch.nn.Module):
            """The network as ONNX sees it: two tensors in, the last hidden states out."""

            def __init__(self) -> None:
                super().__init__()
                self.inner = model

            def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        started = time.perf_counter()
        torch.onnx.export(
            LastHidden().eval(),
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}},
            opset_version=18,
            dynamo=False,
        )
        export_seconds = time.perf_counter() - started
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feeds = [
            {"input_ids": i.numpy().astype(np.int64), "attention_mask": m.numpy().astype(np.int64)} for i, m in padded
        ]

        def run_ort() -> list[np.ndarray]:
            return [pooled(session.run(None, feed)[0], feed["attention_mask"]) for feed in feeds]

        timings: dict[str, list[float]] = {"torch": [], "onnxruntime": []}
        outputs: dict[str, list[np.ndarray]] = {}
        run_torch(), run_ort()  # warm-up: allocations, thread pools
        for _ in range(args.rounds):
            for name, runner in (("torch", run_torch), ("onnxruntime", run_ort)):
                started = time.perf_counter()
                outputs[name] = runner()
                timings[name].append(time.perf_counter() - started)
    difference = max(float(np.abs(a - b).max()) for a, b in zip(outputs["torch"], outputs["onnxruntime"], strict=True))
    best = {name: min(values) for name, values in timings.items()}
    env = environment(("sosrisk", "torch", "onnxruntime", "onnx", "numpy"))
    payload: dict[str, Any] = {
        "environment": env,
        "posts": len(texts),
        "batches": len(batches),
        "threads": args.threads,
        "rounds": args.rounds,
        "seconds": timings,
        "best_seconds": best,
        "median_seconds": {name: statistics.median(values) for name, values in timings.items()},
        "speedup_best": best["torch"] / best["onnxruntime"],
        "max_abs_difference_pooled": difference,
        "export_seconds": round(export_seconds, 1),
    }
    machine = f"{env['machine']['cpu']} ({env['machine']['cores']} cores)"
    markdown = "\n".join(
        [
            "# e5-small forward passes: torch against ONNX Runtime",
            "",
            f"Run: {env['date']} · {machine} · commit {env['git_commit']} · {env['versions']}",
            "",
            f"The whole e5-small network (float32) over the {len(texts)} SOS-1K development posts in {len(batches)} "
            f"length-sorted batches, {args.threads} threads each, {args.rounds} interleaved rounds in one process.",
            "",
            "| path | best s | median s | posts/s (best) |",
            "|---|---|---|---|",
            *(
                f"| {name} | {best[name]:.2f} | {payload['median_seconds'][name]:.2f} | {len(texts) / best[name]:.1f} |"
                for name in timings
            ),
            "",
            f"**ONNX Runtime: {payload['speedup_best']:.2f}x torch** (best against best); the mean-pooled outputs "
            f"differ by at most {difference:.2e}.",
            "",
        ]
    )
    write_results(NAME, payload, markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
