"""The New Project wizard driven by clicks and typing, offscreen: every page, presets, errors, and the
main window opening the project the wizard made."""

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from bend_gui.core.ml.backbones import build_model, count_params
from bend_gui.core.settings import config as C
from bend_gui.gui.wizard import CUSTOM, NewProjectWizard

LEFT = Qt.MouseButton.LeftButton
NEXT = QWizard.WizardButton.NextButton
FINISH = QWizard.WizardButton.FinishButton


@pytest.fixture
def wizard(qtbot, user_dirs):
    wiz = NewProjectWizard()
    qtbot.addWidget(wiz)
    wiz.show()
    qtbot.waitExposed(wiz)
    return wiz


def click(qtbot, wiz, which) -> None:
    button = wiz.button(which)
    assert button.isEnabled() and button.isVisible(), f"{button.text()} is not clickable"
    qtbot.mouseClick(button, LEFT)


def click_backbone(qtbot, wiz, name: str) -> None:
    lst = wiz.backbone_page.list
    item = next(lst.item(i) for i in range(lst.count()) if lst.item(i).data(Qt.ItemDataRole.UserRole) == name)
    qtbot.mouseClick(lst.viewport(), LEFT, pos=lst.visualItemRect(item).center())
    assert wiz.backbone() == name


def type_into(qtbot, edit, text: str) -> None:
    """Replace the text of a line edit or spin box by typing, as a user does after selecting it all."""
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)  # (no Return: it would press the wizard's default button)


def toggle_module(qtbot, page, name: str) -> None:
    """Select a module's row with the mouse and press Space, which toggles its check box."""
    item = page.items[name]
    page.tree.scrollToItem(item)
    qtbot.mouseClick(page.tree.viewport(), LEFT, pos=page.tree.visualItemRect(item).center())
    assert page.tree.currentItem() is item
    qtbot.keyClick(page.tree, Qt.Key.Key_Space)


def to_dataset_page(qtbot, wiz, backbone: str, root: Path) -> None:
    click_backbone(qtbot, wiz, backbone)
    click(qtbot, wiz, NEXT)
    assert wiz.currentPage() is wiz.dataset_page
    type_into(qtbot, wiz.dataset_page.root, str(root))
    qtbot.waitUntil(lambda: f"found in {root}" in wiz.dataset_page.status.text())  # the check is debounced
    assert wiz.button(NEXT).isEnabled()


def to_settings_page(qtbot, wiz, root: Path) -> None:
    to_dataset_page(qtbot, wiz, "smallcnn", root)
    click(qtbot, wiz, NEXT)
    click(qtbot, wiz, NEXT)
    assert wiz.currentPage() is wiz.settings_page


def test_wizard_creates_a_valid_project_by_clicking(qtbot, wizard, tiny_data_root, tmp_path):
    wiz = wizard
    # page 1: backbone, with parameter count and expected input
    click_backbone(qtbot, wiz, "resnet18")
    assert f"{count_params(build_model('resnet18', 1, 10)):,}" in wiz.backbone_page.details.text()
    click_backbone(qtbot, wiz, "smallcnn")
    details = wiz.backbone_page.details.text()
    assert f"{count_params(build_model('smallcnn', 1, 10)):,}" in details
    assert "1 or 3 channels" in details and "bn3, bn4" in details
    click(qtbot, wiz, NEXT)

    # page 2: the live check turns green for the tiny dataset
    page = wiz.dataset_page
    type_into(qtbot, page.root, str(tiny_data_root))
    qtbot.waitUntil(lambda: str(tiny_data_root) in page.status.text())  # the check is debounced
    assert "Available" in page.status.text()
    assert not page.image_size.isVisible()  # image folder only
    type_into(qtbot, page.test_size, "100")
    click(qtbot, wiz, NEXT)

    # page 3: the default subset is checked and visible; fc1 raises d past the paper's working range
    page = wiz.subset_page
    assert page.layers() == ["bn3", "bn4"]
    assert "d = 384" in page.d_label.text()
    assert "Table 5" in page.warning.text() and "Caution" not in page.warning.text()
    assert not page.items["pool1"].flags() & Qt.ItemFlag.ItemIsUserCheckable  # no weights of its own
    toggle_module(qtbot, page, "fc1")
    assert page.layers() == ["bn3", "fc1", "bn4"]
    assert f"d = {384 + 576 * 128:,}" in page.d_label.text()
    assert "Caution" in page.warning.text() and "20,490" in page.warning.text()
    click(qtbot, wiz, NEXT)

    # page 4: a preset fills the form; a hand edit makes it custom; name and folder
    page = wiz.settings_page
    form = page.form
    assert page.preset.currentText() == "CPU demo"
    assert form.widget("collect", "save_every").text() == "25"
    qtbot.keyClick(page.preset, Qt.Key.Key_Up)
    assert page.preset.currentText() == "p-diff v3: snapshots within one epoch"
    assert "One fine-tuning epoch" in page.preset_help.text()
    assert form.widget("collect", "save_every").text() == "2"
    assert form.widget("autoencoder", "normalize").currentText() == "tensor"
    assert form.widget("diffusion", "steps").value() == 2000
    type_into(qtbot, form.widget("generate", "m"), "40")
    assert page.preset.currentText() == CUSTOM
    type_into(qtbot, page.name, "wizard-made")
    type_into(qtbot, page.location, str(tmp_path / "projects"))
    folder = tmp_path / "projects" / "wizard-made"
    assert str(folder) in page.folder_label.text()

    with qtbot.waitSignal(wiz.projectCreated) as created:
        click(qtbot, wiz, FINISH)
    assert Path(created.args[0]) == folder.resolve()
    assert not wiz.isVisible()
    cfg = C.load(folder / "project.toml")
    assert (cfg.name, cfg.model.backbone) == ("wizard-made", "smallcnn")
    assert (cfg.data.dataset, cfg.data.root, cfg.data.test_size) == ("fashion-mnist", str(tiny_data_root), 100)
    assert cfg.subset.layers == ["bn3", "fc1", "bn4"]
    assert (cfg.collect.k, cfg.collect.save_every, cfg.collect.lr) == (200, 2, 0.1)
    assert (cfg.autoencoder.normalize, cfg.autoencoder.steps, cfg.generate.m) == ("tensor", 500, 40)
    assert "d = 74,112" in cfg.description


