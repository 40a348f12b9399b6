"""Datasets, loaded whole into memory as uint8 tensors (N, C, H, W) with int64 labels.

Every dataset this app targets fits in memory (CIFAR's 50k images are 150 MB), and holding them as
tensors makes batching a slice, on the CPU or the GPU alike. Normalisation happens per batch.
"""

from __future__ import annotations

import gzip
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs
import torch

from ..errors import DataError
from ..settings.config import DataConfig

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# Per-channel mean and std of the training sets, the values CIFAR/MNIST practice uses.
STATS = {
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}

IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


@dataclass
class Dataset:
    name: str
    classes: tuple[str, ...]
    train_x: torch.Tensor  # uint8 (N, C, H, W)
    train_y: torch.Tensor  # int64 (N,)
    test_x: torch.Tensor
    test_y: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str

    @property
    def channels(self) -> int:
        return int(self.train_x.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.train_x.shape[-1])

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass
class DatasetInfo:
    """What the wizard shows before loading: whether the data is there, where, and what it is."""

    available: bool
    message: str
    channels: int
    image_size: int
    num_classes: int
    looked_in: tuple[str, ...] = ()   # where it looked, when it is missing
    how_to_get: str = ""
    problem: bool = False             # found but unusable: `message` says why (a layout, a read error)


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("bend-studio")) / "datasets"


def normalize(x: torch.Tensor, mean, std) -> torch.Tensor:
    """uint8 images to the float input the networks expect."""
    m = torch.tensor(mean, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, -1, 1, 1)
    return (x.float() / 255.0 - m) / s


def place(tensors: tuple[torch.Tensor, ...], device: torch.device, free_bytes: int | None,
          share: float = 0.5) -> tuple[tuple[torch.Tensor, ...], str]:
    """Where a training stage keeps its data, and words for it. On a GPU: on the device when the tensors take
    at most `share` of its free memory (a batch is then an index on the device, augmentation included, with
    no copy per step), else in pinned host memory so each batch's copy overlaps the computation. On the CPU
    the tensors stay as they are."""
    if device.type == "cpu":
        return tensors, "in memory"
    need = sum(t.numel() * t.element_size() for t in tensors)
    if free_bytes is not None and need <= share * free_bytes:
        return tuple(t.to(device) for t in tensors), f"on {device} ({need / 2**20:,.0f} MiB)"
    if device.type == "cuda":
        return tuple(t.pin_memory() for t in tensors), f"in pinned host memory ({need / 2**20:,.0f} MiB)"
    return tensors, "in host memory"


# --- where each dataset may live --------------------------------------------------------------------

def _idx_candidates(cfg: DataConfig) -> list[Path]:
    sub = "FashionMNIST" if cfg.dataset == "fashion-mnist" else "MNIST"
    roots = [Path(cfg.root).expanduser()] if cfg.root else []
    if not cfg.root:
        if cfg.dataset == "fashion-mnist":
            roots.append(DEBIAN_FASHION_MNIST)
        roots.append(default_data_dir())
    out = []
    for r in roots:
        out += [r, r / sub / "raw", r / cfg.dataset]
    return out


