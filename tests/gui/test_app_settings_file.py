"""Saving settings from the app keeps what a user wrote in project.toml (issue 13)."""

from PySide6.QtCore import Qt

from bend_gui.core.project.folder import Project


def test_comments_and_key_order_survive_a_save_from_the_settings_panel(make_window, tiny_project, qtbot):
    path = tiny_project.config_path
    text = path.read_text().replace("[collect]", "# my note: k chosen after the pilot run\n[collect]", 1)
    lines = text.splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("lr = ") and n > lines.index("[collect]"))
    lines[i] = "lr = 0.01   # halved on 2 Dec"
    # the user moved [run] to the top of the sections
    path.write_text("\n".join(lines) + "\n")
    before = path.read_text()
    win = make_window(tiny_project.root)
    panel = win.workspace.pipeline
    panel.select("collect")
    panel.form("collect").widget("collect", "lr").setText("0.02")
    qtbot.mouseClick(panel.apply_btn, Qt.MouseButton.LeftButton)
    after = path.read_text()
    assert Project.open(tiny_project.root).load_config().collect.lr == 0.02
    assert "# my note: k chosen after the pilot run" in after
    assert "lr = 0.02   # halved on 2 Dec" in after
    # nothing but that one value changed: same lines, same order
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert changed == [("lr = 0.01   # halved on 2 Dec", "lr = 0.02   # halved on 2 Dec")]
    assert len(before.splitlines()) == len(after.splitlines())
