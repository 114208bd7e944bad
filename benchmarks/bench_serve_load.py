"""Load on ``sosrisk serve`` over loopback: throughput, p50/p99 latency, and every accepted post stored once.

The server runs as its own process through the real CLI (``sosrisk serve``, SQLite file, char-linear models
trained on the SOS-1K development folds), so the clients' threads do not share its interpreter. Concurrent
clients send batches with ``queue: true`` for a bounded time; a tenth of the batches re-send posts already
sent (as retrying clients do). Afterwards the database must hold exactly the posts of the accepted
requests, each once. Run: ``nice python benchmarks/bench_serve_load.py`` (about a minute).
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
from pathlib import Path
from typing import Any

import numpy as np

from _env import environment, sos1k_root, write_results

SCENARIOS = [
    {"name": "batch 10, explained", "batch": 10, "explain": True},
    {"name": "batch 50, no explanation", "batch": 50, "explain": False},
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sosrisk(*args: str, env: dict[str, str], input: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "sosrisk", *args], env=env, input=input, capture_output=True, text=True, check=True
    )
    return result.stdout


def wait_ready(port: int, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
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
            time.sleep(0.2)
    raise RuntimeError("sosrisk serve did not answer /healthz within 60 s")


def run_scenario(
    port: int, token: str, texts: list[str], scenario: dict[str, Any], clients: int, seconds: float, tag: str
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    accepted: set[str] = set()
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
            posts = [{"id": i, "text": texts[hash(i) % len(texts)], "source": "load"} for i in ids]
            body = json.dumps({"posts": posts, "queue": True, "explain": scenario["explain"]}, ensure_ascii=False)
            started = time.perf_counter()
            try:
                connection.request(
                    "POST",
                    "/v1/assess",
                    body=body.encode("utf-8"),
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                )
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status = -1
            elapsed = time.perf_counter() - started
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    latencies.append(elapsed)
                    accepted.update(ids)
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
    return {
        "scenario": scenario["name"],
        "batch": scenario["batch"],
        "explain": scenario["explain"],
        "clients": clients,
        "seconds": round(wall, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "requests_per_s": round(ok / wall, 2),
        "posts_per_s": round(ok * scenario["batch"] / wall, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 1) if latencies else None,
        "p99_ms": round(float(np.percentile(latencies, 99)) * 1000, 1) if latencies else None,
        "accepted_ids": sorted(accepted),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each scenario")
    parser.add_argument("--workers", type=int, default=1, help="model threads of the server")
    args = parser.parse_args()
    root = sos1k_root()
    from sosrisk.data import load_development

    texts = load_development("level", root).texts
    with tempfile.TemporaryDirectory(prefix="sosrisk-load-") as folder:
        home = Path(folder)
        env = {**os.environ, "SOSRISK_HOME": str(home), "SOSRISK_DB_URL": f"sqlite:///{home / 'queue.db'}"}
        print("training char-linear models on the SOS-1K development folds ...", file=sys.stderr)
        for task in ("level", "binary"):
            sosrisk("train", "--task", task, "--data", str(root), "--out", str(home / task), "-q", env=env)
        token = sosrisk("tokens", "create", "load", env=env).strip()
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "sosrisk", "serve", str(home), "--port", str(port), "--workers", str(args.workers),
             "--max-pending", "16"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        results = []
        try:
            wait_ready(port, server)
            for index, scenario in enumerate(SCENARIOS):
                print(f"running {scenario['name']} for {args.seconds:g} s ...", file=sys.stderr)
                results.append(run_scenario(port, token, texts, scenario, args.clients, args.seconds, f"s{index}"))
        finally:
            server.terminate()
            server.wait(timeout=30)
        with sqlite3.connect(home / "queue.db") as connection:
            stored = connection.execute("SELECT external_id FROM posts WHERE source = 'load'").fetchall()
    stored_ids = [row[0] for row in stored]
    accepted = {i for result in results for i in result.pop("accepted_ids")}
    exactly_once = len(stored_ids) == len(set(stored_ids)) and set(stored_ids) == accepted
    payload = {
        "environment": environment(("sosrisk", "fastapi", "uvicorn", "sqlalchemy", "numpy", "scikit-learn")),
        "server": {"workers": args.workers, "max_pending": 16, "database": "sqlite (WAL, synchronous=FULL)"},
        "scenarios": results,
        "stored_posts": len(stored_ids),
        "accepted_unique_posts": len(accepted),
        "every_accepted_post_stored_exactly_once": exactly_once,
    }
    env_info = payload["environment"]
    md = [
        "# sosrisk serve: load over loopback",
        "",
        f"{env_info['date']} · {env_info['machine']['cpu']} ({env_info['machine']['cores']} cores) · "
        f"Python {env_info['python']} · commit {env_info['git_commit']}",
        "",
        f"Server: `sosrisk serve` as its own process, char-linear level + binary models, {args.workers} model "
        f"thread(s), SQLite file; {args.clients} concurrent clients with keep-alive, `queue: true`, "
        "a tenth of the batches re-sent.",
        "",
        "| scenario | clients | requests/s | posts/s | p50 ms | p99 ms | statuses |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        md.append(
            f"| {r['scenario']} | {r['clients']} | {r['requests_per_s']} | {r['posts_per_s']} | {r['p50_ms']} | "
            f"{r['p99_ms']} | {r['statuses']} |"
        )
    md += [
        "",
        f"Stored posts: {len(stored_ids)}; unique posts in accepted requests: {len(accepted)}; every accepted post "
        f"stored exactly once: **{exactly_once}**.",
        "",
    ]
    json_path, md_path = write_results("serve_load", payload, "\n".join(md))
    print("\n".join(md))
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return 0 if exactly_once else 1


if __name__ == "__main__":
    sys.exit(main())
