"""What the store's writer and reader agree on besides the file names of
:mod:`glam_py.store.layout`: the format version that ``features.json``
records, the settings check, and the shard count."""

from __future__ import annotations

from pathlib import Path

from glam_py.store import layout

# 2: every shard has a check file (sizes and SHA-256 of its files). Stores
# of format 1 are refused, not read unchecked: they are a cache of the
# corpus, rebuilt by featurising again.
FORMAT_VERSION = 2


class StoreMismatch(ValueError):
    """The folder holds a store written with other settings or files."""


def describe_differences(differences: dict[str, tuple]) -> str:
    """``{name: (asked, stored)}`` as ``"pad: asked drop, stored tile; ..."``."""

    def shown(value):
        return "none" if value is None else value

    return "; ".join(
        f"{name}: asked {shown(asked)}, stored {shown(stored)}"
        for name, (asked, stored) in differences.items()
    )


class UnsupportedFormat(ValueError):
    """The store was written in a format version this code does not read."""


def read_settings(root: Path) -> dict:
    """The store's ``features.json``.

    Parameters
    ----------
    root : Path
        The store folder.

    Returns
    -------
    dict
        The recorded settings: ``format``, ``features``, ``files_per_shard``,
        ``n_files``, ``files_sha256``, ``labels``.

    Raises
    ------
    FileNotFoundError
        When ``features.json`` is missing.
    UnsupportedFormat
        When it records a format version other than :data:`FORMAT_VERSION`.
    """
    path = root / layout.SETTINGS
    if not path.is_file():
        raise FileNotFoundError(f"no feature store at {root} ({layout.SETTINGS} missing)")
    settings = layout.read_json(path)
    found = settings.get("format")
    if found != FORMAT_VERSION:
        raise UnsupportedFormat(
            f"{path}: store format {found!r} is not supported (this version of glam "
            f"reads format {FORMAT_VERSION}); featurise the corpus again"
        )
    return settings


def expected_shards(settings: dict) -> int:
    """How many shards a store of these settings (:func:`read_settings`) has."""
    return max(1, -(-settings["n_files"] // settings["files_per_shard"]))