def _idx_file(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _find_idx_folder(cfg: DataConfig) -> tuple[Path | None, list[Path]]:
    cands = _idx_candidates(cfg)
    for folder in cands:
        if all(_idx_file(folder, s) for pair in IDX_FILES.values() for s in pair):
            return folder, cands
    return None, cands


CIFAR_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
CIFAR_FILES = {"cifar10": ([f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "batches.meta"),
               "cifar100": (["train"], ["test"], "meta")}


def _cifar_candidates(cfg: DataConfig) -> list[Path]:
    roots = [Path(cfg.root).expanduser()] if cfg.root else [default_data_dir()]
    return [p for r in roots for p in (r, r / CIFAR_FOLDERS[cfg.dataset])]


def _find_cifar_folder(cfg: DataConfig) -> tuple[Path | None, list[Path]]:
    train, test, meta = CIFAR_FILES[cfg.dataset]
    cands = _cifar_candidates(cfg)
    for folder in cands:
        if all((folder / f).is_file() for f in train + test + [meta]):
            return folder, cands
    return None, cands


def _how_to_get(cfg: DataConfig) -> str:
    if cfg.dataset == "fashion-mnist":
        return ("install Debian's package (apt-get install dataset-fashion-mnist), set [data] root to a folder "
                "with the four *-ubyte(.gz) files, or set [data] download = true when online")
    if cfg.dataset == "mnist":
        return "set [data] root to a folder with the four MNIST *-ubyte(.gz) files, or [data] download = true when online"
    if cfg.dataset in CIFAR_FOLDERS:
        return (f"set [data] root to the folder holding {CIFAR_FOLDERS[cfg.dataset]}/ (the 'python version' "
                f"from https://www.cs.toronto.edu/~kriz/cifar.html), or [data] download = true when online")
    return "set [data] root to a folder with one subfolder per class (optionally inside train/ and test/)"


def _missing(cfg: DataConfig, looked: list[Path]) -> DataError:
    where = ", ".join(str(p) for p in dict.fromkeys(looked)) or "(nowhere: [data] root is empty)"
    return DataError(f"dataset {cfg.dataset} not found; looked in: {where}. To get it: {_how_to_get(cfg)}")


def _missing_info(cfg: DataConfig, looked: list, channels: int, size: int, classes: int) -> DatasetInfo:
    places = tuple(str(p) for p in dict.fromkeys(looked) if p)
    return DatasetInfo(False, str(_missing(cfg, looked)), channels, size, classes, places, _how_to_get(cfg))


# --- readers ------------------------------------------------------------------------------------------

def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format), plain or gzipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: unreadable ({e})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise DataError(f"{path}: not an unsigned-byte IDX file")
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
    expected = int(np.prod(dims))
    if len(data) - 4 - 4 * nd != expected:
        raise DataError(f"{path}: truncated ({len(data) - 4 - 4 * nd} of {expected} bytes)")
    return np.frombuffer(data, np.uint8, offset=4 + 4 * nd).reshape(dims)


def _load_idx(cfg: DataConfig) -> Dataset:
    folder, looked = _find_idx_folder(cfg)
    if folder is None and cfg.download:
        _download(cfg)
        folder, looked = _find_idx_folder(cfg)
    if folder is None:
        raise _missing(cfg, looked)
    arrays = {}
    for split, (img, lab) in IDX_FILES.items():
        x = read_idx(_idx_file(folder, img))
        y = read_idx(_idx_file(folder, lab))
        if len(x) != len(y):
            raise DataError(f"{folder}: {split} has {len(x)} images but {len(y)} labels")
        if len(y) and int(y.max()) >= 10:  # uint8 labels cannot be negative
            raise DataError(f"{_idx_file(folder, lab)}: labels run up to {int(y.max())}, outside the 10 classes of "
                            f"{cfg.dataset}; the file is damaged or not {cfg.dataset}'s")
        arrays[split] = (torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y.astype(np.int64)))
    classes = FASHION_CLASSES if cfg.dataset == "fashion-mnist" else tuple(str(i) for i in range(10))
    mean, std = STATS[cfg.dataset]
    return Dataset(cfg.dataset, classes, *arrays["train"], *arrays["test"], mean, std, str(folder))


def _unpickle(path: Path) -> dict:
    # CIFAR's own format is a pickle of numpy arrays; it is only read from a folder the user chose.
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="latin1")
    except Exception as e:  # noqa: BLE001 - any failure means the file is not a CIFAR batch
        raise DataError(f"{path}: not a readable CIFAR batch ({e})") from None


