"""sosrisk.home: where the data home is (``$SOSRISK_HOME``, else the platform's per-user data folder)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sosrisk.home import backbones_dir, data_home, keys_dir, ordinary_dir, sos1k_dir


def test_sosrisk_home_wins_and_its_tilde_is_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("SOSRISK_HOME", "~/somewhere")
    assert data_home() == tmp_path / "somewhere"
    assert sos1k_dir() == tmp_path / "somewhere" / "sos1k"
    assert ordinary_dir() == tmp_path / "somewhere" / "ordinary"
    assert backbones_dir() == tmp_path / "somewhere" / "backbones"
    assert keys_dir() == tmp_path / "somewhere" / "keys"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG folders are Linux's")
def test_linux_data_home_follows_xdg_and_creates_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv("SOSRISK_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_home() == tmp_path / "xdg" / "sosrisk"
    monkeypatch.setenv("XDG_DATA_HOME", "")
    assert data_home() == tmp_path / ".local" / "share" / "sosrisk"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert data_home() == tmp_path / ".local" / "share" / "sosrisk"
    assert list(tmp_path.iterdir()) == []  # asking where the home is writes nothing


def test_home_is_absolute_without_sosrisk_home(monkeypatch):
    monkeypatch.delenv("SOSRISK_HOME")
    home = data_home()
    assert home.is_absolute() and home.name == "sosrisk"
    assert isinstance(home, Path)
