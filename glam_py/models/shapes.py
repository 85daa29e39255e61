"""Feature-map sizes through the networks, checked when a model is built."""

from __future__ import annotations


def conv_out(size: int, kernel: int, padding: int) -> int:
    return size + 2 * padding - kernel + 1


def pool_out(size: int) -> int:
    return size // 2


def require(height: int, width: int, input_shape: tuple[int, int], model: str) -> tuple[int, int]:
    """Raises a clear error when the input leaves no feature map."""
    if height < 1 or width < 1:
        raise ValueError(
            f"{model}: input shape {input_shape} (n_mfcc, n_frames) is too small; the "
            f"feature map before the head would be {height} x {width}"
        )
    return height, width
