"""Where sosrisk keeps downloaded data, built backbones and other per-user files."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_VAR = "SOSRISK_HOME"


def data_home() -> Path:
    """Return the data home: ``$SOSRISK_HOME`` if set, else the per-user data folder of the platform.

    The per-user folder is :func:`platformdirs.user_data_dir`: on Linux ``$XDG_DATA_HOME/sosrisk`` (default
    ``~/.local/share/sosrisk``); macOS: ``~/Library/Application Support/sosrisk``; Windows:
    ``%LOCALAPPDATA%\\sosrisk``. The folder is not created here; writers create what they need.
    """
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_data_dir("sosrisk", appauthor=False))


def sos1k_dir() -> Path:
    """Folder of the SOS-1K files inside the data home (same relative paths as the authors' repository)."""
    return data_home() / "sos1k"


def ordinary_dir() -> Path:
    """Folder of the fetched ordinary-text corpora (``ordinary/<source>/``), see :mod:`sosrisk.scope.corpora`."""
    return data_home() / "ordinary"


def backbones_dir() -> Path:
    """Folder of locally built encoder checkpoints (for example the offline e5-small)."""
    return data_home() / "backbones"


def keys_dir() -> Path:
    """Folder of this machine's secret keys (the key of training-membership hashes); never part of a model."""
    return data_home() / "keys"
