"""Corpus readers. Each reads a corpus from its published layout into
:class:`Utterance` records (path, label, speaker, ...) and the files it left
out with the reason; a tree that does not match says what it expected and
what it found.

    >>> from glam_py import corpora
    >>> corpus = corpora.load("emodb", root)  # read, then the paper's four classes kept
    >>> corpus.classes
    ['neutral', 'happy', 'sad', 'angry']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from glam_py.corpora import cremad, emodb, folders, hf, iemocap, ravdess, savee, tess
from glam_py.corpora.labels import PAPER_CLASSES, apply_label_map, classes, parse_label_map
from glam_py.corpora.manifest import read_manifest
from glam_py.corpora.utterance import LayoutError, Skipped, Utterance

CORPORA = {
    "iemocap": iemocap.read,
    "emodb": emodb.read,
    "ravdess": ravdess.read,
    "cremad": cremad.read,
    "tess": tess.read,
    "savee": savee.read,
    "folders": folders.read,
}
NAMES = (*CORPORA, "csv", "hf", "demo")

IEMOCAP_HAPPY = ("merge", "authors")
UNMAPPED = ("csv", "hf", "folders", "demo")  # corpora whose labels are kept as they are by default

__all__ = [
    "CORPORA",
    "Corpus",
    "IEMOCAP_HAPPY",
    "LayoutError",
    "NAMES",
    "PAPER_CLASSES",
    "Skipped",
    "UNMAPPED",
    "Utterance",
    "apply_label_map",
    "classes",
    "default_label_map",
    "load",
    "parse_label_map",
    "read_corpus",
    "read_manifest",
]


def read_corpus(
    name: str,
    root: str | Path,
    subset: str = "full",
    manifest: str | Path | None = None,
    path_column: str | None = None,
    label_column: str = "label",
    speaker_column: str | None = None,
) -> tuple[list[Utterance], list[Skipped]]:
    """Every utterance of corpus ``name`` under ``root``. ``subset`` applies
    to IEMOCAP (impro, script or full) and to ``hf`` (a split, or full);
    ``manifest`` (default ``root/manifest.csv``) to ``csv``; the columns to
    ``csv`` (:func:`read_manifest`; ``path_column`` default path) and
    ``hf`` (:func:`glam_py.corpora.hf.read`; ``path_column`` names the
    Audio column)."""
    root = Path(root)
    if name in ("csv", "demo"):
        return read_manifest(
            Path(manifest) if manifest else root / "manifest.csv",
            path_column or "path",
            label_column,
            speaker_column,
        ), []
    if name == "hf":
        return hf.read(root, subset, path_column, label_column, speaker_column)
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; choose one of {', '.join(NAMES)}")
    if name == "iemocap":
        return iemocap.read(root, subset)
    return CORPORA[name](root)


def default_label_map(name: str, iemocap_happy: str = "merge") -> dict[str, str]:
    """The paper's four classes, in the paper's order. For IEMOCAP,
    ``iemocap_happy="merge"`` (the paper) counts both "happy" and "excited"
    as happy; ``"authors"`` reproduces the authors' code, which keeps only
    "excited" (as happy)."""
    if iemocap_happy not in IEMOCAP_HAPPY:
        raise ValueError(f"iemocap_happy must be 'merge' or 'authors', got {iemocap_happy!r}")
    mapping = {}
    for c in PAPER_CLASSES:
        if name == "iemocap" and c == "happy":
            if iemocap_happy == "merge":
                mapping["happy"] = "happy"
            mapping["excited"] = "happy"
        else:
            mapping[c] = c
    return mapping


def _check_names(files: list[str]) -> None:
    """Refuses a listing with a file name that is not UTF-8 (a Latin-1 name
    on Linux reaches Python as surrogates), which the store's and run's
    UTF-8 records cannot hold: once, before any work, naming the file."""
    for file in files:
        try:
            file.encode("utf-8")
        except UnicodeEncodeError:
            shown = os.fsencode(file).decode("utf-8", "backslashreplace")
            raise LayoutError(
                f"{shown}: the file name is not UTF-8; rename it (convmv -f latin1 -t utf8 -r --notest DIR "
                "renames a tree)"
            ) from None


class Corpus(NamedTuple):
    """A corpus read and mapped to its classes."""

    utterances: list[Utterance]
    left_out: list[Skipped]  # left out by the reader or the label map, with the reason
    classes: list[str]  # the order of a model's outputs


def load(
    name: str,
    root: str | Path,
    *,
    subset: str = "full",
    manifest: str | Path | None = None,
    labels: dict[str, str] | None = None,
    iemocap_happy: str = "merge",
    path_column: str | None = None,
    label_column: str = "label",
    speaker_column: str | None = None,
) -> Corpus:
    """Reads corpus ``name`` and applies its label map: the one way every
    command turns a corpus into labelled utterances.

    Parameters
    ----------
    name, root, subset, manifest, path_column, label_column, speaker_column
        As for :func:`read_corpus`.
    labels
        The label map (:func:`parse_label_map`); its order is the class
        order. Default: :func:`default_label_map` (the paper's neutral,
        happy, sad, angry), except for csv, hf, folders and demo, whose
        labels are all kept in the order they first appear.
    iemocap_happy
        With the default IEMOCAP map: "merge" (the paper) or "authors".

    Raises
    ------
    LayoutError
        ``root`` does not hold the corpus's layout, or a file name is not
        UTF-8.
    ValueError
        Unknown corpus or ``iemocap_happy``.
    ImportError
        ``hf`` without the ``datasets`` package; the message says how to
        install it.
    """
    utterances, left_out = read_corpus(
        name, root, subset, manifest, path_column, label_column, speaker_column
    )
    _check_names([u.file for u in utterances] + [os.fspath(s.path) for s in left_out])
    mapping = labels
    if mapping is None and name not in UNMAPPED:
        mapping = default_label_map(name, iemocap_happy)
    if mapping is not None:
        utterances, dropped = apply_label_map(utterances, mapping)
        left_out = left_out + dropped
    return Corpus(utterances, left_out, classes((u.label for u in utterances), mapping))
