"""The weight-sharing network (:mod:`hetconv_edu.study.supernet`): nested layers against the masked
dense definition and HetConv2d, SuperNet configurations and export, batch-norm recalibration, the
sandwich-rule trainer (configurations per step, learning, exact resumption, cost), and the slot
names of every model."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from hetconv_edu.flops import network_cost
from hetconv_edu.layers import ARRANGEMENTS, HetConv2d, MaskedHetConv2d, hetconv_mask
from hetconv_edu.models import MODELS, build_model, conv_slots, slot_module_names
from hetconv_edu.study.supernet import (
    NestedHetConv2d,
    SuperNet,
    SuperNetTrainer,
    power_of_two_choices,
    recalibrate_batchnorm,
)
from hetconv_edu.train import TrainConfig
from tests.trainers import config as tiny_run

F64 = torch.float64


def masked_dense(layer: NestedHetConv2d, x: torch.Tensor, p: int) -> torch.Tensor:
    """The definition: a dense convolution with the weight times the layer's mask at ``p``."""
    mask = torch.from_numpy(
        hetconv_mask(layer.in_channels, layer.out_channels, layer.kernel_size, p, layer.arrangement)
    ).to(layer.weight)
    return F.conv2d(x, layer.weight * mask, layer.bias, layer.stride, layer.padding)


# ---------------------------------------------------------------- NestedHetConv2d


@st.composite
def nested_configs(draw):
    chain = [1]
    for _ in range(draw(st.integers(1, 2))):
        chain.append(chain[-1] * draw(st.sampled_from([2, 3])))
    top = chain[-1]
    m = top * draw(st.integers(1, 2))
    n = top * draw(st.integers(1, 2))
    return (
        m,
        n,
        draw(st.sampled_from([1, 3, 5])),
        tuple(chain),
        draw(st.sampled_from([1, 2])),
        draw(st.sampled_from(ARRANGEMENTS)),
        draw(st.booleans()),
    )


