"""Every command line refuses a mistake in one line before any work (exit
2), an unusable input in one line (exit 1), Ctrl-C in one line (exit 130),
a bug in one line that says where to report it, and never shows a
traceback otherwise; logs written to a file hold plain lines; help and
flag names agree across the five commands."""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glam_py import cli, export, featurize, predict, report
from glam_py.corpora.demo import generate_demo_corpus
from glam_py.train import __main__ as train
from glam_py.train import results as tables
from tests.support.inputs import vorbis_panicking_on_setup

COMMANDS = {"featurize": featurize, "train": train, "predict": predict, "report": report, "export": export}
ANSI = re.compile(r"\x1b\[")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    generate_demo_corpus(root / "demo", n_speakers=2, per_class_per_speaker=2)
    (root / "not_a_store").mkdir()
    (root / "broken.json").write_text("{not json")
    (root / "unknown.json").write_text('{"epochz": 3}')
    (root / "zero.json").write_text('{"epochs": 0}')
    (root / "zero-bom.json").write_text('{"epochs": 0}', encoding="utf-8-sig")  # Notepad's UTF-8
    return root


def _run(command: str, argv: list[str], capsys) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of a command run as from the shell."""
    try:
        code = cli.run(lambda: COMMANDS[command].main(argv))
    except SystemExit as e:  # argparse's own exits
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


MISTAKES = [  # (command, argv, exit status, what the line says)
    (
        "train",
        ["--alpha", "abc"],
        2,
        "python -m glam_py.train: error: argument --alpha: expected comma-separated",
    ),
    ("train", ["--alpha", "0.5,-1"], 2, "argument --alpha"),
    ("train", ["--repeats", "0"], 2, "argument --repeats: expected an integer of at least 1, got 0"),
    ("train", ["--epochs", "0"], 2, "argument --epochs: expected an integer of at least 1, got 0"),
    ("train", ["--threads", "0"], 2, "argument --threads: expected an integer of at least 1, got 0"),
    (
        "predict",
        ["--threads", "0", "--checkpoint", "x", "a.wav"],
        2,
        "argument --threads: expected an integer of at least 1, got 0",
    ),
    ("featurize", ["--threads", "0"], 2, "argument --threads: expected an integer of at least 1, got 0"),
    ("train", ["--lr", "-1"], 2, "argument --lr: expected a number above 0, got -1"),
    ("train", ["--batch-size", "0"], 2, "argument --batch-size"),
    (
        "train",
        ["--select", "val", "--select-on-test"],
        2,
        "--select-on-test: not allowed with argument --select",
    ),
    ("train", ["--store", "{tiny}/not_a_store", "--root", "x"], 2, "--root does not apply with it"),
    ("train", ["--store", "{tiny}/not_a_store", "--corpus", "csv"], 2, "--corpus does not apply with it"),
    ("train", ["--store", "{tiny}/not_a_store", "--labels", "a,b"], 2, "--labels does not apply with it"),
    ("train", ["--store", "{tiny}/not_a_store"], 1, "error: --store {tiny}/not_a_store: not a feature store"),
    ("train", ["--config", "{tiny}/missing.json"], 1, "error: --config {tiny}/missing.json: no such file"),
    ("train", ["--config", "{tiny}/broken.json"], 1, "not valid JSON"),
    ("train", ["--config", "{tiny}/unknown.json"], 1, "unknown TrainConfig fields: epochz"),
    ("train", ["--config", "{tiny}/zero.json"], 1, "epochs must be at least 1, got 0"),
    ("train", ["--config", "{tiny}/zero-bom.json"], 1, "epochs must be at least 1, got 0"),
    ("train", ["--models", "glam,nope"], 2, "--models: unknown model 'nope'"),
    (
        "train",
        ["--protocol", "all", "--select-on-test"],
        2,
        "needs a test split, and --protocol all has none",
    ),
    ("train", ["--protocol", "all", "--repeats", "3"], 2, "--repeats does not apply with --protocol all"),
    ("train", ["--protocol", "all", "--stratify"], 2, "--stratify does not apply with --protocol all"),
    (
        "train",
        ["--protocol", "all", "--eval-every", "2"],
        2,
        "--eval-every does not apply with --protocol all",
    ),
    ("train", ["--parallel-splits", "2", "--ddp"], 2, "--parallel-splits and --ddp exclude each other"),
    (
        "train",
        ["--parallel-splits", "auto", "--models", "apcnn,aacnn"],
        2,
        "--parallel-splits: aacnn draws dropout masks",
    ),
    ("train", ["--parallel-splits", "0"], 2, "argument --parallel-splits: expected an integer of at least 1"),
    ("train", ["--corpus", "emodb"], 2, "--corpus emodb needs --root DIR"),
    (
        "train",
        ["--corpus", "emodb", "--root", "{tiny}/nowhere"],
        1,
        "error: --root {tiny}/nowhere: no such folder",
    ),
    ("train", ["--labels", "sad,sad"], 2, "--labels 'sad,sad': 'sad' is named twice"),
    ("train", ["--subset", "impro"], 2, "--subset applies only with --corpus iemocap or hf"),
    ("train", ["--label-column", "emotion"], 2, "--label-column applies only with --corpus csv or hf"),
    (
        "train",
        ["--corpus", "csv", "--root", "{tiny}/demo", "--labels", "calm"],
        1,
        "error: no utterance left to use in {tiny}/demo (--labels 'calm'; left out: label 'angry'",
    ),
    ("train", ["--config", "{tiny}"], 1, "error: --config {tiny}: is a directory"),
    (
        "train",
        ["--overlap-s", "2.5"],
        2,
        "--overlap-s (2.5) must be at least 0 and shorter than --window-s (2)",
    ),
    (
        "featurize",
        ["--window-s", "0"],
        2,
        "python -m glam_py.featurize: error: invalid feature configuration: --window-s (0) must be positive",
    ),
    (
        "featurize",
        ["--overlap-s", "2.5"],
        2,
        "--overlap-s (2.5) must be at least 0 and shorter than --window-s",
    ),
    (
        "featurize",
        ["--shard", "3/2", "--out", "{tiny}/s"],
        2,
        "argument --shard: expected K/N with 0 <= K < N",
    ),
    ("featurize", ["--shard", "1/2"], 2, "--shard applies only with --out DIR"),
    ("featurize", ["--merge", "{tiny}/not_a_store"], 2, "--merge needs --out DIR"),
    ("featurize", ["--files-per-shard", "0", "--out", "{tiny}/s"], 2, "argument --files-per-shard"),
    (
        "featurize",
        ["--corpus", "csv", "--root", "{tiny}/demo", "--manifest", "{tiny}/none.csv"],
        1,
        "error: --manifest {tiny}/none.csv: no such file",
    ),
    (
        "featurize",
        ["--root", "{tiny}/demo", "--out", "{tiny}/broken.json"],
        1,
        "error: --out {tiny}/broken.json: is a file, not a folder",
    ),
    (
        "predict",
        ["--device", "bogus", "--checkpoint", "x", "a.wav"],
        2,
        "argument --device: expected cpu, cuda, cuda:N or mps, got 'bogus'",
    ),
    (
        "predict",
        ["--checkpoint", "x", "--out", "{tiny}/missing/p.csv", "a.wav"],
        1,
        "error: --out {tiny}/missing/p.csv: the folder {tiny}/missing does not exist",
    ),
    ("predict", ["--checkpoint", "x", "--out", "{tiny}/p.txt", "a.wav"], 2, "pass --format csv or json"),
    ("predict", ["--checkpoint", "{tiny}/broken.json", "a.wav"], 1, "error: "),
    ("predict", ["--checkpoint", "x", "--batch-size", "0", "a.wav"], 2, "argument --batch-size"),
    ("predict", ["--split", "seed1", "a.wav"], 2, "--split chooses within --checkpoint RUN; without"),
    ("export", ["--checkpoint", "x", "--out", "{tiny}/m.onnx", "--opset", "5"], 2, "--opset 5: choose 9 to"),
    ("export", ["--checkpoint", "x", "--out", "{tiny}"], 1, "is a folder; give a file name"),
    ("report", ["{tiny}/nowhere"], 1, "error: {tiny}/nowhere: no such run directory"),
    ("report", ["{tiny}/demo"], 1, "results.json is missing"),
    ("report", ["{tiny}/demo", "--models", "glam,"], 2, "--models 'glam,': an empty name"),
]


@pytest.mark.parametrize(
    "command, argv, code, says", MISTAKES, ids=[f"{c}:{' '.join(a)}" for c, a, _, _ in MISTAKES]
)
def test_a_mistake_is_refused_in_one_line_before_any_work(
    tiny, monkeypatch, capsys, command, argv, code, says
):
    monkeypatch.chdir(tiny)  # any default output (runs/, data/) would land here
    argv = [a.replace("{tiny}", str(tiny)) for a in argv]
    got, _, err = _run(command, argv, capsys)
    line = _one_line(err)
    assert got == code, line
    assert says.replace("{tiny}", str(tiny)) in line
    assert line.startswith("error: " if code == 1 else f"python -m glam_py.{command}: error: ")
    assert not (tiny / "runs").exists() and not (tiny / "data").exists() and not (tiny / "s").exists()


def test_cuda_asked_on_a_machine_without_it_is_refused(tiny, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    code, _, err = _run("predict", ["--device", "cuda", "--checkpoint", "x", "a.wav"], capsys)
    assert code == 2 and "argument --device: cuda: this machine has no usable CUDA GPU; use cpu" in _one_line(
        err
    )


def test_a_bug_is_one_line_naming_where_to_report_it(monkeypatch, capsys):
    def broken() -> int:
        raise KeyError("boom")

    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    assert cli.run(broken) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("internal error: KeyError: 'boom' (please report it at the glam issue tracker")
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    assert cli.run(broken) == 1
    assert "Traceback" in capsys.readouterr().err


def test_an_interrupt_is_one_line_and_says_when_rerunning_resumes(capsys):
    def interrupted() -> int:
        raise KeyboardInterrupt

    def interrupted_resumable() -> int:
        with cli.resumable():
            raise KeyboardInterrupt

    def terminated_resumable() -> int:
        with cli.resumable():
            # What SIGTERM (a scheduler's time limit) runs; the signal itself
            # is sent to a real run in the test of the train log below.
            handler = signal.getsignal(signal.SIGTERM)
            assert callable(handler), handler
            handler(signal.SIGTERM, None)
        return 0

    assert cli.run(interrupted) == 130
    assert _one_line(capsys.readouterr().err) == "interrupted"
    assert cli.run(interrupted_resumable) == 130
    assert _one_line(capsys.readouterr().err) == "interrupted; run the same command again to resume"
    before = signal.getsignal(signal.SIGTERM)
    assert cli.run(terminated_resumable) == 143
    assert _one_line(capsys.readouterr().err) == "terminated; run the same command again to resume"
    assert signal.getsignal(signal.SIGTERM) is before  # put back once the command ends


def _broken_manifest(tiny: Path, tmp_path: Path) -> Path:
    rows = list(csv.DictReader((tiny / "demo" / "manifest.csv").open()))[:3]
    (tmp_path / "wav").mkdir()
    for row in rows:
        shutil.copy(tiny / "demo" / row["path"], tmp_path / row["path"])
    (tmp_path / "wav" / "broken.wav").write_bytes(b"RIFF....WAVEfmt ")
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="") as f:  # EmoDB's own manifest names its labels "emotion"
        writer = csv.writer(f)
        writer.writerow(["file", "emotion", "speaker"])
        writer.writerows(
            [(r["path"], r["label"], r["speaker"]) for r in rows] + [("wav/broken.wav", "sad", "x")]
        )
    return manifest


def test_strict_says_why_it_fails_and_columns_can_be_named(tiny, tmp_path, capsys):
    _broken_manifest(tiny, tmp_path)
    base = ["--corpus", "csv", "--root", str(tmp_path), "--threads", "2"]
    code, _, err = _run("featurize", base, capsys)
    assert code == 1 and "no column path or label" in _one_line(err) and "--label-column" in err
    named = base + ["--path-column", "file", "--label-column", "emotion", "--pad", "tile"]
    code, out, err = _run("featurize", named, capsys)
    assert code == 0 and "files: 4 (3 read, 1 unreadable)" in out and "skipped" in err
    code, out, err = _run("featurize", named + ["--strict"], capsys)
    assert (
        code == 1
        and err.strip().splitlines()[-1] == "error: 1 file could not be read (--strict); listed above"
    )
    store = tmp_path / "store"
    code, out, err = _run("featurize", named + ["--strict", "--out", str(store)], capsys)
    assert code == 1 and "wrote 1 shard (0 were already there) of 1; complete" in out
    progress, last = err.strip().splitlines()
    assert last == f"error: 1 file could not be read (--strict); see {store}/skipped.csv"
    # Progress in a log: plain lines with count, rate and ETA, not bars.
    assert re.fullmatch(r"featurising part 0/1: 4/4 files \(100%\), [\d.]+ files/s, ETA 00:00, .*", progress)
    assert "\r" not in err and not ANSI.search(err + out)
    # The same folder with other classes: the difference named, no Python dict.
    code, _, err = _run("featurize", named + ["--out", str(store), "--labels", "sad,angry,happy"], capsys)
    line = _one_line(err)
    assert code == 1 and "holds a store written with other settings" in line and "{" not in line


def test_results_show_plus_minus_only_for_several_splits():
    one = {"mean": 50.0, "std": 0.0}
    results = {
        "title": "t",
        "models": {
            "glam": {"splits": [{}], "summary": {m: one for m in tables.METRICS}},
            "apcnn": {"splits": [{}, {}], "summary": {m: one for m in tables.METRICS}},
        },
    }
    glam, apcnn = tables.markdown(results).splitlines()[-2:]
    assert "| 50.00 |" in glam and "±" not in glam and "+-" not in glam
    assert "50.00 ± 0.00" in apcnn


def test_help_shows_each_default_once_and_the_same_shared_flags(capsys):
    helps = {}
    for name, module in COMMANDS.items():
        parser = module.build_parser()
        for action in parser._actions:
            text = action.help or ""
            assert (
                text.lower().count("default:") <= 1
                and "(default: None)" not in text
                and "(default: False)" not in text
            ), (name, action.option_strings)
        with pytest.raises(SystemExit):
            module.main(["--help"])
        helps[name] = capsys.readouterr().out
        assert "``" not in helps[name] and "--quiet" in helps[name]
        assert "--output FILE" not in helps[name]
        flags = {a.option_strings[0]: a.help for a in parser._actions if a.option_strings}
        if "--threads" in flags:
            assert "at least 1" in flags["--threads"]
    assert "With no arguments: GLAM on the built-in synthetic demo corpus" in helps["train"]
    assert "--out FILE" in helps["predict"] and "--models MODELS" in helps["report"]


def _python(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    env = {**(env or os.environ), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop(cli.DEBUG_ENV, None)
    return subprocess.Popen([sys.executable, "-m", *args], env=env, text=True, **kwargs)


def test_real_processes_exit_with_one_line_and_no_traceback(tiny, tmp_path):
    for argv, code in (
        (["glam_py.train", "--alpha", "abc"], 2),
        (["glam_py.featurize", "--corpus", "csv", "--root", str(tmp_path / "none")], 1),
    ):
        p = _python(*argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = p.communicate(timeout=120)
        assert p.returncode == code and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_a_file_the_decoder_panics_on_is_its_error_and_prints_no_panic(tmp_path):
    bad = tmp_path / "panics.ogg"
    bad.write_bytes(vorbis_panicking_on_setup())
    error = f"{bad}: malformed audio data (the decoder gave up on it)"
    # RUST_BACKTRACE=1: Rust's default panic hook would print the panic and a trace.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "RUST_BACKTRACE": "1"}
    api = (
        "import sys\n"
        "from glam_py import features\n"
        "try:\n"
        "    features.load(sys.argv[1])\n"
        "except features.AudioDecodeError as e:\n"
        "    print(e)\n"
        "print(features.featurize([sys.argv[1]]).errors[0].message)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", api, str(bad)], env=env, capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{error}\n{error}\n", "")
    p = _python(
        "glam_py.predict", str(bad), "--quiet", stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    out, err = p.communicate(timeout=300)
    assert f"error: {error}" in out and err == "1 utterance: 1 error\n", err


def test_a_train_log_has_one_plain_line_per_epoch_and_ctrl_c_or_sigterm_says_how_to_resume(tiny, tmp_path):
    common = [
        "glam_py.train",
        "--preset",
        "paper",
        "--corpus",
        "csv",
        "--root",
        str(tiny / "demo"),
        "--models",
        "apcnn",
        "--threads",
        "2",
        "--pad",
        "tile",
        "--no-report",
        "--cache",
        str(tmp_path / "cache"),
    ]
    log = tmp_path / "train.log"
    with log.open("w") as f:
        p = _python(
            *common, "--epochs", "2", "--out", str(tmp_path / "run"), stdout=f, stderr=subprocess.STDOUT
        )
        assert p.wait(timeout=300) == 0
    text = log.read_text()
    assert "\r" not in text and not ANSI.search(text)
    epochs = [line for line in text.splitlines() if re.match(r"apcnn seed1 epoch \d/2: loss", line)]
    assert len(epochs) == 2 and "windows/s, ETA" in epochs[0], text
    # The features are cached now, so the next run is training at once.
    # Ctrl-C stops it; SIGTERM (a scheduler's time limit) stops its resumed run the same way.
    for sent, code, word in ((signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")):
        p = _python(
            *common,
            "--epochs",
            "200",
            "--out",
            str(tmp_path / "long"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 240
        while " epoch " not in p.stdout.readline():
            assert time.monotonic() < deadline and p.poll() is None
        p.send_signal(sent)
        _, err = p.communicate(timeout=60)
        assert p.returncode == code
        assert _one_line(err) == f"{word}; run the same command again to resume"
