"""From a profile document to per-layer sparsities and their live estimates (no torch).

The dashboard's editor calls :func:`propose` on every slider move, so this module only
does arithmetic on the profile's rows. Predictions add the single-layer measurements
up (layers pruned together interact, and finetuning recovers much), so they are labelled
as additive estimates before finetuning.
"""

from __future__ import annotations

import math
from typing import Any

from pruning_core.errors import UserInputError
from pruning_core.sensitivity.allocate import LayerCurve, allocate, predict

BUDGETS = {
    "sparsity": "average sparsity: share of the profiled layers' weights removed",
    "macs": "MACs: share of the profiled layers' MACs removed (theoretical speedup)",
}
BYTES_FP32 = 4
Profile = dict[str, Any]


def profiled_layers(profile: Profile) -> list[dict[str, Any]]:
    """Layer-fact rows of the profiled layers, in model order."""
    return [row for row in profile["layers"] if row["profiled"]]


def _points(profile: Profile, layer: str, column: str) -> tuple[list[float], list[float]]:
    rows = sorted(
        (row for row in profile["rows"] if row["layer"] == layer), key=lambda r: r["sparsity"]
    )
    values = [row.get(column) for row in rows]
    if any(value is None for value in values):
        return [], []
    return [row["sparsity"] for row in rows], [float(value) for value in values]


def curves(
    profile: Profile,
    budget: str = "sparsity",
    overrides: dict[str, float] | None = None,
    high: float | None = None,
) -> list[LayerCurve]:
    """The allocator's input: one curve per profiled layer.

    Args:
        profile: a profile document.
        budget: ``sparsity`` (units are weights) or ``macs``.
        overrides: layer -> fixed sparsity.
        high: highest sparsity of any layer (``None``: the profile's largest grid point).

    Raises:
        UserInputError: unknown budget or override layer.
    """
    if budget not in BUDGETS:
        raise UserInputError("budget", f"'{budget}' is unknown; allowed: {', '.join(BUDGETS)}")
    overrides = overrides or {}
    facts = profiled_layers(profile)
    unknown = sorted(set(overrides) - {row["layer"] for row in facts})
    if unknown:
        raise UserInputError("overrides", f"'{unknown[0]}' is not a profiled layer")
    result = []
    for row in facts:
        xs, ys = _points(profile, row["layer"], "loss_delta")
        fixed = overrides.get(row["layer"])
        result.append(
            LayerCurve(
                name=row["layer"],
                units=float(row["params"] if budget == "sparsity" else row["macs"]),
                groups=int(row["groups"]),
                sparsities=tuple(xs),
                loss=tuple(ys),
                group_sparsity=float(row["group_sparsity"]),
                low=fixed if fixed is not None else 0.0,
                high=fixed if fixed is not None else high,
            )
        )
    return result


