"""Corpus readers. Each reads a corpus from its published layout into
:class:`Utterance` records (path, label, speaker, ...) and the files it left
out with the reason; a tree that does not match says what it expected and
what it found.

    >>> from glam_py import corpora
    >>> utterances, skipped = corpora.read_corpus("emodb", root)
    >>> utterances, dropped = corpora.apply_label_map(utterances, corpora.default_label_map("emodb"))
"""

from __future__ import annotations

from pathlib import Path

from glam_py.corpora import cremad, emodb, folders, iemocap, ravdess, savee, tess
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
NAMES = (*CORPORA, "csv", "demo")

__all__ = ["CORPORA", "LayoutError", "NAMES", "PAPER_CLASSES", "Skipped", "Utterance",
           "apply_label_map", "classes", "default_label_map", "parse_label_map", "read_corpus",
           "read_manifest"]


def read_corpus(name: str, root: str | Path, subset: str = "full",
                manifest: str | Path | None = None) -> tuple[list[Utterance], list[Skipped]]:
    """Every utterance of corpus ``name`` under ``root``. ``subset`` applies
    to IEMOCAP; ``manifest`` to ``csv`` (default ``root/manifest.csv``)."""
    root = Path(root)
    if name in ("csv", "demo"):
        return read_manifest(Path(manifest) if manifest else root / "manifest.csv"), []
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; choose one of {', '.join(NAMES)}")
    if name == "iemocap":
        return iemocap.read(root, subset)
    return CORPORA[name](root)


def default_label_map(name: str, iemocap_happy: str = "merge") -> dict[str, str]:
    """The paper's four classes. For IEMOCAP, ``iemocap_happy="merge"``
    (the paper) counts both "happy" and "excited" as happy; ``"authors"``
    reproduces the authors' code, which keeps only "excited" (as happy)."""
    mapping = {c: c for c in PAPER_CLASSES}
    if name == "iemocap":
        if iemocap_happy not in ("merge", "authors"):
            raise ValueError(f"iemocap_happy must be 'merge' or 'authors', got {iemocap_happy!r}")
        mapping["excited"] = "happy"
        if iemocap_happy == "authors":
            del mapping["happy"]
    return mapping
