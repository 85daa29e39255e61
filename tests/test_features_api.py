"""The Python API of the frontend: configuration, windows, batches,
streaming, errors and the zero-copy hand-over."""

from __future__ import annotations

import _thread
import copy
import functools
import json
import pickle
import threading
import time
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from glam_py import features
from glam_py.features import AudioDecodeError, FeatureConfig


def write(path, y, sr=16000, subtype="PCM_16"):
    sf.write(path, y, sr, subtype=subtype)
    return path


def tone(seconds, sr=16000, freq=220.0):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t * (1 + 0.2 * t))).astype(np.float32)


def test_config_defaults_are_the_papers_test_setting():
    cfg = FeatureConfig()
    assert (cfg.sample_rate, cfg.n_mfcc, cfg.window_s, cfg.overlap_s, cfg.pad, cfg.pad_mode) == (
        16000,
        26,
        2.0,
        1.6,
        "drop",
        "constant",
    )
    assert (cfg.window_length, cfg.window_hop, cfg.n_frames, cfg.n_features) == (32000, 6400, 63, 26)
    assert FeatureConfig(window_s=1.8).n_frames == 57


def test_config_json_round_trip_and_differences():
    cfg = FeatureConfig(pad="tile", overlap_s=1.0, fmax=7600.0)
    again = FeatureConfig.from_json(cfg.to_json())
    assert again == cfg
    assert json.loads(cfg.to_json())["pad"] == "tile"
    assert FeatureConfig().differences(cfg) == {
        "pad": ("drop", "tile"),
        "overlap_s": (1.6, 1.0),
        "fmax": (None, 7600.0),
    }


@pytest.mark.parametrize(
    "bad,needle",
    [
        (dict(n_mfcc=200), "n_mfcc"),
        (dict(overlap_s=2.0), "overlap_s"),
        (dict(pad="mirror"), "unknown variant"),
        (dict(fmax=9000.0), "fmax"),
        (dict(window_s=0.0), "window_s"),
    ],
)
def test_bad_configs_are_rejected_with_the_reason(bad, needle):
    with pytest.raises(ValueError, match=needle):
        FeatureConfig(**bad)
    with pytest.raises(ValueError, match="unknown FeatureConfig fields"):
        FeatureConfig.from_dict({"hop": 3})


def test_config_is_the_rust_struct_with_a_python_face():
    cfg = FeatureConfig(pad="tile", fmax=7600.0)
    assert type(cfg).__module__ == "glam_py._mfcc_rs"
    assert repr(FeatureConfig()).startswith(
        "FeatureConfig(sample_rate=16000, n_mfcc=26, n_mels=128, n_fft=2048, hop_length=512, "
        "fmin=0.0, fmax=None, mel_scale='slaney', "
    )
    assert eval(repr(cfg), {"FeatureConfig": FeatureConfig}) == cfg
    assert list(cfg.to_dict()) == [f["name"] for f in FeatureConfig.fields()]
    assert FeatureConfig.from_dict({"window_s": 1.8}) == FeatureConfig(window_s=1.8)
    assert FeatureConfig(window_s=2) == FeatureConfig() and FeatureConfig(window_s=2).window_s == 2.0
    assert cfg.replace(pad="drop", fmax=None) == FeatureConfig() != cfg
    assert cfg != "not a config"
    with pytest.raises(AttributeError):
        cfg.pad = "zero"
    # Hashable: a dict key and an lru_cache argument; equal configs hash alike.
    assert {FeatureConfig(): 1}[FeatureConfig(fmin=-0.0)] == 1
    calls = []

    @functools.cache
    def cached(c):
        calls.append(c)
        return c.n_frames

    assert cached(FeatureConfig()) == cached(FeatureConfig()) == 63 and len(calls) == 1
    for again in (pickle.loads(pickle.dumps(cfg)), copy.deepcopy(cfg), copy.copy(cfg)):
        assert again == cfg and hash(again) == hash(cfg)


def test_config_sizes_round_like_rust():
    # 2.5 samples: Python's round() (half to even) would say 2, the Rust
    # segmenter cuts 3; the properties are the Rust methods.
    cfg = FeatureConfig(
        sample_rate=2, window_s=1.25, overlap_s=0.0, n_fft=2, hop_length=1, n_mels=1, n_mfcc=1
    )
    assert (cfg.window_length, cfg.window_hop) == (3, 3)