def estimates(profile: Profile, sparsity: dict[str, float]) -> dict[str, Any]:
    """Per-layer rows and totals for per-layer sparsities (unlisted layers stay dense).

    Totals: parameters and nonzeros of the prunable layers, their fp32 size dense and as
    values plus a 1-bit mask, the theoretical speedup (MACs ratio of Linear/Conv layers),
    and the predicted loss and accuracy change (additive, before finetuning). A perplexity
    profile (causal LMs) predicts ``predicted_val_perplexity``, ``exp`` of the dense loss
    plus the additive loss increase, and each layer's ``perplexity_delta`` instead.
    """
    rows, loss, accuracy, extrapolated = [], 0.0, 0.0, False
    has_accuracy = profile["dense"].get("val_accuracy") is not None
    for fact in profile["layers"]:
        s = float(sparsity.get(fact["layer"], 0.0))
        xs, losses = _points(profile, fact["layer"], "loss_delta")
        _, accs = _points(profile, fact["layer"], "accuracy_delta")
        d_loss, out = predict(xs, losses, s) if xs and s > 0 else (0.0, False)
        d_acc, _ = predict(xs, accs, s) if accs and s > 0 else (0.0, False)
        extrapolated |= out
        loss, accuracy = loss + d_loss, accuracy + d_acc
        nonzeros = round(fact["params"] * (1.0 - s))
        rows.append(
            {**fact, "sparsity": s, "nonzeros": nonzeros, "effective_macs": fact["macs"] * (1 - s),
             "loss_delta": d_loss, "accuracy_delta": d_acc if has_accuracy else None}
        )  # fmt: skip
    params = sum(row["params"] for row in rows)
    nonzeros = sum(row["nonzeros"] for row in rows)
    macs = sum(row["macs"] for row in rows)
    effective = sum(row["effective_macs"] for row in rows)
    profiled = [row for row in rows if row["profiled"]]
    profiled_params = sum(row["params"] for row in profiled) or 1
    dense_accuracy = profile["dense"].get("val_accuracy")
    totals = {
        "layers": rows,
        "params": params,
        "nonzero_params": nonzeros,
        "average_sparsity": 1 - sum(row["nonzeros"] for row in profiled) / profiled_params,
        "size_dense_bytes": params * BYTES_FP32,
        "size_sparse_bytes": sum(
            min(row["params"] * BYTES_FP32, row["nonzeros"] * BYTES_FP32 + row["params"] / 8)
            for row in rows
        ),
        "theoretical_speedup": macs / effective if effective > 0 else float("inf"),
        "macs_removed": 1 - effective / macs if macs else 0.0,
        "predicted_loss_delta": loss,
        "predicted_accuracy_delta": accuracy if has_accuracy else None,
        "predicted_val_accuracy": min(max(dense_accuracy + accuracy, 0.0), 1.0)
        if has_accuracy and dense_accuracy is not None
        else None,
        "extrapolated": extrapolated,
    }
    return {**totals, **perplexity_estimates(profile, rows, loss)}


def perplexity_estimates(
    profile: Profile, rows: list[dict[str, Any]], loss: float
) -> dict[str, Any]:
    """A perplexity profile's predictions (and each row's ``perplexity_delta``); else none."""
    dense_loss = profile["dense"].get("val_loss")
    if profile.get("metric") != "perplexity" or dense_loss is None:
        return {}
    for row in rows:
        xs, values = _points(profile, row["layer"], "perplexity_delta")
        at = row["sparsity"]
        row["perplexity_delta"] = predict(xs, values, at)[0] if xs and at > 0 else 0.0
    predicted = math.exp(min(dense_loss + loss, 700.0))  # exp overflows beyond ~709
    return {
        "predicted_val_perplexity": predicted,
        "predicted_perplexity_delta": predicted - math.exp(dense_loss),
    }


def propose(
    profile: Profile,
    target: float,
    budget: str = "sparsity",
    overrides: dict[str, float] | None = None,
    high: float | None = None,
) -> dict[str, Any]:
    """Allocate ``target`` of the budget and estimate the result (see :func:`estimates`).

    Returns the estimates plus ``sparsity`` (layer -> sparsity of the profiled layers).
    """
    plan = allocate(curves(profile, budget, overrides, high), target)
    return {**estimates(profile, plan.sparsity), "sparsity": plan.sparsity}


def uniform(profile: Profile, target: float) -> dict[str, Any]:
    """Every profiled layer at ``target`` (the reference the allocation should beat)."""
    sparsity = {row["layer"]: target for row in profiled_layers(profile)}
    return {**estimates(profile, sparsity), "sparsity": sparsity}


def recipe_layer_sparsity(sparsity: dict[str, float]) -> dict[str, float]:
    """Per-layer sparsities as written into a recipe (10 decimals: whole groups survive)."""
    return {name: round(float(value), 10) for name, value in sparsity.items()}


def allocated_recipe(
    recipe: dict[str, Any],
    profile: Profile,
    target: float,
    budget: str = "sparsity",
    overrides: dict[str, float] | None = None,
    high: float | None = None,
) -> dict[str, Any]:
    """``recipe`` (a mapping) with ``allocation: sensitivity`` and explicit per-layer sparsities.

    ``sparsity`` becomes the profiled layers' average sparsity the allocation reaches (the
    target itself for an average-sparsity budget, within one group).
    """
    proposal = propose(profile, target, budget, overrides, high)
    average = target if budget == "sparsity" else round(proposal["average_sparsity"], 6)
    return {
        **recipe,
        "sparsity": average,
        "allocation": "sensitivity",
        "layer_sparsity": recipe_layer_sparsity(proposal["sparsity"]),
    }
