"""Command-line flags that several commands share, so each has one name,
one help text and one validation wherever it appears."""

from __future__ import annotations

import argparse
from pathlib import Path

from glam_py import corpora
from glam_py.corpora.demo import DEMO_ROOT
from glam_py.features import FeatureConfig

_TYPES = {"int": int, "float": float, "str": str}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _shown(value) -> str:
    return "none" if value is None else str(value)


def _parser(kind: str, optional: bool):
    convert = _TYPES[kind]

    def parse(text: str):
        if optional and text.lower() == "none":
            return None
        return convert(text)

    # argparse names the type in its message ("invalid float value: 'x'").
    parse.__name__ = kind
    return parse


def add_feature_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                      defaults: FeatureConfig) -> None:
    """One flag per :class:`FeatureConfig` field (``n_mfcc`` becomes
    ``--n-mfcc``), described by ``FeatureConfig.fields()``.

    Parameters
    ----------
    parser
        The parser or argument group the flags join.
    defaults
        The settings the command uses for flags not given; each help text
        states its default from here. A flag not given leaves no attribute
        on the parsed namespace, so :func:`feature_config_from` changes only
        what the user asked for (``none``, the value of an optional setting
        such as ``--fmax none``, stays distinguishable from "not given").
    """
    for field in FeatureConfig.fields():
        name = field["name"]
        help_text = f"{field['help']} (default: {_shown(getattr(defaults, name))})."
        parser.add_argument(_flag(name), dest=name, type=_parser(field["type"], field["optional"]),
                            choices=field["choices"], default=argparse.SUPPRESS,
                            help=help_text.replace("%", "%%"))


def feature_flags_given(args: argparse.Namespace) -> dict:
    """The feature settings the command line gave, by field name."""
    return {f["name"]: getattr(args, f["name"]) for f in FeatureConfig.fields()
            if hasattr(args, f["name"])}


def feature_config_from(args: argparse.Namespace, base: FeatureConfig) -> FeatureConfig:
    """``base`` with the feature flags the user gave applied.

    Raises
    ------
    ValueError
        The resulting settings are invalid; the message names the setting.
    """
    return base.replace(**feature_flags_given(args))


def positive_int(text: str) -> int:
    """argparse type of counts such as ``--threads``: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_threads_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup, used_for: str) -> None:
    """``--threads N``: CPU threads for ``used_for`` (default: all cores)."""
    parser.add_argument("--threads", type=positive_int, default=None,
                        help=f"CPU threads for {used_for} (default: all cores).")


def add_corpus_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--corpus``, ``--root``, ``--manifest``, ``--subset``, ``--labels``
    and ``--iemocap-happy``: which corpus, and how its labels become
    classes (for :func:`glam_py.corpora.load`, with :func:`corpus_root` and
    :func:`label_map`)."""
    parser.add_argument("--corpus", choices=corpora.NAMES, default="demo",
                        help="demo: the built-in synthetic corpus, generated under --root if "
                        "missing; csv: a manifest (path,label[,speaker]); folders: one folder per "
                        "label; the others read that corpus's published layout (default: demo).")
    parser.add_argument("--root", type=Path, default=None,
                        help=f"corpus folder (default for demo: {DEMO_ROOT}).")
    parser.add_argument("--manifest", type=Path, default=None,
                        help="with --corpus csv: the manifest file (default: ROOT/manifest.csv).")
    parser.add_argument("--subset", choices=["impro", "script", "full"], default="full",
                        help="with --corpus iemocap: improvised, scripted or all sessions "
                        "(default: full).")
    parser.add_argument("--labels", default=None,
                        help="label map: classes to keep, optionally renamed, in the order of the "
                        "model's outputs, e.g. 'neutral,happy,sad,angry' or "
                        "'exc:happy,neu:neutral'. Default: the paper's neutral, happy, sad, angry "
                        "(for csv, folders and demo: every label, in order of first appearance).")
    parser.add_argument("--iemocap-happy", choices=corpora.IEMOCAP_HAPPY, default="merge",
                        help="IEMOCAP default map: merge 'excited' into happy (the paper) or keep "
                        "only 'excited' as happy (the authors' code) (default: merge).")


def corpus_root(args: argparse.Namespace) -> Path:
    """``--root``, or :data:`DEMO_ROOT` for the demo corpus.

    Raises
    ------
    ValueError
        Another corpus was named without ``--root``.
    """
    if args.root is not None:
        return args.root
    if args.corpus == "demo":
        return DEMO_ROOT
    raise ValueError(f"--corpus {args.corpus} needs --root DIR")


def label_map(args: argparse.Namespace) -> dict[str, str] | None:
    """The ``--labels`` map, or None for the corpus's default.

    Raises
    ------
    ValueError
        ``--labels`` names no class.
    """
    return corpora.parse_label_map(args.labels) if args.labels else None
