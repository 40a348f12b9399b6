"""`bend`: the headless command over the same core the app uses."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from .core.errors import BendError, Cancelled
from .core.events import CancelFlag, Message, Metric, Progress, StageFinished, StageStarted
from .core.fileio import json_safe
from .core.pipeline import preflight
from .core.pipeline import runner as pipeline
from .core.project.folder import STAGE_TITLES, STAGES, Project
from .core.settings import config as C
from .core.settings.templates import DEMO, list_templates, load_template


def cmd_new(args) -> int:
    cfg = load_template(args.template) if args.template else C.ProjectConfig()
    cfg = C.with_values(cfg, [C.parse_assignment(s) for s in args.set or []])
    cfg.name = Path(args.dir).name
    subset = preflight.check(cfg, need_data=not args.no_data_check, memory_for=("autoencoder",))
    p = Project.create(args.dir, cfg)
    print(f"created {p.root} ({cfg.model.backbone} on {cfg.data.dataset}, subset d = {subset.d:,}); "
          f"next: bend run {args.dir}")
    return 0


def _ctrl_c_cancels(cancel: CancelFlag):
    """Make the first Ctrl-C (or SIGTERM, what `kill` and job schedulers send) set the cancel flag: a clean
    stop at the next safe point, with a checkpoint; a second one aborts. Returns the previous handlers, for
    `_restore_signals`."""
    from tqdm import tqdm

    def on_signal(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        how = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        tqdm.write(f"cancelling at the next safe point ({how} again to abort at once)…")

    return {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signals(old: dict) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler)


def cmd_run(args) -> int:
    from tqdm import tqdm

    project = Project.open(args.dir)
    cancel = CancelFlag()
    old = _ctrl_c_cancels(cancel)
    bar = None
    try:
        for ev in pipeline.run(project, until=args.until, only=args.only, force=tuple(args.force or ()),
                               cancel=cancel):
            if isinstance(ev, StageStarted):
                bar = tqdm(total=1, desc=STAGE_TITLES[ev.stage], unit="step", dynamic_ncols=True,
                           leave=True, disable=args.quiet or None)
                if ev.resumed:
                    tqdm.write(f"{ev.stage}: resuming from checkpoint")
            elif isinstance(ev, Progress) and bar is not None:
                if ev.step or bar.total != ev.total:  # a sub-step (the activation cache) has its own count
                    bar.total = ev.total
                bar.n = ev.done
                bar.set_postfix_str(ev.text, refresh=False)
                bar.refresh()
            elif isinstance(ev, Metric) and ev.stage == "base" and not args.quiet:
                v = ev.values
                tqdm.write(f"base: epoch {int(ev.x)} train loss {v['train_loss']:.4f} "
                           f"test acc {v['test_acc']:.4f} ({v['seconds']:.1f} s)")
            elif isinstance(ev, Message) and not args.quiet:
                tqdm.write(f"{ev.stage}: {ev.text}")
            elif isinstance(ev, StageFinished):
                if bar is not None:
                    bar.close()
                    bar = None
                note = "up to date, skipped" if ev.skipped else f"done in {ev.seconds:.1f} s"
                print(f"{STAGE_TITLES[ev.stage]}: {note}")
    except Cancelled:
        if bar is not None:
            bar.close()
        print(f"cancelled; `bend run {args.dir}` resumes from the last checkpoint", file=sys.stderr)
        return 130
    finally:
        _restore_signals(old)
        if bar is not None:
            bar.close()
    return 0


def cmd_status(args) -> int:
    project = Project.open(args.dir)
    project.load_config()  # an unreadable project.toml is one error line, not six stale stages
    states = project.stage_states()
    if args.json:
        print(json.dumps(json_safe({"project": str(project.root), "stages": [
            {"stage": s.stage, "state": s.state, "detail": s.detail, "seconds": s.seconds,
             "resumable": s.resumable, "info": s.info} for s in states]}), indent=2, allow_nan=False))
        return 0
    print(project.root)
    for s in states:
        extra = f" ({s.detail})" if s.detail else ""
        extra += " · resumable" if s.resumable and s.state != "done" else ""
        secs = f"{s.seconds:8.1f} s" if s.state in ("done", "stale") else " " * 10
        print(f"  {STAGE_TITLES[s.stage]:<28} {s.state:<10}{secs}{extra}")
    return 0


def cmd_report(args) -> int:
    from .core.results.report import format_report, load_metrics

    project = Project.open(args.dir)
    metrics, note = load_metrics(project), project.require_last_good("evaluate")
    if args.json:
        if note:
            print(f"note: these results are {note}", file=sys.stderr)
        print(json.dumps(metrics, indent=2))
        return 0
    cfg = project.load_config()
    title = (f"BEND report · {project.root} · {cfg.model.backbone} on {cfg.data.dataset} · "
             f"subset {', '.join(cfg.subset.layers)}" + (f"\nNOTE: these results are {note}" if note else ""))
    print(format_report(metrics, title))
    return 0


def cmd_export(args) -> int:
    from .core.results.bundle_export import export

    summary = export(Project.open(args.dir), Path(args.out), members=args.members, rule=args.rule)
    print(f"wrote {summary['path']}: {summary['members']} members ({summary['source']}), d = {summary['d']:,}, "
          f"rule {summary['rule']}, {summary['bytes'] / 2**20:.1f} MiB")
    if summary["note"]:
        print(f"note: the bundle is {summary['note']}", file=sys.stderr)
    return 0


def cmd_layers(args) -> int:
    from .core.ml.backbones import build_model, last_batchnorms, list_modules

    model = build_model(args.backbone, args.channels, args.classes)
    for m in list_modules(model):
        if m.own_params or args.all:
            depth = m.name.count(".")
            print(f"{'  ' * depth}{m.name:<{40 - 2 * depth}} {m.type:<18} {m.own_params:>10,}")
    print(f"default subset (last two BatchNorm layers): {', '.join(last_batchnorms(model))}")
    return 0


def _drive(factory, label: str, quiet: bool) -> int:
    """Run a core job (factory(cancel) gives its event generator) with a tqdm bar and Ctrl-C as cancel;
    0 when done, 130 when cancelled."""
    from tqdm import tqdm

    cancel = CancelFlag()
    old = _ctrl_c_cancels(cancel)
    bar = tqdm(total=1, desc=label, unit="step", dynamic_ncols=True, disable=quiet or None)
    try:
        for ev in factory(cancel):
            if isinstance(ev, Progress):
                if bar.total != ev.total:
                    bar.total = ev.total
                bar.n = ev.done
                bar.set_postfix_str(ev.text, refresh=False)
                bar.refresh()
            elif isinstance(ev, Message) and not quiet:
                tqdm.write(f"{ev.stage}: {ev.text}")
    except Cancelled:
        bar.close()
        print("cancelled; what was finished is saved", file=sys.stderr)
        return 130
    finally:
        _restore_signals(old)
        bar.close()
    return 0


def cmd_sweep(args) -> int:
    from .core.studies import sweeps

    if args.grid or (args.name and not args.over):
        return cmd_study(args)
    if not args.over:
        raise BendError("give the grid (--grid section.key=v1,v2 ...) or --over m|k with --values")
    project = Project.open(args.dir)
    if not args.summary:
        seeds = sweeps.parse_values(args.seeds, "--seeds")
        if args.values is None:
            raise BendError("--values: give the m or k values, e.g. --values 5,10,20,50,100")
        values = sweeps.parse_values(args.values, "--values", lo=1)
        if args.over == "m":
            def factory(cancel):
                return sweeps.sweep_m(project, values, seeds, cancel)
        else:
            def factory(cancel):
                return sweeps.sweep_k(project, values, seeds, m=args.m, cancel=cancel)
        rc = _drive(factory, f"sweep over {args.over}", args.quiet)
        if rc:
            return rc
    rows = sweeps.load_sweep(project, args.over)
    if not rows:
        print(f"no sweep over {args.over} saved in {project.root}")
        return 0
    info = sweeps.sweep_info(project, args.over) or {}
    fixed = f"m = {info.get('m')}" if args.over == "k" else f"k = {info.get('k')} snapshots"
    print(f"accuracy (%) vs {args.over} · {info.get('describe', '')} · {fixed} · {info.get('n_test')} test images · "
          f"mean ± std over seeds" + ("" if info.get("current", True) else
                                      " · STALE: made with an earlier generator or other settings"))
    print(sweeps.format_summary(rows, args.over))
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
    from tqdm import tqdm

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
        cancel = CancelFlag()
        old = _ctrl_c_cancels(cancel)
        bar = tqdm(total=1, desc=f"study {name}", unit="point", dynamic_ncols=True, file=sys.stderr,
                   disable=args.quiet or None)
        try:
            for ev in study.run_study(project, name, grid, executor, cancel):
                if isinstance(ev, Progress) and ev.stage == "study" and ev.step == "":
                    bar.total, bar.n = ev.total, ev.done
                    bar.refresh()
                elif isinstance(ev, Message) and not args.quiet:
                    tqdm.write(f"{ev.stage}: {ev.text}", file=sys.stderr)
        except Cancelled:
            bar.close()
            print("cancelled; the finished points are saved", file=sys.stderr)
            return 130
        finally:
            _restore_signals(old)
            bar.close()
    definition, records = study.load_study(project, name)
    if args.json:
        print(json.dumps(json_safe(_study_json(records)), indent=1))
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


def cmd_ablation(args) -> int:
    from .core.studies import ablation

    project = Project.open(args.dir)
    for layers in args.add or []:
        child = ablation.add_variant(project, layers)
        print(f"added variant {child.root.name} ({layers})")
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
    for name, path in list_templates().items():
        cfg = C.load(path)
        print(f"{name:<24} {cfg.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="bend", description="BEND Studio, headless: create, run and inspect "
                                 "BEND experiments (bagging with neural-network diffusion).")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("new", help="create a project folder")
    p.add_argument("dir")
    p.add_argument("--template", help=f"start from a template (e.g. {DEMO}; `bend templates` lists them)")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="override a setting")
    p.add_argument("--no-data-check", action="store_true", help="create it even if the dataset is missing")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("run", help="run the pipeline (finished stages with unchanged inputs are skipped)")
    p.add_argument("dir")
    p.add_argument("--until", choices=STAGES, help="stop after this stage")
    p.add_argument("--only", choices=STAGES, help="run just this stage (earlier ones must be done)")
    p.add_argument("--force", action="append", choices=STAGES, help="rerun this stage even if done")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or messages")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("status", help="which stages are done, stale, failed or resumable")
    p.add_argument("dir")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("report", help="Table 3, the baselines, diversity, calibration and efficiency")
    p.add_argument("dir")
    p.add_argument("--json", action="store_true", help="print results/metrics.json")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("export", help="write the ensemble as a .pt bundle (loads with bend_gui.bundle.load)")
    p.add_argument("dir")
    p.add_argument("out", metavar="OUT.pt")
    p.add_argument("--members", choices=("generated", "original"), default="generated")
    p.add_argument("--rule", choices=("sbend", "abend", "soft"), default="sbend")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("layers", help="list a backbone's modules with their parameter counts")
    p.add_argument("backbone")
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--all", action="store_true", help="also modules without parameters of their own")
    p.set_defaults(func=cmd_layers)

    p = sub.add_parser("sweep", help="accuracy vs m (one trained generator) or vs k (a generator trained per "
                       "point), mean ± std over seeds (BEND Figure 5)")
    p.add_argument("dir")
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
    p.add_argument("--json", action="store_true", help="print the study's points as JSON (progress on stderr)")
    p.add_argument("--over", choices=("m", "k"), help="Figure 5's sweeps over m or k (with --values)")
    p.add_argument("--values", help="comma-separated m or k values, e.g. 5,10,20,50,100")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--m", type=int, help="k-sweep only: members generated per point (default [generate] m)")
    p.add_argument("--summary", action="store_true", help="only print the saved sweep or study")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or messages")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("ablation", help="layer ablation (BEND Table 5): variants of the subset sharing the base")
    p.add_argument("dir")
    p.add_argument("--add", action="append", metavar="LAYERS", help="add a variant, e.g. --add bn4 or "
                   "--add 'bn3,fc2' (module names or glob patterns)")
    p.add_argument("--remove", action="append", metavar="SLUG", help="delete a variant's folder")
    p.add_argument("--run", action="store_true", help="run the variants that are not done")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or messages")
    p.set_defaults(func=cmd_ablation)

    p = sub.add_parser("templates", help="list project templates")
    p.set_defaults(func=cmd_templates)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BendError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - a bug, not bad input: one line, the traceback on request
        if os.environ.get("BEND_DEBUG"):
            raise
        first = str(e).splitlines()[0] if str(e) else ""
        print(f"error: {type(e).__name__}: {first} (set BEND_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
