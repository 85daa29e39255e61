"""What every command line shares: the entry point that turns errors into
one line and an exit status (:func:`run`), the argument types that refuse
bad values while parsing, the checks of outputs before any work, and the
flags that several commands have, so each has one name, one help text and
one validation wherever it appears.

Exit statuses: 0 done; 1 an input that cannot be used or an output that
cannot be written (``error: ...``), or a bug (``internal error: ...``); 2 a
mistake in the arguments (``PROG: error: ...``); 130 interrupted (Ctrl-C);
143 terminated (SIGTERM: a scheduler's time limit, ``kill``, ``docker
stop``)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import os
import re
import signal
import sys
import traceback
from pathlib import Path
from typing import Callable, Iterator

from glam_py import corpora
from glam_py.corpora import hf, iemocap
from glam_py.corpora.demo import DEMO_ROOT
from glam_py.errors import InputError, UsageError
from glam_py.features import AudioDecodeError, FeatureConfig

#: Where a bug is reported; printed with every internal error.
ISSUE_TRACKER = "the glam issue tracker"
#: Set to 1 to see the traceback of an internal error.
DEBUG_ENV = "GLAM_DEBUG"
RESUME_HINT = "run the same command again to resume"


def _numbers(text: str) -> tuple[float, ...]:
    """A tuple setting's value: comma-separated numbers, or ``none`` for
    the empty tuple."""
    if text.strip().lower() == "none":
        return ()
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers (or none), got {text!r}"
        ) from None


def _names(text: str) -> tuple[str, ...]:
    """A tuple setting's value: comma-separated names, or ``none`` for the
    empty tuple (the settings class checks the names)."""
    if text.strip().lower() == "none":
        return ()
    return tuple(name.strip() for name in text.split(","))


_TYPES = {"int": int, "float": float, "str": str, "tuple": _numbers, "names": _names}


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a mistake reported in one line (``PROG: error:
    MESSAGE``, exit status 2) instead of the whole usage first, and the
    description's paragraphs kept as written."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread where Ctrl-C raises
    KeyboardInterrupt, so that a command stops the same way: split workers
    stopped, the run directory's lock released, one line said."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM (``terminated``) during work that the same command
    resumes."""

    def __init__(self, terminated: bool = False):
        super().__init__()
        self.terminated = terminated


@contextlib.contextmanager
def resumable() -> Iterator[None]:
    """Marks work that running the same command again resumes, so that an
    interrupt says so."""
    try:
        yield
    except KeyboardInterrupt as e:
        raise Interrupted(isinstance(e, Terminated)) from None


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def _user_errors() -> tuple[type[BaseException], ...]:
    # Imported here: the store, checkpoints and reports pull in torch and
    # matplotlib, which featurize does not need at import time.
    from glam_py.atomic import DamagedFile
    from glam_py.checkpoints import CheckpointError
    from glam_py.lock import LockedError
    from glam_py.reports.rundir import ReportError
    from glam_py.rundir import RunMismatch
    from glam_py.store import StoreMismatch
    from glam_py.store.format import UnsupportedFormat
    from glam_py.train.trainer import NonFiniteLoss

    return (
        InputError,
        OSError,
        corpora.LayoutError,
        AudioDecodeError,
        StoreMismatch,
        UnsupportedFormat,
        CheckpointError,
        ReportError,
        RunMismatch,
        LockedError,
        DamagedFile,
        NonFiniteLoss,
    )


def _message(e: BaseException) -> str:
    """The error as one line (a library's message may span several)."""
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror[0].lower()}{e.strerror[1:]}"
    return " ".join(str(e).split()) or type(e).__name__


