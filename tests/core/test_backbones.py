import pytest
import torch

from bend_gui.core.ml.backbones import backbones, build_model, chain, last_batchnorms, list_modules


@pytest.mark.parametrize("name", list(backbones()))
@pytest.mark.parametrize("channels, size", [(1, 28), (3, 32)])
def test_every_backbone_runs_on_small_images_and_its_chain_is_its_forward(name, channels, size):
    torch.manual_seed(0)
    model = build_model(name, channels, 10).eval()
    x = torch.randn(2, channels, size, size)
    with torch.no_grad():
        y = model(x)
        z = x
        for _, m in chain(model):
            z = m(z)
    assert y.shape == (2, 10)
    assert torch.equal(y, z)


def test_torchvision_names_are_kept():
    names = {m.name for m in list_modules(build_model("resnet18", 3, 10))}
    assert {"layer4.1.bn2", "fc", "conv1"} <= names
    assert last_batchnorms(build_model("resnet18", 3, 10)) == ["layer4.1.bn1", "layer4.1.bn2"]
    assert last_batchnorms(build_model("resnet50", 3, 10)) == ["layer4.2.bn2", "layer4.2.bn3"]
    assert last_batchnorms(build_model("smallcnn", 1, 10)) == ["bn3", "bn4"]
    rx = last_batchnorms(build_model("regnetx_400mf", 3, 10))
    assert all(n.startswith("trunk_output.block4") for n in rx)


def test_module_list_counts_parameters():
    model = build_model("smallcnn", 1, 10)
    mods = {m.name: m for m in list_modules(model)}
    assert mods["bn3"].own_params == 128 and mods["bn3"].is_batchnorm
    assert mods["fc1"].own_params == 576 * 128
    assert sum(m.own_params for m in mods.values()) == sum(p.numel() for p in model.parameters())
    # The paper's subset size for ResNet-18's last two BN layers: 2 x 2 x 512 = 2048.
    r18 = {m.name: m for m in list_modules(build_model("resnet18", 3, 10))}
    assert r18["layer4.1.bn1"].own_params + r18["layer4.1.bn2"].own_params == 2048
