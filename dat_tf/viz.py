"""Pictures of samples: image grids and 2D scatter plots (TensorBoard, ``bin/sample.py``, figures)."""

from __future__ import annotations

import io

import numpy as np


def image_grid(images, columns: int | None = None) -> np.ndarray:
    """Tiles ``[N, H, W, C]`` images in [-1, 1] into one ``[rows*H, cols*W, C]`` uint8 image."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"image_grid expects [N, H, W, C] images, got shape {images.shape}.")
    n, h, w, c = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.full((rows * h, columns * w, c), -1.0, np.float32)
    for i, img in enumerate(images):
        r, col = divmod(i, columns)
        grid[r * h : (r + 1) * h, col * w : (col + 1) * w] = img
    return np.clip(np.round((grid + 1.0) * 127.5), 0, 255).astype(np.uint8)


def scatter_png(samples, real=None, title: str = "", limit: float = 2.0) -> bytes:
    """PNG bytes of a 2D scatter plot of ``samples`` (and ``real`` in grey)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 3), dpi=100)
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=2, c="0.7", linewidths=0)
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:blue", linewidths=0)
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()

