"""Calibration hooks, block-by-block pruning, reconstruction errors and recipe-level runs."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from tiny_model import TinyModel
from torch import nn

from pruning_core.criteria import CRITERIA, LayerStats
from pruning_core.criteria.calibration import recording_inputs
from pruning_core.errors import UserInputError
from pruning_core.masks.parametrize import current_mask
from pruning_core.models.layers import as_2d, prunable_layers
from pruning_core.models.metrics import reconstruction_error
from pruning_core.pipeline.checks import check
from pruning_core.pipeline.run import prune
from pruning_core.pruning.reconstruction import reconstruction_errors
from pruning_core.pruning.sequential import layer_blocks, layer_targets, sequential_prune
from pruning_core.recipe import Structure
from sample_models.architectures import DigitsMLP, DigitsViT


def _batches(
    n: int = 2, size: int = 16, features: int = 8
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [
        (torch.randn(size, features, generator=generator), torch.zeros(size, dtype=torch.long))
        for _ in range(n)
    ]


def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4))


def test_hooks_stream_norms_and_hessian_of_linear_inputs() -> None:
    model = _mlp()
    layers = prunable_layers(model)
    batches = _batches()
    with recording_inputs(layers[:1], hessian=True) as recorder, torch.no_grad():
        for x, _ in batches:
            model(x)
    x = torch.cat([b[0] for b in batches]).double()
    stats = recorder.stats(layers[0])
    assert stats.hessian is not None and stats.in_sq_norm is not None
    assert torch.allclose(stats.hessian[0], 2 * x.t() @ x)
    assert torch.allclose(stats.in_sq_norm, x.pow(2).sum(dim=0))
    assert recorder.rows[layers[0].name] == 32


def test_conv_hessian_uses_unfolded_inputs_per_group() -> None:
    conv = nn.Conv2d(4, 6, kernel_size=3, padding=1, groups=2, bias=False)
    layer = prunable_layers(nn.Sequential(conv))[0]
    x = torch.randn(2, 4, 5, 5)
    with recording_inputs([layer], hessian=True) as recorder:
        conv(x)
    hessians = recorder.stats(layer).hessian
    assert hessians is not None and hessians.shape == (2, 18, 18)
    cols = F.unfold(x, 3, padding=1).transpose(1, 2).reshape(-1, 36).double()
    assert torch.allclose(hessians[1], 2 * cols[:, 18:].t() @ cols[:, 18:])


def test_blocks_of_the_sample_models() -> None:
    vit = DigitsViT()
    blocks = layer_blocks(vit, prunable_layers(vit))
    assert [b.name for b in blocks] == ["patch_embed", "blocks.0", "blocks.1", "blocks.2", "head"]
    assert [layer.name for layer in blocks[1].layers] == [
        "blocks.0.attn.q",
        "blocks.0.attn.k",
        "blocks.0.attn.v",
        "blocks.0.attn.proj",
        "blocks.0.mlp.fc1",
        "blocks.0.mlp.fc2",
    ]
    mlp = DigitsMLP()
    assert [b.name for b in layer_blocks(mlp, prunable_layers(mlp))] == [
        "net.1",
        "net.3",
        "net.5",
        "net.7",
    ]


def test_each_block_is_calibrated_on_the_already_pruned_blocks() -> None:
    model = _mlp()
    layers = prunable_layers(model)[:2]
    seen: dict[str, LayerStats] = {}
    sparsegpt = CRITERIA.get("sparsegpt")
    assert sparsegpt.reconstruct is not None
    original = sparsegpt.reconstruct

    def spy(weight, stats, sparsity, nm, keep):  # type: ignore[no-untyped-def]
        seen[str(len(seen))] = stats
        return original(weight, stats, sparsity, nm, keep)

    criterion = dataclasses.replace(sparsegpt, reconstruct=spy)
    batches = _batches()
    targets = {layer.name: 0.5 for layer in layers}
    sequential_prune(model, layers, batches, criterion, Structure(), targets)
    x = torch.cat([b[0] for b in batches])
    with torch.no_grad():
        hidden = torch.relu(model[0](x)).double()  # first layer already pruned
    second = seen["1"].hessian
    assert second is not None and torch.allclose(second[0], 2 * hidden.t() @ hidden)
    for layer in layers:
        mask = current_mask(layer.module)
        assert mask is not None and int((mask == 0).sum()) == layer.weight.numel() // 2
        assert (as_2d(layer.weight)[as_2d(mask) == 0] == 0).all()


def test_global_targets_meet_the_overall_sparsity() -> None:
    model = _mlp()
    layers = prunable_layers(model)
    targets = layer_targets(model, layers, _batches(), CRITERIA.get("wanda"), "global", 0.6)
    total = sum(layer.weight.numel() for layer in layers)
    dropped = sum(targets[layer.name] * layer.weight.numel() for layer in layers)
    assert dropped == pytest.approx(0.6 * total, abs=0.5)
    assert len(set(targets.values())) > 1


def test_reconstruction_errors_use_the_dense_layer_inputs() -> None:
    model = _mlp()
    batches = _batches()
    pruned = {"2": model[2].weight.detach() * (torch.rand(8, 16) > 0.5)}
    errors = reconstruction_errors(model, pruned, batches)
    x = torch.cat([b[0] for b in batches])
    with torch.no_grad():
        inputs = torch.relu(model[0](x))
    assert errors["2"] == pytest.approx(reconstruction_error(model[2].weight, pruned["2"], inputs))


def test_conv_reconstruction_error_matches_unfolded_linear_form() -> None:
    conv = nn.Conv2d(2, 3, kernel_size=3, padding=1)
    model = nn.Sequential(conv)
    x = torch.randn(4, 2, 6, 6)
    pruned = conv.weight.detach() * (torch.rand_like(conv.weight) > 0.5)
    errors = reconstruction_errors(model, {"0": pruned}, [(x, torch.zeros(4))])
    cols = F.unfold(x, 3, padding=1).transpose(1, 2).reshape(-1, 18)
    assert errors["0"] == pytest.approx(
        reconstruction_error(as_2d(conv.weight), as_2d(pruned), cols), rel=1e-6
    )


# --- recipe level -----------------------------------------------------------------------


@pytest.mark.parametrize("criterion", ["wanda", "sparsegpt"])
@pytest.mark.parametrize("structure", ["unstructured", "2:4"])
def test_calibrated_criteria_run_from_recipes_and_keep_masks_in_finetuning(
    tiny_model: TinyModel, criterion: str, structure: str
) -> None:
    result = tiny_model.run(criterion=criterion, structure=structure, finetune={"epochs": 1})
    pruned = [row for row in result.layers if row["pruned"]]
    assert [row["name"] for row in pruned] == list(tiny_model.active)
    for row in pruned:
        # SparseGPT also zeroes the weights of inputs that were never active on the
        # calibration samples (dead inputs), so a few kept weights may be zero too
        assert 0.5 <= row["sparsity"] < 0.51
        assert 0.0 <= row["reconstruction_error"] < 0.1
    weight = result.model.net[3].weight
    if structure == "2:4":
        assert ((weight != 0).reshape(256, -1, 4).sum(dim=-1) <= 2).all()
    assert result.summary["test_accuracy"] > 0.9
    assert [c["kind"] for c in result.curves] == ["dense", "prune", "finetune"]


def test_every_criterion_reports_reconstruction_errors(tiny_model: TinyModel) -> None:
    errors = {}
    for criterion in CRITERIA.names():
        result = tiny_model.run(criterion=criterion, sparsity=0.5)
        values = [row["reconstruction_error"] for row in result.layers if row["pruned"]]
        assert all(value is not None and value >= 0 for value in values), criterion
        assert [row["reconstruction_error"] for row in result.layers if not row["pruned"]] == [
            None,
            None,
        ]
        errors[criterion] = result.summary["reconstruction_error_mean"]
    assert errors["sparsegpt"] < errors["wanda"] < errors["magnitude"] < errors["random"]


def test_iterative_sparsegpt_masks_only_shrink(tiny_model: TinyModel) -> None:
    result = tiny_model.run(
        criterion="sparsegpt", sparsity=0.75, schedule={"kind": "iterative", "rounds": 2}
    )
    prunes = [c["sparsity"] for c in result.curves if c["kind"] == "prune"]
    assert prunes[0] < prunes[1] == pytest.approx(0.75)


@pytest.mark.parametrize("structure", ["block", "channel", "head"])
def test_sparsegpt_refuses_structures_it_cannot_reconstruct(
    tiny_model: TinyModel, structure: str
) -> None:
    recipe = tiny_model.parsed(criterion="sparsegpt", structure=structure)
    first = check(recipe)[0]
    assert first.field == "structure" and first.allowed == ("unstructured", "n:m")
    assert "allowed: unstructured, n:m" in first.message
    with pytest.raises(UserInputError) as error:
        prune(recipe)
    assert (error.value.field, error.value.message) == (first.field, first.message)


def test_wanda_channels_use_summed_wanda_scores(tiny_model: TinyModel) -> None:
    result = tiny_model.run(criterion="wanda", structure="channel", sparsity=0.5)
    inner = [row for row in result.layers if row["pruned"]]
    assert all(row["shape"][0] == row["shape_original"][0] // 2 for row in inner)
    assert all(row["reconstruction_error"] is None for row in result.layers)


def test_sequential_sparsegpt_on_grouped_conv1d_and_conv3d() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv1d(4, 8, 3, padding=1), nn.ReLU(), nn.Conv1d(8, 8, 3, padding="same", groups=2)
    )
    layers = prunable_layers(model)
    batches = [(torch.randn(8, 4, 10), torch.zeros(8))]
    targets = {layer.name: 0.5 for layer in layers}
    assert (
        sequential_prune(model, layers, batches, CRITERIA.get("sparsegpt"), Structure(), targets)
        == {}
    )
    assert all(int((layer.weight == 0).sum()) == layer.weight.numel() // 2 for layer in layers)
    cube = nn.Sequential(nn.Conv3d(2, 4, 3, padding=1))
    notes = sequential_prune(
        cube,
        prunable_layers(cube),
        [(torch.randn(2, 2, 4, 4, 4), torch.zeros(2))],
        CRITERIA.get("sparsegpt"),
        Structure(),
        {"0": 0.5},
    )
    assert notes == {"0": "skipped: sparsegpt cannot unfold Conv3d inputs"}
