"""Shared fixtures: the real corpora, skipped with a reason where absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import corpora_root


@pytest.fixture(scope="session")
def emodb_files() -> list[Path]:
    wav = corpora_root() / "emodb" / "wav"
    files = sorted(wav.glob("*.wav"))
    if not files:
        pytest.skip(f"EmoDB recordings not found under {wav} (set GLAM_CORPORA)")
    return files