@settings(max_examples=25, deadline=None)
@given(nested_configs(), st.integers(0, 2**31 - 1))
def test_nested_layer_equals_masked_dense_and_hetconv_at_every_choice(config, seed):
    m, n, k, chain, stride, arrangement, bias = config
    torch.manual_seed(seed)
    layer = NestedHetConv2d(
        m, n, k, choices=chain, stride=stride, arrangement=arrangement, bias=bias, dtype=F64
    )
    assert layer.choices == chain and layer.p == chain[0]
    x = torch.randn(2, m, 5, 5, dtype=F64)
    with torch.no_grad():
        for p in chain:
            layer.set_p(p)
            assert layer.p == p
            y = layer(x)
            assert y.shape == (2, n, (5 - 1) // stride + 1, (5 - 1) // stride + 1)
            torch.testing.assert_close(y, masked_dense(layer, x, p), rtol=1e-10, atol=1e-10)
            het = layer.to_hetconv()
            assert isinstance(het, HetConv2d) and (het.p, het.arrangement) == (p, arrangement)
            assert het.stride == layer.stride and (het.bias is None) == (not bias)
            torch.testing.assert_close(het(x), y, rtol=1e-10, atol=1e-10)
            # the exported layer holds the masked weight exactly
            mask = layer.masks[chain.index(p) * n : (chain.index(p) + 1) * n]
            assert torch.equal(het.dense_weight(), layer.weight * mask)
            if arrangement == "shifted":  # MaskedHetConv2d's own (shifted) layer
                masked = MaskedHetConv2d(m, n, k, p=p, stride=stride, bias=bias, dtype=F64)
                masked.weight.copy_(layer.weight)
                if bias:
                    masked.bias.copy_(layer.bias)
                torch.testing.assert_close(masked(x), y, rtol=1e-10, atol=1e-10)
        # to_hetconv(p) without switching
        layer.set_p(chain[0])
        for p in chain:
            torch.testing.assert_close(
                layer.to_hetconv(p)(x), masked_dense(layer, x, p), rtol=1e-10, atol=1e-10
            )
        assert layer.p == chain[0]


def test_nested_layer_rejects_bad_choices_and_p():
    layer = NestedHetConv2d(8, 16, choices=(1, 2, 4))
    with pytest.raises(ValueError, match=r"layer 8→16 takes P ∈ \{1, 2, 4\}, got 8"):
        layer.set_p(8)
    with pytest.raises(ValueError, match=r"\{1, 2, 4\}, got 3"):
        layer.to_hetconv(3)
    with pytest.raises(ValueError, match=r"\{1, 2, 4\}, got 2.0"):
        layer.set_p(2.0)
    assert layer.p == 1
    with pytest.raises(ValueError, match=r"cannot take P = 16.*allows P ∈ \{1, 2, 4, 8\}"):
        NestedHetConv2d(8, 16, choices=(1, 2, 16))
    with pytest.raises(ValueError, match="not a divisor chain"):
        NestedHetConv2d(12, 12, choices=(1, 2, 3))


def test_nested_layer_masks_follow_dtype_and_memory_format():
    layer = NestedHetConv2d(8, 8, choices=(1, 2, 4, 8), arrangement="shifted")
    layer.set_p(4)
    layer.to(F64)
    assert layer.weight.dtype == layer.masks.dtype == layer.mask.dtype == F64
    assert torch.equal(layer.mask, layer.masks[16:24])
    assert layer.mask.data_ptr() == layer.masks[16:24].data_ptr()  # a view, not a stale copy
    expected = torch.from_numpy(hetconv_mask(8, 8, 3, 4, "shifted")).to(F64)
    assert torch.equal(layer.mask, expected)
    layer.set_p(2)
    assert layer.mask.dtype == F64 and torch.equal(
        layer.mask, torch.from_numpy(hetconv_mask(8, 8, 3, 2, "shifted")).to(F64)
    )
    x = torch.randn(1, 8, 5, 5, dtype=F64)
    torch.testing.assert_close(layer(x), masked_dense(layer, x, 2))
    layer.to(memory_format=torch.channels_last)
    assert layer.mask.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(layer.mask, layer.masks[8:16]) and layer.p == 2
    assert "mask" not in layer.state_dict() and "masks" not in layer.state_dict()


@pytest.mark.parametrize("arrangement", ARRANGEMENTS)
def test_nested_layer_gradients_reach_only_kept_weights(arrangement):
    torch.manual_seed(0)
    layer = NestedHetConv2d(8, 8, choices=(1, 2, 4), arrangement=arrangement)
    x = torch.randn(2, 8, 6, 6)
    for p in layer.choices:
        layer.set_p(p)
        layer.weight.grad = None
        layer(x).square().sum().backward()
        grad, mask = layer.weight.grad, layer.mask
        assert torch.all(grad[mask == 0] == 0)
        assert torch.all(grad[mask == 1] != 0)
        assert int((grad != 0).sum()) == 8 * (8 * 9 // p + 8 - 8 // p)


def test_power_of_two_choices():
    assert power_of_two_choices(8, 16) == (1, 2, 4, 8)
    assert power_of_two_choices(48, 32) == (1, 2, 4, 8, 16)
    assert power_of_two_choices(6, 12) == (1, 2)
    assert power_of_two_choices(3, 5) == (1,)
    assert power_of_two_choices(64, 64, largest=8) == (1, 2, 4, 8)
    assert power_of_two_choices(64, 64, largest=10) == (1, 2, 4, 8)
    for m, n in [(8, 16), (48, 32), (96, 64)]:
        chain = power_of_two_choices(m, n)
        assert all(m % p == 0 and n % p == 0 for p in chain)
        assert m % (2 * chain[-1]) or n % (2 * chain[-1])  # the longest such chain


# ---------------------------------------------------------------- SuperNet


def tiny_net(model: str = "small_vgg", choices=(1, 2, 4), **kw) -> SuperNet:
    return SuperNet(model, choices, widths=(8, 16, 32), **kw)


def test_supernet_configurations():
    net = tiny_net()
    assert len(net.layers) == len(conv_slots(net.model)) == 4
    assert all(isinstance(layer, NestedHetConv2d) for layer in net.layers)
    assert net.choices == ((1, 2, 4),) * 4
    assert net.config == net.largest() == (1, 1, 1, 1)
    assert net.smallest() == (4, 4, 4, 4)
    net.configure((2, 4, 1, 2))
    assert net.config == (2, 4, 1, 2)
    assert [layer.p for layer in net.layers] == [2, 4, 1, 2]
    samples = [net.sample(random.Random(s)) for s in range(60)]
    assert samples == [net.sample(random.Random(s)) for s in range(60)]
    for i in range(4):
        assert {s[i] for s in samples} == {1, 2, 4}
    assert net.config == (2, 4, 1, 2)  # sampling does not configure

    default = SuperNet("small_resnet", widths=(8, 16, 32))
    assert default.choices == tuple(
        power_of_two_choices(s.in_channels, s.out_channels) for s in conv_slots(default.model)
    )
    per_layer = tiny_net(choices=[(1, 2), (1, 4), (1, 2, 4, 8), (1,)])
    assert per_layer.choices == ((1, 2), (1, 4), (1, 2, 4, 8), (1,))
    assert per_layer.smallest() == (2, 4, 8, 1)


def test_supernet_rejects_bad_configs_and_choices():
    net = tiny_net()
    with pytest.raises(ValueError, match=r"one P per switchable layer \(4\), got 3"):
        net.configure((1, 2, 4))
    with pytest.raises(ValueError, match=r"layer 3 of small_vgg takes P ∈ \{1, 2, 4\}, got 8"):
        net.configure((1, 2, 8, 1))
    with pytest.raises(ValueError, match="layer 2 of small_vgg"):
        net.export((1, 3, 1, 1))
    with pytest.raises(ValueError, match="layer 1 of small_vgg"):
        net.configure((2.0, 1, 1, 1))  # P is an integer
    assert net.config == (1, 1, 1, 1)  # a rejected configuration changes nothing
    with pytest.raises(ValueError, match="switchable layers, got choices for 2"):
        tiny_net(choices=[(1, 2), (1, 2)])
    # widths 6-12-24: the first layer is 6→12 and allows the common divisors only
    with pytest.raises(
        ValueError, match=r"layer 1 of small_vgg \(6→12 channels\) cannot take P = 4"
    ):
        SuperNet("small_vgg", (1, 2, 4), widths=(6, 12, 24))
    with pytest.raises(ValueError, match=r"allows P ∈ \{1, 2, 3, 6\}"):
        SuperNet("small_vgg", (1, 2, 4), widths=(6, 12, 24))
    with pytest.raises(
        ValueError, match=r"layer 4 of small_resnet .*allows P ∈ \{1, 2, 4, 8, 16\}"
    ):
        SuperNet("small_resnet", [(1,), (1,), (1,), (1, 32), (1,), (1,)], widths=(8, 16, 32))


@pytest.mark.parametrize("model", ["small_vgg", "small_resnet"])
def test_supernet_starts_from_the_standard_network(model):
    net = SuperNet(model, (1, 2), widths=(8, 16, 32), seed=7)
    standard = build_model(model, "standard", seed=7, widths=(8, 16, 32))
    names = slot_module_names(standard)
    assert names == net.slot_names
    mine = net.model.state_dict()
    theirs = standard.state_dict()
    # the same tensors, plus each nested layer's settings record (its arrangement)
    assert mine.keys() - theirs.keys() == {f"{name}._extra_state" for name in names}
    for key, value in theirs.items():
        assert torch.equal(mine[key], value), key
    for name, layer in zip(names, net.layers, strict=True):
        assert torch.equal(layer.weight, standard.get_submodule(name).weight)
    other = SuperNet(model, (1, 2), widths=(8, 16, 32), seed=8)
    assert not torch.equal(other.layers[0].weight, net.layers[0].weight)


def check_export(net: SuperNet, config, x: torch.Tensor) -> nn.Module:
    exported = net.export(config)
    assert not exported.training and not net.training  # follows the supernet's mode
    for name, p, nested in zip(net.slot_names, config, net.layers, strict=True):
        layer = exported.get_submodule(name)
        assert type(layer) is HetConv2d and layer.p == p
        assert layer.arrangement == net.arrangement and layer.stride == nested.stride
    hetconvs = [m for m in exported.modules() if isinstance(m, HetConv2d | NestedHetConv2d)]
    assert len(hetconvs) == len(config)  # nothing else switched, nothing nested left
    assert slot_module_names(exported) == net.slot_names
    net.configure(config)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), net(x), rtol=1e-5, atol=1e-5)
    return exported


