"""``model: "hf:<directory>"``: a local Hugging Face checkpoint, by what its config names.

A ``*ForImageClassification`` architecture is an image classifier (:mod:`.hf_vision`);
anything else is loaded as a causal language model (:mod:`.hf`), which refuses what it
cannot load with one line naming ``model``. The directory must lie inside the models
roots when ``PRUNING_CORE_MODELS`` is set (:mod:`.hf_dirs`).
"""

from __future__ import annotations

from pruning_core.errors import UserInputError
from pruning_core.models.hf import PREFIX, read_config
from pruning_core.models.hf_causal import causal_lm_spec
from pruning_core.models.hf_dirs import user_path
from pruning_core.models.hf_vision import image_classifier_spec, is_image_classifier
from pruning_core.models.sources import model_source
from pruning_core.models.spec import ModelSpec


@model_source(PREFIX)
def hf_model(text: str, weights: str | None) -> ModelSpec:
    """Resolve ``hf:<directory>``: relative to the working directory, or, when
    ``PRUNING_CORE_MODELS`` is set, inside its roots only."""
    if weights is not None:
        raise UserInputError(
            "weights", "hf:<dir> models load their own *.safetensors from the directory; omit it"
        )
    if not text.strip():
        raise UserInputError("model", "'hf:' needs a directory, e.g. hf:models/my-llama")
    directory = user_path(text, "model")  # inside PRUNING_CORE_MODELS' roots when set
    name = f"{PREFIX}:{text}"
    if is_image_classifier(read_config(directory, text)):
        return image_classifier_spec(name, directory)
    return causal_lm_spec(name, directory)
