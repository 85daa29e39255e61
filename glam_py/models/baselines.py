"""The paper's baselines on the shared CNN trunk: MHCNN (multi-head
attention), APCNN (attention pooling) and AACNN (area attention)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from glam_py.models.attention import HEADS_KEYS, AreaAttention, ElementwiseHeads
from glam_py.models.blocks import STEM_KEYS, ConvBNReLU, Stem
from glam_py.models.registry import ModelConfig, ModelSpec, OfficialKeys, register
from glam_py.models.shapes import conv_out, pool_out, require


class CNNTrunk(nn.Module):
    """Stems 10x2 and 2x8 (each BN + ReLU), joined along channels (MHCNN,
    APCNN: 8 + 8) or height (AACNN: 16 each), then 3x3 convolutions to 32
    (pool), 48 (pool), 64 and 80 channels, each with BN and ReLU."""

    channels = 80

    def __init__(self, stem_channels: int, join_dim: int):
        super().__init__()
        self.stem = Stem(stem_channels, (10, 2), (4, 0), (2, 8), (0, 3), join_dim=join_dim)
        first = stem_channels * (2 if join_dim == 1 else 1)
        self.convs = nn.ModuleList(
            ConvBNReLU(i, o, 3, 1, pool=pool)
            for i, o, pool in [(first, 32, True), (32, 48, True), (48, 64, False), (64, 80, False)]
        )
        self.join_dim = join_dim

    def output_grid(self, input_shape: tuple[int, int], model: str) -> tuple[int, int]:
        n_mfcc, n_frames = input_shape
        height, width = conv_out(n_mfcc, 10, 4), conv_out(n_frames, 2, 0)
        if self.join_dim == 2:
            height *= 2
        return require(pool_out(pool_out(height)), pool_out(pool_out(width)), input_shape, model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for conv in self.convs:
            x = conv(x)
        return x


class MHCNN(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.trunk = CNNTrunk(8, join_dim=1)
        self.trunk.output_grid(config.input_shape, "mhcnn")
        self.attention = ElementwiseHeads(CNNTrunk.channels, hidden=64, heads=4)
        self.classifier = nn.Linear(64, config.n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.attention(self.trunk(x))).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


class APCNN(nn.Module):
    """Attention pooling: class maps (1x1 conv, softmax over classes) times a
    saliency map (1x1 conv), averaged over all positions, are the logits."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.trunk = CNNTrunk(8, join_dim=1)
        self.trunk.output_grid(config.input_shape, "apcnn")
        self.top_down = nn.Conv2d(CNNTrunk.channels, config.n_classes, 1)
        self.bottom_up = nn.Conv2d(CNNTrunk.channels, 1, 1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk's features averaged over positions (APCNN has no
        classifier layer to take the input of)."""
        return self.trunk(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.trunk(x)
        return (torch.softmax(self.top_down(x), dim=1) * self.bottom_up(x)).mean(dim=(2, 3))


class AACNN(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.trunk = CNNTrunk(16, join_dim=2)
        height, width = self.trunk.output_grid(config.input_shape, "aacnn")
        self.attention = AreaAttention(max_height=3, max_width=3, memory_height=1)
        self.classifier = nn.Linear(CNNTrunk.channels * height * width, config.n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.attention(self.trunk(x))).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


# The authors' names of the trunk, shared by the three baselines.
_TRUNK_KEYS = STEM_KEYS.under("trunk.stem.") + OfficialKeys(
    tuple((f"{layer}{i}.", f"trunk.convs.{i - 2}.{layer}.") for i in range(2, 6) for layer in ("conv", "bn"))
)
_CLASSIFIER_KEYS = OfficialKeys((("fc.", "classifier."),))

# The authors' run scripts (shared/REFERENCE.md, "Per-model recipes"); their
# APCNN also took a log power spectrogram instead of MFCCs, which is not a
# training setting. AACNN they trained in a separate TensorFlow code base,
# so it keeps the paper's recipe.
register(
    ModelSpec(
        "mhcnn",
        MHCNN,
        _TRUNK_KEYS + HEADS_KEYS.under("attention.") + _CLASSIFIER_KEYS,
        {"lr": 1e-3, "lr_decay": 0.1, "step_decay_every": 10, "alpha": 0.0},
    )
)
register(ModelSpec("aacnn", AACNN, _TRUNK_KEYS + _CLASSIFIER_KEYS, {}))
register(
    ModelSpec(
        "apcnn",
        APCNN,
        _TRUNK_KEYS + OfficialKeys((("top_down.", "top_down."), ("bottom_up.", "bottom_up."))),
        {
            "lr": 0.05,
            "lr_decay": 0.1,
            "step_decay_every": 10,
            "alpha": 0.0,
            "optimizer": "sgd",
            "weight_decay": 1e-4,
            "batch_size": 128,
        },
    )
)
