"""The on-screen name of each recipe field, so a message names what the user can change.

The engine names fields by their YAML path (``structure.skip_incompatible``); a user of
the form sees a control ("Skip layers whose shape does not fit"). Messages show both.
"""

from __future__ import annotations

CONTROLS = {
    "model": "model",
    "weights": "weights",
    "criterion": "criterion",
    "structure": "structure / sparsity format",
    "structure.kind": "structure / sparsity format",
    "structure.skip_incompatible": "Skip layers whose shape does not fit",
    "structure.n": "N (kept)",
    "structure.m": "M (group size)",
    "structure.block": "block rows / block columns",
    "sparsity": "target sparsity",
    "allocation": "allocation across layers",
    "layer_sparsity": "Per-layer sparsities",
    "skip_layers": "layers kept dense",
    "schedule": "schedule",
    "schedule.kind": "schedule",
    "schedule.rounds": "rounds",
    "schedule.initial_sparsity": "initial sparsity",
    "schedule.start_step": "start step",
    "schedule.end_step": "end step",
    "schedule.frequency": "every N steps",
    "finetune": "finetune epochs",
    "finetune.epochs": "finetune epochs",
    "finetune.batch_size": "batch size",
    "finetune.lr": "learning rate",
    "finetune.optimizer": "optimizer",
    "finetune.weight_decay": "weight decay",
    "finetune.momentum": "momentum",
    "finetune.distillation": "distill from the dense model",
    "calibration.samples": "calibration samples",
    "calibration.batch_size": "calibration batch",
    "precision": "precision",
    "seed": "seed",
    "sweep": "Sweep: target sparsities / seeds",
}


def control(field: str) -> str | None:
    """The control that sets ``field`` (``layer_sparsity.net.3`` -> Per-layer sparsities)."""
    if field in CONTROLS:
        return CONTROLS[field]
    head = field.split(".")[0]
    return CONTROLS.get(head) if head in ("layer_sparsity", "finetune", "calibration") else None


def heading(field: str) -> str:
    """``start step (schedule.start_step)``; the field alone when it has no control."""
    name = control(field)
    return field if name is None or name == field else f"{name} ({field})"
