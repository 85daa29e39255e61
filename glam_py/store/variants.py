"""A store's training variants: the windows a recipe trains on besides the
store's own (its test windows), each a complete store of its own in
``STORE/variants/<key>/``, written by :func:`glam_py.store.write_store` and
opened by :class:`glam_py.store.FeatureStore` like any other. Which
variants a recipe needs is the training settings' to say
(``TrainConfig.stored_features()``); this module only places, finds and
names them."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

from glam_py.atomic import write_json
from glam_py.features import FeatureConfig
from glam_py.store import layout
from glam_py.store.format import StoreMismatch, read_settings
from glam_py.store.reader import FeatureStore

VARIANTS = "variants"
# The corpus flags of the featurize command that wrote the store, so that
# a refusal can say the exact command that adds a missing variant.
CORPUS_ARGV = "corpus.json"
# What makes two stores the same corpus's (format.read_settings' keys).
_CORPUS_KEYS = ("n_files", "files_sha256", "labels")


def config_key(config: FeatureConfig) -> str:
    """The short key of a feature setting: 12 hex digits of the SHA-256 of
    its JSON, naming its variant folder and its store in training's cache.

    Parameters
    ----------
    config : FeatureConfig
        The windows' settings.

    Returns
    -------
    str
        The key, the same for equal settings.
    """
    return hashlib.sha256(config.to_json().encode()).hexdigest()[:12]


def variant_root(root: str | Path, config: FeatureConfig) -> Path:
    """The folder of the store at ``root``'s variant of ``config``
    (``ROOT/variants/<config_key>``), whether written or not."""
    return Path(root) / VARIANTS / config_key(config)


def variant_roots(root: str | Path) -> list[Path]:
    """The variant folders written (or begun) into the store at ``root``,
    sorted by name."""
    folder = Path(root) / VARIANTS
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def describe(config: FeatureConfig) -> str:
    """A training variant in words, such as ``speed 0.9 at the training
    overlap 1.6 s`` or ``augmented copy 2 (noise,reverb) at the training
    overlap 1.6 s``."""
    what = f"speed {config.speed:g}"
    if config.augment:
        what = f"augmented copy {config.augment_copy} ({config.augment})" + (
            f" at {what}" if config.speed != 1 else ""
        )
    return f"{what} at the training overlap {config.overlap_s:g} s"


def missing(root: str | Path, test: FeatureConfig, configs: Iterable[FeatureConfig]) -> list[FeatureConfig]:
    """Those of ``configs`` that the store at ``root``, whose own windows
    have the settings ``test``, cannot serve: neither its own windows nor a
    complete variant.

    Parameters
    ----------
    root : str or Path
        The store folder.
    test : FeatureConfig
        The settings of the store's own windows.
    configs : iterable of FeatureConfig
        The windows a recipe trains and tests on.

    Returns
    -------
    list of FeatureConfig
        The missing ones, in the order given, each once.
    """
    return [
        c
        for c in dict.fromkeys(configs)
        if c != test and not (variant_root(root, c) / layout.INDEX).is_file()
    ]


def open_variant(store: FeatureStore, config: FeatureConfig) -> FeatureStore:
    """The windows of ``config`` from ``store``: the store itself when its
    own windows have these settings, else its variant.

    Parameters
    ----------
    store : FeatureStore
        The opened store (its test windows).
    config : FeatureConfig
        The settings asked for.

    Returns
    -------
    FeatureStore
        ``store``, or the variant opened with ``expected=config``.

    Raises
    ------
    StoreMismatch
        The variant is missing (the message says what), or it was
        featurised from other files than the store.
    ValueError
        The variant is incomplete (as :class:`FeatureStore`).
    """
    if config == store.config:
        return store
    root = variant_root(store.root, config)
    if not (root / layout.SETTINGS).is_file():
        raise StoreMismatch(f"{store.root} has no {describe(config)} (no {root})")
    ours, theirs = read_settings(store.root), read_settings(root)
    if any(ours[k] != theirs.get(k) for k in _CORPUS_KEYS):
        raise StoreMismatch(
            f"{root} was featurised from other files than {store.root}; delete it and featurize again"
        )
    return FeatureStore(root, expected=config)


def record_corpus_argv(root: str | Path, argv: list[str]) -> None:
    """Records in the store at ``root`` the corpus flags of the featurize
    command writing it (``corpus.json``), read by :func:`corpus_argv`;
    left as it is when it says the same."""
    if corpus_argv(root) != argv:
        write_json(Path(root) / CORPUS_ARGV, {"argv": argv})


def corpus_argv(root: str | Path) -> list[str] | None:
    """The corpus flags recorded by :func:`record_corpus_argv`; None for a
    store written before they were recorded."""
    path = Path(root) / CORPUS_ARGV
    return layout.read_json(path)["argv"] if path.is_file() else None
