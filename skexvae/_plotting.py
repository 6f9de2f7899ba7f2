"""Image grids written as greyscale or RGB PNG with the standard library alone."""

import struct
import zlib

import numpy as np

from ._files import atomic_open


def image_grid(images, n_cols, scale=1, pad=1):
    """Tile images of shape (n, h, w) or (n, h, w, 3) in [0, 1] into one uint8 array.

    Each pixel becomes a ``scale`` x ``scale`` block so that small images (8 x 8
    digits) stay legible; tiles are separated by ``pad`` grey pixels.
    """
    images = np.clip(np.asarray(images, dtype=np.float64), 0.0, 1.0)
    n, h, w = images.shape[:3]
    colour = images.shape[3:]
    n_rows = -(-n // n_cols)
    tile_h, tile_w = h * scale + pad, w * scale + pad
    grid = np.full((n_rows * tile_h + pad, n_cols * tile_w + pad, *colour), 128, dtype=np.uint8)
    block = np.ones((scale, scale, *(1 for _ in colour)))
    tiles = np.kron(images, block) * 255.0
    for i, tile in enumerate(tiles.round().astype(np.uint8)):
        top, left = pad + (i // n_cols) * tile_h, pad + (i % n_cols) * tile_w
        grid[top : top + h * scale, left : left + w * scale] = tile
    return grid


def write_png(path, pixels):
    """Write a (height, width) or (height, width, 3) uint8 array as an 8-bit PNG, atomically.

    The file is written beside its destination and renamed into place, so a crash
    never leaves a truncated picture behind.
    """
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape[:2]
    colour_type = 2 if pixels.ndim == 3 else 0  # truecolour RGB or greyscale
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)

    def chunk(tag, data):
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
    with atomic_open(path) as f:
        f.write(png)