def test_missing_dataset_names_the_places_and_blocks_next_unless_download(qtbot, wizard, tmp_path):
    wiz = wizard
    click(qtbot, wiz, NEXT)
    page = wiz.dataset_page
    missing = tmp_path / "no-data-here"
    type_into(qtbot, page.root, str(missing))
    qtbot.waitUntil(lambda: "Not found" in page.status.text())
    text = page.status.text()
    assert str(missing) in text and str(missing / "FashionMNIST" / "raw") in text
    assert "To get it" in text and "dataset-fashion-mnist" in text
    assert not wiz.button(NEXT).isEnabled()
    qtbot.mouseClick(page.download, LEFT)
    assert page.download.isChecked()
    qtbot.waitUntil(lambda: wiz.button(NEXT).isEnabled())  # after the re-check answers
    assert f"downloaded into {missing}" in page.status.text()

    # an image folder cannot be downloaded: the box turns off and the image size appears
    qtbot.keyClick(page.dataset, Qt.Key.Key_End)
    assert page.dataset.currentData() == "imagefolder"
    assert page.image_size.isVisible()
    assert not page.download.isEnabled() and not page.download.isChecked()
    assert not wiz.button(NEXT).isEnabled()


def test_the_dataset_check_runs_off_the_gui_thread_drops_stale_answers_and_says_why(qtbot, wizard, tmp_path, monkeypatch):
    import threading
    import time

    import bend_gui.gui.wizard as W

    real, threads = W.dataset_info, []

    def slow_info(cfg):
        threads.append(threading.current_thread())
        time.sleep(0.5 if cfg.root.endswith("first") else 0.05)  # the first check answers last
        return real(cfg)
    monkeypatch.setattr(W, "dataset_info", slow_info)
    click(qtbot, wizard, NEXT)
    page = wizard.dataset_page
    qtbot.keyClick(page.dataset, Qt.Key.Key_End)  # image folder
    type_into(qtbot, page.root, str(tmp_path / "first"))
    qtbot.waitUntil(lambda: "Checking" in page.status.text())  # shown while a slow check runs
    assert not wizard.button(NEXT).isEnabled()
    for cls in ("cat", "dog"):
        (tmp_path / "second" / cls).mkdir(parents=True)
        (tmp_path / "second" / cls / "1.png").write_bytes(b"")
    type_into(qtbot, page.root, str(tmp_path / "second"))
    qtbot.waitUntil(lambda: "2 classes, 2 training images" in page.status.text())
    qtbot.wait(700)  # the first, slower check answers now: it must not replace the newer answer
    assert "2 classes, 2 training images" in page.status.text()
    assert wizard.button(NEXT).isEnabled()
    assert threads and threading.main_thread() not in threads

    # A check that raises says so, and Next stays off.
    def broken(cfg):
        raise PermissionError(13, "Permission denied", cfg.root)
    monkeypatch.setattr(W, "dataset_info", broken)
    type_into(qtbot, page.root, str(tmp_path / "locked"))
    qtbot.waitUntil(lambda: "the check failed: PermissionError" in page.status.text())
    assert not wizard.button(NEXT).isEnabled()

    # A folder that is there but unusable says why, not "not found".
    monkeypatch.setattr(W, "dataset_info", real)
    (tmp_path / "one" / "cat").mkdir(parents=True)
    (tmp_path / "one" / "cat" / "1.png").write_bytes(b"")
    type_into(qtbot, page.root, str(tmp_path / "one"))
    qtbot.waitUntil(lambda: "only 1 class folder; a classifier needs at least 2" in page.status.text())
    assert "Not found" not in page.status.text() and "point Root folder at" in page.status.text()
    assert not wizard.button(NEXT).isEnabled()


