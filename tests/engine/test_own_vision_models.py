"""Your own vision model and images: ``torchvision:<arch>`` + ``weights`` + ``image_folder``.

Every image here is a PNG written by the test itself (3 classes of stripes and
checkerboards); weights are a torchvision resnet18 with 3 classes saved as safetensors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from cli_support import Cli
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn
from torchvision.models import resnet18, resnet34

from pruning_core.data_config import ImageFolderData
from pruning_core.errors import UserInputError
from pruning_core.models import image_folder
from pruning_core.models.metrics import top_k_accuracy
from pruning_core.models.registry import build_model, load_data, spec_for
from pruning_core.pipeline.checks import check
from pruning_core.pipeline.run import prune
from pruning_core.recipe import load_recipe, parse_recipe

CLASSES = ("checker", "horizontal", "vertical")
RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "own_resnet18_image_folder.yaml"
SIZE = 32


def _pattern(kind: str, rng: np.random.Generator) -> np.ndarray:
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    period = int(rng.integers(4, 9))
    stripes = {"horizontal": y // period, "vertical": x // period}
    gray = stripes[kind] % 2 if kind in stripes else (x // period + y // period) % 2
    rgb = (
        0.2
        + 0.6 * gray[..., None] * rng.uniform(0.5, 1.0, 3)
        + rng.normal(0, 0.05, (SIZE,) * 2 + (3,))
    )
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def write_folder(root: Path, per_class: int = 4, classes: tuple[str, ...] = CLASSES) -> Path:
    """``root/<class>/<i>.png``: ``per_class`` synthetic images of each class."""
    rng = np.random.default_rng(len(root.name))
    for kind in classes:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            Image.fromarray(_pattern(kind, rng)).save(root / kind / f"{index}.png")
    return root


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("images")
    return {
        "train": write_folder(base / "train", 8),
        "val": write_folder(base / "val"),
        "test": write_folder(base / "test"),
    }


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A torchvision resnet18 with 3 classes, as safetensors (random init: the run is tested)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "resnet18_3.safetensors"
    save_file(resnet18(num_classes=3).state_dict(), str(path))
    return path


def _data(folders: dict[str, Path], **changes: Any) -> dict[str, Any]:
    return {
        "kind": "image_folder",
        **{k: str(v) for k, v in folders.items()},
        "image_size": SIZE,
    } | changes


def _recipe(folders: dict[str, Path], weights: Path, **changes: Any) -> dict[str, Any]:
    base = {
        "model": "torchvision:resnet18",
        "weights": str(weights),
        "data": _data(folders),
        "structure": "channel",
        "sparsity": 0.5,
        "finetune": {"epochs": 1, "batch_size": 16},
        "calibration": {"samples": 8},
    }
    return base | changes


def _linear(model: nn.Module, name: str) -> nn.Linear:
    layer = model.get_submodule(name)
    assert isinstance(layer, nn.Linear)
    return layer


def _error(call: Any, *args: Any) -> UserInputError:
    with pytest.raises(UserInputError) as caught:
        call(*args)
    assert "\n" not in str(caught.value)
    return caught.value


# --- torchvision:<arch> ---------------------------------------------------------------------


def test_classes_come_from_the_weights(weights: Path) -> None:
    spec = spec_for("torchvision:resnet18", str(weights))
    assert (
        spec.name == "torchvision:resnet18"
        and spec.weights == weights
        and spec.input_shape == (3, 224, 224)
    )
    model = build_model(spec, str(weights))
    assert _linear(model, "fc").out_features == 3
    torch.testing.assert_close(model.state_dict()["conv1.weight"], resnet18_weights(weights))


def resnet18_weights(path: Path) -> torch.Tensor:
    return load_file(str(path))["conv1.weight"]


def test_without_weights_random_init_imagenet_classes() -> None:
    spec = spec_for("torchvision:mobilenet_v3_small")
    assert spec.weights is None and not spec.trained
    assert _linear(build_model(spec), "classifier.3").out_features == 1000


@pytest.mark.parametrize(
    ("arch", "pieces"),
    [
        (
            "resnet19",
            (
                "model",
                "unknown torchvision architecture",
                "did you mean resnet18",
                "allowed: resnet18",
            ),
        ),
        ("fasterrcnn_resnet50_fpn", ("model", "detection model", "only image classifiers")),
        ("fcn_resnet50", ("model", "segmentation model")),
        ("r3d_18", ("model", "video model")),
    ],
)
def test_unknown_and_non_classification_builders_are_refused(
    arch: str, pieces: tuple[str, ...]
) -> None:
    error = _error(spec_for, f"torchvision:{arch}")
    for piece in pieces:
        assert piece in str(error)


def test_weights_of_another_architecture_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "r34.safetensors"
    save_file(resnet34(num_classes=5).state_dict(), str(path))
    error = _error(spec_for, "torchvision:resnet18", str(path))
    assert (
        error.field == "weights"
        and "not a resnet18 state_dict: unexpected layer1.2" in error.message
    )


def test_a_wrong_shape_names_the_tensor(tmp_path: Path, weights: Path) -> None:
    tensors = load_file(str(weights))
    tensors["layer2.0.conv1.weight"] = torch.zeros(64, 64, 3, 3)
    path = tmp_path / "bad.safetensors"
    save_file(tensors, str(path))
    error = _error(spec_for, "torchvision:resnet18", str(path))
    assert error.field == "weights"
    assert (
        "'layer2.0.conv1.weight' has shape [64, 64, 3, 3], resnet18 expects [128, 64, 3, 3]"
        in error.message
    )


def test_missing_pickled_and_corrupt_weights_files(tmp_path: Path) -> None:
    assert "file not found" in str(
        _error(spec_for, "torchvision:resnet18", str(tmp_path / "no.safetensors"))
    )
    pickled = tmp_path / "model.pt"
    torch.save({"a": torch.zeros(1)}, pickled)
    assert "pickle" in str(_error(spec_for, "torchvision:resnet18", str(pickled)))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    assert "not a valid safetensors file" in str(
        _error(spec_for, "torchvision:resnet18", str(junk))
    )


# --- image_folder ---------------------------------------------------------------------------


def test_folder_loads_resized_normalised_sorted(folders: dict[str, Path], weights: Path) -> None:
    config = parse_recipe(_recipe(folders, weights, data=_data(folders, image_size=16))).data
    spec = spec_for("torchvision:resnet18", str(weights), config)
    assert spec.input_shape == (3, 16, 16) and spec.trained
    splits = load_data(spec, config)
    assert splits is not None
    assert splits["train"].x.shape == (24, 3, 16, 16) and splits["test"].x.shape == (12, 3, 16, 16)
    assert splits["train"].y.tolist() == [0] * 8 + [1] * 8 + [2] * 8  # sorted class folders
    # ImageNet normalisation by default: pixel values in [0, 1] become (v - mean) / std
    assert float(splits["val"].x[:, 0].min()) >= (0 - 0.485) / 0.229 - 1e-5
    assert float(splits["val"].x[:, 0].max()) <= (1 - 0.485) / 0.229 + 1e-5
    assert load_data(spec, config) is splits  # decoded once, reused while files are unchanged


def test_recipe_mean_std_are_used(folders: dict[str, Path], weights: Path) -> None:
    plain = parse_recipe(
        _recipe(folders, weights, data=_data(folders, mean=[0, 0, 0], std=[1, 1, 1]))
    ).data
    assert isinstance(plain, ImageFolderData)
    splits = image_folder.load_image_folder(plain)
    assert float(splits["train"].x.min()) >= 0.0 and float(splits["train"].x.max()) <= 1.0


def _load(data: dict[str, Any]) -> UserInputError:
    config = parse_recipe({"model": "torchvision:resnet18", "data": data}).data
    return _error(image_folder.load_image_folder, config)


def test_folder_errors_name_the_field(folders: dict[str, Path], tmp_path: Path) -> None:
    error = _load(_data(folders, val=str(tmp_path / "nowhere")))
    assert error.field == "data.val" and "directory not found" in error.message

    (tmp_path / "flat").mkdir()
    error = _load(_data(folders, test=str(tmp_path / "flat")))
    assert error.field == "data.test" and "no class folders" in error.message

    empty = write_folder(tmp_path / "empty", 2)
    for png in (empty / "vertical").iterdir():
        png.unlink()
    error = _load(_data(folders, test=str(empty)))
    assert (
        error.field == "data.test"
        and "class folder 'vertical'" in error.message
        and "no images" in error.message
    )

    other = write_folder(tmp_path / "other", 2, ("checker", "dots", "horizontal"))
    error = _load(_data(folders, val=str(other)))
    assert error.field == "data.val" and "missing vertical; extra dots" in error.message

    broken = write_folder(tmp_path / "broken", 2)
    (broken / "checker" / "1.png").write_bytes(b"not a png")
    error = _load(_data(folders, train=str(broken), val=str(broken), test=str(broken)))
    assert error.field == "data.train" and str(broken / "checker" / "1.png") in error.message


def test_folders_over_the_memory_cap_are_refused(
    folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(image_folder, "MAX_TENSOR_BYTES", 20 * 3 * SIZE * SIZE * 4)
    error = _load(_data(folders))
    assert (
        error.field == "data"
        and "exceed the" in error.message
        and "smaller image_size" in error.message
    )


def test_models_the_folder_cannot_feed(folders: dict[str, Path], tmp_path: Path) -> None:
    problems = check(parse_recipe({"model": "digits_mlp", "data": _data(folders)}))
    assert problems[0].field == "data.kind" and "RGB images" in problems[0].message
    # 1000 ImageNet classes (no weights) against 3 class folders
    problems = check(
        parse_recipe(
            {"model": "torchvision:resnet18", "data": _data(folders), "finetune": {"epochs": 0}}
        )
    )
    assert [
        (p.field, "3 classes" in p.message and "outputs 1000" in p.message) for p in problems
    ] == [("data", True)]
    # vit_b_16 takes 224x224 images only
    problems = check(
        parse_recipe(
            {"model": "torchvision:vit_b_16", "data": _data(folders), "finetune": {"epochs": 0}}
        )
    )
    assert (
        problems[0].field == "data.image_size"
        and "cannot take 3x32x32 inputs" in problems[0].message
    )


def test_check_allows_data_criteria_and_finetuning(folders: dict[str, Path], weights: Path) -> None:
    assert check(parse_recipe(_recipe(folders, weights, criterion="taylor"))) == []
    assert (
        check(parse_recipe(_recipe(folders, weights, criterion="wanda", structure="unstructured")))
        == []
    )
    without = check(parse_recipe(_recipe(folders, weights, data=None, criterion="taylor")))
    assert {p.field for p in without} == {"criterion", "finetune.epochs"}


def test_the_example_recipe_runs_on_your_files(folders: dict[str, Path], weights: Path) -> None:
    recipe = load_recipe(RECIPE)
    assert recipe.model == "torchvision:resnet18" and isinstance(recipe.data, ImageFolderData)
    mine = recipe.with_updates(
        weights=str(weights),
        data=recipe.data.model_copy(update={k: str(v) for k, v in folders.items()}),
    )
    assert check(mine) == []


def test_top5_accuracy_exact() -> None:
    model = nn.Linear(6, 6, bias=False)
    nn.init.eye_(model.weight)  # logits are the inputs
    x = torch.tensor([[6.0, 5, 4, 3, 2, 1], [1.0, 2, 3, 4, 5, 6], [6.0, 5, 4, 3, 2, 1]])
    y = torch.tensor([4, 0, 5])  # 5th best, 6th best, 6th best
    assert top_k_accuracy(model, x, y, k=5) == pytest.approx(1 / 3)
    assert (
        top_k_accuracy(nn.Linear(6, 5), torch.zeros(2, 6), torch.zeros(2, dtype=torch.int64))
        is None
    )


# --- end to end -----------------------------------------------------------------------------


@pytest.mark.slow
def test_prune_resnet18_on_an_image_folder(folders: dict[str, Path], weights: Path) -> None:
    result = prune(parse_recipe(_recipe(folders, weights)))
    summary = result.summary
    assert summary["model"] == "torchvision:resnet18" and summary["trained"] is True
    for key in ("dense_test_accuracy", "test_accuracy", "dense_val_accuracy", "val_accuracy"):
        assert 0.0 <= summary[key] <= 1.0
    assert (
        summary["dense_test_top5_accuracy"] is None and summary["test_top5_accuracy"] is None
    )  # 3 classes
    assert _linear(result.model, "fc").out_features == 3
    conv = result.model.get_submodule("layer1.0.conv1")
    assert isinstance(conv, nn.Conv2d) and conv.out_channels == 32
    assert summary["dense_macs"] < 40e6  # counted at image_size 32, not 224


@pytest.mark.slow
def test_cli_runs_the_recipe(folders: dict[str, Path], weights: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(_recipe(folders, weights)), encoding="utf-8")
    out = tmp_path / "out"
    result = Cli().invoke("run", str(recipe), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output
    summary = json.loads((out / "results.json").read_text())["summary"]
    assert 0.0 <= summary["dense_test_accuracy"] <= 1.0 and 0.0 <= summary["test_accuracy"] <= 1.0
    assert summary["test_top5_accuracy"] is None


def test_cli_names_the_field_of_a_bad_folder(
    folders: dict[str, Path], weights: Path, tmp_path: Path
) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        yaml.safe_dump(_recipe(folders, weights, data=_data(folders, test=str(tmp_path / "gone")))),
        encoding="utf-8",
    )
    Cli.error_line(
        Cli().invoke("run", str(recipe), "--out", str(tmp_path / "out")),
        "data.test",
        "directory not found",
    )
