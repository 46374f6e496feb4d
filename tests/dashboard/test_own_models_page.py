"""Configure with your own models and data: the models roots, local Hugging Face checkpoints,
torchvision architectures with your weights, text and image folders (AppTest)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from app_support import errors, open_page, texts
from PIL import Image
from safetensors.torch import save_file
from streamlit.testing.v1 import AppTest
from tiny_vit import make_vit_dir

import pruning_core
from dashboard.services import sources
from pruning_core.runs.store import RunStore

pytestmark = pytest.mark.slow  # each builds and evaluates a model inside Streamlit

TINY_LM = Path(__file__).resolve().parents[2] / "sample_models" / "tiny_lm"
TEXT = "The quick brown fox jumps over the lazy dog. " * 400


@pytest.fixture
def models_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models root (``PRUNING_CORE_MODELS``) holding a copy of the shipped tiny LM and a text."""
    root = tmp_path / "models"
    shutil.copytree(TINY_LM, root / "llms" / "my-llama")
    (root / "texts").mkdir()
    (root / "texts" / "notes.txt").write_text(TEXT, encoding="utf-8")
    monkeypatch.setenv(pruning_core.MODELS_ENV, str(root))
    return root


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: str(metric.value) for metric in at.metric}


def test_shipped_language_model_shows_perplexity_and_its_layers(empty_store: RunStore) -> None:
    at = open_page("configure")
    at.selectbox(key="cfg_model").set_value("tiny_lm").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = metrics(at)
    assert shown["dense test perplexity"] == "109.36"  # sample_models/README.md
    assert shown["dense val perplexity"] != "n/a"
    plan = at.dataframe[0].value
    assert "model.layers.0.self_attn.q_proj" in list(plan["layer"])
    assert plan.set_index("layer").loc["lm_head", "plan"] == "skipped (skip_layers)"
    assert at.multiselect(key="cfg_skip_tiny_lm").value == ["lm_head"]
    assert at.selectbox(key="cfg_data_tiny_lm").options == [
        "the model's own data",
        "text under the models roots",
    ]


def test_local_checkpoint_with_text_data_queues_a_run_inside_the_root(
    empty_store: RunStore, models_root: Path
) -> None:
    at = open_page("configure")
    at.radio(key="cfg_source").set_value("hf").run()
    checkpoint = f"hf:{(models_root / 'llms' / 'my-llama').resolve()}"
    assert at.selectbox(key="cfg_hf_dir").options == ["models/llms/my-llama"]
    assert at.selectbox(key="cfg_hf_dir").value == checkpoint
    at.selectbox(key=f"cfg_data_{checkpoint}").set_value("text").run()
    text = (models_root / "texts" / "notes.txt").resolve()
    assert "models/texts/notes.txt" in at.selectbox(key="cfg_text_path").options
    at.selectbox(key="cfg_text_path").set_value(str(text)).run()
    at.number_input(key="cfg_seq_len").set_value(32).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not errors(at), errors(at)
    shown = metrics(at)
    # the dense model measured on the user's text, not on its own data
    assert shown["dense test perplexity"] not in ("n/a", "109.36")
    at.button(key="queue_run").click().run()
    (run,) = empty_store.list_runs()
    assert run.recipe["model"] == checkpoint
    assert run.recipe["data"] == {
        "kind": "text",
        "path": str(text),
        "seq_len": 32,
        "val_fraction": 0.1,
        "test_fraction": 0.1,
    }
    assert run.recipe["skip_layers"] == ["lm_head"]


