"""glam_py.train.heap: the C heap's free memory given back while training,
at most once every TRIM_EVERY_S seconds."""

from __future__ import annotations

import platform

import pytest

from glam_py.train import heap


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_glibc_has_its_trim():
    assert heap._trim is not None
    assert heap._trim(0) in (0, 1)


def test_trims_at_most_once_an_interval(monkeypatch):
    calls = []
    clock = [1000.0]
    monkeypatch.setattr(heap, "_trim", lambda pad: calls.append(pad) or 1)
    monkeypatch.setattr(heap.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(heap, "_last", clock[0])
    heap.trim()
    clock[0] += heap.TRIM_EVERY_S - 1
    heap.trim()
    assert calls == []
    clock[0] += 1
    heap.trim()
    heap.trim()
    assert calls == [0]
    clock[0] += heap.TRIM_EVERY_S
    heap.trim()
    assert calls == [0, 0]


def test_without_a_trim_it_does_nothing(monkeypatch):
    monkeypatch.setattr(heap, "_trim", None)
    monkeypatch.setattr(heap, "_last", -1e9)
    heap.trim()  # no C library function to call: nothing happens, nothing raised
