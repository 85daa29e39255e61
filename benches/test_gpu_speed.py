"""The model benchmarks on a CUDA GPU, skipped where there is none: GLAM's
training step fused against unfused and against the reference
transcription, inference, and several splits trained at once
(``--parallel-splits K``, K up to 32, as in
benches/test_parallel_splits_speed.py). Each timed call ends with a
synchronize, so the time is the GPU's work, not the launch queue's."""

from __future__ import annotations

from typing import Callable

import pytest
import torch
import torch.nn.functional as F

from benches.benchutil import paired, record
from benches.test_parallel_splits_speed import measure
from glam_py import models
from tests.support.reference_glam import ReferenceGLAM

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")

BATCH = 32
GPU_TRAIN = "GLAM training step on the GPU (batch 32)"
GPU_INFERENCE = "GLAM inference on the GPU (batch 256, folded BatchNorm)"


def training_step(model: torch.nn.Module, batch: int = BATCH) -> Callable[[], None]:
    model = model.cuda().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-6)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 1, 26, 63, generator=generator).cuda()
    y = torch.randint(0, 4, (batch,), generator=generator).cuda()

    def step():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        torch.cuda.synchronize()

    return step


def inference(model: torch.nn.Module, n: int) -> Callable[[], torch.Tensor]:
    model = model.cuda().eval()
    x = torch.randn(n, 1, 26, 63).cuda()

    def forward():
        with torch.inference_mode():
            out = model(x)
        torch.cuda.synchronize()
        return out

    return forward


@pytest.mark.benchmark(group=GPU_TRAIN)
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
def test_gpu_train_glam_paired_with_anchor(benchmark, fused):
    anchor = training_step(ReferenceGLAM())
    ours = training_step(models.build("glam", device="cuda", fused=fused))
    paired(benchmark, anchor, ours, BATCH, "windows", rounds=50)


@pytest.mark.benchmark(group=GPU_TRAIN)
def test_gpu_train_fused_paired_with_unfused(benchmark):
    unfused = training_step(models.build("glam", device="cuda", fused=False))
    fused = training_step(models.build("glam", device="cuda", fused=True))
    paired(benchmark, unfused, fused, BATCH, "windows", rounds=50)


@pytest.mark.benchmark(group=GPU_INFERENCE)
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
def test_gpu_inference_paired_with_anchor(benchmark, fused):
    anchor = inference(ReferenceGLAM(), 256)
    ours = inference(models.fold_batchnorm(models.build("glam", device="cuda", fused=fused)), 256)
    paired(benchmark, anchor, ours, 256, "windows", rounds=50)


@pytest.mark.benchmark(group=GPU_INFERENCE)
def test_gpu_inference_bf16(benchmark):
    record(benchmark, "info", 256, "windows")
    forward = inference(models.fold_batchnorm(models.build("glam", device="cuda")), 256)

    def bf16():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return forward()

    benchmark.pedantic(bf16, rounds=50, warmup_rounds=5)


@pytest.mark.benchmark(group="Several splits at once on the GPU: training throughput over K (batch 32)")
@pytest.mark.parametrize("model", ["glam", "apcnn", "mhcnn"])
def test_gpu_parallel_splits(benchmark, model):
    measure(benchmark, model, "cuda", rounds=30, splits=(1, 2, 4, 8, 16, 32))
