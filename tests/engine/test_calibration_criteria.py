"""Wanda and SparseGPT on single layers: hand-computed cases and the properties they promise."""

from __future__ import annotations

import math

import pytest
import torch

from pruning_core.criteria import CRITERIA, LayerStats
from pruning_core.criteria.hessian import hessian, inverse_hessian_factor
from pruning_core.criteria.sparsegpt import sparsegpt_prune, sparsegpt_prune_from_hessian
from pruning_core.criteria.wanda import wanda_prune, wanda_prune_from_norms
from pruning_core.masks.nm import nm_mask
from pruning_core.masks.row_selection import row_keep_mask
from pruning_core.models.metrics import reconstruction_error, reconstruction_error_from_hessian


def _magnitude(weight: torch.Tensor, sparsity: float, nm: tuple[int, int] | None) -> torch.Tensor:
    """Layer-wise magnitude pruning (N:M: per row and group), the baseline."""
    if nm is not None:
        return weight * nm_mask(weight.abs(), *nm)
    keep = row_keep_mask(weight.abs().reshape(1, -1), round(sparsity * weight.numel()))
    return weight * keep.reshape(weight.shape)


def _outlier_layer(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A layer whose inputs have 4 outlier features with 20x the activation scale."""
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(64, 128, generator=generator)
    inputs = torch.randn(512, 128, generator=generator)
    inputs[:, torch.randperm(128, generator=generator)[:4]] *= 20.0
    return weight, inputs


# --- Wanda ------------------------------------------------------------------------------


def test_wanda_hand_computed_row() -> None:
    weight = torch.tensor([[1.0, -2.0, 3.0, 0.5]])
    inputs = torch.tensor([[4.0, 1.0, 0.1, 2.0]])  # ||x_j|| = 4, 1, 0.1, 2 -> scores 4, 2, .3, 1
    assert wanda_prune(weight, inputs, 0.5).tolist() == [[1.0, -2.0, 0.0, 0.0]]


def test_wanda_compares_within_rows_not_over_the_layer() -> None:
    weight = torch.tensor([[1.0, 2.0], [10.0, 20.0]])
    inputs = torch.ones(3, 2)
    # magnitude over the layer would drop both weights of row 0; Wanda drops one per row
    assert wanda_prune(weight, inputs, 0.5).tolist() == [[0.0, 2.0], [0.0, 20.0]]


def test_wanda_uses_l2_norms_over_samples() -> None:
    weight = torch.tensor([[1.0, 1.0]])
    inputs = torch.tensor([[3.0, 0.0], [4.0, 0.0], [0.0, 4.9]])  # norms 5 and 4.9
    assert wanda_prune(weight, inputs, 0.5).tolist() == [[1.0, 0.0]]
    norms = torch.tensor([25.0, 24.01])
    assert torch.equal(wanda_prune_from_norms(weight, norms, 0.5), wanda_prune(weight, inputs, 0.5))


def test_wanda_two_of_four_hand_computed() -> None:
    weight = torch.tensor([[1.0, 1.0, 1.0, 1.0, -2.0, 1.0, 3.0, 1.0]])
    inputs = torch.tensor([[1.0, 3.0, 2.0, 0.5, 1.0, 1.0, 0.1, 5.0]])
    # scores: [1, 3, 2, .5] and [2, 1, .3, 5] -> keep columns 1, 2 and 4, 7
    expected = [[0.0, 1.0, 1.0, 0.0, -2.0, 0.0, 0.0, 1.0]]
    assert wanda_prune(weight, inputs, 0.0, nm=(2, 4)).tolist() == expected


def test_wanda_spreads_an_uneven_count_over_rows() -> None:
    weight = torch.arange(1.0, 13.0).reshape(3, 4)
    pruned = wanda_prune(weight, torch.ones(2, 4), 0.5)  # 6 of 12: two per row
    assert (pruned == 0).sum(dim=1).tolist() == [2, 2, 2]
    odd = wanda_prune(weight, torch.ones(2, 4), 7 / 12)  # 7 of 12: 3, 2, 2
    assert int((odd == 0).sum()) == 7 and sorted((odd == 0).sum(dim=1).tolist()) == [2, 2, 3]


def test_wanda_registry_score_is_weight_times_norm() -> None:
    weight = torch.tensor([[2.0, -1.0], [0.5, 4.0]])
    stats = LayerStats(in_sq_norm=torch.tensor([9.0, 4.0]))
    score = CRITERIA.get("wanda").score(weight, stats)
    assert torch.allclose(score, torch.tensor([[6.0, 2.0], [1.5, 8.0]]))
    assert CRITERIA.get("wanda").per_row


# --- SparseGPT --------------------------------------------------------------------------


def test_sparsegpt_one_row_hand_computed() -> None:
    # H = [[2, 1], [1, 2]]: H^-1 = [[2, -1], [-1, 2]] / 3, U = chol(H^-1, upper) =
    # [[sqrt(2/3), -1/sqrt(6)], [0, sqrt(1/2)]]. Saliencies w^2 / U_jj^2 = 1.5 and 8, so
    # w_1 goes; its error w_1 / U_11 flows into w_2: 2 - sqrt(3/2) * (-1/sqrt(6)) = 2.5,
    # which is the OBS optimum w_2 + (H_21 / H_22) w_1.
    h = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    weight = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    new = sparsegpt_prune_from_hessian(weight, h, 0.5, percdamp=0.0)
    assert torch.allclose(new, torch.tensor([[0.0, 2.5]], dtype=torch.float64))
    assert h.tolist() == [[2.0, 1.0], [1.0, 2.0]] and weight.tolist() == [[1.0, 2.0]]
    factor, dead = inverse_hessian_factor(lambda: h.clone(), 0.0)
    expected = torch.tensor([[math.sqrt(2 / 3), -1 / math.sqrt(6)], [0.0, math.sqrt(0.5)]])
    assert torch.allclose(factor, expected.double()) and not dead.any()
    # the same from inputs with X^T X = H / 2
    inputs = torch.tensor([[1.0, 0.5], [0.0, math.sqrt(0.75)]], dtype=torch.float64)
    assert torch.allclose(sparsegpt_prune(weight, inputs, 0.5, percdamp=0.0), new)


def test_factor_equals_the_reference_cholesky_chain() -> None:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(700, 300, generator=generator, dtype=torch.float64)
    h = hessian(inputs)
    damped = h + 0.01 * h.diagonal().mean() * torch.eye(300, dtype=torch.float64)
    reference = torch.linalg.cholesky(
        torch.cholesky_inverse(torch.linalg.cholesky(damped)), upper=True
    )
    factor, _ = inverse_hessian_factor(lambda: h.clone(), 0.01)
    assert torch.allclose(factor, reference, atol=1e-12)


def test_identity_hessian_reduces_to_magnitude() -> None:
    weight = torch.randn(8, 16, generator=torch.Generator().manual_seed(1))
    eye = torch.eye(16)
    assert torch.equal(
        sparsegpt_prune_from_hessian(weight, eye, 0.5), _magnitude(weight, 0.5, None)
    )
    assert torch.equal(
        sparsegpt_prune_from_hessian(weight, eye, 0.5, nm=(2, 4)), _magnitude(weight, 0.5, (2, 4))
    )


@pytest.mark.parametrize("nm", [None, (2, 4)])
def test_huge_dampening_approaches_magnitude(nm: tuple[int, int] | None) -> None:
    # H + 1e8 * mean(diag H) * I is ~ a multiple of I: the mask becomes the magnitude mask
    # (N:M: per row and group; unstructured: over each column block, here the whole layer)
    # and the kept weights are hardly updated.
    weight, inputs = _outlier_layer(0)
    new = sparsegpt_prune(weight, inputs, 0.5, nm=nm, percdamp=1e8)
    baseline = _magnitude(weight, 0.5, nm)
    assert torch.equal(new != 0, baseline != 0)
    assert torch.allclose(new, baseline, atol=1e-5)


def test_sparsegpt_updates_kept_weights_and_zeroes_pruned_ones() -> None:
    weight, inputs = _outlier_layer(2)
    new = sparsegpt_prune(weight, inputs, 0.5)
    assert new.shape == weight.shape and new.dtype == weight.dtype
    assert int((new == 0).sum()) == weight.numel() // 2
    kept = new != 0
    assert not torch.allclose(new[kept], weight[kept]), "kept weights should be updated"
    assert torch.equal(weight, _outlier_layer(2)[0]), "the input weight must not change"


def test_sparsegpt_keeps_dtype_float64() -> None:
    weight, inputs = _outlier_layer(3)
    new = sparsegpt_prune(weight.double(), inputs.double(), 0.25, blocksize=32)
    assert new.dtype == torch.float64 and int((new == 0).sum()) == weight.numel() // 4


def test_dead_inputs_are_handled() -> None:
    weight, inputs = _outlier_layer(4)
    inputs[:, [3, 70]] = 0.0  # inputs that are always zero: H_jj = 0
    for nm in (None, (2, 4)):
        new = sparsegpt_prune(weight, inputs, 0.5, nm=nm)
        assert torch.isfinite(new).all()
        assert (new[:, [3, 70]] == 0).all()
        wanda = wanda_prune(weight, inputs, 0.5, nm=nm)
        assert (wanda[:, [3, 70]] == 0).all(), "a dead input's weights score 0: pruned first"


@pytest.mark.parametrize("n_m", [(2, 4), (1, 4), (4, 8)])
def test_nm_patterns_are_valid(n_m: tuple[int, int]) -> None:
    n, m = n_m
    weight, inputs = _outlier_layer(5)
    for prune in (wanda_prune, sparsegpt_prune):
        new = prune(weight, inputs, 0.0, nm=n_m)
        nonzeros = (new != 0).reshape(64, -1, m).sum(dim=-1)
        assert (nonzeros == n).all(), prune.__name__


@pytest.mark.parametrize("nm", [None, (2, 4)], ids=["50%", "2:4"])
def test_error_orders_sparsegpt_wanda_magnitude_on_outlier_features(
    nm: tuple[int, int] | None,
) -> None:
    errors: dict[str, list[float]] = {"sparsegpt": [], "wanda": [], "magnitude": []}
    for seed in range(3):
        weight, inputs = _outlier_layer(seed)
        results = {
            "sparsegpt": sparsegpt_prune(weight, inputs, 0.5, nm=nm),
            "wanda": wanda_prune(weight, inputs, 0.5, nm=nm),
            "magnitude": _magnitude(weight, 0.5, nm),
        }
        for name, new in results.items():
            errors[name].append(reconstruction_error(weight, new, inputs))
    mean = {name: sum(values) / len(values) for name, values in errors.items()}
    assert mean["sparsegpt"] < mean["wanda"] < mean["magnitude"], mean


def test_invalid_arguments_raise() -> None:
    weight = torch.ones(2, 6)
    with pytest.raises(ValueError, match="multiple of M"):
        wanda_prune(weight, torch.ones(3, 6), 0.5, nm=(2, 4))
    with pytest.raises(ValueError, match="sparsity"):
        sparsegpt_prune(weight, torch.ones(3, 6), 1.0)
    with pytest.raises(ValueError, match="inputs"):
        sparsegpt_prune(weight, torch.ones(3, 5), 0.5)
    with pytest.raises(ValueError, match="0 < N < M"):
        sparsegpt_prune(torch.ones(2, 8), torch.ones(3, 8), 0.5, nm=(4, 4))


# --- reconstruction error ---------------------------------------------------------------


def test_reconstruction_error_hand_computed() -> None:
    weight = torch.tensor([[1.0, 1.0]])
    pruned = torch.tensor([[1.0, 0.0]])
    inputs = torch.tensor([[1.0, 1.0], [2.0, 0.0]])  # X W^T = [2, 2], X W'^T = [1, 2]
    assert reconstruction_error(weight, pruned, inputs) == pytest.approx(1 / 8)
    h = hessian(inputs)
    assert reconstruction_error_from_hessian(weight, pruned, h) == pytest.approx(1 / 8)
    assert reconstruction_error(weight, weight, inputs) == 0.0
    assert reconstruction_error(torch.zeros(1, 2), torch.zeros(1, 2), inputs) == 0.0
