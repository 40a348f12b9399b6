from bend_gui.core.project import userdata


def test_recent_projects_newest_first_and_gone_ones_dropped(user_dirs, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for p in (a, b):
        p.mkdir()
        (p / "project.toml").write_text("schema_version = 1\n")
    userdata.add_recent(a)
    userdata.add_recent(b)
    userdata.add_recent(a)
    assert userdata.recent_projects() == [a.resolve(), b.resolve()]
    (b / "project.toml").unlink()
    assert userdata.recent_projects() == [a.resolve()]


def test_demo_project_is_created_once_from_the_template(user_dirs):
    p = userdata.demo_project()
    assert p.load_config().model.backbone == "smallcnn"
    assert str(p.root).startswith(str(user_dirs))
    cfg = p.load_config()
    cfg.collect.k = 7
    p.save_config(cfg)
    assert userdata.demo_project().load_config().collect.k == 7  # reopened, not recreated


def test_app_settings_are_remembered_in_a_toml_file_that_keeps_a_persons_edits(user_dirs):
    assert userdata.app_settings() == {} and userdata.remembered("studies", "address", "auto") == "auto"
    userdata.remember("studies", "address", "10.0.0.5:6379")
    userdata.remember("studies", "executor", "ray")
    path = userdata.config_dir() / userdata.SETTINGS_FILE
    path.write_text(path.read_text() + "# my note\n")
    userdata.remember("studies", "address", "127.0.0.1:6380")
    assert userdata.app_settings() == {"studies": {"address": "127.0.0.1:6380", "executor": "ray"}}
    assert "# my note" in path.read_text()
    # A damaged file is no error: nothing is remembered, and the next choice rewrites it.
    path.write_text("studies = [unclosed")
    assert userdata.remembered("studies", "address", "auto") == "auto"
    userdata.remember("studies", "address", "h:1")
    assert userdata.remembered("studies", "address") == "h:1"
