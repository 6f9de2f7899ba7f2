import gzip
import io
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from skexvae.datasets import load_mnist

REAL_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
ALL_FILES = TRAIN_FILES + TEST_FILES
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
SPLIT_SIZES = {"train": 50_000, "validation": 10_000, "test": 10_000, "train+validation": 60_000}

needs_real_mnist = pytest.mark.skipif(
    not all((REAL_MNIST / name).is_file() for name in ALL_FILES),
    reason=f"real MNIST files not found in {REAL_MNIST}",
)


def idx_bytes(array, magic):
    array = np.asarray(array, dtype=np.uint8)
    return struct.pack(f">{1 + array.ndim}I", magic, *array.shape) + array.tobytes()


def write_gz(path, content):
    path.write_bytes(gzip.compress(content))


def write_synthetic(folder, n_train=3, n_test=2):
    """Write tiny but well-formed MNIST files; their checksums are not the official ones."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for (images_name, labels_name), n in ((TRAIN_FILES, n_train), (TEST_FILES, n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28))
        labels = rng.integers(0, 10, size=n)
        write_gz(folder / images_name, idx_bytes(images, 2051))
        write_gz(folder / labels_name, idx_bytes(labels, 2049))
    return folder


@pytest.fixture(scope="module")
def real_splits():
    if not all((REAL_MNIST / name).is_file() for name in ALL_FILES):
        pytest.skip(f"real MNIST files not found in {REAL_MNIST}")
    return {split: load_mnist(REAL_MNIST, split=split, return_X_y=True) for split in SPLIT_SIZES}


# --- real data ---------------------------------------------------------------------------


@pytest.mark.parametrize("split", list(SPLIT_SIZES))
def test_real_split_shapes_dtypes_and_ranges(real_splits, split):
    X, y = real_splits[split]
    assert X.shape == (SPLIT_SIZES[split], 784)
    assert X.dtype == np.float32
    assert y.shape == (SPLIT_SIZES[split],)
    assert y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


def test_real_train_and_validation_partition_the_training_file(real_splits):
    X_all, y_all = real_splits["train+validation"]
    X_train, y_train = real_splits["train"]
    X_val, y_val = real_splits["validation"]
    np.testing.assert_array_equal(X_train, X_all[:50_000])
    np.testing.assert_array_equal(y_train, y_all[:50_000])
    np.testing.assert_array_equal(X_val, X_all[-10_000:])
    np.testing.assert_array_equal(y_val, y_all[-10_000:])


def test_real_pixels_are_bytes_over_255(real_splits):
    X, _ = real_splits["test"]
    np.testing.assert_allclose(X * 255, np.round(X * 255), atol=1e-4)
    assert not np.array_equal(X, real_splits["train"][0][:10_000])


@needs_real_mnist
def test_data_home_with_mnist_subfolder_and_bunch_fields(tmp_path):
    (tmp_path / "mnist").symlink_to(REAL_MNIST, target_is_directory=True)
    bunch = load_mnist(str(tmp_path), split="test")
    assert set(bunch) >= {"data", "target", "images", "feature_names", "DESCR", "split"}
    assert bunch.split == "test"
    assert bunch.images.shape == (10_000, 28, 28)
    assert np.shares_memory(bunch.images, bunch.data)
    np.testing.assert_array_equal(bunch.images.reshape(10_000, 784), bunch.data)
    assert len(bunch.feature_names) == 784
    assert "10000 samples" in bunch.DESCR and "50 000" in bunch.DESCR
    assert bunch.target.dtype == np.int64


@needs_real_mnist
def test_default_data_home_from_environment(tmp_path, monkeypatch):
    (tmp_path / "mnist").symlink_to(REAL_MNIST, target_is_directory=True)
    monkeypatch.setenv("SKEXVAE_DATA", str(tmp_path))
    X, y = load_mnist(split="test", return_X_y=True, verify=False)
    assert X.shape == (10_000, 784) and y.shape == (10_000,)


# --- synthetic files ---------------------------------------------------------------------


def test_synthetic_files_load_without_verification(tmp_path):
    write_synthetic(tmp_path, n_train=3, n_test=2)
    X, y = load_mnist(tmp_path, split="train+validation", return_X_y=True, verify=False)
    assert X.shape == (3, 784) and X.dtype == np.float32 and y.dtype == np.int64
    assert 0.0 <= X.min() and X.max() <= 1.0
    X_test, _ = load_mnist(tmp_path, split="test", return_X_y=True, verify=False)
    assert X_test.shape == (2, 784)


def test_checksum_mismatch_is_reported(tmp_path):
    write_synthetic(tmp_path)
    with pytest.raises(ValueError, match=r"(?s)checksum.*train-images-idx3-ubyte"):
        load_mnist(tmp_path, split="train+validation")


@pytest.mark.parametrize("split", ["train", "validation"])
def test_paper_splits_need_the_standard_training_file(tmp_path, split):
    write_synthetic(tmp_path)
    with pytest.raises(ValueError, match="60000-image training file"):
        load_mnist(tmp_path, split=split, verify=False)


def test_unknown_split_names_allowed_values(tmp_path):
    with pytest.raises(ValueError, match=r"'train', 'validation', 'test', 'train\+validation'"):
        load_mnist(tmp_path, split="valid")


def test_wrong_magic_names_the_file(tmp_path):
    write_synthetic(tmp_path)
    write_gz(tmp_path / TRAIN_FILES[0], idx_bytes(np.zeros((3, 28, 28)), 2049))
    expected = r"train-images-idx3-ubyte\.gz has IDX magic number 2049, expected 2051"
    with pytest.raises(ValueError, match=expected):
        load_mnist(tmp_path, split="train+validation", verify=False)


@pytest.mark.parametrize("cut", [-1, 6], ids=["payload", "header"])
def test_truncated_content(tmp_path, cut):
    write_synthetic(tmp_path)
    content = idx_bytes(np.zeros((3, 28, 28)), 2051)[:cut]
    write_gz(tmp_path / TRAIN_FILES[0], content)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz is truncated"):
        load_mnist(tmp_path, split="train+validation", verify=False)


def test_trailing_bytes_are_rejected(tmp_path):
    write_synthetic(tmp_path)
    write_gz(tmp_path / TRAIN_FILES[1], idx_bytes(np.zeros(3), 2049) + b"\0")
    with pytest.raises(ValueError, match="longer than its header says"):
        load_mnist(tmp_path, split="train+validation", verify=False)


@pytest.mark.parametrize(
    "content",
    [b"not gzip at all", gzip.compress(idx_bytes(np.zeros(3), 2049))[:-5]],
    ids=["not-gzip", "cut-gzip-stream"],
)
def test_invalid_gzip_is_a_value_error(tmp_path, content):
    write_synthetic(tmp_path)
    (tmp_path / TRAIN_FILES[1]).write_bytes(content)
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz is not a valid gzip"):
        load_mnist(tmp_path, split="train+validation", verify=False)


def test_label_count_must_match_image_count(tmp_path):
    write_synthetic(tmp_path)
    write_gz(tmp_path / TRAIN_FILES[1], idx_bytes(np.zeros(4), 2049))
    with pytest.raises(ValueError, match="4 labels but .* 3 images"):
        load_mnist(tmp_path, split="train+validation", verify=False)


def test_wrong_image_size_is_rejected(tmp_path):
    write_synthetic(tmp_path)
    write_gz(tmp_path / TRAIN_FILES[0], idx_bytes(np.zeros((3, 14, 14)), 2051))
    with pytest.raises(ValueError, match=r"shape \(14, 14\)"):
        load_mnist(tmp_path, split="train+validation", verify=False)


def test_missing_file_names_file_folders_and_fix(tmp_path):
    write_synthetic(tmp_path)
    (tmp_path / TEST_FILES[1]).unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path, split="test", verify=False)
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte.gz" in message
    assert "t10k-images-idx3-ubyte.gz" not in message
    assert str(tmp_path) in message and str(tmp_path / "mnist") in message
    assert "data_home=" in message and "download=True" in message


def test_missing_default_home_searches_environment_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SKEXVAE_DATA", str(tmp_path / "home"))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "home" / "mnist")):
        load_mnist()


def test_files_in_mnist_subfolder_are_found(tmp_path):
    write_synthetic(tmp_path / "mnist")
    X, _ = load_mnist(tmp_path, split="test", return_X_y=True, verify=False)
    assert X.shape == (2, 784)


# --- download ----------------------------------------------------------------------------


def serve(files_by_url, calls):
    """Return a fake urlopen that serves bytes by URL and raises URLError otherwise."""

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        if url not in files_by_url:
            raise urllib.error.URLError("no network in tests")
        return io.BytesIO(files_by_url[url])

    return fake_urlopen


@needs_real_mnist
def test_download_falls_back_to_second_mirror_and_verifies(tmp_path, monkeypatch):
    files = {MIRRORS[1] + name: (REAL_MNIST / name).read_bytes() for name in TEST_FILES}
    calls = []
    monkeypatch.setattr(urllib.request, "urlopen", serve(files, calls))
    X, y = load_mnist(tmp_path, split="test", return_X_y=True, download=True)
    assert X.shape == (10_000, 784) and y.shape == (10_000,)
    assert calls == [mirror + name for name in TEST_FILES for mirror in MIRRORS]
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(TEST_FILES)
    # Files already in place are not downloaded again.
    load_mnist(tmp_path, split="test", download=True, verify=False)
    assert len(calls) == 4


def test_download_completes_a_partially_filled_folder(tmp_path, monkeypatch):
    write_synthetic(tmp_path)
    (tmp_path / TEST_FILES[0]).unlink()
    calls = []
    monkeypatch.setattr(urllib.request, "urlopen", serve({}, calls))
    with pytest.raises(OSError, match="Could not download t10k-images-idx3-ubyte.gz"):
        load_mnist(tmp_path, split="test", download=True)
    assert calls == [mirror + TEST_FILES[0] for mirror in MIRRORS]
    assert not (tmp_path / "mnist").exists()


def test_download_network_failure_lists_urls(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", serve({}, []))
    with pytest.raises(OSError) as info:
        load_mnist(tmp_path, split="test", download=True)
    message = str(info.value)
    for mirror in MIRRORS:
        assert mirror + TEST_FILES[0] in message
    assert "no network in tests" in message
    assert list((tmp_path / "mnist").iterdir()) == []


def test_download_checksum_failure_leaves_no_file(tmp_path, monkeypatch):
    fake = gzip.compress(idx_bytes(np.zeros((2, 28, 28)), 2051))
    files = {mirror + TEST_FILES[0]: fake for mirror in MIRRORS}
    monkeypatch.setattr(urllib.request, "urlopen", serve(files, []))
    with pytest.raises(OSError, match="checksum mismatch") as info:
        load_mnist(tmp_path, split="test", download=True)
    assert all(mirror + TEST_FILES[0] in str(info.value) for mirror in MIRRORS)
    assert list((tmp_path / "mnist").iterdir()) == []
