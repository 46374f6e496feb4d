"""The shipped sample models (digits classifiers, the tiny LM) as a pruning_core plugin.

Registered as the default plugin through the ``pruning_core.models`` entry point in
``pyproject.toml``: the engine finds it like any other plugin and never imports this
package by name.
"""

from __future__ import annotations

from pruning_core.models.spec import ModelSpec
from sample_models.catalog import SAMPLE_MODELS
from sample_models.data import digits_splits
from sample_models.language import tiny_lm_shipped, tiny_lm_spec

# Output channels of the ViT's attention projections feed heads and the residual stream.
_CHANNEL_PRUNABLE = {"digits_vit": ("blocks.*.mlp.fc1",)}


def specs() -> list[ModelSpec]:
    """The digits CNN, MLP and ViT with their weights and the digits splits; ``tiny_lm``."""
    language = [tiny_lm_spec()] if tiny_lm_shipped() else []  # absent until trained
    return [
        ModelSpec(
            name=info.name,
            factory=info.factory,
            input_shape=info.input_shape,
            weights=info.weights_path,
            data=digits_splits,
            description=info.description,
            channel_prunable=_CHANNEL_PRUNABLE.get(info.name),
        )
        for info in SAMPLE_MODELS.values()
    ] + language  # the digits models stay the first, default choice