def test_resnet_tree_warns_strongly_on_a_large_conv_layer(qtbot, wizard, tiny_data_root):
    wiz = wizard
    to_dataset_page(qtbot, wiz, "resnet18", tiny_data_root)
    click(qtbot, wiz, NEXT)
    page = wiz.subset_page
    assert page.layers() == ["layer4.1.bn1", "layer4.1.bn2"]
    assert page.items["layer4.1"].isExpanded() and page.items["layer4"].isExpanded()
    assert "d = 2,048" in page.d_label.text()
    assert page.items["layer4"].font(0).bold()  # holds checked modules
    assert not page.items["layer3"].font(0).bold()
    toggle_module(qtbot, page, "layer4.1.conv1")
    assert f"d = {2048 + 512 * 512 * 9:,}" in page.d_label.text()
    assert "Strong warning" in page.warning.text() and "262,144" in page.warning.text()
    qtbot.mouseClick(page.clear_btn, LEFT)
    assert page.layers() == [] and "d = 0" in page.d_label.text()
    assert not wiz.button(NEXT).isEnabled()
    qtbot.mouseClick(page.default_btn, LEFT)
    assert page.layers() == ["layer4.1.bn1", "layer4.1.bn2"] and wiz.button(NEXT).isEnabled()


def test_finish_refuses_a_non_empty_folder_and_loses_nothing(qtbot, wizard, tiny_data_root, tmp_path):
    wiz = wizard
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    to_settings_page(qtbot, wiz, tiny_data_root)
    page = wiz.settings_page
    type_into(qtbot, page.location, str(tmp_path))
    type_into(qtbot, page.name, "taken")
    assert "not empty" in page.folder_label.text()
    click(qtbot, wiz, FINISH)
    assert wiz.isVisible() and wiz.currentPage() is page
    assert "already exists and is not empty" in page.error.text()
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]

    # a bad value in the form is refused the same way, with the key named
    type_into(qtbot, page.form.widget("base", "lr"), "fast")
    type_into(qtbot, page.name, "fresh")
    click(qtbot, wiz, FINISH)
    assert wiz.isVisible() and "[base] lr" in page.error.text()
    assert not (tmp_path / "fresh").exists()

    type_into(qtbot, page.form.widget("base", "lr"), "0.05")
    type_into(qtbot, page.name, "")
    assert "Give the project a name" in page.folder_label.text() and not wiz.button(FINISH).isEnabled()
    type_into(qtbot, page.name, "fresh")
    with qtbot.waitSignal(wiz.projectCreated):
        click(qtbot, wiz, FINISH)
    assert C.load(tmp_path / "fresh" / "project.toml").base.lr == 0.05


def test_choosing_a_preset_again_replaces_hand_edits(qtbot, wizard, tiny_data_root):
    wiz = wizard
    to_settings_page(qtbot, wiz, tiny_data_root)
    page = wiz.settings_page
    epochs = page.form.widget("base", "epochs")
    type_into(qtbot, epochs, "9")
    assert page.preset.currentText() == CUSTOM and "Edited by hand" in page.preset_help.text()
    qtbot.keyClick(page.preset, Qt.Key.Key_Home)
    assert page.preset.currentText().startswith("BEND paper")
    assert epochs.value() == 100 and page.form.widget("collect", "save_every").text() == "epoch"
    assert "hours" in page.preset_help.text()


def test_main_window_opens_the_project_the_wizard_created(make_window, qtbot, tiny_data_root, tmp_path):
    win = make_window()
    qtbot.mouseClick(win.start_page.new, LEFT)
    wiz = win.dialog
    assert isinstance(wiz, NewProjectWizard) and wiz.isVisible()
    to_settings_page(qtbot, wiz, tiny_data_root)
    type_into(qtbot, wiz.settings_page.name, "from-the-menu")
    type_into(qtbot, wiz.settings_page.location, str(tmp_path))
    click(qtbot, wiz, FINISH)
    qtbot.waitUntil(lambda: win.model is not None)
    assert win.model.project.root == (tmp_path / "from-the-menu").resolve()
    assert win.model.config.subset.layers == ["bn3", "bn4"]
    assert win.model.config.data.root == str(tiny_data_root)
    assert "from-the-menu" in win.windowTitle()
    assert not wiz.isVisible()