def run(main: Callable[[], int]) -> int:
    """Calls a command's ``main`` and returns its exit status, every error
    reported in one line on stderr (see the module's exit statuses); the
    traceback of a bug shows only with ``GLAM_DEBUG=1``.

    Parameters
    ----------
    main
        The command; it parses ``sys.argv`` and returns 0 or 1.

    Returns
    -------
    int
        The exit status; argparse's own exits (``--help``, a bad flag)
        pass through as SystemExit.
    """
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return main()
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        terminated = isinstance(e, Terminated) or getattr(e, "terminated", False)
        hint = f"; {RESUME_HINT}" if isinstance(e, Interrupted) else ""
        print(("terminated" if terminated else "interrupted") + hint, file=sys.stderr)
        return 128 + int(signal.SIGTERM if terminated else signal.SIGINT)
    except BrokenPipeError:
        # The reader stopped early (``| head``): quietly, like other Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:
        if isinstance(e, _user_errors()):
            print(f"error: {_message(e)}", file=sys.stderr)
            return 1
        if os.environ.get(DEBUG_ENV) == "1":
            traceback.print_exc()
        print(
            f"internal error: {type(e).__name__}: {_message(e)} (please report it at "
            f"{ISSUE_TRACKER}, with the command; {DEBUG_ENV}=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 file``, ``2 files`` (``many``: the plural when not ``word + "s"``)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


# Argument types: argparse names the flag in front of the message.


def _number(convert: type, text: str, what: str, ok: Callable[[float], bool]):
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
    return value


def positive_int(text: str) -> int:
    """argparse type of counts such as ``--threads``: an integer >= 1."""
    return _number(int, text, "an integer of at least 1", lambda v: v >= 1)


def positive_float(text: str) -> float:
    """argparse type: a number > 0 (finite)."""
    return _number(float, text, "a number above 0", lambda v: 0 < v < float("inf"))


def fraction(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    return _number(float, text, "a number between 0 and 1 (exclusive)", lambda v: 0 < v < 1)


def probability(text: str) -> float:
    """argparse type: a number from 0 to 1 (both included)."""
    return _number(float, text, "a number from 0 to 1", lambda v: 0 <= v <= 1)


def alphas(text: str) -> tuple[float, ...]:
    """argparse type of ``--alpha``: one or more comma-separated numbers >= 0."""
    return tuple(
        _number(float, a.strip(), "comma-separated numbers of at least 0", lambda v: 0 <= v < float("inf"))
        for a in text.split(",")
    )


def shard(text: str) -> tuple[int, int]:
    """argparse type of ``--shard K/N``: part K (0-based) of N."""
    k, slash, n = text.partition("/")
    try:
        part = int(k), int(n)
    except ValueError:
        part = None
    if not slash or part is None or not 0 <= part[0] < part[1]:
        raise argparse.ArgumentTypeError(f"expected K/N with 0 <= K < N (e.g. 0/4), got {text!r}")
    return part


def device(text: str) -> str:
    """argparse type of ``--device``: cpu, cuda, cuda:N or mps, refused
    when this machine does not have it."""
    match = re.fullmatch(r"(cpu|cuda|mps)(?::(\d+))?", text)
    if match is None or (match[2] is not None and match[1] != "cuda"):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda, cuda:N or mps, got {text!r}")
    import torch

    if match[1] == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise argparse.ArgumentTypeError(f"{text}: this machine has no usable CUDA GPU; use cpu")
        if match[2] is not None and int(match[2]) >= count:
            raise argparse.ArgumentTypeError(
                f"{text}: this machine has {plural(count, 'CUDA GPU')} (cuda:0 to cuda:{count - 1})"
            )
    if match[1] == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text}: this machine has no usable Apple GPU (MPS); use cpu")
    return text


def default_device() -> str:
    """cuda when this machine has a usable GPU, else cpu."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# Outputs, checked before any work so that a run does not fail at its end.


def _writable_folder(folder: Path) -> Path | None:
    """The nearest existing folder at or above ``folder`` when writes can
    create ``folder`` there, else None."""
    for parent in (folder, *folder.parents):
        if parent.exists():
            return parent if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK) else None
    return None


def check_output_dir(path: Path, flag: str) -> None:
    """``path`` is a folder, or can be made one, that this user can write.

    Raises
    ------
    InputError
        It is a file, or neither it nor the folder it would be made in is
        writable.
    """
    if path.exists() and not path.is_dir():
        raise InputError(f"{flag} {path}: is a file, not a folder")
    if _writable_folder(path) is None:
        raise InputError(f"{flag} {path}: cannot write there (permission denied or read-only)")


def check_output_file(path: Path, flag: str) -> None:
    """``path`` can be written as a file: its folder exists and is writable,
    and it is not a folder itself.

    Raises
    ------
    InputError
        Otherwise, naming the flag, the path and the problem.
    """
    if path.is_dir():
        raise InputError(f"{flag} {path}: is a folder; give a file name")
    if not path.parent.is_dir():
        raise InputError(f"{flag} {path}: the folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"{flag} {path}: {os.strerror(errno.EACCES).lower()}")


@contextlib.contextmanager
def removed_if_left_empty(folder: Path) -> Iterator[None]:
    """A folder that did not exist before and is still empty after a
    failure (but for its writer lock's files, :mod:`glam_py.lock`) is
    removed, so that a failed command leaves nothing behind."""
    existed = folder.exists()
    try:
        yield
    except BaseException:
        if not existed and folder.is_dir():
            entries = list(folder.iterdir())
            if all(e.name.startswith(".lock") and e.is_file() for e in entries):
                for e in entries:
                    e.unlink()
                folder.rmdir()
        raise


def parse(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    check: Callable[[argparse.Namespace], None] | None = None,
) -> argparse.Namespace:
    """``argv`` parsed, then ``check(args)`` run: every argument validated
    before any work. A :class:`UsageError` from ``check`` is reported as
    argparse reports its own (exit status 2)."""
    args = parser.parse_args(argv)
    if check is not None:
        try:
            check(args)
        except UsageError as e:
            parser.error(str(e))
    return args


# Flags that several commands share.


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _shown(value) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    return "none" if value is None or value == "" else str(value)


def _parser(kind: str, optional: bool):
    convert = _TYPES[kind]

    def parse(text: str):
        if optional and text.lower() == "none":
            return None
        return convert(text)

    # argparse names the type in its message ("invalid float value: 'x'").
    parse.__name__ = kind
    return parse


# Where the parsed namespace records which feature flags its parser has.
_FEATURE_FLAGS = "_feature_flags"


def add_feature_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    defaults: FeatureConfig,
    leave_out: tuple[str, ...] = (),
) -> None:
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
    leave_out
        Fields the command takes no flag for; :func:`feature_flags_given`
        then ignores them, so another flag may use their names.
    """
    made = tuple(f["name"] for f in FeatureConfig.fields() if f["name"] not in leave_out)
    parser.set_defaults(**{_FEATURE_FLAGS: made})
    for field in FeatureConfig.fields():
        name = field["name"]
        if name not in made:
            continue
        help_text = f"{field['help']} (default: {_shown(getattr(defaults, name))})."
        parser.add_argument(
            _flag(name),
            dest=name,
            type=_parser(field["type"], field["optional"]),
            choices=field["choices"],
            default=argparse.SUPPRESS,
            help=help_text.replace("%", "%%"),
        )


def feature_flags_given(args: argparse.Namespace) -> dict:
    """The feature settings the command line gave, by field name (of the
    flags :func:`add_feature_flags` made)."""
    return {name: getattr(args, name) for name in getattr(args, _FEATURE_FLAGS, ()) if hasattr(args, name)}


def add_settings_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    settings_fields: list[dataclasses.Field],
    defaults: object,
) -> None:
    """One flag per settings field (``label_smoothing`` becomes
    ``--label-smoothing``), generated from the field: its help text is the
    metadata's ``"help"``, its choices the metadata's ``"choices"`` where
    given, its type its default's (int, float, str, or a tuple of numbers
    written comma-separated), or a tuple of names written comma-separated
    where the metadata's ``"kind"`` is ``"names"``.

    Parameters
    ----------
    parser
        The parser or argument group the flags join.
    settings_fields
        The fields (``dataclasses.fields``) to make flags of.
    defaults
        The settings object used for flags not given; each help text states
        its default from here. A flag not given leaves no attribute on the
        parsed namespace (:func:`settings_flags_given`). The values are
        validated by the settings class, not here.
    """
    for field in settings_fields:
        kind = field.metadata.get("kind", type(field.default).__name__)
        help_text = f"{field.metadata['help']} (default: {_shown(getattr(defaults, field.name))})."
        parser.add_argument(
            _flag(field.name),
            dest=field.name,
            type=_parser(kind, optional=False),
            choices=field.metadata.get("choices"),
            default=argparse.SUPPRESS,
            metavar={"int": "N", "float": "X", "tuple": "X,Y,...", "names": "A,B,..."}.get(kind),
            help=help_text.replace("%", "%%"),
        )


#: Feature settings train and featurize take no flag for: test windows (a
#: store's own) are never augmented, and --augment / --augment-copies
#: augment the training windows.
TRAINING_VARIANT_FIELDS = ("augment", "augment_copy")

#: The training settings that decide which windows a recipe trains on
#: besides the test windows (TrainConfig.stored_features()): train's flags,
#: and featurize's for the store's training variants.
VARIANT_SETTINGS = ("train_overlap_s", "speeds", "augment", "augment_copies")

PRESET_HELP = (
    "paper: lr 1e-4, 2 s windows, 1 s training / 1.6 s test overlap; "
    "authors: the per-model recipes of the authors' scripts; best: the recipe a nested "
    "search chose on EmoDB's training speakers (lr 1e-3 with warm-up and cosine decay, "
    "10 epochs of 1.6 s-overlap training windows at speeds 0.9, 1.0 and 1.1, masks, label "
    "smoothing, weight averaging; about 1.1x the paper's cost)"
)


def add_recipe_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, preset_default: str, variants_only: bool
) -> None:
    """``--preset`` and ``--train-overlap-s``, then the training settings'
    own flags (:func:`add_settings_flags`): every recipe field, or with
    ``variants_only`` those that decide the training windows
    (:data:`VARIANT_SETTINGS`: ``--speeds``, ``--augment``,
    ``--augment-copies``), as featurize takes them to write a store's
    training variants.

    Parameters
    ----------
    parser
        The parser or argument group the flags join.
    preset_default : str
        What ``--preset`` says it defaults to (its parsed default is None,
        so that a command tells "not given" apart).
    variants_only : bool
        Only the flags that decide the training windows.
    """
    from glam_py.train.config import BEST, PRESETS, TrainConfig

    parser.add_argument(
        "--preset", choices=PRESETS, default=None, help=f"{PRESET_HELP} (default: {preset_default})."
    )
    parser.add_argument(
        "--train-overlap-s",
        type=float,
        default=None,
        metavar="S",
        help="overlap of consecutive training windows in seconds (default: the preset's: best and "
        "the authors' GLAM recipes 1.6, paper 1.0; the demo: 1.6); --overlap-s sets the test windows'.",
    )
    recipe = TrainConfig.recipe_fields()
    if variants_only:
        recipe = [f for f in recipe if f.name in VARIANT_SETTINGS]
    add_settings_flags(parser, recipe, BEST)


