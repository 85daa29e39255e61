"""Precision speed on the CPU (issue 14): the GLAM training step, and
inference as the recognizer runs it (batch 256, BatchNorm folded), in
fp32, our default form, against bf16 autocast in the model's forms,
interleaved step by step (benchutil.paired) so the shared machine's swings
hit both. The bf16 forms are built with ``precision="bf16"`` (no
Winograd), as training and the recognizer build them.

    python -m pytest benches/test_precision_speed.py --benchmark-json=/tmp/precision.json
    python benches/summarize.py /tmp/precision.json

The bf16 cases are skipped where the CPU has no native bf16 (AMX or
AVX512-BF16): emulated bf16 is no candidate for "auto". Under autocast the
Winograd convolutions run directly (their transforms would add rounding),
so the Winograd switch gives no separate bf16 form.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from benches.benchutil import paired

# two_threads is test_model_speed's autouse fixture: imported, it applies here too.
from benches.test_model_speed import BATCH, inference, training_step, two_threads  # noqa: F401
from glam_py import models, precision

GROUP = "GLAM training step, fp32 against bf16 autocast (batch 32, 2 threads)"
INFERENCE_GROUP = "GLAM inference, BatchNorm folded, fp32 against bf16 autocast (batch 256, 2 threads)"
FORMS = [
    ("default", {}),
    ("fused", {"fused": True}),
    ("nchw", {"channels_last": False}),
    ("fused-nchw", {"fused": True, "channels_last": False}),
]


class Autocast(nn.Module):
    """``model`` run under ``precision.autocast``; the logits leave as fp32,
    so the loss (and everything after it) is fp32 as in training."""

    def __init__(self, model: nn.Module, name: str):
        super().__init__()
        self.model, self.name = model, name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with precision.autocast(self.name, "cpu"):
            return self.model(x).float()


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("form,options", FORMS)
def test_train_glam_bf16_paired_with_fp32_default(benchmark, form, options):
    if not precision.native_bf16("cpu"):
        pytest.skip("this CPU has no native bf16 (AMX or AVX512-BF16)")
    torch.manual_seed(0)
    fp32 = training_step(models.build("glam"))
    bf16 = training_step(Autocast(models.build("glam", precision="bf16", **options), "bf16"))
    paired(benchmark, fp32, bf16, BATCH, "windows")


@pytest.mark.benchmark(group=INFERENCE_GROUP)
@pytest.mark.parametrize("form,options", FORMS)
def test_inference_glam_bf16_paired_with_fp32_default(benchmark, form, options):
    if not precision.native_bf16("cpu"):
        pytest.skip("this CPU has no native bf16 (AMX or AVX512-BF16)")
    torch.manual_seed(0)
    fp32 = inference(models.fold_batchnorm(models.build("glam").eval()), 256)
    bf16 = inference(
        Autocast(models.fold_batchnorm(models.build("glam", precision="bf16", **options).eval()), "bf16"), 256
    )
    paired(benchmark, fp32, bf16, 256, "windows", rounds=10)
