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