def settings_flags_given(args: argparse.Namespace, settings_fields: list[dataclasses.Field]) -> dict:
    """The values of :func:`add_settings_flags`' flags that the command
    line gave, by field name."""
    return {f.name: getattr(args, f.name) for f in settings_fields if hasattr(args, f.name)}


def settings_argv(values: dict) -> list[str]:
    """Settings as the flags that give them, each followed by its value
    as a flag takes it (``{"speeds": (0.9, 1.1)}`` gives ``--speeds
    0.9,1.1``): what passes settings on to another command."""
    return [x for name, value in values.items() for x in (_flag(name), _shown(value))]


def with_flag_names(message: str, names: tuple[str, ...] = ()) -> str:
    """A FeatureConfig message with its field names, and ``names``, written
    as the flags (``window_s`` as ``--window-s``); a dotted name
    (``features.augment``, a --config file's key) stays as it is."""
    names = sorted([*(f["name"] for f in FeatureConfig.fields()), *names], key=len, reverse=True)
    return re.sub(r"(?<!\.)\b(" + "|".join(names) + r")\b", lambda m: _flag(m[1]), message)


def feature_config_from(args: argparse.Namespace, base: FeatureConfig) -> FeatureConfig:
    """``base`` with the feature flags the user gave applied.

    Raises
    ------
    UsageError
        The resulting settings are invalid; the message names the flags.
    """
    try:
        return base.replace(**feature_flags_given(args))
    except ValueError as e:
        raise UsageError(with_flag_names(str(e))) from None


