"""Model speed on the CPU (issue: GLAM and baselines): training-step
throughput for every model, fused and unfused, against a plain
transcription of the authors' GLAM (tests/support/reference_glam.py, the same
mathematics: tests/test_model_fusion.py checks it step for step); inference
throughput and the latency of one 5 s utterance.

    python -m pytest benches/test_model_speed.py --benchmark-json=/tmp/models.json
    python -m benches.summarize /tmp/models.json

The machine is shared and its speed swings by 2x or more within seconds, so
the figures to quote are the paired ones: anchor and ours alternate step by
step and the ratio is of the two medians. The sequential rows are there for
the variants' absolute throughput.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benches.benchutil import paired, record
from glam_py import models, precision
from tests.support.reference_glam import ReferenceGLAM

BATCH = 32
MULTISCALE = ["glam", "multiscale", "multiscale_mha", "multiscale_aa"]
BASELINES = ["mhcnn", "aacnn", "apcnn"]
# The reference structure: separate branch convolutions, direct 5x5s, NCHW.
PLAIN = {"fused": False, "winograd": False, "channels_last": False}


@pytest.fixture(autouse=True)
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def training_step(
    model: torch.nn.Module, batch: int = BATCH, precision_name: str = "fp32"
) -> Callable[[], None]:
    """One optimiser step; under ``precision_name`` "bf16" the forward pass
    runs in bf16 autocast and the loss in fp32, as the trainer runs it."""
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-6)
    x = torch.randn(batch, 1, 26, 63)
    y = torch.randint(0, 4, (batch,))
    model.train()

    def step():
        optimizer.zero_grad(set_to_none=True)
        with precision.autocast(precision_name, "cpu"):
            logits = model(x)
        F.cross_entropy(logits.float(), y).backward()
        optimizer.step()

    return step


def inference(model: torch.nn.Module, n: int) -> Callable[[], torch.Tensor]:
    x = torch.randn(n, 1, 26, 63)
    model.eval()

    def forward():
        with torch.inference_mode():
            return model(x)

    return forward


def run(benchmark, fn: Callable, rounds: int = 8) -> None:
    benchmark.pedantic(fn, rounds=rounds, warmup_rounds=2)


GLAM_TRAIN = "GLAM training step (batch 32, 2 threads)"


@pytest.mark.benchmark(group=GLAM_TRAIN)
def test_train_glam_default_paired_with_anchor(benchmark):
    """The headline: our default CPU training step against the anchor."""
    torch.manual_seed(0)
    anchor = training_step(ReferenceGLAM())
    ours = training_step(models.build("glam"))
    paired(benchmark, anchor, ours, BATCH, "windows")


@pytest.mark.benchmark(
    group="GLAM training step, ours in bf16 autocast against the anchor in fp32 (batch 32, 2 threads)"
)
def test_train_glam_bf16_paired_with_anchor(benchmark):
    """Our step in bf16, as ``--precision auto`` trains on a CPU with bf16
    matrix units, against the anchor (the authors' class, fp32)."""
    if not precision.native_bf16("cpu"):
        pytest.skip("this CPU has no bf16 matrix units (amx_bf16 or avx512_bf16)")
    torch.manual_seed(0)
    anchor = training_step(ReferenceGLAM())
    ours = training_step(models.build("glam", precision="bf16"), precision_name="bf16")
    paired(benchmark, anchor, ours, BATCH, "windows")


@pytest.mark.benchmark(group=GLAM_TRAIN)
def test_train_glam_plain_structure_paired_with_anchor(benchmark):
    """Our form closest to the reference structure (separate branch
    convolutions, direct 5x5s, NCHW) against the anchor: what the always-on
    exact rewrites give (residuals as kernel taps, max-pool before ReLU, the
    gMLP's products as oneDNN 1x1 convolutions)."""
    anchor = training_step(ReferenceGLAM())
    ours = training_step(models.build("glam", **PLAIN))
    paired(benchmark, anchor, ours, BATCH, "windows")


@pytest.mark.benchmark(group=GLAM_TRAIN)
def test_train_glam_anchor(benchmark):
    record(benchmark, "anchor", BATCH, "windows")
    run(benchmark, training_step(ReferenceGLAM()))


@pytest.mark.benchmark(group=GLAM_TRAIN)
@pytest.mark.parametrize(
    "variant,options",
    [
        ("default", {}),
        ("default-nchw", {"channels_last": False}),
        ("no-winograd", {"winograd": False}),
        ("fused", {"fused": True}),
        ("fused-no-winograd", {"fused": True, "winograd": False}),
        ("plain", PLAIN),
    ],
)
def test_train_glam_variant(benchmark, variant, options):
    record(benchmark, "ours", BATCH, "windows")
    run(benchmark, training_step(models.build("glam", **options)))


def _compiled_step(benchmark, model: torch.nn.Module) -> Callable[[], None]:
    step = training_step(torch.compile(model))
    start = time.perf_counter()
    try:
        step()
    except Exception as error:  # no C++ toolchain, unsupported op...
        pytest.skip(f"torch.compile failed here: {type(error).__name__}: {error}"[:300])
    benchmark.extra_info["compile_s"] = time.perf_counter() - start
    return step


@pytest.mark.benchmark(group="GLAM training step, torch.compile (batch 32, 2 threads)")
def test_train_glam_anchor_compiled(benchmark):
    torch._dynamo.reset()
    step = _compiled_step(benchmark, ReferenceGLAM())
    record(benchmark, "anchor", BATCH, "windows")
    run(benchmark, step)


@pytest.mark.benchmark(group="GLAM training step, torch.compile (batch 32, 2 threads)")
def test_train_glam_default_compiled(benchmark):
    torch._dynamo.reset()
    step = _compiled_step(benchmark, models.build("glam"))
    record(benchmark, "ours", BATCH, "windows")
    run(benchmark, step)


@pytest.mark.benchmark(group="training step of every model (batch 32, 2 threads)")
@pytest.mark.parametrize(
    "name,fused", [(n, f) for n in MULTISCALE for f in (False, True)] + [(n, False) for n in BASELINES]
)
def test_train_every_model(benchmark, name, fused):
    """Each model's default CPU form, and the fused one where it has
    multi-scale blocks (the baselines have none: their only form)."""
    record(benchmark, "info", BATCH, "windows")
    run(benchmark, training_step(models.build(name, fused=fused)), rounds=5)


@pytest.mark.benchmark(group="one multi-scale block, forward + backward (batch 32, 2 threads)")
@pytest.mark.parametrize("channels,height,width", [(16, 52, 63), (32, 26, 31), (64, 13, 15)])
@pytest.mark.parametrize("form", ["unfused", "fused", "unfused-winograd"])
def test_multiscale_block(benchmark, channels, height, width, form):
    """Where each form wins: the fused block does 1.47x the multiply-adds;
    Winograd (its 5x5 branch) pays off from 64 channels on."""
    from glam_py.models.blocks import MultiScaleBlock

    block = MultiScaleBlock(
        channels, fused=form == "fused", winograd_width=width if form == "unfused-winograd" else None
    )
    block = block.to(memory_format=torch.channels_last).train()
    x = torch.randn(BATCH, channels, height, width).contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    upstream = torch.randn(BATCH, 2 * channels, height, width).contiguous(memory_format=torch.channels_last)

    def step():
        x.grad = None
        block.zero_grad(set_to_none=True)
        block(x).backward(upstream)

    record(benchmark, "info", BATCH, "windows")
    run(benchmark, step, rounds=10)


INFERENCE = "GLAM inference (batch 64, 2 threads)"


@pytest.mark.benchmark(group=INFERENCE)
def test_inference_glam_default_paired_with_anchor(benchmark):
    """BatchNorm folded, default CPU form."""
    anchor = inference(ReferenceGLAM(), 64)
    ours = inference(models.fold_batchnorm(models.build("glam")), 64)
    paired(benchmark, anchor, ours, 64, "windows")


@pytest.mark.benchmark(group=INFERENCE)
def test_inference_anchor(benchmark):
    record(benchmark, "anchor", 64, "windows")
    run(benchmark, inference(ReferenceGLAM(), 64))


@pytest.mark.benchmark(group=INFERENCE)
@pytest.mark.parametrize("variant", ["folded", "unfolded", "folded-fused", "folded-no-winograd"])
def test_inference_glam(benchmark, variant):
    options = {"folded-fused": {"fused": True}, "folded-no-winograd": {"winograd": False}}.get(variant, {})
    model = models.build("glam", **options)
    if variant != "unfolded":
        model = models.fold_batchnorm(model)
    record(benchmark, "ours", 64, "windows")
    run(benchmark, inference(model, 64))


# 5 s of audio in 2 s windows with a 0.4 s hop: 1 + (5 - 2) // 0.4 = 8 windows.
WINDOWS_PER_5S = 8
LATENCY = "latency of one 5 s utterance (8 windows, averaged logits)"


def _utterance_model(model: torch.nn.Module) -> Callable[[], torch.Tensor]:
    x = torch.randn(WINDOWS_PER_5S, 1, 26, 63)
    model.eval()

    def predict():
        with torch.inference_mode():
            return model(x).mean(0)

    return predict


@pytest.mark.benchmark(group=LATENCY)
@pytest.mark.parametrize("threads", [1, 2])
def test_latency_model_paired_with_anchor(benchmark, threads):
    """The model part: the utterance's windows as one batch."""
    torch.set_num_threads(threads)
    anchor = _utterance_model(ReferenceGLAM())
    ours = _utterance_model(models.fold_batchnorm(models.build("glam")))
    paired(benchmark, anchor, ours, 1, "utterances", rounds=40)


@pytest.mark.benchmark(group=LATENCY)
@pytest.mark.parametrize("threads", [1, 2])
def test_latency_end_to_end(benchmark, threads):
    """Samples in, prediction out: MFCC windows (the Rust frontend) and the
    folded default GLAM."""
    features = pytest.importorskip("glam_py.features", reason="the feature frontend is not built")
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(5 * 16000)).astype(np.float32)
    model = models.fold_batchnorm(models.build("glam")).eval()

    def predict():
        windows, _ = features.featurize_signal(y, 16000)
        with torch.inference_mode():
            return model(torch.from_numpy(windows).unsqueeze(1)).mean(0)

    record(benchmark, "info", 1, "utterances")
    run(benchmark, predict, rounds=30)
