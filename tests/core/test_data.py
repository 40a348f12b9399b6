import gzip
import pickle

import numpy as np
import pytest
import torch

from bend_gui.core.errors import DataError
from bend_gui.core.ml.data import dataset_info, load_dataset, normalize, read_idx
from bend_gui.core.settings.config import DataConfig
from tests.helpers import idx_bytes, write_tiny_idx


def test_idx_plain_and_gzipped_read_the_same(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(arr))
    with gzip.open(tmp_path / "a.gz", "wb") as f:
        f.write(idx_bytes(arr))
    assert (read_idx(tmp_path / "a") == arr).all()
    assert (read_idx(tmp_path / "a.gz") == arr).all()


def test_truncated_idx_is_a_clear_error(tmp_path):
    (tmp_path / "t").write_bytes(idx_bytes(np.zeros((5, 28, 28), np.uint8))[:-10])
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "t")


def test_fashion_mnist_layout_from_a_user_folder(tmp_path):
    write_tiny_idx(tmp_path / "FashionMNIST" / "raw", 50, 20, gz=False)
    ds = load_dataset(DataConfig(root=str(tmp_path)))
    assert ds.train_x.shape == (50, 1, 28, 28) and ds.train_x.dtype == torch.uint8
    assert ds.test_y.shape == (20,) and ds.test_y.dtype == torch.int64
    assert ds.classes[0] == "T-shirt/top" and ds.num_classes == 10
    small = load_dataset(DataConfig(root=str(tmp_path), train_size=10, test_size=5))
    assert len(small.train_x) == 10 and len(small.test_x) == 5


def test_missing_dataset_says_where_it_looked_and_how_to_get_it(tmp_path):
    with pytest.raises(DataError) as e:
        load_dataset(DataConfig(root=str(tmp_path / "nowhere")))
    msg = str(e.value)
    assert "nowhere" in msg and "dataset-fashion-mnist" in msg and "download" in msg
    info = dataset_info(DataConfig(root=str(tmp_path / "nowhere")))
    assert not info.available and "looked in" in info.message


def _write_cifar(folder, n_classes, files_and_sizes, label_key):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in files_and_sizes:
        batch = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 label_key: list(rng.integers(0, n_classes, n))}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    return rng


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
def test_cifar_format_folder_written_here(tmp_path, dataset):
    if dataset == "cifar10":
        folder = tmp_path / "cifar-10-batches-py"
        _write_cifar(folder, 10, [(f"data_batch_{i}", 7) for i in range(1, 6)] + [("test_batch", 9)], "labels")
        meta = {"label_names": [f"c{i}" for i in range(10)]}
        meta_name = "batches.meta"
    else:
        folder = tmp_path / "cifar-100-python"
        _write_cifar(folder, 100, [("train", 30), ("test", 11)], "fine_labels")
        meta = {"fine_label_names": [f"c{i}" for i in range(100)]}
        meta_name = "meta"
    with open(folder / meta_name, "wb") as f:
        pickle.dump(meta, f)
    cfg = DataConfig(dataset=dataset, root=str(tmp_path))
    assert dataset_info(cfg).available
    ds = load_dataset(cfg)
    n_train = 35 if dataset == "cifar10" else 30
    assert ds.train_x.shape == (n_train, 3, 32, 32)
    assert ds.num_classes == (10 if dataset == "cifar10" else 100)
    assert ds.classes[3] == "c3"
    # The first image's red channel is the first 1024 bytes, row-major (CIFAR's layout).
    with open(folder / ("data_batch_1" if dataset == "cifar10" else "train"), "rb") as f:
        raw = pickle.load(f)["data"][0]
    assert (ds.train_x[0, 0].flatten().numpy() == raw[:1024]).all()