def test_no_checkpoint_under_the_roots_says_where_it_looked(
    empty_store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv(pruning_core.MODELS_ENV, str(tmp_path / "empty"))
    at = open_page("configure")
    at.radio(key="cfg_source").set_value("hf").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "No Hugging Face checkpoint" in texts(at) and str(tmp_path / "empty") in texts(at)
    assert errors(at) == ["**model**: no local checkpoint under the models roots"]
    assert not at.button  # nothing to queue


def test_paths_outside_the_roots_are_refused(models_root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("x", encoding="utf-8")
    for text in (str(outside), "../secret.txt", "texts/../../secret.txt"):
        with pytest.raises(pruning_core.UserInputError) as caught:
            sources.checked_path(text, "data.path")
        assert caught.value.field == "data.path" and "not inside the models roots" in str(
            caught.value
        )
    link = models_root / "escape"
    link.symlink_to(tmp_path)  # a link inside a root cannot lead out of it
    with pytest.raises(pruning_core.UserInputError):
        sources.checked_path("escape/secret.txt", "data.path")
    inside = sources.checked_path("texts/notes.txt", "data.path")
    assert inside == str((models_root / "texts" / "notes.txt").resolve())


def _image_dataset(root: Path, classes: int = 3, per_class: int = 4) -> Path:
    """train/val/test folders of small solid-colour PNGs, one class per colour."""
    rng = np.random.default_rng(0)
    for split in ("train", "val", "test"):
        for label in range(classes):
            folder = root / split / f"class_{label}"
            folder.mkdir(parents=True)
            for index in range(per_class):
                pixels = np.full((20, 20, 3), 60 * label + 30, dtype=np.uint8)
                pixels += rng.integers(0, 20, size=pixels.shape, dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{index}.png")
    return root


def test_torchvision_weights_and_image_folder_from_the_roots(
    empty_store: RunStore, models_root: Path
) -> None:
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=3)
    weights = models_root / "vision" / "resnet18-3.safetensors"
    weights.parent.mkdir()
    save_file(net.state_dict(), str(weights))
    dataset = _image_dataset(models_root / "vision" / "flowers")
    at = open_page("configure")
    at.radio(key="cfg_source").set_value("torchvision").run()
    assert at.selectbox(key="cfg_tv_arch").value == "resnet18"
    assert at.selectbox(key="cfg_tv_weights").value == str(weights.resolve())
    at.selectbox(key="cfg_data_torchvision:resnet18").set_value("image_folder").run()
    at.number_input(key="cfg_image_size").set_value(32).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not errors(at), errors(at)
    assert metrics(at)["dense test accuracy"].endswith("%")
    at.button(key="queue_run").click().run()
    (run,) = empty_store.list_runs()
    assert run.recipe["model"] == "torchvision:resnet18"
    assert run.recipe["weights"] == str(weights.resolve())
    assert run.recipe["data"]["train"] == str((dataset / "train").resolve())
    assert run.recipe["data"]["image_size"] == 32


def test_large_models_measure_their_dense_metric_on_request(
    empty_store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard.services import models

    monkeypatch.setattr(models, "AUTO_MEASURE_PARAMS", 1_000)  # tiny_lm counts as large
    at = open_page("configure")
    at.selectbox(key="cfg_model").set_value("tiny_lm").run()
    assert metrics(at)["dense test perplexity"] == "n/a"
    assert "measured on request" in texts(at)
    at.button(key="measure_dense").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert metrics(at)["dense test perplexity"] == "109.36"


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [("custom_code", "custom code"), ("pickle", "safetensors"), ("bad_json", "config.json")],
)
def test_a_broken_checkpoint_is_one_line_naming_the_model(
    empty_store: RunStore, models_root: Path, breakage: str, expected: str
) -> None:
    directory = models_root / "llms" / "my-llama"
    config = directory / "config.json"
    if breakage == "custom_code":
        text = config.read_text(encoding="utf-8").replace("{", '{"auto_map": {"x": "y"},', 1)
        config.write_text(text, encoding="utf-8")
    elif breakage == "pickle":
        (directory / "pytorch_model.bin").write_bytes(b"\x80\x04N.")  # beside the safetensors
        (directory / "model.safetensors").rename(directory / "model.safetensors.bak")
        (directory / "extra.safetensors").write_bytes(b"not safetensors")
    else:
        config.write_text("{not json", encoding="utf-8")
    at = open_page("configure")
    at.radio(key="cfg_source").set_value("hf").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = errors(at)
    assert shown and all("Traceback" not in line for line in shown)
    assert any(line.startswith("**model**") and expected in line for line in shown), shown
    assert at.button(key="queue_run").disabled


def test_a_hugging_face_image_classifier_takes_image_folders(
    empty_store: RunStore, models_root: Path
) -> None:
    vit = make_vit_dir(models_root / "vision" / "my-vit")
    _image_dataset(models_root / "vision" / "flowers")
    at = open_page("configure")
    at.radio(key="cfg_source").set_value("hf").run()
    checkpoint = f"hf:{vit.resolve()}"
    at.selectbox(key="cfg_hf_dir").set_value(checkpoint).run()
    data = at.selectbox(key=f"cfg_data_{checkpoint}")
    assert data.options == [
        "image folders under the models roots",
        "no data (structure and speed only)",
    ]
    at.number_input(key="cfg_image_size").set_value(32).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not errors(at), errors(at)
    assert metrics(at)["dense test accuracy"].endswith("%")
    assert "vit.layers.0.attention.q_proj" in list(at.dataframe[0].value["layer"])
