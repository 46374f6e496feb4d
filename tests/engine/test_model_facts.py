"""``describe_model`` / ``dense_metrics`` (what the Configure page shows before a run) and
the models roots for data paths and pickers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from tiny_llama import make_llama_dir

import pruning_core
from pruning_core import UserInputError, dense_metrics, describe_model, parse_recipe
from pruning_core.models.hf_dirs import (
    find_image_datasets,
    find_weight_files,
    model_roots,
    user_path,
)
from pruning_core.pipeline.checks import inspect_recipe
from pruning_core.pipeline.run import prune


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_llama_dir(tmp_path_factory.mktemp("llama"))


def test_layers_are_the_ones_a_run_sees(llama: Path) -> None:
    recipe = parse_recipe(
        {
            "model": f"hf:{llama / 'model'}",
            "data": {"kind": "text", "path": str(llama / "text.txt")},
        }
    )
    facts = describe_model(recipe.model, None, {"kind": "text", "path": str(llama / "text.txt")})
    inspection = inspect_recipe(recipe)
    assert inspection.selection is not None
    assert [row["layer"] for row in facts.layers] == [
        layer.name for layer in inspection.selection.layers
    ]
    assert facts.default_skip == ["lm_head"] and facts.task == "causal_lm"
    assert facts.metric == "perplexity" and not facts.higher_is_better
    assert facts.input_shape == (128,) and facts.has_data
    q_proj = next(row for row in facts.layers if row["layer"].endswith("0.self_attn.q_proj"))
    assert q_proj["shape"] == "32x32" and q_proj["params"] == 32 * 32
    assert q_proj["macs"] == 128 * 32 * 32  # every token passes every projection once


def test_vision_transformer_layers_are_split_attention() -> None:
    facts = describe_model("digits_vit")
    names = [row["layer"] for row in facts.layers]
    assert names[:5] == [
        "patch_embed",
        "blocks.0.attn.q",
        "blocks.0.attn.k",
        "blocks.0.attn.v",
        "blocks.0.attn.proj",
    ]
    assert facts.default_skip == ["patch_embed", "head"]


def test_dense_metrics_match_what_a_run_reports(llama: Path) -> None:
    data = {"kind": "text", "path": str(llama / "text.txt"), "seq_len": 64}
    measured = dense_metrics(f"hf:{llama / 'model'}", None, data)
    result = prune(
        parse_recipe(
            {
                "model": f"hf:{llama / 'model'}",
                "data": data,
                "sparsity": 0.0,
                "calibration": {"samples": 8},
            }
        )
    )
    assert measured["metric"] == "perplexity" and measured["note"] == ""
    assert measured["test"] == pytest.approx(result.summary["dense_test_perplexity"], rel=1e-6)
    assert measured["val"] == pytest.approx(result.summary["dense_val_perplexity"], rel=1e-6)
    digits = dense_metrics("digits_cnn")
    assert digits["metric"] == "accuracy" and 0.9 < digits["test"] <= 1.0


def test_dense_metrics_say_why_not() -> None:
    assert dense_metrics("resnet18")["note"] == "no data: structure and speed only, no accuracy"
    bad = dense_metrics("tiny_lm", None, {"kind": "text", "path": "/no/such/file.txt"})
    assert bad["test"] is None and bad["note"].startswith("data.path:")
    with pytest.raises(UserInputError, match="data.text.seq_len"):
        describe_model("tiny_lm", None, {"kind": "text", "path": "x.txt", "seq_len": 1})


def test_data_paths_stay_inside_the_models_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside.txt"
    (root / "texts").mkdir(parents=True)
    (root / "texts" / "a.txt").write_text("hello", encoding="utf-8")
    outside.write_text("secret", encoding="utf-8")
    monkeypatch.delenv(pruning_core.MODELS_ENV, raising=False)
    assert user_path(str(outside), "data.path") == outside  # no roots: taken as given
    monkeypatch.setenv(pruning_core.MODELS_ENV, str(root))
    assert user_path("texts/a.txt", "data.path") == (root / "texts" / "a.txt").resolve()
    for text in (str(outside), "../outside.txt", "texts/../../outside.txt"):
        with pytest.raises(UserInputError, match="data.path: .*not inside the models roots"):
            user_path(text, "data.path")
    recipe = parse_recipe(
        {"model": "tiny_lm", "data": {"kind": "text", "path": str(outside)}, "sparsity": 0.5}
    )
    assert [(p.field, "not inside" in p.message) for p in pruning_core.check(recipe)] == [
        ("data.path", True)
    ]
    image = parse_recipe(
        {
            "model": "torchvision:resnet18",
            "data": {"kind": "image_folder", "train": "/etc", "val": "/etc", "test": "/etc"},
        }
    )
    assert pruning_core.check(image)[0].field == "data.train"


def test_pickers_find_image_datasets_and_loose_weights(tmp_path: Path) -> None:
    for split in ("train", "val", "test"):
        (tmp_path / "flowers" / split / "rose").mkdir(parents=True)
    (tmp_path / "half" / "train").mkdir(parents=True)  # no val/test: not offered
    save_file({"w": torch.zeros(2)}, str(tmp_path / "net.safetensors"))
    (tmp_path / "llm").mkdir()
    (tmp_path / "llm" / "config.json").write_text("{}", encoding="utf-8")
    save_file({"w": torch.zeros(2)}, str(tmp_path / "llm" / "model.safetensors"))
    roots = model_roots([tmp_path])
    assert find_image_datasets(roots) == [str((tmp_path / "flowers").resolve())]
    assert find_weight_files(roots) == [str((tmp_path / "net.safetensors").resolve())]


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ("renamed", "has no model.safetensors or model.safetensors.index.json"),
        ("truncated", "has an unreadable model.safetensors"),
        ("missing_shard", "misses the weight files model-00002.safetensors"),
    ],
)
def test_weight_files_are_checked_before_anything_loads(
    llama: Path, tmp_path: Path, breakage: str, expected: str
) -> None:
    import json
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(llama / "model", broken)
    weights = broken / "model.safetensors"
    if breakage == "renamed":
        weights.rename(broken / "renamed.safetensors")  # not a name from_pretrained reads
    elif breakage == "truncated":
        weights.write_bytes(weights.read_bytes()[:1000])
    else:
        weights.rename(broken / "model-00001.safetensors")
        index = {"weight_map": {"a": "model-00001.safetensors", "b": "model-00002.safetensors"}}
        (broken / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(UserInputError) as caught:
        describe_model(f"hf:{broken}")  # the layer table reads no weights, yet refuses
    assert caught.value.field == "model" and expected in caught.value.message
    recipe = parse_recipe({"model": f"hf:{broken}", "finetune": {"epochs": 0}})
    assert [problem.field for problem in pruning_core.check(recipe)] == ["model"]


def test_language_model_tables_and_checks_need_no_weights(
    llama: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pruning_core.models import hf_causal
    from pruning_core.models.layers import prunable_layers
    from pruning_core.models.metrics import layer_macs
    from pruning_core.models.registry import build_model, spec_for

    spec = spec_for(f"hf:{llama / 'model'}")
    loaded = build_model(spec)
    macs = layer_macs(loaded, spec.input_shape)
    expected = [
        (layer.name, tuple(layer.weight.shape), macs[layer.name])
        for layer in prunable_layers(loaded)
    ]

    def no_weights(*_: object) -> None:
        raise AssertionError("weights were loaded")

    monkeypatch.setattr(hf_causal, "load_causal_lm", no_weights)
    facts = describe_model(f"hf:{llama / 'model'}")
    shapes = [tuple(int(side) for side in row["shape"].split("x")) for row in facts.layers]
    assert [
        (row["layer"], shape, row["macs"]) for row, shape in zip(facts.layers, shapes, strict=True)
    ] == expected
    assert facts.params == sum(p.numel() for p in loaded.parameters())
    recipe = parse_recipe(
        {
            "model": f"hf:{llama / 'model'}",
            "structure": "2:4",
            "skip_layers": ["nothing*"],
            "finetune": {"epochs": 0},
        }
    )
    assert [problem.field for problem in pruning_core.check(recipe)] == ["skip_layers"]


@pytest.mark.slow  # builds a 6.7B-parameter architecture on the meta device (~4 s)
def test_a_7b_shaped_checkpoint_is_described_without_loading_it(
    llama: Path, tmp_path: Path
) -> None:
    import json
    import resource
    import shutil

    seven_b = tmp_path / "llama-7b-shape"
    shutil.copytree(llama / "model", seven_b)
    save_file({"placeholder": torch.zeros(1)}, str(seven_b / "model.safetensors"))  # no weights
    config = json.loads((seven_b / "config.json").read_text())
    config.pop("head_dim", None)
    config.update(
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        vocab_size=32000,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
    )
    (seven_b / "config.json").write_text(json.dumps(config))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    facts = describe_model(f"hf:{seven_b}")
    recipe = parse_recipe({"model": f"hf:{seven_b}", "structure": "2:4", "finetune": {"epochs": 0}})
    assert pruning_core.check(recipe) == []
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert facts.params == 6_738_415_616  # Llama-2-7B's count
    assert len(facts.layers) == 32 * 7 + 1 and facts.default_skip == ["lm_head"]
    assert facts.size_bytes > 25 * 1024**3  # what loading it in fp32 would take...
    assert grown_kib < 2 * 1024**2  # ...while describing and checking it took < 2 GiB