def _load_cifar(cfg: DataConfig) -> Dataset:
    folder, looked = _find_cifar_folder(cfg)
    if folder is None and cfg.download:
        _download(cfg)
        folder, looked = _find_cifar_folder(cfg)
    if folder is None:
        raise _missing(cfg, looked)
    train_files, test_files, meta_file = CIFAR_FILES[cfg.dataset]
    label_key = "labels" if cfg.dataset == "cifar10" else "fine_labels"

    def read(files):
        xs, ys = [], []
        for f in files:
            b = _unpickle(folder / f)
            if "data" not in b or label_key not in b:
                raise DataError(f"{folder / f}: missing 'data' or '{label_key}'")
            xs.append(np.asarray(b["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(b[label_key], dtype=np.int64))
        return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))

    meta = _unpickle(folder / meta_file)
    classes = tuple(meta.get("label_names") or meta.get("fine_label_names") or ())
    train, test = read(train_files), read(test_files)
    n_classes = 10 if cfg.dataset == "cifar10" else 100
    for split, (_, y) in (("training", train), ("test", test)):
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= n_classes):
            raise DataError(f"{folder}: {split} labels run from {int(y.min())} to {int(y.max())}, outside the "
                            f"{n_classes} classes of {cfg.dataset}")
    if len(classes) != n_classes:
        classes = tuple(str(i) for i in range(n_classes))
    mean, std = STATS[cfg.dataset]
    return Dataset(cfg.dataset, classes, *train, *test, mean, std, str(folder))


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


SPLIT_NAMES = {"train", "test", "val", "valid", "validation"}


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _count_images(folder: Path) -> int:
    """Image files anywhere under `folder` (os.walk, as torchvision walks them; 4× faster than
    Path.rglob on 100k files)."""
    return sum(1 for _, _, files in os.walk(folder, followlinks=True) for f in files
               if os.path.splitext(f)[1].lower() in IMAGE_SUFFIXES)


def image_folder_layout(root: Path) -> tuple[Path, Path | None]:
    """(training folder, held-out folder or None) of an image-folder dataset; one rule for the loader and
    the wizard's check. `train/` with `test/` (or `val/`) splits as given; a root whose subfolders are split
    names but not such a pair is refused rather than read as classes named "train" and "val"."""
    subs = {p.name.lower(): p for p in _class_dirs(root)}
    held_out = next((subs[n] for n in ("test", "val", "valid", "validation") if n in subs), None)
    if "train" in subs and held_out is not None:
        return subs["train"], held_out
    if subs and set(subs) <= SPLIT_NAMES:
        raise DataError(f"{root}: subfolders {sorted(subs)} look like splits, not classes; use train/ with "
                        f"test/ (or val/), each holding one folder per class")
    return root, None


def _image(ds, i: int) -> torch.Tensor:
    """Image i of an ImageFolder; a file PIL cannot read (corrupt, truncated) is named, not a traceback."""
    try:
        return ds[i][0]
    except (OSError, ValueError) as e:  # PIL's UnidentifiedImageError and "image file is truncated" are OSErrors
        raise DataError(f"{ds.samples[i][0]}: not a readable image ({e}); remove or replace it") from None


def _load_image_folder(cfg: DataConfig) -> Dataset:
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import v2

    root = Path(cfg.root).expanduser() if cfg.root else None
    if root is None or not root.is_dir():
        raise _missing(cfg, [root] if root else [])
    tf = v2.Compose([v2.Resize((cfg.image_size, cfg.image_size), antialias=True), v2.PILToTensor()])

    def read(folder: Path, classes: list[str] | None = None):
        try:
            ds = ImageFolder(str(folder), transform=tf)
        except (FileNotFoundError, RuntimeError) as e:
            raise DataError(f"{folder}: no images in class subfolders ({e})") from None
        targets = ds.targets
        if classes is not None:
            # Labels follow the training classes by name: a held-out folder may lack a class, and its own
            # indices would then be shifted.
            unknown = sorted(set(ds.classes) - set(classes))
            if unknown:
                raise DataError(f"{folder}: classes {unknown} are not among the training classes {classes}")
            targets = [classes.index(ds.classes[t]) for t in targets]
        xs = torch.stack([_image(ds, i) for i in range(len(ds))])
        return xs, torch.tensor(targets, dtype=torch.int64), ds.classes

    train_dir, test_dir = image_folder_layout(root)
    if test_dir is not None:
        train_x, train_y, classes = read(train_dir)
        test_x, test_y, _ = read(test_dir, classes)
    else:
        x, y, classes = read(root)
        g = torch.Generator().manual_seed(0)
        perm = torch.randperm(len(x), generator=g)
        n_test = max(1, int(round(len(x) * cfg.test_fraction)))
        test_i, train_i = perm[:n_test], perm[n_test:]
        train_x, train_y, test_x, test_y = x[train_i], y[train_i], x[test_i], y[test_i]
    if len(classes) < 2:
        raise DataError(f"{root}: {len(classes)} class folder(s); a classifier needs at least 2")
    f = train_x.float() / 255.0
    mean = tuple(f.mean(dim=(0, 2, 3)).tolist())
    std = tuple(f.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist())
    return Dataset("imagefolder", tuple(classes), train_x, train_y, test_x, test_y, mean, std, str(root))


