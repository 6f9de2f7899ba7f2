"""The demo command end to end, on a tiny budget, and the PNG writer it uses."""

import struct
import zlib

import numpy as np

from skexvae._plotting import image_grid, write_png
from skexvae.cli import main


def read_png(path):
    """Decode the 8-bit greyscale PNGs that write_png makes (filter 0 rows)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = {}, 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(tag + body) == crc
        chunks[tag] = chunks.get(tag, b"") + body
        pos += 12 + length
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, width + 1)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:]


def test_png_round_trip(tmp_path):
    images = np.random.default_rng(0).random((5, 3, 4))
    grid = image_grid(images, n_cols=2, scale=2, pad=1)
    assert grid.shape == (3 * 7 + 1, 2 * 9 + 1)
    write_png(tmp_path / "g.png", grid)
    np.testing.assert_array_equal(read_png(tmp_path / "g.png"), grid)
    assert [p.name for p in tmp_path.iterdir()] == ["g.png"]  # no temporary left behind
    # First tile, top-left pixel block, is the first image's first pixel scaled to 0..255.
    assert grid[1, 1] == grid[2, 2] == round(images[0, 0, 0] * 255)


def test_demo_prints_table_and_writes_pictures(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--max-iter", "2"]) == 0
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("| ")]
    assert len(table) == 3 and "exemplar" in table[1] and "gaussian" in table[2]
    for row in table[1:]:
        log_likelihood = float(row.split("|")[2])
        assert -64 * np.log(2) * 3 < log_likelihood < 0  # nats for 64 binary pixels
    for name in ("samples.png", "exemplar_generations.png", "reconstructions.png"):
        pixels = read_png(tmp_path / name)
        assert pixels.shape[0] > 100 and pixels.std() > 10
