"""The cached, batched evaluation of members gives what a full forward pass of each member gives."""

import pytest
import torch

from bend_gui.core.events import CancelFlag, run_to_end
from bend_gui.core.ml.backbones import build_model, last_batchnorms
from bend_gui.core.ml.features import build_features
from bend_gui.core.ml.members import evaluate_members, full_forward_logits
from bend_gui.core.ml.subset import get_vector, resolve, split_model


@pytest.mark.parametrize("backbone, layers, cache_gb", [
    ("smallcnn", ["bn3", "bn4"], 4.0),
    ("smallcnn", ["bn3", "bn4"], 0.0),          # cache refused: the prefix runs per batch
    ("resnet18", ["layer4.1.bn1", "layer4.1.bn2"], 4.0),
    ("regnetx_400mf", None, 4.0),               # its last two BatchNorm layers
])
@pytest.mark.parametrize("batching", ["loop", "vmap", "auto"])
def test_cached_members_match_full_forward(backbone, layers, cache_gb, batching):
    torch.manual_seed(0)
    model = build_model(backbone, 3, 10).eval()
    # Give BatchNorm layers non-trivial running statistics so a wrong freeze would show.
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    subset = resolve(model, layers or last_batchnorms(model))
    base = get_vector(model, subset)
    vectors = base + 0.3 * torch.randn(4, subset.d)
    x = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    y = torch.randint(0, 10, (10,))
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
    prefix, _, _ = split_model(model, subset)
    feats = run_to_end(build_features(prefix, x, mean, std, torch.device("cpu"), batch_size=4,
                                  limit_bytes=cache_gb * 2**30, cancel=CancelFlag(), stage="t", label="t"))
    assert (feats.cached is None) == (cache_gb == 0)
    out = run_to_end(evaluate_members(model, subset, vectors, feats, y, batch_size=4, batching=batching,
                                  cancel=CancelFlag(), stage="t", label="t", member_chunk=3))
    for i, v in enumerate(vectors):
        ref = full_forward_logits(model, subset, v, x, mean, std)
        assert torch.equal(out.preds[i].long(), ref.argmax(1))
    assert torch.equal(get_vector(model, subset), base)  # the model got its own subset back
    assert out.batching in (("loop", "vmap") if batching == "auto" else (batching,))
    assert out.mean_probs.shape == (10, 10) and torch.allclose(out.mean_probs.sum(1), torch.ones(10), atol=1e-4)


def test_an_unknown_batching_is_refused_by_name():
    model = build_model("smallcnn", 1, 10).eval()
    subset = resolve(model, ["bn4"])
    feats = run_to_end(build_features(split_model(model, subset)[0], torch.zeros(2, 1, 28, 28, dtype=torch.uint8),
                                  (0.5,), (0.25,), torch.device("cpu"), batch_size=2, limit_bytes=2**30,
                                  cancel=CancelFlag(), stage="t", label="t"))
    with pytest.raises(ValueError, match="batching: 'fast'"):
        run_to_end(evaluate_members(model, subset, get_vector(model, subset)[None], feats, torch.zeros(2).long(),
                                batch_size=2, batching="fast", cancel=CancelFlag(), stage="t", label="t"))