def add_threads_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup, used_for: str) -> None:
    """``--threads N``: CPU threads for ``used_for`` (default: all cores)."""
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"CPU threads for {used_for}, at least 1 (default: all cores).",
    )


def add_quiet_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--quiet``: results and errors only."""
    parser.add_argument(
        "--quiet", action="store_true", help="print only results and errors: no progress, no notes."
    )


def add_device_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--device``: where torch runs the model."""
    parser.add_argument(
        "--device",
        type=device,
        default=None,
        help="torch device: cpu, cuda, cuda:N or mps (default: cuda when this machine has a GPU, else cpu).",
    )


def add_checkpoint_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, default: str | None = None
) -> None:
    """``--checkpoint RUN_OR_FILE``, ``--model`` and ``--split``: which
    trained model a command uses (:func:`glam_py.checkpoints.find`
    chooses). ``default``: what is used without ``--checkpoint``, for the
    help; None makes the flag required."""
    parser.add_argument(
        "--checkpoint",
        default=None,
        required=default is None,
        metavar="RUN_OR_FILE",
        help="a checkpoint file (.pt) or a training run directory (python -m glam_py.train "
        "--out); in a run directory with several splits of one model the first split is used"
        + (f" (default: {default})." if default else "."),
    )
    parser.add_argument(
        "--model",
        default=None,
        help="in a run directory with several models: which one (e.g. glam, apcnn, 'glam alpha=0.5').",
    )
    parser.add_argument("--split", default=None, help="in a run directory: which split's model (e.g. seed3).")


