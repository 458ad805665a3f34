"""The broad training corpus's manifest: disjoint from the held-out set, licensed, of the stated size and mix."""

from __future__ import annotations

import pytest

from percloss import data


def test_the_corpus_is_disjoint_from_the_held_out_set_by_recording() -> None:
    corpus, held = data.training_corpus_manifest(), data.heldout_manifest()
    held_sources = {info["source"].split(": ", 1)[1] for info in held.values()}
    for name, info in corpus.items():
        where = info["source"].split(": ", 1)[1]
        assert where not in held_sources, name
        # nothing the package derives from a held-out recording (Warzone 2100's enhanced and menu tracks)
        assert "enhanced" not in where and "/menu" not in where and "original_soundtrack" not in where, name
        assert not any(info["artist"] == h["artist"] and info["file"] == h["file"] for h in held.values())
    assert not set(corpus) & set(held)


def test_the_corpus_has_the_stated_size_sources_and_licences() -> None:
    corpus = data.training_corpus_manifest()
    hours = sum(info["seconds"] for info in corpus.values()) / 3600
    groups = {info["group"] for info in corpus.values()}
    packages = {info["source"].split(": ", 1)[0] for info in corpus.values()}
    assert hours >= 3.0 and len(packages) >= 6 and len(groups) >= 4
    renders = sum(info["seconds"] for info in corpus.values() if info["render"]) / 3600
    assert renders / hours < 0.05  # renders labelled and capped
    assert all(info["licence"] and info["sha256"] and info["seconds"] >= 20 for info in corpus.values())
    sources = (data.codec_corpus_dir().parent / "corpus" / "SOURCES.md").read_text()
    for info in corpus.values():
        assert info["licence"].split(" or ")[0] in sources


def test_loading_an_unbuilt_corpus_names_the_script(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FileNotFoundError, match="build_training_corpus.sh"):
        data.training_corpus(16000, folder=tmp_path)
