"""The generator's training stages: the stopping rule, per-step curves streamed to <stage>/steps.csv while
they run, bars that never go back, and the generate stage reporting while it samples."""

import math

import pytest
import torch

from bend_gui.core.errors import Cancelled
from bend_gui.core.events import CancelFlag, Message, Metric, Progress
from bend_gui.core.ml.subset import Subset
from bend_gui.core.pdiff.autoencoder import ParamAutoencoder
from bend_gui.core.pdiff.ddpm import Denoiser, Schedule
from bend_gui.core.pdiff.normalize import Normalizer
from bend_gui.core.pdiff.sampling import DiffusionGenerator
from bend_gui.core.pdiff.stopping import WINDOW, LossTracker
from bend_gui.core.pipeline import runner as pipeline
from bend_gui.core.pipeline.context import Curve
from bend_gui.core.project.folder import Project


def _stop_step(losses, patience, min_delta):
    tr = LossTracker(patience, min_delta)
    for step, loss in enumerate(losses, 1):
        tr.add(torch.tensor(loss))
        if tr.window_done():
            _, stop = tr.take_window(step)
            if stop:
                return step
    return None


def test_the_plateau_rule_stops_on_a_flat_loss_and_not_on_a_falling_one():
    flat = [1.0] * 1000
    assert _stop_step(flat, 100, 0.01) == WINDOW + 100  # the first window sets the best
    assert _stop_step(flat, 0, 0.01) is None             # patience 0: never stops
    falling = [math.exp(-i / 200) for i in range(1000)]  # ~12 % per window
    assert _stop_step(falling, 100, 0.01) is None
    # Falling, then flat from step 500: the first flat window is still 6 % below the last falling window's
    # mean, so it stops `patience` steps after that window.
    bend = falling[:500] + [falling[499]] * 500
    assert _stop_step(bend, 100, 0.01) == 500 + WINDOW + 100


def test_the_log_read_is_the_mean_since_the_last_read():
    tr = LossTracker(0, 0.01)
    for x in (1.0, 2.0, 3.0):
        tr.add(torch.tensor(x))
    assert tr.take_log() == pytest.approx(2.0)
    tr.add(torch.tensor(5.0))
    assert tr.take_log() == pytest.approx(5.0)


@pytest.fixture
def streamed(monkeypatch):
    monkeypatch.setattr(Curve, "FLUSH_EVERY", 0.0)  # write at every step, so the test needs no clock


def test_training_stages_stream_steps_csv_and_their_bars_never_go_back(tmp_path, tiny_cfg, streamed):
    tiny_cfg.autoencoder.steps = 60
    tiny_cfg.autoencoder.eval_every = 20  # a reconstruction test inside training, one at the end
    tiny_cfg.autoencoder.patience = tiny_cfg.diffusion.patience = 0  # every step, so the counts are known
    p = Project.create(tmp_path / "p", tiny_cfg)
    seen = {"autoencoder": 0, "diffusion": 0}
    grew = {"autoencoder": [], "diffusion": []}
    progress = {"autoencoder": [], "diffusion": [], "generate": []}
    for ev in pipeline.run(p, until="generate"):
        if isinstance(ev, Metric) and ev.series == "steps" and ev.stage in seen:
            seen[ev.stage] += 1
            assert set(ev.values) == {"step", "loss", "lr"} and ev.x == ev.values["step"]
            # While the stage runs, the file already holds the points before this one.
            grew[ev.stage].append(len(p.read_curve(ev.stage, "steps")))
        if isinstance(ev, Progress) and ev.stage in progress and not ev.step:
            progress[ev.stage].append((ev.done, ev.total))
    assert seen == {"autoencoder": 60 // 10, "diffusion": 200 // 10}
    for stage, n in seen.items():
        assert grew[stage][1:] == sorted(grew[stage][1:]) and grew[stage][-1] >= n - 1
        assert len(p.read_curve(stage, "steps")) == n
        dones = [d for d, _ in progress[stage]]
        assert dones == sorted(dones), stage
        assert progress[stage][-1][0] == progress[stage][-1][1]  # ends full
    assert len(p.read_curve("autoencoder", "reconstruction")) == 3  # steps 20, 40 and the end
    assert progress["generate"] and progress["generate"][-1][0] == progress["generate"][-1][1]


def test_a_stopping_rule_ends_training_early_and_says_so(tmp_path, tiny_cfg):
    tiny_cfg.autoencoder.steps = 200
    tiny_cfg.autoencoder.eval_every = 0
    tiny_cfg.autoencoder.patience = 25
    tiny_cfg.autoencoder.min_delta = 1.0  # no window counts as progress: stops 25 steps after the first
    p = Project.create(tmp_path / "p", tiny_cfg)
    events = list(pipeline.run(p, until="autoencoder"))
    info = p.manifest()["stages"]["autoencoder"]["info"]
    assert info["steps"] == WINDOW + 25
    assert any(isinstance(e, Message) and "stopped at step 50 of 200" in e.text for e in events)
    assert p.read_curve("autoencoder", "steps")[-1]["step"] == 50
    bar = [e for e in events if isinstance(e, Progress) and e.stage == "autoencoder" and not e.step]
    assert [e.done for e in bar] == sorted(e.done for e in bar) and bar[-1].done == bar[-1].total


def _generator(d=12, latent=4):
    torch.manual_seed(0)
    ae = ParamAutoencoder(d, latent, [4, 4, 4, 4])
    norm = Normalizer.fit(torch.randn(5, d), Subset(("w",), ((d,),)), "tensor")
    return DiffusionGenerator.from_modules(ae, norm, Denoiser(latent, [8]), Schedule(20, 1e-4, 2e-2),
                                           torch.zeros(latent), 1.0, torch.device("cpu"))


def test_sampling_reports_progress_over_all_chunks_and_can_be_cancelled():
    gen = _generator()
    it = gen.sampling(10, sampler="ddim", steps=5, decode_noise=0.0, seed=0, chunk=4, every=0.0)
    events = []
    while True:
        try:
            events.append(next(it))
        except StopIteration as stop:
            members = stop.value
            break
    assert [e.done for e in events] == list(range(1, 16)) and {e.total for e in events} == {15}
    assert torch.equal(members, gen.sample(10, sampler="ddim", steps=5, decode_noise=0.0, seed=0, chunk=4))
    cancel = CancelFlag()
    cancel.set()
    with pytest.raises(Cancelled):
        list(gen.sampling(10, sampler="ddpm", steps=5, decode_noise=0.0, seed=0, cancel=cancel))
