import torch

from bend_gui.core.ml.subset import Subset
from bend_gui.core.pdiff.autoencoder import ParamAutoencoder
from bend_gui.core.pdiff.baselines import averaged, baseline, from_snapshots, gaussian
from bend_gui.core.pdiff.ddpm import EMA, Denoiser, Schedule, sample
from bend_gui.core.pdiff.normalize import Normalizer


def test_normalizer_roundtrip_and_per_tensor_scale():
    subset = Subset(("a", "b"), ((3,), (2,)))
    snaps = torch.tensor([[1.0, 2.0, 3.0, 100.0, 110.0], [1.5, 2.5, 3.5, 90.0, 120.0]])
    for mode in ("tensor", "residual"):
        n = Normalizer.fit(snaps, subset, mode)
        z = n.encode(snaps)
        assert torch.allclose(n.decode(z), snaps, atol=1e-5)
        assert abs(float(z[:, 3:].std()) - 1) < 0.3
        assert torch.allclose(Normalizer.from_dict(n.to_dict()).encode(snaps), z)


def test_autoencoder_handles_any_d():
    for d in (5, 16, 383):
        ae = ParamAutoencoder(d, 4, [4, 4, 4, 4])
        x = torch.randn(3, d)
        assert ae(x, 0.01, 0.1).shape == (3, d)
        assert ae.encode(x).abs().max() < 1  # tanh keeps latents small


def test_denoiser_conditions_each_sample_on_its_own_timestep():
    torch.manual_seed(0)
    model = Denoiser(12, [8, 16]).eval()
    x = torch.randn(2, 12)
    t = torch.tensor([5, 900])
    together = model(x, t)
    alone = torch.cat([model(x[:1], t[:1]), model(x[1:], t[1:])])
    assert torch.allclose(together, alone, atol=1e-5)
    assert not torch.allclose(model(x, torch.tensor([5, 5])), together)


def test_ema_is_warmed_up_so_short_runs_move():
    m = torch.nn.Linear(2, 2)
    ema = EMA(m, 0.9999)
    with torch.no_grad():
        m.weight.add_(1.0)
    for _ in range(20):
        ema.update(m)
    assert torch.allclose(ema.model.weight, m.weight, atol=0.05)


def test_samplers_give_finite_latents_and_ddim_steps_are_honoured():
    torch.manual_seed(0)
    model = Denoiser(8, [8, 8])
    sched = Schedule(50, 1e-4, 2e-2)
    steps = []
    for sampler, n_steps in (("ddpm", 50), ("ddim", 7)):
        z = sample(model, sched, 4, 8, sampler=sampler, steps=7, generator=torch.Generator().manual_seed(1),
                   device=torch.device("cpu"), on_step=lambda i, n: steps.append(n))
        assert z.shape == (4, 8) and torch.isfinite(z).all()
        assert steps[-1] == n_steps


def test_baseline_generators():
    g = torch.Generator().manual_seed(0)
    snaps = torch.randn(10, 6)
    picked = from_snapshots(snaps, 4, g)
    assert all(any(torch.equal(r, s) for s in snaps) for r in picked)
    assert len({tuple(r.tolist()) for r in picked}) == 4  # without replacement
    avg = averaged(snaps, 3, g, 10)
    assert torch.allclose(avg[0], snaps.mean(0), atol=1e-6)
    gs = gaussian(torch.randn(200, 3) * 2 + 5, 5000, g)
    assert torch.allclose(gs.mean(0), torch.full((3,), 5.0), atol=0.3)
    subset = Subset(("w",), ((6,),))
    zero = baseline("noise", snaps, 5, 0, subset, noise_sigma=0.0, average_size=2)
    assert all(any(torch.equal(r, s) for s in snaps) for r in zero)


def test_ddim_eta_zero_is_todays_sampler_and_eta_adds_seeded_noise():
    torch.manual_seed(0)
    model = Denoiser(8, [8, 8])
    sched = Schedule(50, 1e-4, 2e-2)

    def draw(seed, **kw):
        return sample(model, sched, 6, 8, sampler="ddim", steps=10, generator=torch.Generator().manual_seed(seed),
                      device=torch.device("cpu"), **kw)
    assert torch.equal(draw(1), draw(1, eta=0.0))
    noisy = draw(1, eta=1.0)
    assert torch.isfinite(noisy).all() and not torch.allclose(noisy, draw(1), atol=1e-3)
    assert torch.equal(noisy, draw(1, eta=1.0))  # seeded: the same seed gives the same latents
    # DDPM has no η: it is ignored there.
    ddpm = dict(sampler="ddpm", steps=10, device=torch.device("cpu"))
    assert torch.equal(sample(model, sched, 3, 8, generator=torch.Generator().manual_seed(2), **ddpm),
                       sample(model, sched, 3, 8, generator=torch.Generator().manual_seed(2), eta=1.0, **ddpm))


def test_gaussian_scale_multiplies_the_fitted_std():
    snaps = torch.randn(50, 4) * torch.tensor([1.0, 2.0, 0.5, 3.0]) + 1
    subset = Subset(("w",), ((4,),))
    kw = dict(noise_sigma=0.0, average_size=2)
    assert torch.equal(baseline("gaussian", snaps, 7, 3, subset, **kw),
                       baseline("gaussian", snaps, 7, 3, subset, gaussian_scale=1.0, **kw))
    flat = baseline("gaussian", snaps, 5, 3, subset, gaussian_scale=0.0, **kw)
    assert torch.allclose(flat, snaps.mean(0).expand(5, 4))
    one = baseline("gaussian", snaps, 4000, 3, subset, **kw)
    two = baseline("gaussian", snaps, 4000, 3, subset, gaussian_scale=2.0, **kw)
    assert torch.allclose(two - snaps.mean(0), 2 * (one - snaps.mean(0)), atol=1e-5)  # same draws, twice the spread
    assert torch.allclose(two.std(0), 2 * snaps.std(0), rtol=0.1)
