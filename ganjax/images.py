"""Converting model outputs to pictures: uint8 arrays, grids, PNG files."""

from __future__ import annotations

import math
import os

import numpy as np


def to_uint8(images: np.ndarray) -> np.ndarray:
  """float [..., H, W, C] in [-1, 1] -> uint8 in [0, 255] (clipped, rounded)."""
  scaled = (np.asarray(images, np.float32) + 1.0) * 127.5
  return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def grid(images: np.ndarray, columns: int | None = None, padding: int = 2) -> np.ndarray:
  """uint8 [N, H, W, C] -> one uint8 [rows*(H+p)+p, cols*(W+p)+p, C] picture."""
  n, h, w, c = images.shape
  columns = columns or math.ceil(math.sqrt(n))
  rows = math.ceil(n / columns)
  out = np.full((rows * (h + padding) + padding, columns * (w + padding) + padding, c), 255, np.uint8)
  for i, image in enumerate(images):
    r, col = divmod(i, columns)
    top, left = padding + r * (h + padding), padding + col * (w + padding)
    out[top : top + h, left : left + w] = image
  return out


def save_png(path: str, picture: np.ndarray) -> None:
  """Writes uint8 [H, W, 1 or 3] as PNG, atomically (a reader never sees half a file)."""
  from PIL import Image

  picture = picture[..., 0] if picture.shape[-1] == 1 else picture
  tmp = f"{path}.tmp.png"
  Image.fromarray(picture).save(tmp)
  os.replace(tmp, path)
