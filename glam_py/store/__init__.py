"""The feature store written by ``python -m glam_py.featurize --out DIR``
and read by training: shards of windows as ``.npy`` files, ``index.csv``
(one row per utterance, read by column: :class:`StoreIndex`), ``features.json`` (the exact settings) and
``skipped.csv`` (every file left out, and why)."""

from glam_py.store.format import FORMAT_VERSION, StoreMismatch, UnsupportedFormat
from glam_py.store.index import StoreIndex
from glam_py.store.reader import FeatureStore, StoredWindows, left_out_summary, verify_store
from glam_py.store.writer import WriteReport, assemble, merge, write_store

__all__ = [
    "FORMAT_VERSION",
    "FeatureStore",
    "StoreIndex",
    "StoreMismatch",
    "StoredWindows",
    "UnsupportedFormat",
    "WriteReport",
    "assemble",
    "left_out_summary",
    "merge",
    "verify_store",
    "write_store",
]
