"""Model speed on the CPU (issue: GLAM and baselines): training-step
throughput for every model, fused and unfused, against a plain transcription
of the authors' GLAM; inference throughput and the latency of one 5 s
utterance."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchutil import record
from glam_py import features, models
from reference_glam import ReferenceGLAM

BATCH = 32
MULTISCALE = ["glam", "multiscale", "multiscale_mha", "multiscale_aa"]


@pytest.fixture(autouse=True)
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def training_step(model: torch.nn.Module):
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-6)
    x = torch.randn(BATCH, 1, 26, 63)
    y = torch.randint(0, 4, (BATCH,))
    model.train()

    def step():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    return step


def run(benchmark, step, rounds=10):
    benchmark.pedantic(step, rounds=rounds, warmup_rounds=2)


GLAM_GROUP = "GLAM training step (batch 32, 2 threads)"


@pytest.mark.benchmark(group=GLAM_GROUP)
def test_train_step_glam_reference_transcription(benchmark):
    record(benchmark, "anchor", BATCH, "windows")
    torch.manual_seed(0)
    run(benchmark, training_step(ReferenceGLAM()))


@pytest.mark.benchmark(group=GLAM_GROUP)
@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
@pytest.mark.parametrize("channels_last", [True, False], ids=["channels_last", "nchw"])
def test_train_step_glam(benchmark, fused, channels_last):
    # The default is unfused + channels_last on the CPU.
    record(benchmark, "ours", BATCH, "windows")
    torch.manual_seed(0)
    run(benchmark, training_step(models.build("glam", fused=fused, channels_last=channels_last)))


@pytest.mark.benchmark(group=GLAM_GROUP)
def test_train_step_glam_paired_with_reference(benchmark):
    """Anchor and default GLAM steps interleaved, so drift in the shared
    machine's speed hits both alike; the medians' ratio is the figure to
    quote."""
    torch.manual_seed(0)
    anchor = training_step(ReferenceGLAM())
    torch.manual_seed(0)
    ours = training_step(models.build("glam"))
    times = {"anchor": [], "ours": []}
    for _ in range(2):
        anchor(), ours()
    for _ in range(12):
        for name, step in (("anchor", anchor), ("ours", ours)):
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    medians = {k: float(np.median(v)) for k, v in times.items()}
    benchmark.extra_info.update(role="paired", anchor_s=medians["anchor"], ours_s=medians["ours"],
                                ratio=medians["anchor"] / medians["ours"], units=BATCH, unit="windows")
    benchmark.pedantic(ours, rounds=1)


@pytest.mark.benchmark(group="training step of every model (batch 32, 2 threads)")
@pytest.mark.parametrize("name", ["multiscale", "multiscale_mha", "multiscale_aa", "mhcnn", "aacnn", "apcnn"])
@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
def test_train_step_every_model(benchmark, name, fused):
    if fused and name not in MULTISCALE:
        pytest.skip("no multi-scale blocks to fuse")
    record(benchmark, "info", BATCH, "windows")
    run(benchmark, training_step(models.build(name, fused=fused)), rounds=5)


INFERENCE_GROUP = "GLAM inference (batch 64, 2 threads)"


def inference(model: torch.nn.Module, n: int = 64):
    x = torch.randn(n, 1, 26, 63)
    model.eval()

    def forward():
        with torch.inference_mode():
            return model(x)

    return forward


@pytest.mark.benchmark(group=INFERENCE_GROUP)
def test_inference_reference_transcription(benchmark):
    record(benchmark, "anchor", 64, "windows")
    run(benchmark, inference(ReferenceGLAM()))


@pytest.mark.benchmark(group=INFERENCE_GROUP)
def test_inference_glam_folded(benchmark):
    record(benchmark, "ours", 64, "windows")
    run(benchmark, inference(models.fold_batchnorm(models.build("glam"))))


@pytest.mark.benchmark(group="latency of one 5 s utterance (featurise + GLAM)")
@pytest.mark.parametrize("threads", [1, 2])
def test_latency_five_seconds(benchmark, threads):
    torch.set_num_threads(threads)
    record(benchmark, "info", 1, "utterances")
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(5 * 16000)).astype(np.float32)
    model = models.fold_batchnorm(models.build("glam"))

    def predict():
        windows, _ = features.featurize_signal(y, 16000)
        with torch.inference_mode():
            return model(torch.from_numpy(windows).unsqueeze(1)).mean(0)

    run(benchmark, predict, rounds=30)
