"""`bend`: the headless command over the same core the app uses.

stdout carries results only (tables, JSON); progress and messages go through `logging` to stderr. Only the
commands that compute import torch, so `bend status` and `bend templates` start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path

import shtab

from .console import logs
from .console.events import EventPrinter
from .console.progress import progress_kind
from .core.errors import (
    EXIT_BUG,
    EXIT_INTERRUPTED,
    EXIT_OUT_OF_MEMORY,
    BendError,
    Cancelled,
)
from .core.events import CancelFlag, StageFinished
from .core.fileio import json_safe
from .core.ml.oom import is_out_of_memory
from .core.project.folder import STAGE_TITLES, STAGES, Project
from .core.settings import config as C
from .core.settings.templates import DEMO, list_templates, load_template

log = logging.getLogger("bend_gui.cli")
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a command killed by the closed pipe

EXIT_CODES = """exit codes:
  0    done
  1    a bug in bend (the message says how to get the traceback)
  2    bad input: a setting, a file, a dataset or a project that cannot be used as it is; nothing was changed
  3    project busy: another process holds the project's lock (the message names its pid); retry later
  4    out of memory: a stage did not fit, or ran out while running; lower the setting the message names
  130  interrupted (Ctrl-C or SIGTERM): the stage stopped at a safe point; `bend run` resumes it
  141  stdout was closed early (`bend … | head`)"""


def _print_json(obj) -> None:
    print(json.dumps(json_safe(obj), indent=2, allow_nan=False), flush=True)


def cmd_new(args) -> int:
    from .core.pipeline import preflight

    cfg = load_template(args.template) if args.template else C.ProjectConfig()
    cfg = C.with_values(cfg, [C.parse_assignment(s) for s in args.set or []])
    cfg.name = Path(args.dir).name
    subset = preflight.check(cfg, need_data=not args.no_data_check, memory_for=("autoencoder",))
    like = list_templates()[args.template].read_text(encoding="utf-8") if args.template else None
    p = Project.create(args.dir, cfg, like=like)  # keeps the template's comments
    if args.json:
        _print_json({"project": str(p.root), "backbone": cfg.model.backbone, "dataset": cfg.data.dataset,
                     "subset": list(cfg.subset.layers), "d": subset.d})
        return 0
    print(f"created {p.root} ({cfg.model.backbone} on {cfg.data.dataset}, subset d = {subset.d:,}); "
          f"next: bend run {args.dir}")
    return 0


def _ctrl_c_cancels(cancel: CancelFlag):
    """Make the first Ctrl-C (or SIGTERM, what `kill` and job schedulers send) set the cancel flag: a clean
    stop at the next safe point, with a checkpoint; a second one aborts. Returns the previous handlers, for
    `_restore_signals`."""

    def on_signal(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        how = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        # os.write, not logging or print: a signal handler must not wait for a lock the program holds
        os.write(2, f"\ncancelling at the next safe point ({how} again to abort at once)…\n".encode())

    return {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signals(old: dict) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler)


def _drive(factory, label: str, quiet: bool, show=None, printer: EventPrinter | None = None) -> int:
    """Run a core job (factory(cancel) gives its event generator) with progress on stderr and Ctrl-C as
    cancel; 0 when done, 130 when cancelled. `show(event)` also sees each event."""
    cancel = CancelFlag()
    old = _ctrl_c_cancels(cancel)
    printer = printer or EventPrinter(progress_kind(quiet), label)
    try:
        for ev in factory(cancel):
            printer(ev)
            if show is not None:
                show(ev)
    except Cancelled:
        printer.close()
        log.warning("cancelled; what was finished is saved, and the next run resumes from the last checkpoint")
        return EXIT_INTERRUPTED
    finally:
        _restore_signals(old)
        printer.close()
    return 0


def cmd_run(args) -> int:
    from .core.pipeline import runner as pipeline

    project = Project.open(args.dir)
    finished = []

    def summary(ev) -> None:  # the run's result on stdout: what each stage did, as it happens
        if isinstance(ev, StageFinished):
            finished.append({"stage": ev.stage, "skipped": ev.skipped, "seconds": ev.seconds})
            if not args.json:
                note = "up to date, skipped" if ev.skipped else f"done in {ev.seconds:.1f} s"
                print(f"{STAGE_TITLES[ev.stage]}: {note}", flush=True)

    rc = _drive(lambda cancel: pipeline.run(project, until=args.until, only=args.only,
                                            force=tuple(args.force or ()), cancel=cancel),
                "", args.quiet, show=summary,
                printer=EventPrinter(progress_kind(args.quiet), finish_level=logging.INFO if args.json else logging.DEBUG))
    if args.json:
        _print_json({"project": str(project.root), "cancelled": rc == EXIT_INTERRUPTED, "stages": finished})
    return rc


def cmd_status(args) -> int:
    project = Project.open(args.dir)
    project.load_config()  # an unreadable project.toml is one error line, not six stale stages
    states = project.stage_states()
    if args.json:
        _print_json({"project": str(project.root), "stages": [
            {"stage": s.stage, "state": s.state, "detail": s.detail, "seconds": s.seconds,
             "resumable": s.resumable, "info": s.info} for s in states]})
        return 0
    print(project.root)
    for s in states:
        extra = f" ({s.detail})" if s.detail else ""
        extra += " · resumable" if s.resumable and s.state != "done" else ""
        secs = f"{s.seconds:8.1f} s" if s.state in ("done", "stale") else " " * 10
        print(f"  {STAGE_TITLES[s.stage]:<28} {s.state:<10}{secs}{extra}")
    return 0


def cmd_report(args) -> int:
    from .core.results.report import (
        format_report,
        load_metrics,
        seed_stats,
        seeds_lines,
    )

    project = Project.open(args.dir)
    metrics, note = load_metrics(project), project.require_last_good("evaluate")
    if args.study:
        definition, records = _seed_study(project, args.study)
    if args.json:
        if note:
            log.warning("these results are %s", note)
        if args.study:
            stats = seed_stats(records)
            _print_json({**metrics, "seeds_study": {
                "name": args.study, "seeds": [r["seed"] for r in records if r["state"] == "done"],
                "mean": {c: m for c, (m, _) in stats.items()}, "std": {c: s for c, (_, s) in stats.items()}}})
        else:
            _print_json(metrics)
        return 0
    cfg = project.load_config()
    title = (f"BEND report · {project.root} · {cfg.model.backbone} on {cfg.data.dataset} · "
             f"subset {', '.join(cfg.subset.layers)}" + (f"\nNOTE: these results are {note}" if note else ""))
    print(format_report(metrics, title))
    if args.study:
        print()
        print("\n".join(seeds_lines(metrics, definition, records)))
    return 0


def _seed_study(project: Project, name: str) -> tuple[dict, list[dict]]:
    """A saved study over seeds only (the definition, its records), or a BendError that says what to run."""
    from .core.results.report import varied_keys
    from .core.studies import study

    definition, records = study.load_study(project, name)
    varied = varied_keys(definition["grid"])
    if varied:
        raise BendError(f"--study {name}: it varies {', '.join(varied)}, not only the seed; a study over seeds "
                        f"holds one value per key, e.g. bend sweep {project.root} --grid generate.m="
                        f"{project.load_config().generate.m} --seeds 0,1,2,3,4 --name seeds")
    if not any(r["state"] == "done" for r in records):
        raise BendError(f"--study {name}: no finished point yet; run it: bend sweep {project.root} --name {name}")
    return definition, records


def cmd_export(args) -> int:
    from .core.results.bundle_export import export

    summary = export(Project.open(args.dir), Path(args.out), members=args.members, rule=args.rule)
    if summary["note"]:
        log.warning("the bundle is %s", summary["note"])
    if args.json:
        _print_json(summary)
        return 0
    print(f"wrote {summary['path']}: {summary['members']} members ({summary['source']}), d = {summary['d']:,}, "
          f"rule {summary['rule']}, {summary['bytes'] / 2**20:.1f} MiB")
    return 0


def cmd_layers(args) -> int:
    from .core.ml.backbones import build_model, last_batchnorms, list_modules

    model = build_model(args.backbone, args.channels, args.classes)
    modules = [m for m in list_modules(model) if m.own_params or args.all]
    default = last_batchnorms(model)
    if args.json:
        _print_json({"backbone": args.backbone, "default_subset": list(default), "modules": [
            {"name": m.name, "type": m.type, "own_params": m.own_params, "total_params": m.total_params,
             "is_batchnorm": m.is_batchnorm} for m in modules]})
        return 0
    for m in modules:
        depth = m.name.count(".")
        print(f"{'  ' * depth}{m.name:<{40 - 2 * depth}} {m.type:<18} {m.own_params:>10,}")
    print(f"default subset (last two BatchNorm layers): {', '.join(default)}")
    return 0


def _executor_options(args) -> dict:
    """The options of `--executor ray` (none for local)."""
    return {} if args.executor == "local" else {
        "address": args.address, "cpus_per_point": args.cpus_per_point, "gpus_per_point": args.gpus_per_point,
        "retries": args.retries}


def cmd_sweep(args) -> int:
    """`bend sweep DIR --over m|k --values ...`: Figure 5's sweeps, the studies named m and k
    (core/studies/sweeps.py); with --grid, a study over any settings (cmd_study)."""
    from .core.studies import sweeps
    from .core.studies.executors import make_executor

    if args.grid or (args.name and not args.over):
        return cmd_study(args)
    if not args.over:
        raise BendError("give the grid (--grid section.key=v1,v2 ...) or --over m|k with --values")
    if args.name:
        raise BendError(f"--name: the sweep over {args.over} is the study named {args.over}; --name goes with --grid")
    project = Project.open(args.dir)
    if not args.summary:
        seeds = sweeps.parse_values(args.seeds, "--seeds")
        if args.values is None:
            raise BendError("--values: give the m or k values, e.g. --values 5,10,20,50,100")
        values = sweeps.parse_values(args.values, "--values", lo=1)
        executor = make_executor(args.executor, **_executor_options(args))
        if args.over == "m":
            def factory(cancel):
                return sweeps.sweep_m(project, values, seeds, cancel, executor=executor)
        else:
            def factory(cancel):
                return sweeps.sweep_k(project, values, seeds, m=args.m, cancel=cancel, executor=executor)
        rc = _drive(factory, f"sweep over {args.over}", args.quiet)
        if rc:
            return rc
    rows = sweeps.load_sweep(project, args.over)
    info = sweeps.sweep_info(project, args.over)
    failed = sweeps.failed_points(project, args.over)
    if args.json:
        _print_json({"over": args.over, "info": info, "rows": rows, "failed": failed})
        return 0
    if not rows and not failed:
        print(f"no sweep over {args.over} saved in {project.root}")
        return 0
    info = info or {}
    fixed = f"m = {info.get('m')}" if args.over == "k" else f"k = {info.get('k')} snapshots"
    tests = f"{info['n_test']} test images" if info.get("n_test") else "test set"
    stale = ("" if info.get("current", True) else " · STALE: made with an earlier generator or other settings"
             if not info.get("legacy") else f" · sweep again to redo it as the study studies/{args.over}")
    print(f"accuracy (%) vs {args.over} · {info.get('describe', '')} · {fixed} · {tests} · mean ± std over seeds"
          + stale)
    print(sweeps.format_summary(rows, args.over))
    for f in failed:
        print(f"failed: {args.over} = {f[args.over]}, seed {f['seed']}: {f['error']}")
    if info.get("state") == "cancelled":
        print(f"{info['total'] - info['points'] - info['failed']} of {info['total']} points missing (cancelled or "
              f"stopped): sweep again to compute only those")
    print(f"rows: {sweeps.sweep_path(project, args.over)}")
    return 0


STUDY_COLUMNS = (("sbend", "sBEND"), ("abend_mean", "aBEND"), ("gen_mean", "gen mean"), ("orig_mean", "orig mean"),
                 ("d_i", "d_i"), ("disagree_gen", "disagree"))


def _study_json(records: list[dict]) -> list[dict]:
    """The points as `--json` prints them: swept values, seed, state, Table 3 columns, d_i, disagreement."""
    from .core.studies.point import ROW_COLUMNS

    out = []
    for r in records:
        row = r.get("row", {})
        out.append({**r["values"], "seed": r["seed"], "state": r["state"],
                    **{c: row.get(c) for c in ROW_COLUMNS}, "d_i": row.get("d_i"),
                    "disagreement": row.get("disagree_gen"), "node": r.get("node", ""), "error": r.get("error", "")})
    return out


def cmd_study(args) -> int:
    """`bend sweep DIR --grid key=v1,v2 ... --seeds 0,1,2`: a study over any settings (core/studies/study.py)."""
    from .core.studies import grid as G
    from .core.studies import study
    from .core.studies.executors import make_executor

    project = Project.open(args.dir)
    keys = dict(G.parse_grid_arg(g) for g in args.grid) if args.grid else None
    name, grid = study.define(project, keys, G.parse_seeds(args.seeds) if keys else None, args.name)
    if not args.summary:
        options = {} if args.executor == "local" else {
            "address": args.address, "cpus_per_point": args.cpus_per_point, "gpus_per_point": args.gpus_per_point,
            "retries": args.retries}
        executor = make_executor(args.executor, **options)
        rc = _drive(lambda cancel: study.run_study(project, name, grid, executor, cancel), f"study {name}",
                    args.quiet)
        if rc:
            return rc
    definition, records = study.load_study(project, name)
    if args.json:
        _print_json(_study_json(records))
        return 0
    keys = list(definition["grid"]["keys"])
    head = "".join(f"{k.split('.', 1)[1]:>16}" for k in keys) + f"{'seed':>6}{'state':>8}" + \
        "".join(f"{label:>11}" for _, label in STUDY_COLUMNS)
    print(f"study {name} · accuracy in % · {len(records)} of {len(G.Grid.from_dict(definition['grid']).points())} "
          f"points saved")
    print(head)
    for r in records:
        row = r.get("row", {})
        cells = "".join(f"{r['values'][k]!s:>16}" for k in keys) + f"{r['seed']:>6}{r['state']:>8}"
        for c, _ in STUDY_COLUMNS:
            v = row.get(c)
            cells += f"{'':>11}" if v is None else (f"{100 * v:>11.2f}" if c not in ("d_i", "disagree_gen")
                                                     else f"{v:>11.3f}")
        print(cells + (f"  {r['error']}" if r.get("error") else ""))
    print(f"table: {project.root / 'studies' / name / 'table.csv'}")
    return 0


def _executor(args):
    from .core.studies.executors import make_executor

    options = {} if args.executor == "local" else {
        "address": args.address, "cpus_per_point": args.cpus_per_point, "gpus_per_point": args.gpus_per_point,
        "retries": args.retries}
    return make_executor(args.executor, **options)


def cmd_frontier(args) -> int:
    """`bend frontier DIR`: a study per generator knob, then accuracy vs diversity with Pareto fronts."""
    from .core.results import frontier as F
    from .core.studies import frontier
    from .core.studies.grid import parse_seeds

    project = Project.open(args.dir)
    if args.summary:
        f = frontier.load(project)
        if not f.settings:
            raise BendError(f"no frontier in {project.root}: run bend frontier {project.root}")
        frontier.save(project, f)  # the CSV and text of the points saved so far (e.g. after a cancel)
    else:
        values = frontier.parse_values(args.values)
        seeds = parse_seeds(args.seeds)
        executor = _executor(args)
        result = {}

        def factory(cancel):
            result["f"] = yield from frontier.run_frontier(project, seeds, executor, cancel, values, m=args.m)
        rc = _drive(factory, "frontier", args.quiet)
        if rc:
            return rc
        f = result["f"]
    where = frontier.paths(project)
    if args.json:
        _print_json({"settings": f.rows(), "text": F.text(f), "csv": str(where["csv"])})
        return 0
    print(F.table(f))
    print()
    print(F.text(f))
    print(f"\ntable: {where['csv']}\ntext: {where['text']}")
    return 0


def cmd_ablation(args) -> int:
    from .core.studies import ablation

    project = Project.open(args.dir)
    for layers in args.add or []:
        variant = ablation.add_variant(project, layers)
        print(f"added variant {variant.slug} ({layers})")
    for slug in args.remove or []:
        ablation.remove_variant(project, slug)
        print(f"removed variant {slug}")
    if args.run:
        rc = _drive(lambda cancel: ablation.run_variants(project, cancel), "ablation", args.quiet)
        if rc:
            return rc
    print("Table 5 · test accuracy (%) per parameter subset of the same base network")
    print(ablation.format_table5(ablation.table5(project)))
    return 0


def cmd_templates(args) -> int:
    rows = [{"name": name, "description": C.load(path).description, "path": str(path)}
            for name, path in list_templates().items()]
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        print(f"{r['name']:<24} {r['description']}")
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bend-studio")
    except PackageNotFoundError:  # run from a source tree that was never installed
        from . import __version__
        return __version__


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="bend", description="BEND Studio, headless: create, run and inspect "
                                 "BEND experiments (bagging with neural-network diffusion). Results go to "
                                 "stdout; progress and messages to stderr.", epilog=EXIT_CODES,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"bend {_version()}")
    shtab.add_argument_to(ap, ["--print-completion"], help="print a shell completion script (see README)")
    # every command takes -q/-v; every command that reports takes --json
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr: no "
                        "progress, no messages")
    common.add_argument("-v", "--verbose", action="count", default=0, help="also debug lines on stderr "
                        "(per-step losses, study points)")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, func, help, json=True):
        p = sub.add_parser(name, help=help, description=help, parents=[common, as_json] if json else [common],
                           epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        return p

    def project_dir(p, what="the project folder"):
        p.add_argument("dir", metavar="DIR", help=what).complete = shtab.DIRECTORY

    p = command("new", cmd_new, "create a project folder")
    project_dir(p, "the new project folder (must not exist, or be empty)")
    p.add_argument("--template", help=f"start from a template (e.g. {DEMO}; `bend templates` lists them)")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="override a setting")
    p.add_argument("--no-data-check", action="store_true", help="create it even if the dataset is missing")

    p = command("run", cmd_run, "run the pipeline (finished stages with unchanged inputs are skipped)")
    project_dir(p)
    p.add_argument("--until", choices=STAGES, help="stop after this stage")
    p.add_argument("--only", choices=STAGES, help="run just this stage (earlier ones must be done)")
    p.add_argument("--force", action="append", choices=STAGES, help="rerun this stage even if done")

    p = command("status", cmd_status, "which stages are done, stale, failed or resumable")
    project_dir(p)

    p = command("report", cmd_report, "Table 3, the baselines, diversity, calibration and efficiency")
    project_dir(p)
    p.add_argument("--study", metavar="NAME", help="also Table 3 as mean ± std over the seeds of study NAME, a "
                   "study whose only varied axis is the seed (e.g. bend sweep DIR --grid generate.m=100 "
                   "--seeds 0,1,2,3,4 --name seeds)")

    p = command("export", cmd_export, "write the ensemble as a .pt bundle (loads with bend_gui.bundle.load)")
    project_dir(p)
    p.add_argument("out", metavar="OUT.pt", help="the bundle to write (outside any project folder)"
                   ).complete = shtab.FILE
    p.add_argument("--members", choices=("generated", "original"), default="generated")
    p.add_argument("--rule", choices=("sbend", "abend", "soft"), default="sbend")

    p = command("layers", cmd_layers, "list a backbone's modules with their parameter counts")
    p.add_argument("backbone", help="a backbone name, e.g. resnet18 (the wizard lists them)")
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--all", action="store_true", help="also modules without parameters of their own")

    p = command("sweep", cmd_sweep, "a study over any settings (--grid), or accuracy vs m or k (--over, BEND "
                "Figure 5); mean ± std over seeds")
    project_dir(p)
    p.add_argument("--grid", action="append", metavar="SECTION.KEY=V1,V2",
                   help="a study: sweep this setting over these values (repeat for a grid), e.g. "
                   "--grid autoencoder.latent_noise=0,0.1,0.3 --grid generate.sampler=ddim,ddpm")
    p.add_argument("--name", help="the study's name (folder studies/NAME; default: the swept keys); alone, "
                   "reruns that study's missing points")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where the points run: here, one at a time (default), or on a Ray cluster")
    p.add_argument("--address", default="auto", help="ray: the cluster, auto or HOST:PORT (default auto)")
    p.add_argument("--cpus-per-point", type=float, default=1, help="ray: CPUs each point reserves (default 1)")
    p.add_argument("--gpus-per-point", type=float, default=0,
                   help="ray: GPU share each point reserves, e.g. 0.25 = four points per GPU (default 0)")
    p.add_argument("--retries", type=int, default=3, help="ray: retries of a point whose worker died (default 3)")
    p.add_argument("--over", choices=("m", "k"), help="Figure 5's sweeps over m or k (with --values): the studies "
                   "named m and k, on any --executor")
    p.add_argument("--values", help="comma-separated m or k values, e.g. 5,10,20,50,100")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--m", type=int, help="k-sweep only: members generated per point (default [generate] m)")
    p.add_argument("--summary", action="store_true", help="only print the saved sweep or study")

    p = command("frontier", cmd_frontier, "the accuracy–diversity frontier: a study per generator over its own "
                "knob, accuracy (sBEND, soft vote) vs disagreement per pair, mean ± std over seeds, Pareto fronts")
    project_dir(p)
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--m", type=int, help="members per point (default: the project's [generate] m; fewer make "
                   "each point cheaper)")
    p.add_argument("--values", action="append", metavar="SECTION.KEY=V1,V2",
                   help="other values for one knob, e.g. --values generate.noise_sigma=0.01,0.1,1 (knobs: "
                   "autoencoder.latent_noise, generate.decode_noise, generate.ddim_eta, generate.noise_sigma, "
                   "generate.average_size, generate.gaussian_scale)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where the points run: here, one at a time (default), or on a Ray cluster")
    p.add_argument("--address", default="auto", help="ray: the cluster, auto or HOST:PORT (default auto)")
    p.add_argument("--cpus-per-point", type=float, default=1, help="ray: CPUs each point reserves (default 1)")
    p.add_argument("--gpus-per-point", type=float, default=0, help="ray: GPU share each point reserves")
    p.add_argument("--retries", type=int, default=3, help="ray: retries of a point whose worker died (default 3)")
    p.add_argument("--summary", action="store_true", help="only print (and write to frontier/) the frontier of the "
                   "points saved so far; computes no point")

    p = command("ablation", cmd_ablation, "layer ablation (BEND Table 5): variants of the subset sharing the "
                "base", json=False)
    project_dir(p)
    p.add_argument("--add", action="append", metavar="LAYERS", help="add a variant, e.g. --add bn4 or "
                   "--add 'bn3,fc2' (module names or glob patterns)")
    p.add_argument("--remove", action="append", metavar="SLUG", help="delete a variant's folder")
    p.add_argument("--run", action="store_true", help="run the variants that are not done")

    command("templates", cmd_templates, "list project templates")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup(-1 if args.quiet else args.verbose)
    try:
        return args.func(args)
    except BendError as e:
        log.error("%s", e)
        return e.exit_code
    except KeyboardInterrupt:  # a second Ctrl-C: no checkpoint this time
        log.error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `bend status DIR | head`: the reader left; say nothing, as `cat` would
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # or the exit's flush fails again
        return EXIT_BROKEN_PIPE
    except Exception as e:
        if os.environ.get("BEND_DEBUG"):
            raise
        first = str(e).splitlines()[0] if str(e) else ""
        if is_out_of_memory(e):  # outside a stage (the runner names a stage's own)
            log.error("out of memory (%s: %s); lower the batch size or the number of members", type(e).__name__,
                      first)
            return EXIT_OUT_OF_MEMORY
        log.error("%s: %s (set BEND_DEBUG=1 for the traceback)", type(e).__name__, first)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