def test_config_fields_describe_every_setting():
    specs = FeatureConfig.fields()
    assert [f["name"] for f in specs] == list(FeatureConfig().to_dict())
    by_name = {f["name"]: f for f in specs}
    assert by_name["n_mfcc"] == {
        "name": "n_mfcc",
        "type": "int",
        "optional": False,
        "default": 26,
        "choices": None,
        "help": by_name["n_mfcc"]["help"],
    }
    assert by_name["overlap_s"]["help"] == (
        "overlap of consecutive windows in seconds; must be shorter than --window-s"
    )
    assert by_name["pad"]["choices"] == ["drop", "tile", "zero", "repeat"]
    assert [f["name"] for f in specs if f["optional"]] == ["fmax", "top_db"]
    for f in specs:
        assert set(f) == {"name", "type", "optional", "default", "choices", "help"}
        assert f["default"] == getattr(FeatureConfig(), f["name"])
        str_typed = f["choices"] or isinstance(f["default"], str)
        assert f["type"] == ("str" if str_typed else type(f["default"] or 0.0).__name__)
        assert f["help"]


def test_config_type_errors_name_the_field():
    with pytest.raises(ValueError, match="window_s: invalid type: string"):
        FeatureConfig(window_s="2")
    with pytest.raises(ValueError, match="n_mfcc: invalid type: floating point"):
        FeatureConfig(n_mfcc=20.5)
    with pytest.raises(ValueError, match=r"top_db \(NaN\) must be a finite number"):
        FeatureConfig(top_db=float("nan"))
    with pytest.raises(ValueError, match="unknown FeatureConfig fields: hop, x"):
        FeatureConfig().replace(hop=3, x=1)
    with pytest.raises(TypeError):
        FeatureConfig(16000)
    assert FeatureConfig(n_mfcc=np.int64(20), window_s=np.float32(2.5)).n_mfcc == 20


