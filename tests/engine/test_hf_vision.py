"""Local Hugging Face image classifiers (``hf:<dir>`` naming ``*ForImageClassification``)
with an image folder: loading, normalisation from the checkpoint, pruning, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from test_own_vision_models import write_folder
from tiny_vit import MEAN, STD, make_vit_dir

from pruning_core import UserInputError, describe_model
from pruning_core.models.hf import transformers_module
from pruning_core.models.registry import load_data, spec_for
from pruning_core.pipeline.artifacts import save_run
from pruning_core.pipeline.run import prune
from pruning_core.recipe import parse_recipe


@pytest.fixture(scope="module")
def vit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_vit_dir(tmp_path_factory.mktemp("vit") / "model")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("images")
    paths = {split: str(write_folder(root / split, per_class=6)) for split in ("train", "val")}
    paths["test"] = str(write_folder(root / "test", per_class=4))
    return {"kind": "image_folder", **paths, "image_size": 32}


def _recipe(vit: Path, folders: dict[str, Any], **fields: Any) -> Any:
    return parse_recipe(
        {"model": f"hf:{vit}", "data": folders, "finetune": {"epochs": 0}, **fields}
    )


def test_image_classifier_checkpoint_becomes_a_pixels_to_logits_classifier(
    vit: Path, folders: dict[str, Any]
) -> None:
    spec = spec_for(f"hf:{vit}")
    assert spec.task == "classification" and spec.input_shape == (3, 32, 32)
    assert spec.normalization == (tuple(MEAN), tuple(STD))
    model = spec.factory()
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 3)
    facts = describe_model(f"hf:{vit}")
    names = [row["layer"] for row in facts.layers]
    assert "vit.layers.0.attention.q_proj" in names  # transformers 5 names
    assert facts.default_skip == [names[0], "classifier"]  # patch embedding and the head


def test_images_are_normalised_with_the_checkpoints_mean_and_std(
    vit: Path, folders: dict[str, Any]
) -> None:
    recipe = _recipe(vit, folders)
    ours = load_data(spec_for(recipe.model), recipe.data)
    imagenet = load_data(
        spec_for(recipe.model),
        _recipe(vit, {**folders, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}).data,
    )
    assert ours is not None and imagenet is not None
    pixels = ours["train"].x[:, 0] * STD[0] + MEAN[0]  # back to [0, 1]
    assert float(pixels.min()) >= -1e-5 and float(pixels.max()) <= 1 + 1e-5
    assert not torch.allclose(ours["train"].x, imagenet["train"].x)


@pytest.mark.parametrize(
    "structure", ["unstructured", "2:4", {"kind": "channel"}], ids=["50%", "2:4", "channels"]
)
def test_pruning_a_hugging_face_vit_and_exporting_it(
    vit: Path, folders: dict[str, Any], tmp_path: Path, structure: Any
) -> None:
    result = prune(_recipe(vit, folders, structure=structure, finetune={"epochs": 1}))
    summary = result.summary
    assert summary["metric"] == "accuracy" and 0.0 <= summary["test_accuracy"] <= 1.0
    assert summary["sparsity_pruned_layers"] == pytest.approx(0.5, abs=0.02)
    if isinstance(structure, dict):  # channels: only the MLP expansions lose outputs
        changed = [row["name"] for row in result.layers if row["pruned"]]
        assert changed and all(name.endswith("mlp.fc1") for name in changed)
        return
    out = save_run(result, tmp_path / "run")
    assert json.loads((out / "hf" / "preprocessor_config.json").read_text())["image_mean"] == MEAN
    exported = transformers_module().AutoModelForImageClassification.from_pretrained(
        str(out / "hf"), local_files_only=True
    )
    pixels = torch.randn(4, 3, 32, 32)
    expected = result.model.eval()(pixels)
    assert torch.allclose(exported.eval()(pixel_values=pixels).logits, expected, atol=1e-5)


def test_an_image_size_other_than_the_training_size_works_for_vit(
    vit: Path, folders: dict[str, Any]
) -> None:
    result = prune(_recipe(vit, {**folders, "image_size": 48}))
    assert result.summary["test_accuracy"] is not None


def test_refusals_name_the_field(vit: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    config = json.loads((vit / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**config, "model_type": "no-such-vit"}))
    (broken / "model.safetensors").write_bytes((vit / "model.safetensors").read_bytes())
    with pytest.raises(UserInputError, match="model: .*no-such-vit.*does not know"):
        spec_for(f"hf:{broken}")
    text = tmp_path / "t.txt"
    text.write_text("hello " * 100)
    with pytest.raises(UserInputError, match="data.kind: text data needs a causal language"):
        spec_for(
            f"hf:{vit}", None, parse_recipe({"data": {"kind": "text", "path": str(text)}}).data
        )