def _download(cfg: DataConfig) -> None:
    from torchvision import datasets

    root = Path(cfg.root).expanduser() if cfg.root else default_data_dir()
    cls = {"fashion-mnist": datasets.FashionMNIST, "mnist": datasets.MNIST,
           "cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[cfg.dataset]
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except Exception as e:  # noqa: BLE001 - network errors come in many types
        raise DataError(f"downloading {cfg.dataset} into {root} failed: {e}") from None


# --- public entry points ------------------------------------------------------------------------------

def _subsample(ds: Dataset, cfg: DataConfig) -> Dataset:
    """Seeded random subsets: the first N images of a class-sorted source (an image folder) would be
    one or two classes only."""
    g = torch.Generator().manual_seed(0)
    if cfg.train_size and cfg.train_size < len(ds.train_x):
        i = torch.randperm(len(ds.train_x), generator=g)[: cfg.train_size].sort().values
        ds.train_x, ds.train_y = ds.train_x[i], ds.train_y[i]
    if cfg.test_size and cfg.test_size < len(ds.test_x):
        i = torch.randperm(len(ds.test_x), generator=g)[: cfg.test_size].sort().values
        ds.test_x, ds.test_y = ds.test_x[i], ds.test_y[i]
    return ds


def load_dataset(cfg: DataConfig) -> Dataset:
    """The whole dataset in memory, or a DataError that says where it looked and how to get it."""
    if cfg.dataset in ("fashion-mnist", "mnist"):
        ds = _load_idx(cfg)
    elif cfg.dataset in CIFAR_FOLDERS:
        ds = _load_cifar(cfg)
    elif cfg.dataset == "imagefolder":
        ds = _load_image_folder(cfg)
    else:
        raise DataError(f"unknown dataset {cfg.dataset!r}")
    return _subsample(ds, cfg)


def dataset_info(cfg: DataConfig) -> DatasetInfo:
    """A quick look (no decoding) for the wizard's live check."""
    if cfg.dataset in ("fashion-mnist", "mnist"):
        folder, looked = _find_idx_folder(cfg)
        if folder:
            return DatasetInfo(True, f"found in {folder}", 1, 28, 10)
        return _missing_info(cfg, looked, 1, 28, 10)
    if cfg.dataset in CIFAR_FOLDERS:
        n = 10 if cfg.dataset == "cifar10" else 100
        folder, looked = _find_cifar_folder(cfg)
        if folder:
            return DatasetInfo(True, f"found in {folder}", 3, 32, n)
        return _missing_info(cfg, looked, 3, 32, n)
    root = Path(cfg.root).expanduser() if cfg.root else None
    if root and root.is_dir():
        try:
            base, _ = image_folder_layout(root)
        except DataError as e:
            return DatasetInfo(False, str(e), 3, cfg.image_size, 0, (str(root),), _how_to_get(cfg), True)
        try:
            classes = _class_dirs(base)
            n_images = sum(_count_images(c) for c in classes)
        except OSError as e:
            return DatasetInfo(False, f"{base}: cannot read it ({e.strerror or e})", 3, cfg.image_size, 0,
                               (str(base),), _how_to_get(cfg), True)
        if len(classes) >= 2 and n_images:
            return DatasetInfo(True, f"{len(classes)} classes, {n_images} training images in {base}", 3,
                               cfg.image_size, len(classes))
        if classes and n_images:
            return DatasetInfo(False, f"{base}: only {len(classes)} class folder; a classifier needs at least 2",
                               3, cfg.image_size, len(classes), (str(base),), _how_to_get(cfg), True)
    return _missing_info(cfg, [root] if root else [], 3, cfg.image_size, 0)
