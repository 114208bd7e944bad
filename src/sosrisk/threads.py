"""The thread counts and encoder precision of this process: chosen once by the entry point.

torch's thread count is process-wide. Model code never changes it (a service's threads would change it
under each other); the entry points (the CLI commands, and through them the service) choose it once, with
:func:`choose_torch_threads` from their ``--torch-threads`` setting, and call :func:`set_torch_threads`
before any model runs. Importing this module imports nothing heavy; torch is touched only if it is loaded.

The scope stage's sentence encoder (numpy BLAS, not torch) has its own thread count: one by default (the
service encodes from many request threads, and the numpy scoring workers already use every core); a
single-process batch run gives it the run's cores for the run (:func:`sentence_encoder_threads_for`). The
embeddings agree to within about 1e-6 whatever the count, but not always bit for bit: on a 2-core Intel Xeon
they were identical, on a 2-core AMD EPYC (OpenBLAS 0.3.31) two threads moved almost every embedding by up to
4e-7 and the gate's probability by up to 2e-6, and changed no gate or net decision on 14,765 posts (held-out
ordinary sentences and SOS-1K, 2026-12-07). A post within that distance of a threshold could be decided
differently by a batch run and by the service.

The encoder precision (``--encoder-precision``) is process-wide for the same reason: ``float32`` (the
default) gives the answers the models were validated with; ``bfloat16`` runs the encoders' matrix products
in bfloat16 (:func:`encoder_autocast`), about 1.6x faster on a CPU with native bfloat16 and close but not
identical answers (``benchmarks/bench_best_speed.py`` measures how many change).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger(__name__)

AUTO = "auto"
_WANTED: dict[str, int | None] = {"threads": None}
PRECISIONS = ("float32", "bfloat16")
_PRECISION = {"encoders": "float32"}
_SENTENCE_ENCODER = {"threads": 1}


def _check_count(threads: object, what: str) -> int:
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"Expected a number of {what} >= 1, got {threads!r}.")
    return threads


def machine_busy() -> bool:
    """Whether the 1-minute load average is at least the number of cores (threads would wait for each other)."""
    try:
        return os.getloadavg()[0] >= (os.cpu_count() or 1)
    except OSError:  # not available on this platform
        return False


def choose_torch_threads(setting: str | int) -> int | None:
    """The thread count for a ``--torch-threads`` setting: an int >= 1, or ``auto`` (``None``: torch's default).

    ``auto`` is one thread when the machine is already busy at start (on a shared 2-core machine under load,
    two threads made a single-post prediction 16x slower than one), torch's default otherwise.
    """
    if isinstance(setting, int) and not isinstance(setting, bool):
        threads = setting
    elif isinstance(setting, str) and setting.strip().lower() == AUTO:
        return 1 if machine_busy() else None
    elif isinstance(setting, str) and setting.strip().isdigit():
        threads = int(setting.strip())
    else:
        raise ValueError(f"Expected 'auto' or a number of torch threads >= 1, got {setting!r}.")
    if threads < 1:
        raise ValueError(f"Expected 'auto' or a number of torch threads >= 1, got {setting!r}.")
    return threads


def set_torch_threads(threads: int | None) -> None:
    """Use ``threads`` torch threads in this process (``None``: torch's default), now or when torch is loaded."""
    _WANTED["threads"] = None if threads is None else _check_count(threads, "torch threads")
    if "torch" in sys.modules:
        apply_torch_threads(sys.modules["torch"])


def apply_torch_threads(torch: Any) -> None:
    """Apply the chosen thread count to ``torch`` (called once torch is imported; a no-op when none was chosen)."""
    wanted = _WANTED["threads"]
    if wanted is not None and torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
        logger.info("torch uses %d threads", wanted)


def set_sentence_encoder_threads(threads: int) -> None:
    """Encode sentences with ``threads`` BLAS threads in this process, now and in an encoder built later."""
    _SENTENCE_ENCODER["threads"] = _check_count(threads, "sentence encoder threads")
    module = sys.modules.get("sosrisk.scope.encoder")  # loaded: its shared encoder may already be built
    if module is not None and module.SentenceEncoder._shared is not None:
        module.SentenceEncoder._shared.set_threads(threads)


def sentence_encoder_threads() -> int:
    """The BLAS threads sentence encoding uses in this process."""
    return _SENTENCE_ENCODER["threads"]


@contextlib.contextmanager
def sentence_encoder_threads_for(threads: int) -> Iterator[None]:
    """The sentence encoder uses ``threads`` BLAS threads inside the block (a batch run); restored after it."""
    before = sentence_encoder_threads()
    set_sentence_encoder_threads(threads)
    try:
        yield
    finally:
        set_sentence_encoder_threads(before)


def set_encoder_precision(precision: str) -> None:
    """Run the encoder models of this process in ``precision`` (one of :data:`PRECISIONS`)."""
    if precision not in PRECISIONS:
        raise ValueError(f"Expected an encoder precision in {', '.join(PRECISIONS)}, got {precision!r}.")
    _PRECISION["encoders"] = precision
    if precision != "float32":
        logger.info("encoders run in %s", precision)


def encoder_precision() -> str:
    """The encoder precision of this process (``float32`` unless an entry point chose another)."""
    return _PRECISION["encoders"]


def encoder_autocast(torch: Any) -> Any:
    """A context that runs encoder inference in the process's precision (a no-op for ``float32``)."""
    import contextlib

    if _PRECISION["encoders"] == "bfloat16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()