@pytest.mark.parametrize(
    ("model", "arrangement"),
    [("small_vgg", "grouped"), ("small_resnet", "grouped"), ("small_resnet", "shifted")],
)
def test_export_computes_the_supernet_outputs(model, arrangement):
    torch.manual_seed(0)
    net = SuperNet(model, (1, 2, 4, 8), widths=(8, 16, 32), arrangement=arrangement)
    # Make the batch norms and weights non-trivial: train-mode passes at several configurations.
    with torch.no_grad():
        for config in (net.largest(), net.smallest(), net.sample(random.Random(1))):
            net.configure(config)
            net(torch.randn(8, 3, 16, 16))
    net.eval()
    x = torch.randn(3, 3, 16, 16)
    rng = random.Random(0)
    configs = [net.largest(), net.smallest(), *(net.sample(rng) for _ in range(3))]
    for config in configs:
        check_export(net, config, x)
    # default: the active configuration
    net.configure(configs[-1])
    assert [m.p for m in net.export().modules() if isinstance(m, HetConv2d)] == list(configs[-1])
    # after recalibrating the batch norms for a configuration
    batches = [torch.randn(6, 3, 16, 16) for _ in range(2)]
    for config in configs[1:3]:
        net.configure(config)
        before = net.export()
        recalibrate_batchnorm(net, batches)
        exported = check_export(net, config, x)
        recalibrate_batchnorm(before, batches)  # the ordinary network gets the same statistics
        mine, theirs = before.state_dict(), exported.state_dict()
        assert mine.keys() == theirs.keys()
        for key in mine:
            if "running" in key:
                torch.testing.assert_close(mine[key], theirs[key], rtol=1e-5, atol=1e-5)
    # training mode follows too
    net.train()
    assert net.export(configs[0]).training