class _CorpusFlag(argparse.Action):
    """A corpus flag, stored as usual and also recorded for the corpus it
    belongs to: the flags after a ``--corpus`` describe that corpus (those
    before the first ``--corpus`` describe the first), so that one command
    line names several corpora, each with its own root, manifest and labels
    (:func:`corpus_namespaces`)."""

    def __call__(self, parser, namespace, values, option_string=None):
        groups = namespace.__dict__.setdefault("corpus_groups", [])
        if not groups or (self.dest == "corpus" and "corpus" in groups[-1]):
            groups.append({})
        if self.dest in groups[-1]:
            named = f" of --corpus {groups[-1]['corpus']}" if "corpus" in groups[-1] else ""
            raise argparse.ArgumentError(
                self, f"given twice for one corpus{named}; each corpus's flags follow its --corpus"
            )
        groups[-1][self.dest] = values
        setattr(namespace, self.dest, values)


def add_corpus_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--corpus``, ``--root``, ``--manifest``, ``--path-column``,
    ``--label-column``, ``--speaker-column``, ``--subset``, ``--labels`` and
    ``--iemocap-happy``: which corpus, and how its labels become classes (for
    :func:`glam_py.corpora.load`, with :func:`corpus_root`,
    :func:`label_map` and :data:`CORPUS_FLAGS`). Repeated, they name several
    corpora (:func:`corpus_namespaces`), each ``--corpus`` starting one, with
    ``--corpus-name`` naming it."""
    parser.add_argument(
        "--corpus",
        action=_CorpusFlag,
        choices=corpora.NAMES,
        default="demo",
        help="demo: the built-in synthetic corpus, generated under --root if "
        "missing; csv: a manifest (path,label[,speaker][,start,end]: start and end in "
        "seconds make a row a segment of its file); hf: a Hugging Face dataset (a "
        "save_to_disk folder or Parquet files; pip install 'glam[hf]'); folders: one "
        "folder per label; the others read that corpus's published layout (default: demo).",
    )
    parser.add_argument(
        "--root",
        action=_CorpusFlag,
        type=Path,
        default=None,
        help=f"corpus folder (default for demo: {DEMO_ROOT}).",
    )
    parser.add_argument(
        "--manifest",
        action=_CorpusFlag,
        type=Path,
        default=None,
        help="with --corpus csv: the manifest file (default: ROOT/manifest.csv).",
    )
    parser.add_argument(
        "--path-column",
        action=_CorpusFlag,
        default=None,
        metavar="NAME",
        help="with --corpus csv: the manifest's column of audio paths, relative "
        "to the manifest; with --corpus hf: the Audio column (default: path for csv; "
        "for hf the one the dataset declares Audio, else audio).",
    )
    parser.add_argument(
        "--label-column",
        action=_CorpusFlag,
        default="label",
        metavar="NAME",
        help="with --corpus csv or hf: the column of labels (default: label; "
        "EmoDB's own manifest.csv calls it emotion).",
    )
    parser.add_argument(
        "--speaker-column",
        action=_CorpusFlag,
        default=None,
        metavar="NAME",
        help="with --corpus csv or hf: the column of speakers (default: speaker, when there is one).",
    )
    parser.add_argument(
        "--subset",
        action=_CorpusFlag,
        default="full",
        metavar="NAME",
        help="with --corpus iemocap: impro, script or full (improvised, scripted or all "
        "sessions); with --corpus hf: one split of the dataset, or full for every split "
        "(default: full).",
    )
    parser.add_argument(
        "--labels",
        action=_CorpusFlag,
        default=None,
        help="label map: classes to keep, optionally renamed, in the order of the "
        "model's outputs, e.g. 'neutral,happy,sad,angry' or "
        "'exc:happy,neu:neutral'. Default: the paper's neutral, happy, sad, angry "
        "(for csv, folders and demo: every label, in order of first appearance).",
    )
    parser.add_argument(
        "--iemocap-happy",
        action=_CorpusFlag,
        choices=corpora.IEMOCAP_HAPPY,
        default="merge",
        help="IEMOCAP default map: merge 'excited' into happy (the paper) or keep "
        "only 'excited' as happy (the authors' code) (default: merge).",
    )
    parser.add_argument(
        "--corpus-name",
        action=_CorpusFlag,
        default=None,
        metavar="NAME",
        help="with several corpora: the corpus's name in tables, split names and --test-corpus "
        "(default: the reader's name, such as emodb, or for csv and folders the root folder's).",
    )


#: The destinations of :func:`add_corpus_flags`.
CORPUS_FLAGS = (
    "corpus",
    "root",
    "manifest",
    "path_column",
    "label_column",
    "speaker_column",
    "subset",
    "labels",
    "iemocap_happy",
    "corpus_name",
)


def corpus_flags_given(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The corpus flags set to other than their defaults, as flags."""
    return [_flag(dest) for dest in _corpus_dests_given(parser, args)]


