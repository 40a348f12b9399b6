"""The `bend` command's conventions: results on stdout (exactly the JSON with --json), progress and messages
on stderr, a log file per run, distinct exit codes, commands that read no tensors start without torch."""

import json
import logging
import os
import signal
import subprocess
import sys
import time

import pytest

from bend_gui.cli import build_parser
from bend_gui.console.progress import PlainProgress
from bend_gui.core.pipeline import memory
from bend_gui.core.project.folder import Project
from bend_gui.core.settings import config as C


def bend(*args, env=None):
    return subprocess.run([sys.executable, "-m", "bend_gui.cli", *map(str, args)], capture_output=True, text=True, check=False,
                          timeout=600, env={**os.environ, **(env or {})})


def strict_json(text):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def set_values(p: Project, **values) -> None:
    p.save_config(C.with_values(p.load_config(), [(*k.split("__"), v) for k, v in values.items()]))


@pytest.mark.parametrize("args", [["templates"], ["templates", "--json"], ["status", "{p}"],
                                  ["status", "{p}", "--json"]])
def test_commands_without_tensors_do_not_import_torch(finished_project, args):
    argv = [a.format(p=finished_project.root) for a in args]
    code = (f"import sys; from bend_gui.cli import main; rc = main({argv!r}); "
            "sys.exit(rc or (3 if 'torch' in sys.modules else 0))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, ("torch was imported" if r.returncode == 3 else "") + r.stderr
    assert r.stdout.strip()


def test_run_json_is_exactly_the_json_and_progress_goes_to_stderr(finished_project):
    p = finished_project
    set_values(p, evaluate__abend_repeats=4)  # evaluate is stale: it reruns, with progress and messages
    r = bend("run", p.root, "--json")
    assert r.returncode == 0, r.stderr
    out = strict_json(r.stdout)
    assert [(s["stage"], s["skipped"]) for s in out["stages"]] == [
        ("base", True), ("collect", True), ("autoencoder", True), ("diffusion", True), ("generate", True),
        ("evaluate", False)]
    # stderr is not a terminal here: plain lines, no bar's carriage returns
    assert "5 · Evaluate ensembles: started" in r.stderr and "\r" not in r.stderr
    assert "evaluate: sBEND" in r.stderr
    # the run's log file, in the project folder, says what ran and how it ended
    logs = sorted((p.root / "logs").glob("*-run.log"))
    assert logs and f"run log: {logs[-1]}" in r.stderr
    text = logs[-1].read_text()
    assert "stages evaluate" in text and "evaluate: started" in text and "evaluate: sBEND" in text
    assert text.rstrip().endswith("finished")


@pytest.mark.parametrize("args, check", [
    (["report", "{p}", "--json"], lambda d: 0 <= d["sbend"] <= 1 and "abend_mean" in d),
    (["status", "{p}", "--json"], lambda d: [s["state"] for s in d["stages"]] == ["done"] * 6),
    (["templates", "--json"], lambda d: "fashion-mnist-demo" in [t["name"] for t in d]),
    (["layers", "smallcnn", "--channels", "1", "--json"], lambda d: d["default_subset"] and d["modules"]),
    (["export", "{p}", "{tmp}/ens.pt", "--json"], lambda d: d["members"] == 5 and d["rule"] == "sbend"),
    (["run", "{p}", "--json", "-v"], lambda d: all(s["skipped"] for s in d["stages"])),
])
def test_json_output_parses_whole(finished_project, tmp_path, args, check):
    r = bend(*[a.format(p=finished_project.root, tmp=tmp_path) for a in args])
    assert r.returncode == 0, r.stderr
    assert check(strict_json(r.stdout))


def test_a_report_of_last_good_results_says_so_on_stderr_only(finished_project):
    p = finished_project
    set_values(p, evaluate__abend_repeats=4)  # as if a rerun with this setting had failed
    p.mark_stopped("evaluate", "failed", "a test failure", fingerprint=p.fingerprint("evaluate", p.load_config()),
                   keep_last_good=True)
    r = bend("report", p.root, "--json")
    assert r.returncode == 0, r.stderr
    assert "sbend" in strict_json(r.stdout)
    assert "warning: these results are from the last good run" in r.stderr


def test_exit_codes(finished_project, tmp_path):
    p = finished_project
    # 2: bad input, and a command line argparse refuses
    assert bend("status", tmp_path / "nowhere").returncode == 2
    assert bend("run").returncode == 2
    # 3: busy, naming the process that holds the lock
    set_values(p, evaluate__abend_repeats=4)
    with p.lock("bend run"):
        r = bend("run", p.root)
    assert r.returncode == 3 and f"pid {os.getpid()}" in r.stderr, r.stderr
    # 4: out of memory (a size refused before it runs; the runner maps an allocation failure to it too)
    set_values(p, generate__m=100_000)
    r = bend("run", p.root, env={memory.ENV_LIMIT: "0.05"})
    assert r.returncode == 4 and "[generate] m" in r.stderr, r.stderr


def test_ctrl_c_exits_130_and_the_run_resumes(finished_project):
    p = finished_project
    set_values(p, diffusion__steps=100_000)  # long enough to be interrupted
    proc = subprocess.Popen([sys.executable, "-m", "bend_gui.cli", "run", str(p.root)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while (p.lock_holder() or {}).get("stage") != "diffusion":
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("diffusion never started: " + proc.communicate()[1])
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "cancelled" in err and p.state("diffusion").state == "cancelled"


def test_every_positional_argument_has_help_and_every_command_takes_q_and_v():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0]
    for name, sub in commands.choices.items():
        options = {o for a in sub._actions for o in a.option_strings}
        assert {"-q", "-v"} <= options, name
        for a in sub._actions:
            if not a.option_strings:
                assert a.help, f"bend {name}: {a.dest} has no help"
    for name in ("status", "report", "layers", "templates", "export", "run", "new"):
        assert "--json" in {o for a in commands.choices[name]._actions for o in a.option_strings}, name


def test_version_completion_and_exit_codes_in_help():
    r = bend("--version")
    assert r.returncode == 0 and r.stdout.startswith("bend ")
    r = bend("--print-completion", "bash")
    assert r.returncode == 0 and "bend" in r.stdout and "complete" in r.stdout
    r = bend("--help")
    for code in ("0 ", "2 ", "3 ", "4 ", "130 "):
        assert f"\n  {code}" in r.stdout


def test_plain_progress_writes_a_modest_number_of_lines_with_an_eta(caplog):
    now = [0.0]
    with caplog.at_level(logging.INFO, logger="bend_gui.cli"):
        bar = PlainProgress("0 · Base training", clock=lambda: now[0])
        for done in range(1, 1001):  # 1000 steps of 0.5 s: 500 s
            now[0] += 0.5
            bar.update(done, 1000, f"loss {1 / done:.3f}")
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "0 · Base training: started"
    # one per tenth (each 50 s here), never closer than 10 s apart
    assert 9 <= len(lines) - 1 <= 11, lines
    assert "ETA 7:30" in lines[1] and "10 % (100/1000)" in lines[1], lines[1]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bend_gui.cli"):
        bar = PlainProgress("fast", clock=lambda: now[0])
        for done in range(1, 101):  # the whole job in 5 s: only the start line
            now[0] += 0.05
            bar.update(done, 100)
        bar = PlainProgress("slow", clock=lambda: now[0])
        for done in range(1, 11):  # 1 % per 30 s: a heartbeat line every minute, no more
            now[0] += 30
            bar.update(done, 1000)
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["fast", "slow"] + ["slow"] * 5
