"""Label maps: which of a corpus's emotions are kept, and under which class
name. The paper's four classes are the default wherever a corpus has them."""

from __future__ import annotations

from typing import Iterable

from glam_py.corpora.utterance import Skipped, Utterance

PAPER_CLASSES = ("neutral", "happy", "sad", "angry")


def parse_label_map(text: str) -> dict[str, str]:
    """``"neutral,happy,sad,angry"`` keeps those classes as they are;
    ``"exc:happy,hap:happy,neu:neutral"`` renames; both forms mix."""
    mapping = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        source, _, target = item.partition(":")
        mapping[source.strip()] = (target or source).strip()
    if not mapping:
        raise ValueError(f"empty label map {text!r}")
    return mapping


def apply_label_map(utterances: Iterable[Utterance], mapping: dict[str, str]
                    ) -> tuple[list[Utterance], list[Skipped]]:
    """Keeps the utterances whose label the map names, renamed; the others
    are skipped with the reason."""
    kept, skipped = [], []
    for u in utterances:
        if u.label in mapping:
            kept.append(Utterance(u.path, mapping[u.label], u.speaker, u.utterance_id,
                                  u.session, u.subset))
        else:
            skipped.append(Skipped(u.path, f"label {u.label!r} is not in the label map"))
    return kept, skipped


def classes(mapping: dict[str, str]) -> list[str]:
    """The classes a map produces, in first-mention order (this is the order
    of the model's outputs)."""
    return list(dict.fromkeys(mapping.values()))
