"""Corpus readers on small fake trees that mimic each corpus's published
layout and label files exactly (the corpora themselves are licensed), plus
the real EmoDB where it is present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from glam_py import corpora
from glam_py.audio_inputs import expand
from glam_py.corpora import LayoutError


def touch(root: Path, *relative: str) -> None:
    for rel in relative:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")


def labels(utterances) -> dict[str, str]:
    return {u.utterance_id: u.label for u in utterances}


IEMOCAP_EVAL = """% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]

[6.2901 - 8.2357]\t{d}_F000\tneu\t[2.5000, 2.5000, 2.5000]
C-E2:\tNeutral;\t()
A-E3:\tval 3; act 2; dom  2;\t()

[10.0100 - 11.3925]\t{d}_F001\thap\t[4.0000, 3.5000, 2.0000]

[14.8872 - 18.0175]\t{d}_M000\texc\t[3.0000, 3.5000, 3.5000]

[19.2900 - 20.7875]\t{d}_M001\tfru\t[2.0000, 3.5000, 3.5000]

[21.0000 - 23.0000]\t{d}_M002\tsad\t[1.5000, 2.0000, 2.0000]
"""


@pytest.fixture
def iemocap(tmp_path):
    for n, dialog in [(1, "Ses01F_impro01"), (1, "Ses01F_script01_1"), (2, "Ses02M_impro03")]:
        session = tmp_path / f"Session{n}"
        (session / "dialog" / "EmoEvaluation").mkdir(parents=True, exist_ok=True)
        (session / "dialog" / "EmoEvaluation" / f"{dialog}.txt").write_text(IEMOCAP_EVAL.format(d=dialog))
        for utt in ("F000", "F001", "M000", "M001", "M002"):
            if (n, dialog, utt) != (2, "Ses02M_impro03", "M002"):  # one missing audio file
                touch(session, f"sentences/wav/{dialog}/{dialog}_{utt}.wav")
    return tmp_path


def test_iemocap_labels_speakers_sessions_and_subsets(iemocap):
    utterances, skipped = corpora.read_corpus("iemocap", iemocap)
    assert len(utterances) == 14
    assert [s.path.name for s in skipped] == ["Ses02M_impro03_M002.wav"]
    got = labels(utterances)
    assert got["Ses01F_impro01_F000"] == "neutral"
    assert got["Ses01F_impro01_M000"] == "excited"
    by_id = {u.utterance_id: u for u in utterances}
    assert by_id["Ses01F_impro01_M001"].speaker == "Ses01M"
    assert by_id["Ses02M_impro03_F000"].speaker == "Ses02F"
    assert by_id["Ses02M_impro03_F000"].session == "Session2"
    assert {u.speaker for u in utterances} == {"Ses01F", "Ses01M", "Ses02F", "Ses02M"}
    impro, _ = corpora.read_corpus("iemocap", iemocap, subset="impro")
    script, _ = corpora.read_corpus("iemocap", iemocap, subset="script")
    assert {u.subset for u in impro} == {"impro"} and len(impro) == 9
    assert {u.subset for u in script} == {"script"} and len(script) == 5


def test_iemocap_happy_merge_and_authors_mapping(iemocap):
    utterances, _ = corpora.read_corpus("iemocap", iemocap, subset="impro")
    merged, dropped = corpora.apply_label_map(utterances, corpora.default_label_map("iemocap"))
    assert labels(merged)["Ses01F_impro01_F001"] == "happy"
    assert labels(merged)["Ses01F_impro01_M000"] == "happy"
    assert all("frustrated" in s.reason for s in dropped)
    authors, dropped = corpora.apply_label_map(
        utterances, corpora.default_label_map("iemocap", iemocap_happy="authors")
    )
    assert "Ses01F_impro01_F001" not in labels(authors)  # "hap" itself is dropped
    assert labels(authors)["Ses01F_impro01_M000"] == "happy"
    for happy in ("merge", "authors"):
        corpus = corpora.load("iemocap", iemocap, subset="impro", iemocap_happy=happy)
        assert corpus.classes == ["neutral", "happy", "sad"]  # the paper's order; no angry here


def test_train_takes_iemocap_happy_and_caches_each_mapping_apart(iemocap):
    from glam_py.train.__main__ import build_parser
    from glam_py.train.run import CorpusSource

    args = build_parser().parse_args(
        ["--corpus", "iemocap", "--root", str(iemocap), "--subset", "impro", "--iemocap-happy", "authors"]
    )
    sources = {
        happy: CorpusSource("iemocap", iemocap, "impro", iemocap_happy=happy)
        for happy in ("merge", args.iemocap_happy)
    }
    assert "Ses01F_impro01_F001" not in labels(sources["authors"].load().utterances)
    assert "Ses01F_impro01_F001" in labels(sources["merge"].load().utterances)
    assert sources["merge"].fingerprint() != sources["authors"].fingerprint()


def test_iemocap_layout_errors_say_what_was_expected(tmp_path):
    with pytest.raises(LayoutError, match=r"expected ROOT/Session1 \.\.\. ROOT/Session5; found .* is empty"):
        corpora.read_corpus("iemocap", tmp_path)
    (tmp_path / "Session1").mkdir()
    with pytest.raises(LayoutError, match="EmoEvaluation"):
        corpora.read_corpus("iemocap", tmp_path)


@pytest.mark.parametrize(
    "corpus,files,expected",
    [
        (
            "emodb",
            ["wav/03a01Fa.wav", "wav/16b10Wb.wav", "wav/notes.wav"],
            {"03a01Fa": ("happy", "emodb03"), "16b10Wb": ("angry", "emodb16")},
        ),
        (
            "ravdess",
            [
                "Actor_01/03-01-05-01-02-01-01.wav",
                "Actor_12/03-01-03-02-01-02-12.wav",
                "Actor_12/01-01-03-02-01-02-12.wav",
                "Actor_12/03-02-03-02-01-02-12.wav",
            ],
            {"03-01-05-01-02-01-01": ("angry", "ravdess01"), "03-01-03-02-01-02-12": ("happy", "ravdess12")},
        ),
        (
            "cremad",
            ["AudioWAV/1001_DFA_ANG_XX.wav", "AudioWAV/1091_IEO_SAD_HI.wav"],
            {"1001_DFA_ANG_XX": ("angry", "cremad1001"), "1091_IEO_SAD_HI": ("sad", "cremad1091")},
        ),
        (
            "tess",
            [
                "OAF_angry/OAF_back_angry.wav",
                "YAF_pleasant_surprise/YAF_dog_ps.wav",
                "OAF_neutral/OAF_youth_neutral.wav",
            ],
            {
                "OAF_back_angry": ("angry", "tessOAF"),
                "YAF_dog_ps": ("surprise", "tessYAF"),
                "OAF_youth_neutral": ("neutral", "tessOAF"),
            },
        ),
        (
            "savee",
            ["AudioData/DC/a01.wav", "AudioData/KL/sa15.wav", "AudioData/JE/su03.wav"],
            {
                "DC_a01": ("angry", "saveeDC"),
                "KL_sa15": ("sad", "saveeKL"),
                "JE_su03": ("surprise", "saveeJE"),
            },
        ),
        (
            "savee",
            ["ALL/JK_n30.wav", "ALL/DC_h02.wav"],
            {"JK_n30": ("neutral", "saveeJK"), "DC_h02": ("happy", "saveeDC")},
        ),
        ("folders", ["angry/x1.wav", "sad/y.flac"], {"x1": ("angry", None), "y": ("sad", None)}),
    ],
)
def test_file_name_corpora(tmp_path, corpus, files, expected):
    touch(tmp_path, *files)
    utterances, skipped = corpora.read_corpus(corpus, tmp_path)
    assert {u.utterance_id: (u.label, u.speaker) for u in utterances} == expected
    assert len(skipped) == len(files) - len(expected)
    assert all(s.reason for s in skipped)


@pytest.mark.parametrize(
    "corpus,needle",
    [
        ("emodb", r"expected ROOT/wav/<speaker><text><emotion><version>\.wav"),
        ("ravdess", "ROOT/Actor_NN"),
        ("cremad", "AudioWAV"),
        ("tess", "OAF_back_angry"),
        ("savee", "DC, JE, JK, KL"),
        ("folders", "ROOT/<label>"),
    ],
)
def test_wrong_trees_say_what_was_expected_and_found(tmp_path, corpus, needle):
    touch(tmp_path, "thing.wav")  # audio, but in no layout of any corpus
    with pytest.raises(LayoutError, match=needle):
        corpora.read_corpus(corpus, tmp_path)


def test_csv_manifest_and_label_maps(tmp_path):
    touch(tmp_path, "a/1.wav", "a/2.wav")
    (tmp_path / "manifest.csv").write_text("path,label,speaker\na/1.wav,ang,s1\na/2.wav,bored,s2\n")
    utterances, _ = corpora.read_corpus("csv", tmp_path)
    assert utterances[0].path == tmp_path / "a" / "1.wav" and utterances[0].speaker == "s1"
    kept, dropped = corpora.apply_label_map(utterances, corpora.parse_label_map("ang:angry,neutral"))
    assert [u.label for u in kept] == ["angry"]
    assert "bored" in dropped[0].reason
    (tmp_path / "bad.csv").write_text("file,emotion\nx.wav,sad\n")
    with pytest.raises(LayoutError, match="expected columns path,label"):
        corpora.read_corpus("csv", tmp_path, manifest=tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="unknown corpus 'timit'"):
        corpora.read_corpus("timit", tmp_path)
    (tmp_path / "actors.csv").write_text("path,label,actor\na/1.wav,ang,s1\n")
    named = corpora.read_corpus("csv", tmp_path, manifest=tmp_path / "actors.csv", speaker_column="actor")
    assert named[0][0].speaker == "s1"
    assert corpora.read_corpus("csv", tmp_path, manifest=tmp_path / "actors.csv")[0][0].speaker is None
    with pytest.raises(LayoutError, match="no column speaker .*--speaker-column"):
        corpora.read_corpus("csv", tmp_path, manifest=tmp_path / "actors.csv", speaker_column="speaker")


def test_a_manifest_from_a_spreadsheet_reads_and_a_foreign_one_is_one_line(tmp_path):
    touch(tmp_path, "1.wav", "2.wav")
    manifest = tmp_path / "manifest.csv"
    # Excel's "CSV UTF-8" starts with a byte-order mark.
    manifest.write_bytes("path,label\n1.wav,fröhlich\n2.wav,sad\n".encode("utf-8-sig"))
    assert [u.label for u in corpora.read_manifest(manifest)] == ["fröhlich", "sad"]
    assert [i.reference for i in expand([manifest])] == ["fröhlich", "sad"]
    manifest.write_bytes("path,label\n1.wav,sad\n2.wav,fröhlich\n".encode("latin-1"))
    for read in (corpora.read_manifest, lambda m: expand([m])):
        with pytest.raises(
            LayoutError, match=r"manifest.csv:3: not UTF-8 text \(byte 0xf6\); save the file as UTF-8"
        ):
            read(manifest)
    # Blank lines do not shift the line named.
    manifest.write_text("path,label\n\n1.wav,sad\n\n2.wav,\n")
    with pytest.raises(LayoutError, match="manifest.csv:5: empty path or label"):
        corpora.read_manifest(manifest)
    manifest.write_text("path,label\n1.wav," + "x" * 200_000 + "\n")
    with pytest.raises(LayoutError, match="manifest.csv:2: not a CSV row"):
        corpora.read_manifest(manifest)


def test_a_file_name_that_is_not_utf8_is_refused_once_naming_it(tmp_path):
    touch(tmp_path, "happy/ok.wav", "sad/ok.wav")
    # A Latin-1 name, as old corpora copied onto Linux have them.
    (Path(os.fsdecode(os.fsencode(tmp_path / "sad") + b"/f\xf6o.wav"))).write_bytes(b"RIFF")
    with pytest.raises(LayoutError, match=r"sad/f\\xf6o\.wav: the file name is not UTF-8; rename it"):
        corpora.load("folders", tmp_path)


def test_class_order_is_the_label_maps_else_first_appearance(tmp_path):
    touch(tmp_path, "1.wav", "2.wav", "3.wav")
    (tmp_path / "manifest.csv").write_text("path,label\n1.wav,sad\n2.wav,ang\n3.wav,sad\n")
    assert corpora.load("csv", tmp_path).classes == ["sad", "ang"]
    mapped = corpora.load("csv", tmp_path, labels=corpora.parse_label_map("neutral,ang:angry,sad"))
    assert mapped.classes == ["angry", "sad"]  # the map's order; neutral absent
    assert [u.label for u in mapped.utterances] == ["sad", "angry", "sad"]


def test_real_emodb_has_the_papers_339_four_class_utterances(emodb_files):
    root = emodb_files[0].parent.parent
    utterances, skipped = corpora.read_corpus("emodb", root)
    assert len(utterances) == 535 and not skipped
    kept, _ = corpora.apply_label_map(utterances, corpora.default_label_map("emodb"))
    assert len(kept) == 339
    assert len({u.speaker for u in kept}) == 10
    corpus = corpora.load("emodb", root)
    assert corpus.classes == ["neutral", "happy", "sad", "angry"]  # the paper's order
    assert len(corpus.utterances) == 339 and len(corpus.left_out) == 535 - 339


def test_a_listing_costs_little_memory_per_file(tmp_path):
    """featurize holds the listing for the whole run: 100,000 files must not
    cost more than ~30 MB of it (a Path and a dict per file cost twice that)."""
    import tracemalloc

    from glam_py.corpora.utterance import Utterance

    labels = ("neutral", "happy", "sad", "angry")
    tracemalloc.start()
    # Paths as strings, as readers hand them over once os.fspath'd, so that
    # pathlib's own caches stay out of the count.
    listing = [
        Utterance(f"{tmp_path}/w{i // 1000:03d}/f{i:06d}.wav", labels[i % 4] + "", f"s{i % 10}", f"f{i:06d}")
        for i in range(10_000)
    ]
    per_file = tracemalloc.get_traced_memory()[0] / len(listing)
    tracemalloc.stop()
    assert per_file < 300 + len(str(tmp_path)), per_file
    assert listing[5].path == tmp_path / "w000" / "f000005.wav"
    assert listing[5].label is listing[1].label
