import pytest
import torch

from bend_gui.core.errors import ConfigError
from bend_gui.core.ml.backbones import build_model
from bend_gui.core.ml.subset import (
    flatten,
    freeze_outside,
    get_vector,
    resolve,
    set_vector,
    split_model,
    tail_param_names,
    unflatten,
)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build_model("smallcnn", 1, 10)


def test_resolve_modules_globs_and_single_parameters(model):
    s = resolve(model, ["bn3", "bn4"])
    assert s.names == ("bn3.weight", "bn3.bias", "bn4.weight", "bn4.bias") and s.d == 2 * (64 + 128)
    assert resolve(model, ["bn*"]).names[0] == "bn1.weight"
    assert resolve(model, ["fc2.bias"]).d == 10
    assert resolve(model, ["bn4", "bn3"]).names == s.names  # network order, not pattern order


def test_unknown_layer_is_a_config_error_with_a_hint(model):
    with pytest.raises(ConfigError, match="'bn9' matches no module.*did you mean"):
        resolve(model, ["bn9"], "smallcnn")


def test_flatten_unflatten_roundtrip(model):
    s = resolve(model, ["bn3", "fc2"])
    v = get_vector(model, s)
    assert v.shape == (s.d,)
    parts = unflatten(v, s)
    assert torch.equal(parts["fc2.weight"], model.fc2.weight.detach())
    assert torch.equal(flatten(parts, s), v)
    set_vector(model, s, v * 2)
    assert torch.equal(model.bn3.bias.detach(), parts["bn3.bias"] * 2)


def test_prefix_then_tail_is_the_model_and_tail_names_map(model):
    model.eval()
    s = resolve(model, ["bn3", "bn4"])
    prefix, tail, cut = split_model(model, s)
    assert cut == "bn3"
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(tail(prefix(x)), model(x))
    names = tail_param_names(model, s)
    tail_params = dict(tail.named_parameters())
    for full, short in names.items():
        assert tail_params[short] is dict(model.named_parameters())[full]


def test_training_the_subset_leaves_the_rest_bit_identical(model):
    """Frozen weights and every BatchNorm running statistic stay exactly as they were."""
    s = resolve(model, ["bn3", "bn4"])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    params = freeze_outside(model, s)
    opt = torch.optim.SGD(params, lr=0.5)
    for _ in range(5):
        loss = model(torch.randn(16, 1, 28, 28)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == set(s.names)
