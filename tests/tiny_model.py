"""The one tiny model the engine, sensitivity and run-store tests start from.

Reached through the ``tiny_model`` fixture (``tests/conftest.py``); this module only
holds its definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pruning_core.pipeline.run import RunResult, prune
from pruning_core.recipe import Recipe, parse_recipe

WEIGHTS = (
    Path(__file__).resolve().parents[1] / "sample_models" / "weights" / "digits_mlp.safetensors"
)


@dataclass(frozen=True)
class TinyModel:
    """digits_mlp (64-256-256-128-10, shipped weights) with budgets that run in about a second.

    By default a run leaves the first and last layer dense and prunes :attr:`active`.
    """

    name: str = "digits_mlp"
    weights: Path = WEIGHTS
    shapes: dict[str, tuple[int, int]] = field(
        default_factory=lambda: {
            "net.1": (256, 64),
            "net.3": (256, 256),
            "net.5": (128, 256),
            "net.7": (10, 128),
        }
    )
    active: tuple[str, ...] = ("net.3", "net.5")

    @property
    def layers(self) -> list[str]:
        """Every prunable layer, in model order."""
        return list(self.shapes)

    def numel(self, layer: str) -> int:
        """Weights of one layer."""
        out_features, in_features = self.shapes[layer]
        return out_features * in_features

    def recipe(self, **changes: Any) -> dict[str, Any]:
        """A recipe without finetuning and with 128 calibration samples, plus ``changes``."""
        base = {"model": self.name, "finetune": {"epochs": 0}, "calibration": {"samples": 128}}
        return base | changes

    def parsed(self, **changes: Any) -> Recipe:
        """:meth:`recipe`, parsed."""
        return parse_recipe(self.recipe(**changes))

    def run(self, **changes: Any) -> RunResult:
        """:meth:`recipe`, run by the engine."""
        return prune(self.parsed(**changes))

    def queued(self, **changes: Any) -> dict[str, Any]:
        """What the run-store tests queue: one finetune epoch, and every field the Runs table
        labels a run by (criterion, structure, sparsity, seed) spelled out."""
        recipe = self.recipe(
            criterion="magnitude",
            structure="unstructured",
            sparsity=0.5,
            finetune={"epochs": 1, "batch_size": 128},
            seed=0,
        )
        recipe.update(changes)
        if recipe["structure"] == "2:4":
            recipe.pop("sparsity")  # N:M fixes it
        return recipe