def test_image_folder_with_and_without_train_test(tmp_path):
    from PIL import Image

    for split in ("train", "test"):
        for cls in ("cat", "dog"):
            d = tmp_path / "tt" / split / cls
            d.mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (20, 12), (i * 40, 10, 200)).save(d / f"{i}.png")
    ds = load_dataset(DataConfig(dataset="imagefolder", root=str(tmp_path / "tt"), image_size=16))
    assert ds.train_x.shape == (6, 3, 16, 16) and ds.classes == ("cat", "dog") and len(ds.test_x) == 6
    for cls in ("a", "b", "c"):
        d = tmp_path / "flat" / cls
        d.mkdir(parents=True)
        for i in range(5):
            Image.new("L", (9, 9), i * 50).save(d / f"{i}.jpg")
    ds = load_dataset(DataConfig(dataset="imagefolder", root=str(tmp_path / "flat"), image_size=8,
                                 test_fraction=0.2))
    assert len(ds.train_x) + len(ds.test_x) == 15 and len(ds.test_x) == 3
    assert dataset_info(DataConfig(dataset="imagefolder", root=str(tmp_path / "flat"))).num_classes == 3


def test_normalize_uses_channel_stats():
    x = torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    out = normalize(x, (0.5, 0.5, 0.5), (0.25, 0.5, 1.0))
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([2.0, 1.0, 0.5]))


def _images(root, classes, n=3, size=(9, 9)):
    from PIL import Image

    for cls in classes:
        d = root / cls
        d.mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", size, (i * 40, 20, 90)).save(d / f"{i}.png")


def test_image_folder_train_val_layout_and_split_names_are_not_classes(tmp_path):
    _images(tmp_path / "tv" / "train", ["a", "b"])
    _images(tmp_path / "tv" / "val", ["a", "b"], n=2)
    ds = load_dataset(DataConfig(dataset="imagefolder", root=str(tmp_path / "tv"), image_size=8))
    assert ds.classes == ("a", "b") and len(ds.test_x) == 4
    (tmp_path / "splits").mkdir()
    _images(tmp_path / "splits" / "train", ["a", "b"])
    _images(tmp_path / "splits" / "validation", ["a"])
    ds = load_dataset(DataConfig(dataset="imagefolder", root=str(tmp_path / "splits"), image_size=8))
    assert ds.classes == ("a", "b")  # validation/ serves as the held-out split
    (tmp_path / "shift").mkdir()
    _images(tmp_path / "shift" / "train", ["a", "b"])
    _images(tmp_path / "shift" / "test", ["b"])  # its own index 0 is "b": labels must follow the names
    assert load_dataset(DataConfig(dataset="imagefolder", root=str(tmp_path / "shift"), image_size=8)
                        ).test_y.tolist() == [1, 1, 1]
    (tmp_path / "only").mkdir()
    _images(tmp_path / "only" / "train", ["a", "b"])
    with pytest.raises(DataError, match="look like splits"):
        load_dataset(DataConfig(dataset="imagefolder", root=str(tmp_path / "only"), image_size=8))
    assert not dataset_info(DataConfig(dataset="imagefolder", root=str(tmp_path / "only"))).available


def test_image_folder_needs_two_classes(tmp_path):
    _images(tmp_path / "one", ["cat"])
    with pytest.raises(DataError, match="at least 2"):
        load_dataset(DataConfig(dataset="imagefolder", root=str(tmp_path / "one"), image_size=8))
    assert not dataset_info(DataConfig(dataset="imagefolder", root=str(tmp_path / "one"))).available


def test_subsets_are_random_not_the_first_class(tmp_path):
    _images(tmp_path / "s" / "train", ["a", "b", "c"], n=10)
    _images(tmp_path / "s" / "test", ["a", "b", "c"], n=10)
    ds = load_dataset(DataConfig(dataset="imagefolder", root=str(tmp_path / "s"), image_size=8, train_size=9,
                                 test_size=6))
    assert len(ds.train_y) == 9 and len(set(ds.train_y.tolist())) >= 2 and len(set(ds.test_y.tolist())) >= 2


def test_cifar_labels_out_of_range_are_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder, 60, [(f"data_batch_{i}", 5) for i in range(1, 6)] + [("test_batch", 5)], "labels")
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [str(i) for i in range(10)]}, f)
    with pytest.raises(DataError, match="outside the 10 classes"):
        load_dataset(DataConfig(dataset="cifar10", root=str(tmp_path)))