def test_sr_is_the_rate_of_the_signal():
    y22 = tone(3.0, sr=22050)
    at16 = features.resample(y22, 22050, 16000)
    np.testing.assert_array_equal(features.mfcc(y22, 22050), features.mfcc(at16))
    np.testing.assert_array_equal(features.mfcc(y22, 22050), features.mfcc(at16, 16000))
    w, _ = features.featurize_signal(y22, 22050)
    np.testing.assert_array_equal(w, features.featurize_signal(at16)[0])
    # A 22.05 kHz configuration takes the signal as it is.
    cfg = FeatureConfig(sample_rate=22050)
    assert features.mfcc(y22, 22050, cfg).shape == (26, 1 + y22.size // 512)


def test_windows_follow_length_and_overlap():
    y = tone(5.0)
    for window_s, overlap_s, expected in [(2.0, 1.6, 8), (2.0, 1.0, 4), (1.8, 1.6, 17)]:
        cfg = FeatureConfig(window_s=window_s, overlap_s=overlap_s)
        windows, note = features.featurize_signal(y, 16000, cfg)
        assert windows.shape == (expected, 26, cfg.n_frames)
        assert windows.dtype == np.float32 and note is None
        # Each window is the MFCC of its own slice of the signal.
        start = cfg.window_hop * (expected - 1)
        np.testing.assert_array_equal(
            windows[-1], features.mfcc(y[start : start + cfg.window_length], 16000, cfg)
        )


def test_short_utterances_drop_tile_or_zero():
    y = tone(1.3)
    dropped, note = features.featurize_signal(y, 16000, FeatureConfig())
    assert dropped.shape == (0, 26, 63) and "dropped" in note
    tiled, note = features.featurize_signal(y, 16000, FeatureConfig(pad="tile"))
    assert tiled.shape == (1, 26, 63) and "tiled" in note
    expected = np.resize(y, 32000)  # numpy's resize repeats the signal
    np.testing.assert_array_equal(tiled[0], features.mfcc(expected))
    zeroed, _ = features.featurize_signal(y, 16000, FeatureConfig(pad="zero"))
    padded = np.concatenate([y, np.zeros(32000 - y.size, np.float32)])
    np.testing.assert_array_equal(zeroed[0], features.mfcc(padded))


def test_repeat_padding_is_the_authors_whole_copies_then_windows():
    # The authors' segment(): ceil(window / length) whole copies, then every
    # full window at the hop. 1.5 s twice is 3 s: two training windows at a
    # 1 s hop, three test windows at a 0.4 s hop.
    y = tone(1.5)
    twice = np.concatenate([y, y])
    for overlap_s, starts in [(1.0, [0, 16000]), (1.6, [0, 6400, 12800])]:
        w, note = features.featurize_signal(y, 16000, FeatureConfig(pad="repeat", overlap_s=overlap_s))
        assert "repeated whole" in note and len(w) == len(starts)
        for window, start in zip(w, starts):
            np.testing.assert_array_equal(window, features.mfcc(twice[start : start + 32000]))
    long_enough, note = features.featurize_signal(tone(2.5), 16000, FeatureConfig(pad="repeat"))
    assert note is None and len(long_enough) == 2


def test_featurize_files_reports_bad_files_and_keeps_the_rest(tmp_path):
    good = [write(tmp_path / f"g{i}.wav", tone(2.5 + i)) for i in range(3)]
    short = write(tmp_path / "short.wav", tone(1.0))
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not audio at all" * 10)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    paths = [good[0], tmp_path / "missing.wav", good[1], garbage, short, tmp_path, empty, good[2]]
    batch = features.featurize(paths, FeatureConfig(), threads=2)
    n = [f.n_windows for f in batch.files]
    assert n == [2, 0, 4, 0, 0, 0, 0, 7]
    assert batch.windows.shape == (13, 26, 63)
    np.testing.assert_array_equal(batch.file_index, [0] * 2 + [2] * 4 + [7] * 7)
    errors = {e.path: e for e in batch.errors}
    assert set(errors) == {str(p) for p in [tmp_path / "missing.wav", garbage, tmp_path, empty]}
    for e in batch.errors:
        assert e.path in e.message
    assert errors[str(tmp_path / "missing.wav")].kind == "io"
    assert errors[str(garbage)].kind == "decode"
    assert batch.files[4].error is None and "dropped" in batch.files[4].note
    assert batch.files[0].sample_rate == 16000 and batch.files[0].duration_s == pytest.approx(2.5)
    # Each file's windows are exactly what featurising it alone gives.
    alone, _ = features.featurize_signal(features.load(good[1]), 16000)
    np.testing.assert_array_equal(batch.windows[batch.file_index == 2], alone)


def test_files_in_memory_featurise_as_the_same_files_on_disk(tmp_path):
    wav = write(tmp_path / "a.wav", tone(3.1, sr=22050), sr=22050)
    flac = write(tmp_path / "b.flac", tone(2.7))
    on_disk = features.featurize([wav, flac], FeatureConfig(speed=1.1), threads=2)
    names = ["rows.arrow#audio/0", "rows.arrow#audio/1", "rows.arrow#audio/2", str(flac)]
    data = [wav.read_bytes(), flac.read_bytes(), b"RIFF but not audio", None]
    batch = features.featurize(names, FeatureConfig(speed=1.1), threads=2, data=data)
    assert [f.path for f in batch.files] == names
    for k, info in enumerate(on_disk.files):
        got = batch.files[k]
        assert (got.n_windows, got.duration_s, got.sample_rate) == (
            info.n_windows,
            info.duration_s,
            info.sample_rate,
        )
        np.testing.assert_array_equal(
            batch.windows[batch.file_index == k], on_disk.windows[on_disk.file_index == k]
        )
    assert batch.files[2].error.startswith("rows.arrow#audio/2: ") and batch.errors[0].kind == "decode"
    np.testing.assert_array_equal(
        batch.windows[batch.file_index == 3], on_disk.windows[on_disk.file_index == 1]
    )
    with pytest.raises(
        ValueError, match=r"1 data entries for 4 paths: give one per path \(None to read the file\)"
    ):
        features.featurize(names, data=[None])


def test_batches_are_typed():
    batch = features.featurize([], FeatureConfig(output="log_mel"))
    assert isinstance(batch, features.FeatureBatch) and len(batch) == 0
    assert batch.windows.shape == (0, 128, 63) and batch.file_index.dtype == np.int64
    assert batch.files == [] and batch.errors == [] and batch.first_file == 0


def _interrupt_after(seconds):
    timer = threading.Timer(seconds, _thread.interrupt_main)
    timer.start()
    return timer


@pytest.mark.parametrize("streaming", [False, True])
def test_ctrl_c_stops_a_long_featurisation(tmp_path, streaming):
    # Thousands of 10 s files take minutes; Ctrl-C after 0.3 s must stop it.
    path = write(tmp_path / "long.wav", tone(10.0))
    paths = [path] * 5000
    start = time.perf_counter()
    timer = _interrupt_after(0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            if streaming:
                next(iter(features.iter_featurize(paths, threads=1, files_per_chunk=5000)))
            else:
                features.featurize(paths, threads=1)
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 1.5
    # The reused pool still works.
    assert len(features.featurize([path] * 3, threads=1)) == 3 * 21


def test_single_file_errors_are_python_exceptions_naming_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        features.load(tmp_path / "nope.wav")
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        features.load(tmp_path)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(AudioDecodeError, match="bad.wav"):
        features.load(bad)
    assert issubclass(AudioDecodeError, ValueError)
    with pytest.raises(ValueError, match="NaN"):
        features.mfcc(np.array([0.0, np.nan, 1.0], np.float32))


def test_nan_samples_in_a_float_file_are_an_error_entry(tmp_path):
    y = tone(3.0)
    y[1000] = np.nan
    path = write(tmp_path / "nan.wav", y, subtype="FLOAT")
    batch = features.featurize([path, write(tmp_path / "ok.wav", tone(3.0))])
    assert [e.path for e in batch.errors] == [str(path)]
    assert "NaN" in batch.errors[0].message
    assert batch.windows.shape[0] == 3


def test_streaming_equals_one_batch(tmp_path):
    paths = [write(tmp_path / f"{i}.wav", tone(1.5 + 0.7 * i, freq=100 + 30 * i)) for i in range(9)]
    paths.insert(4, tmp_path / "missing.wav")
    cfg = FeatureConfig(pad="tile")
    whole = features.featurize(paths, cfg, threads=1)
    chunks = list(features.iter_featurize(paths, cfg, threads=2, files_per_chunk=3))
    assert [c.first_file for c in chunks] == [0, 3, 6, 9]
    np.testing.assert_array_equal(np.concatenate([c.windows for c in chunks]), whole.windows)
    np.testing.assert_array_equal(np.concatenate([c.file_index for c in chunks]), whole.file_index)
    assert [f for c in chunks for f in c.files] == whole.files
    assert [e for c in chunks for e in c.errors] == whole.errors


def test_arrays_are_handed_over_without_a_copy(tmp_path):
    paths = [write(tmp_path / f"{i}.wav", tone(12.0, freq=150 + i)) for i in range(8)]
    tracemalloc.start()
    batch = features.featurize(paths, FeatureConfig(), threads=2)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    windows = batch.windows
    # numpy does not own the buffer: its base is the Rust container that
    # filled it, not another numpy array.
    assert not windows.flags.owndata
    assert type(windows.base).__name__ == "PySliceContainer"
    assert windows.flags.c_contiguous and windows.flags.writeable
    # Python's allocator never held a copy of the 1.5 MB of windows.
    assert windows.nbytes > 1_000_000
    assert peak < windows.nbytes / 4, (peak, windows.nbytes)
    for arr in (batch.file_index, features.load(paths[0]), features.mfcc(tone(1.0))):
        assert type(arr.base).__name__ == "PySliceContainer"


def test_load_matches_soundfile_for_16_khz_pcm(tmp_path):
    y = tone(1.0)
    path = write(tmp_path / "a.wav", y)
    expected, _ = sf.read(path, dtype="float32")
    np.testing.assert_array_equal(features.load(path), expected)
    stereo = np.stack([y, -0.5 * y], axis=1)
    path = write(tmp_path / "st.wav", stereo)
    expected, _ = sf.read(path, dtype="float32")
    np.testing.assert_array_equal(features.load(path), expected.mean(axis=1, dtype=np.float32))


@pytest.mark.parametrize(
    "fmt,subtype",
    [
        ("FLAC", "PCM_16"),
        ("FLAC", "PCM_24"),
        ("WAV", "PCM_24"),
        ("WAV", "PCM_U8"),
        ("WAV", "DOUBLE"),
        ("WAV", "PCM_32"),
    ],
)
def test_formats_decode_like_soundfile(tmp_path, fmt, subtype):
    y = np.stack([tone(0.5), tone(0.5, freq=330.0)], axis=1) * 0.9
    path = tmp_path / f"a.{fmt.lower()}"
    sf.write(path, y, 16000, format=fmt, subtype=subtype)
    expected, _ = sf.read(path, dtype="float32")
    np.testing.assert_array_equal(features.load(path), expected.mean(axis=1, dtype=np.float32))
