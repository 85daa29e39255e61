"""glam: speech emotion recognition with GLAM (Zhu & Li, ICASSP 2022).

The feature frontend is the Rust extension ``glam_py._mfcc_rs``, reached
through :mod:`glam_py.features`.
"""

__version__ = "0.1.0"
