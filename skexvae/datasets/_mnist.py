"""Loader for the MNIST handwritten digits with the Exemplar VAE / VampPrior split."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_mnist"]

_IMAGES_MAGIC = 2051
_LABELS_MAGIC = 2049
_SIDE = 28

# Paper split (Tomczak & Welling 2018, reused by Norouzi et al. 2020): the last
# 10 000 images of the official training file serve as the validation set.
_N_TRAIN_FILE = 60_000
_N_TRAIN = 50_000

_SPLITS = ("train", "validation", "test", "train+validation")

# (images, labels) file names for the official training and test files.
_TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
_TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

# Sums of the *uncompressed* files: mirrors recompress the data, so the .gz
# bytes differ between them while the IDX content is identical.
_SHA256 = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
}

# yann.lecun.com is no longer reliably reachable; these mirrors are what
# torchvision and TensorFlow use.
_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
_DOWNLOAD_TIMEOUT_S = 60

_DESCR = """\
MNIST handwritten digits
------------------------
70 000 grayscale 28x28 images of the digits 0-9 (LeCun, Cortes & Burges), read
from the standard IDX files (http://yann.lecun.com/exdb/mnist/). Pixels are
float32 scaled to [0, 1] and flattened to 784 features; labels are int64.

Splits follow the Exemplar VAE / VampPrior papers:
  train            : first 50 000 images of the training file
  validation       : last 10 000 images of the training file
  train+validation : all 60 000 images of the training file
  test             : the 10 000 t10k images

This bunch: split={split!r}, {n_samples} samples, read from {folder}.
"""


def _default_data_home() -> Path:
    return Path(os.environ.get("SKEXVAE_DATA") or "~/skexvae_data").expanduser()


def _candidate_folders(data_home: str | os.PathLike | None) -> list[Path]:
    home = _default_data_home() if data_home is None else Path(data_home).expanduser()
    return [home, home / "mnist"]


def _find_files(folders: list[Path], names: tuple[str, ...]) -> Path | None:
    """Return the first folder holding every file in ``names``, else None."""
    for folder in folders:
        if all((folder / name).is_file() for name in names):
            return folder
    return None


def _closest_folder(folders: list[Path], names: tuple[str, ...]) -> Path:
    """Return the first folder holding some of ``names``, else the ``mnist/`` one."""
    # Downloads complete a partially filled folder rather than start a second
    # copy; otherwise data_home is treated as a data home.
    for folder in folders:
        if any((folder / name).is_file() for name in names):
            return folder
    return folders[-1]


def _missing_files_error(folders: list[Path], names: tuple[str, ...]) -> FileNotFoundError:
    closest = _closest_folder(folders, names)
    missing = [name for name in names if not (closest / name).is_file()]
    searched = "\n".join(f"  {folder}" for folder in folders)
    return FileNotFoundError(
        f"MNIST file(s) not found: {', '.join(missing)}.\n"
        f"Searched these folders:\n{searched}\n"
        "Pass data_home= pointing at a folder that holds the .gz files (or at a data "
        "home with a mnist/ subfolder), set the SKEXVAE_DATA environment variable, or "
        "call load_mnist(..., download=True) where internet is available."
    )


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _decompress(path: Path) -> bytes:
    try:
        return gzip.decompress(path.read_bytes())
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(f"{path} is not a valid gzip file ({exc}).") from exc


def _check_sha256(path: Path, content: bytes) -> None:
    expected = _SHA256[path.name.removesuffix(".gz")]
    actual = _sha256(content)
    if actual != expected:
        raise ValueError(
            f"SHA-256 checksum mismatch for the uncompressed content of {path}: "
            f"expected {expected}, got {actual}. The file is corrupt or not the "
            "official MNIST release; delete it and download it again, or pass "
            "verify=False to load custom files."
        )


def _parse_idx(path: Path, content: bytes, magic: int) -> np.ndarray:
    """Parse IDX bytes (big-endian header, uint8 payload) into an array."""
    # The last byte of the magic number is the number of dimensions.
    n_dims = magic & 0xFF
    header_size = 4 + 4 * n_dims
    if len(content) < header_size:
        raise ValueError(f"{path} is truncated: {len(content)} bytes, shorter than its header.")
    found_magic, *shape = struct.unpack(f">{1 + n_dims}I", content[:header_size])
    if found_magic != magic:
        raise ValueError(
            f"{path} has IDX magic number {found_magic}, expected {magic}; "
            "it is not an MNIST file of this kind."
        )
    expected_size = header_size + int(np.prod(shape))
    if len(content) != expected_size:
        problem = "truncated" if len(content) < expected_size else "longer than its header says"
        raise ValueError(
            f"{path} is {problem}: header shape {tuple(shape)} needs {expected_size} bytes, "
            f"found {len(content)}."
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header_size).reshape(shape)


def _read_idx(path: Path, magic: int, verify: bool) -> np.ndarray:
    content = _decompress(path)
    array = _parse_idx(path, content, magic)
    if verify:
        _check_sha256(path, content)
    return array


def _read_pair(folder: Path, names: tuple[str, ...], verify: bool) -> tuple[np.ndarray, np.ndarray]:
    images_path, labels_path = (folder / name for name in names)
    images = _read_idx(images_path, _IMAGES_MAGIC, verify)
    labels = _read_idx(labels_path, _LABELS_MAGIC, verify)
    if images.shape[1:] != (_SIDE, _SIDE):
        raise ValueError(
            f"{images_path} holds images of shape {images.shape[1:]}, expected ({_SIDE}, {_SIDE})."
        )
    if len(labels) != len(images):
        raise ValueError(
            f"{labels_path} has {len(labels)} labels but {images_path} has {len(images)} images."
        )
    return images, labels


def _download(name: str, folder: Path) -> None:
    """Fetch ``name`` from the first mirror that serves a verified copy."""
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in _MIRRORS:
        url = mirror + name
        try:
            _fetch_verified(url, folder / name)
            return
        except (OSError, ValueError) as exc:  # URLError and timeouts are OSErrors
            failures.append(f"  {url}: {exc}")
    raise OSError(
        f"Could not download {name} into {folder}. URLs tried:\n"
        + "\n".join(failures)
        + "\nDownload the file by hand and pass data_home= pointing at its folder."
    )


def _fetch_verified(url: str, destination: Path) -> None:
    # A temporary file in the destination folder keeps os.replace atomic, so an
    # interrupted or corrupt download never appears under the final name.
    with tempfile.NamedTemporaryFile(
        dir=destination.parent, prefix=destination.name + ".", suffix=".part", delete=False
    ) as tmp:
        tmp_path = Path(tmp.name)
    try:
        with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response:
            with tmp_path.open("wb") as out:
                shutil.copyfileobj(response, out)
        _check_sha256(destination, _decompress(tmp_path))
        os.replace(tmp_path, destination)
    finally:
        tmp_path.unlink(missing_ok=True)


def _select_split(
    images: np.ndarray, labels: np.ndarray, split: str, path: Path
) -> tuple[np.ndarray, np.ndarray]:
    if split in ("test", "train+validation"):
        return images, labels
    if len(images) != _N_TRAIN_FILE:
        raise ValueError(
            f"split={split!r} needs the standard {_N_TRAIN_FILE}-image training file, but "
            f"{path} has {len(images)} images; use split='train+validation' instead."
        )
    rows = slice(None, _N_TRAIN) if split == "train" else slice(_N_TRAIN, None)
    return images[rows], labels[rows]


def load_mnist(
    data_home: str | os.PathLike | None = None,
    *,
    split: str = "train",
    return_X_y: bool = False,
    download: bool = False,
    verify: bool = True,
):
    """Load MNIST with the split of the Exemplar VAE and VampPrior papers.

    The loader reads the four standard gzipped IDX files
    (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``); only the
    pair needed for ``split`` is read.

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        Folder holding the MNIST files, or a data home whose ``mnist/``
        subfolder holds them; both places are searched. If None, the data home
        is ``$SKEXVAE_DATA`` when that variable is set, else ``~/skexvae_data``.
    split : {"train", "validation", "test", "train+validation"}, default="train"
        ``"train"`` is the first 50 000 images of the training file,
        ``"validation"`` its last 10 000, ``"train+validation"`` all 60 000,
        and ``"test"`` the 10 000 t10k images. ``"train"`` and
        ``"validation"`` require a training file of exactly 60 000 images.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    download : bool, default=False
        If True, download missing files from the mirrors
        ``https://ossci-datasets.s3.amazonaws.com/mnist/`` and
        ``https://storage.googleapis.com/cvdf-datasets/mnist/`` (in that
        order). They go into the folder that already holds some of the files,
        else into ``<data_home>/mnist``. A download is always checked against
        the known SHA-256 sums before it is moved into place.
    verify : bool, default=True
        Check the SHA-256 of each file's uncompressed content against the
        official release. Pass False to skip the check (about 0.2 s per call)
        or to load custom files in the same IDX format.

    Returns
    -------
    data : sklearn.utils.Bunch
        Returned unless ``return_X_y`` is True, with attributes:

        data : ndarray of shape (n_samples, 784), dtype float32
            Pixel values scaled to [0, 1].
        target : ndarray of shape (n_samples,), dtype int64
            Digit labels.
        images : ndarray of shape (n_samples, 28, 28), dtype float32
            A view of ``data`` as images.
        feature_names : list of str
            ``"pixel_<row>_<col>"`` for each of the 784 features.
        DESCR : str
            Description of the data set, its splits and the folder read.
        split : str
            The split that was loaded.
    (data, target) : tuple of ndarray
        Returned if ``return_X_y`` is True.

    Raises
    ------
    ValueError
        If ``split`` is unknown, if a file is not valid gzip, has the wrong
        IDX magic number, is truncated, fails the checksum, or if the label
        and image counts differ.
    FileNotFoundError
        If files are missing and ``download`` is False; the message lists the
        missing files and the folders searched.
    OSError
        If ``download`` is True and no mirror served a verified copy; the
        message lists each URL tried and why it failed.

    Examples
    --------
    >>> from skexvae.datasets import load_mnist
    >>> X, y = load_mnist(split="test", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, X.dtype, y.dtype  # doctest: +SKIP
    ((10000, 784), dtype('float32'), dtype('int64'))
    >>> mnist = load_mnist("path/to/mnist", split="validation")  # doctest: +SKIP
    >>> mnist.images.shape  # doctest: +SKIP
    (10000, 28, 28)
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {', '.join(map(repr, _SPLITS))}; got {split!r}.")
    names = _TEST_FILES if split == "test" else _TRAIN_FILES
    folders = _candidate_folders(data_home)
    folder = _find_files(folders, names)
    if folder is None:
        if not download:
            raise _missing_files_error(folders, names)
        folder = _closest_folder(folders, names)
        for name in names:
            if not (folder / name).is_file():
                _download(name, folder)

    images, labels = _read_pair(folder, names, verify)
    images, labels = _select_split(images, labels, split, folder / names[0])
    data = images.reshape(len(images), -1).astype(np.float32)
    data /= 255.0
    target = labels.astype(np.int64)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        images=data.reshape(-1, _SIDE, _SIDE),
        feature_names=[f"pixel_{row}_{col}" for row in range(_SIDE) for col in range(_SIDE)],
        DESCR=_DESCR.format(split=split, n_samples=len(data), folder=folder),
        split=split,
    )
