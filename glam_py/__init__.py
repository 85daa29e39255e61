"""glam: speech emotion recognition with GLAM (Zhu & Li, ICASSP 2022).

The feature frontend is the Rust extension ``glam_py._mfcc_rs``, reached
through :mod:`glam_py.features`.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy, so that importing the feature frontend alone does not load torch.
    if name == "EmotionRecognizer":
        from glam_py.recognizer import EmotionRecognizer

        return EmotionRecognizer
    raise AttributeError(f"module 'glam_py' has no attribute {name!r}")
