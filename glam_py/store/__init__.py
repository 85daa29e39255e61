"""The feature store written by ``python -m glam_py.featurize --out DIR``
and read by training: shards of windows as ``.npy`` files, ``index.csv``
(one row per utterance), ``features.json`` (the exact settings) and
``skipped.csv`` (every file left out, and why)."""

from glam_py.store.format import FORMAT_VERSION, StoreMismatch, UnsupportedFormat
from glam_py.store.reader import FeatureStore, left_out_summary, utterance_key, verify_store
from glam_py.store.writer import WriteReport, assemble, merge, write_store

__all__ = [
    "FORMAT_VERSION",
    "FeatureStore",
    "StoreMismatch",
    "UnsupportedFormat",
    "WriteReport",
    "assemble",
    "left_out_summary",
    "merge",
    "utterance_key",
    "verify_store",
    "write_store",
]
