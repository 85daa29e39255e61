"""GLAM, its ablations and the paper's baselines, built by name.

>>> from glam_py import models
>>> model = models.build("glam", n_classes=4, input_shape=(26, 63))
"""

from glam_py.models import glam, baselines  # noqa: F401, I001  (registers the models, GLAM first)
from glam_py.models.folding import fold_batchnorm
from glam_py.models.official import from_official, to_official
from glam_py.models.registry import ModelConfig, ModelSpec, OfficialKeys, build, names, spec

__all__ = [
    "ModelConfig",
    "ModelSpec",
    "OfficialKeys",
    "build",
    "fold_batchnorm",
    "from_official",
    "names",
    "spec",
    "to_official",
]
