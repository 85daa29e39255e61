"""Label maps: which of a corpus's emotions are kept, and under which class
name. The paper's four classes are the default wherever a corpus has them."""

from __future__ import annotations

from typing import Iterable

from glam_py.corpora.utterance import Skipped, Utterance

PAPER_CLASSES = ("neutral", "happy", "sad", "angry")


def parse_label_map(text: str) -> dict[str, str]:
    """``"neutral,happy,sad,angry"`` keeps those classes as they are;
    ``"exc:happy,hap:happy,neu:neutral"`` renames; both forms mix.

    Raises
    ------
    ValueError
        The map names no label, or one label twice.
    """
    mapping = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        source, _, target = item.partition(":")
        if source.strip() in mapping:
            raise ValueError(f"{source.strip()!r} is named twice")
        mapping[source.strip()] = (target or source).strip()
    if not mapping:
        raise ValueError(f"empty label map {text!r}")
    return mapping


def apply_label_map(
    utterances: Iterable[Utterance], mapping: dict[str, str]
) -> tuple[list[Utterance], list[Skipped]]:
    """Keeps the utterances whose label the map names, renamed; the others
    are skipped with the reason."""
    kept, skipped = [], []
    for u in utterances:
        if u.label in mapping:
            kept.append(
                Utterance(
                    u.file, mapping[u.label], u.speaker, u.utterance_id, u.session, u.subset, u.start, u.end
                )
            )
        else:
            skipped.append(Skipped(u.path, f"label {u.label!r} is not in the label map"))
    return kept, skipped


def classes(labels: Iterable[str], mapping: dict[str, str] | None = None) -> list[str]:
    """The order of a model's outputs over the classes ``labels`` holds:
    the label map's classes in first-mention order (the paper's neutral,
    happy, sad, angry for the default maps); without a map, the order in
    which ``labels`` first mentions them (a manifest's order; sorted
    folder names for the ``folders`` layout).

    Raises
    ------
    ValueError
        A label is not one of the map's classes.
    """
    present = list(dict.fromkeys(labels))
    if mapping is None:
        return present
    order = list(dict.fromkeys(mapping.values()))
    stray = [label for label in present if label not in order]
    if stray:
        raise ValueError(f"labels {', '.join(stray)} are not classes of the label map ({', '.join(order)})")
    return [c for c in order if c in present]
