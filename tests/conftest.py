"""Shared fixtures: Qt offscreen, a tiny learnable dataset in MNIST's file format, tiny projects."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from tests.helpers import VARIED, hard_config, private_copy, run_all, tiny_config, write_tiny_idx  # noqa: E402

torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _same_torch_threads():
    """A project with [run] threads = N sets torch's threads for the whole process (as it should in the app);
    give them back, or a later test's numbers differ in the last bits from fixtures built with 2 threads."""
    yield
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


@pytest.fixture(scope="session")
def finished_project_root(tmp_path_factory, tiny_data_root):
    """A tiny project with every stage done (about 20 s, once per session). Copy it before changing it."""
    return run_all(tmp_path_factory.mktemp("finished") / "tiny-done", tiny_config(tiny_data_root))


@pytest.fixture
def finished_project(tmp_path, finished_project_root):
    """A private copy of the finished tiny project."""
    return private_copy(finished_project_root, tmp_path / "done")


@pytest.fixture(scope="session")
def hard_project_root(tmp_path_factory, tiny_data_root):
    """The finished project of hard_config: members that disagree (for sweeps and the ablation)."""
    return run_all(tmp_path_factory.mktemp("hard") / "p", hard_config(tiny_data_root))


@pytest.fixture(scope="session")
def varied_project_root(tmp_path_factory, tiny_data_root):
    """The finished project of VARIED: members whose results views have numbers worth checking."""
    return run_all(tmp_path_factory.mktemp("varied") / "tiny-varied", tiny_config(tiny_data_root, **VARIED))


@pytest.fixture
def varied_project(tmp_path, varied_project_root):
    return private_copy(varied_project_root, tmp_path / "varied")


@pytest.fixture
def hard(tmp_path, hard_project_root):
    """A private copy of the finished hard project, free to change."""
    return private_copy(hard_project_root, tmp_path / "p")
