"""Shared fixtures: Qt offscreen, a tiny learnable dataset in MNIST's file format, tiny projects."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from tests.helpers import tiny_config, write_tiny_idx  # noqa: E402

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_data_root(tmp_path_factory):
    """600 training and 200 test images of 10 classes (a bright square whose place gives the class)."""
    root = tmp_path_factory.mktemp("tiny-fmnist")
    write_tiny_idx(root, n_train=600, n_test=200)
    return root


@pytest.fixture
def tiny_cfg(tiny_data_root):
    return tiny_config(tiny_data_root)


@pytest.fixture
def user_dirs(tmp_path, monkeypatch):
    """Keep the user's config and data folders out of the tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path