# ---------------------------------------------------------------- batch-norm recalibration


def test_recalibrate_batchnorm_gives_exact_statistics():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4, momentum=0.3), nn.ReLU())
    with torch.no_grad():
        model[1].running_mean.fill_(5.0)
        model[1].running_var.fill_(9.0)
    # batches of different sizes and distributions
    batches = [torch.randn(5, 3, 6, 6) * s + s for s in (0.5, 1.0, 2.0)] + [torch.randn(2, 3, 6, 6)]
    seen_inputs = []
    handle = model[1].register_forward_pre_hook(lambda m, args: seen_inputs.append(args[0]))
    assert recalibrate_batchnorm(model, batches) == 17
    handle.remove()
    z = torch.cat(seen_inputs).double()
    assert z.shape == (17, 4, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(z, model[0](torch.cat(batches)).double(), rtol=1e-5, atol=1e-5)
    bn = model[1]
    torch.testing.assert_close(bn.running_mean.double(), z.mean((0, 2, 3)), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(
        bn.running_var.double(), z.var((0, 2, 3), unbiased=True), rtol=1e-5, atol=1e-6
    )
    assert bn.momentum == 0.3 and not model.training
    # one batch: the batch's own mean and unbiased variance
    recalibrate_batchnorm(model, batches[:1])
    z1 = seen_inputs[0].double()
    torch.testing.assert_close(bn.running_mean.double(), z1.mean((0, 2, 3)), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(bn.running_var.double(), z1.var((0, 2, 3)), rtol=1e-5, atol=1e-6)


def test_recalibrate_batchnorm_deeper_model_and_errors():
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4)
    )
    batches = [torch.randn(4, 3, 8, 8) + i for i in range(3)]
    inputs = {1: [], 4: []}
    hooks = [
        model[i].register_forward_pre_hook(lambda m, a, i=i: inputs[i].append(a[0])) for i in inputs
    ]
    recalibrate_batchnorm(model, iter(batches))  # any iterable, a generator included
    for h in hooks:
        h.remove()
    for i, seen in inputs.items():
        z = torch.cat(seen).double()
        torch.testing.assert_close(model[i].running_mean.double(), z.mean((0, 2, 3)))
        torch.testing.assert_close(model[i].running_var.double(), z.var((0, 2, 3)))
    model.train()
    momenta = [m.momentum for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with pytest.raises(ValueError, match="at least one batch"):
        recalibrate_batchnorm(model, [])
    assert [m.momentum for m in model.modules() if isinstance(m, nn.BatchNorm2d)] == momenta
    assert not model.training


# ---------------------------------------------------------------- SuperNetTrainer


def config(data_root: Path, run_dir: Path, **kw) -> TrainConfig:
    """The trainer tests' tiny run (tests/trainers.py), in the folder ``supernet``."""
    return tiny_run(data_root, run_dir, **{"name": "supernet", **kw})


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def record_configs(trainer: SuperNetTrainer) -> list[tuple[int, tuple[int, ...]]]:
    """(step, configuration) of every training-mode forward pass of the trainer's network."""
    seen: list[tuple[int, tuple[int, ...]]] = []

    def hook(module: SuperNet, args: object, out: object) -> None:
        if module.training:
            seen.append((trainer.global_step, module.config))

    trainer.model.register_forward_hook(hook)
    return seen


@pytest.mark.parametrize("random_configs", [0, 1, 3])
def test_trainer_step_trains_the_sandwich(data_root, dataset, tmp_path, random_configs):
    trainer = SuperNetTrainer(
        config(data_root, tmp_path, seed=3),
        dataset,
        choices=(1, 2, 4),
        random_configs=random_configs,
    )
    net = trainer.model
    assert isinstance(net, SuperNet) and net.choices == ((1, 2, 4),) * 4
    seen = record_configs(trainer)
    for _ in range(3):
        expected = trainer.step_configs()
        assert len(expected) == 2 + random_configs
        assert expected[:2] == [net.largest(), net.smallest()]
        assert all(net.check_config(c) == c for c in expected)
        del seen[:]
        step = trainer.global_step
        trainer.step(1)
        assert seen == [(step, c) for c in expected]
        assert net.config == net.largest()  # left at the reference configuration


def test_trainer_step_configs_depend_on_seed_and_step_only(data_root, dataset, tmp_path):
    def configs_by_step(seed: int, run: str) -> list[list[tuple[int, ...]]]:
        trainer = SuperNetTrainer(
            config(data_root, tmp_path / run, seed=seed), dataset, choices=(1, 2, 4),
            random_configs=2,
        )  # fmt: skip
        out = []
        for step in range(6):
            trainer.global_step = step
            out.append(trainer.step_configs())
            assert trainer.step_configs() == out[-1]  # drawing does not advance anything
        return out

    a = configs_by_step(0, "a")
    assert a == configs_by_step(0, "b")
    assert len({tuple(c[2:]) for c in a}) > 1  # the random ones change with the step
    assert a != configs_by_step(1, "c")


def test_trainer_learns_and_reports_the_largest_cost(data_root, dataset, tmp_path):
    trainer = SuperNetTrainer(config(data_root, tmp_path, epochs=4), dataset, choices=(1, 2, 4))
    start = weights(trainer.model)
    history = trainer.run(progress=False)
    assert trainer.global_step == 16 and len(history.epochs) == 4
    end = weights(trainer.model)
    for layer in trainer.model.slot_names:
        key = f"model.{layer}.weight"
        assert not torch.equal(start[key], end[key]), key
    losses = [loss for _, loss, _ in history.steps]
    assert sum(losses[-4:]) < sum(losses[:4])
    assert history.epochs[-1].test_acc > 0.5  # chance: 0.1

    net = trainer.model
    largest = network_cost(net.export(net.largest()).eval(), (1, 3, 32, 32))
    smallest = network_cost(net.export(net.smallest()).eval(), (1, 3, 32, 32))
    standard = network_cost(
        build_model("small_vgg", "standard", widths=(8, 16, 32)), (1, 3, 32, 32)
    )
    assert trainer.macs == trainer.cost.macs == largest.macs == standard.macs
    assert smallest.macs < largest.macs
    assert trainer.params == sum(p.numel() for p in net.parameters())
    # history.json records the largest configuration's MACs too
    saved = (trainer.run_path / "history.json").read_text()
    assert f'"macs": {largest.macs}' in saved


def test_trainer_resume_matches_uninterrupted(data_root, dataset, tmp_path):
    kw = {"choices": (1, 2, 4), "random_configs": 1}
    straight = SuperNetTrainer(config(data_root, tmp_path / "a"), dataset, **kw)
    straight.run(progress=False)

    cfg = config(data_root, tmp_path / "b")
    first = SuperNetTrainer(cfg, dataset, **kw)
    first.on_batch(lambda t, step, loss: t.request_stop() if step == 3 else None)
    first.run(progress=False)
    assert first.stopped and first.global_step == 3
    second = SuperNetTrainer(cfg, dataset, resume=True, **kw)
    assert second.global_step == 3
    seen = record_configs(second)
    second.run(progress=False)
    assert second.global_step == 8
    a, b = weights(straight.model), weights(second.model)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert second.history.steps == straight.history.steps
    for x, y in zip(straight.history.epochs, second.history.epochs, strict=True):
        assert (x.train_loss, x.test_loss, x.test_acc) == (y.train_loss, y.test_loss, y.test_acc)
    # the resumed steps trained the configurations of their own step numbers
    replay = SuperNetTrainer(config(data_root, tmp_path / "c"), dataset, **kw)
    expected = []
    for step in range(3, 8):
        replay.global_step = step
        expected += [(step, c) for c in replay.step_configs()]
    assert seen == expected


def test_trainer_checks_random_configs(data_root, dataset, tmp_path):
    for bad in (-1, 1.5, "2"):
        with pytest.raises(ValueError, match="random_configs"):
            SuperNetTrainer(config(data_root, tmp_path), dataset, random_configs=bad)


# ---------------------------------------------------------------- slot names of every model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_slot_module_names_name_the_slots_in_order(name):
    kw = {} if name == "vgg16" else {"widths": (8, 16, 32)}
    families = ["standard", "hetconv:2", "dwsep", "naive_hetconv:2", "gwpw:2"]
    for conv in families:
        model = build_model(name, conv, seed=None, **kw)
        slots = conv_slots(model)
        names = slot_module_names(model)
        assert len(names) == len(slots) > 0
        assert len(set(names)) == len(names)
        order = [n for n, _ in model.named_modules()]
        assert [order.index(n) for n in names] == sorted(order.index(n) for n in names)
        for slot_name, slot in zip(names, slots, strict=True):
            module = model.get_submodule(slot_name)
            assert (module.in_channels, module.out_channels) == (
                slot.in_channels,
                slot.out_channels,
            )
            assert module.kernel_size in (3, (3, 3))
            assert module.stride in (slot.stride, (slot.stride, slot.stride))
        if conv == "hetconv:2":
            hetconvs = [n for n, m in model.named_modules() if isinstance(m, HetConv2d)]
            assert list(names) == hetconvs
        # the stem is not a slot
        first_conv = next(n for n, m in model.named_modules() if isinstance(m, nn.Conv2d))
        assert first_conv not in names