def corpus_argv(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The corpus flags set to other than their defaults, each followed by
    its value: the arguments that pass the same corpus on to another command
    (every corpus flag takes a value)."""
    return [x for dest in _corpus_dests_given(parser, args) for x in (_flag(dest), str(getattr(args, dest)))]


def _corpus_dests_given(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    return [dest for dest in CORPUS_FLAGS if getattr(args, dest) != parser.get_default(dest)]


def corpus_namespaces(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[argparse.Namespace]:
    """One namespace per corpus the command line names, in order: ``args``
    with the corpus flags of that corpus alone (the others at their
    defaults), for :func:`check_corpus_flags`, :func:`load_corpus` and the
    rest to read as they read a single corpus's flags."""
    groups = getattr(args, "corpus_groups", None) or [{}]
    out = []
    for group in groups:
        ns = argparse.Namespace(**vars(args))
        for dest in CORPUS_FLAGS:
            setattr(ns, dest, group.get(dest, parser.get_default(dest)))
        ns.corpus_groups = [group]
        out.append(ns)
    return out


def corpus_name(args: argparse.Namespace) -> str:
    """A corpus's name in tables: ``--corpus-name``, else the reader's name,
    or for csv and folders (whose reader names no corpus) the root
    folder's."""
    if args.corpus_name:
        return args.corpus_name
    if args.corpus in ("csv", "folders"):
        return corpus_root(args).resolve().name or args.corpus
    return args.corpus


def check_several_corpora(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> list[argparse.Namespace]:
    """Each corpus of a command line naming several (:func:`corpus_namespaces`)
    checked as :func:`check_corpus_flags` checks one; returns their
    namespaces.

    Raises
    ------
    UsageError
        A corpus's flags disagree (the message names the corpus), the demo
        corpus is among them, or two corpora share a name.
    InputError
        A corpus's ``--root`` or ``--manifest`` does not exist.
    """
    spaces = corpus_namespaces(parser, args)
    names: dict[str, int] = {}
    for k, ns in enumerate(spaces, 1):
        if ns.corpus == "demo" and "corpus" not in ns.corpus_groups[0]:
            raise UsageError(
                f"corpus {k} of {len(spaces)}: its flags come before any --corpus; start it with --corpus"
            )
        try:
            _check_one_corpus(parser, ns)
        except (UsageError, InputError) as e:
            raise type(e)(f"--corpus {ns.corpus} (corpus {k} of {len(spaces)}): {e}") from None
        name = corpus_name(ns)
        if name in names:
            raise UsageError(
                f"corpora {names[name]} and {k} are both named {name!r}; tell them apart with --corpus-name"
            )
        names[name] = k
    return spaces


def check_corpus_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The corpus flags agree with each other and name what exists.

    Raises
    ------
    UsageError
        ``--root`` missing for a corpus other than demo, a flag that applies
        only to other corpora, an IEMOCAP ``--subset`` that is not one, or a
        malformed ``--labels``.
    InputError
        ``--root`` or ``--manifest`` does not exist, or ``--corpus hf``
        without the datasets package.
    """
    if len(getattr(args, "corpus_groups", None) or ()) > 1:
        raise UsageError(f"--corpus given {len(args.corpus_groups)} times: this command takes one corpus")
    if args.corpus_name is not None:
        raise UsageError("--corpus-name applies only with several corpora (--corpus given more than once)")
    _check_one_corpus(parser, args)


def _check_one_corpus(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    corpus_root(args)
    label_map(args)
    only = {
        "--manifest": ("csv",),
        "--path-column": ("csv", "hf"),
        "--label-column": ("csv", "hf"),
        "--speaker-column": ("csv", "hf"),
        "--subset": ("iemocap", "hf"),
        "--iemocap-happy": ("iemocap",),
    }
    for flag in corpus_flags_given(parser, args):
        if flag in only and args.corpus not in only[flag]:
            raise UsageError(f"{flag} applies only with --corpus {' or '.join(only[flag])}")
    if args.corpus == "iemocap" and args.subset not in iemocap.SUBSETS:
        raise UsageError(f"--subset {args.subset}: with --corpus iemocap choose {', '.join(iemocap.SUBSETS)}")
    if args.corpus == "hf":
        try:
            hf.require()
        except ImportError as e:
            raise InputError(str(e)) from None
    if args.root is not None and args.corpus != "demo" and not args.root.is_dir():
        raise InputError(
            f"--root {args.root}: " + ("not a folder" if args.root.exists() else "no such folder")
        )
    if args.manifest is not None and not args.manifest.is_file():
        raise InputError(f"--manifest {args.manifest}: no such file")


def load_corpus(args: argparse.Namespace) -> corpora.Corpus:
    """The corpus the flags name, read and mapped to its classes.

    Raises
    ------
    InputError
        The label map keeps none of its utterances.
    LayoutError
        The corpus's files do not have its layout.
    """
    corpus = corpora.load(
        args.corpus,
        corpus_root(args),
        subset=args.subset,
        manifest=args.manifest,
        labels=label_map(args),
        iemocap_happy=args.iemocap_happy,
        path_column=args.path_column,
        label_column=args.label_column,
        speaker_column=args.speaker_column,
    )
    if not corpus.utterances:
        found = sorted({s.reason for s in corpus.left_out})[:3]
        raise InputError(
            f"no utterance left to use in {corpus_root(args)}"
            + (f" (--labels {args.labels!r}; left out: {'; '.join(found)})" if args.labels else "")
        )
    return corpus


def corpus_root(args: argparse.Namespace) -> Path:
    """``--root``, or :data:`DEMO_ROOT` for the demo corpus.

    Raises
    ------
    UsageError
        Another corpus was named without ``--root``.
    """
    if args.root is not None:
        return args.root
    if args.corpus == "demo":
        return DEMO_ROOT
    raise UsageError(f"--corpus {args.corpus} needs --root DIR")


def label_map(args: argparse.Namespace) -> dict[str, str] | None:
    """The ``--labels`` map, or None for the corpus's default.

    Raises
    ------
    UsageError
        ``--labels`` is malformed or names no class.
    """
    try:
        return corpora.parse_label_map(args.labels) if args.labels else None
    except ValueError as e:
        raise UsageError(f"--labels {args.labels!r}: {e}") from None
