"""Local Hugging Face causal LMs: loading, refusals, text data, perplexity, export.

A random-init 2-block Llama with its own tokenizer (``tiny_llama.py``) is built once per
module; nothing is downloaded.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml
from cli_support import Cli
from safetensors.torch import load_file, save_file
from tiny_llama import make_llama_dir
from torch import nn

from pruning_core.data_config import TextData
from pruning_core.errors import UserInputError
from pruning_core.models.data import Split
from pruning_core.models.hf import engine_view, transformers_module
from pruning_core.models.layers import prunable_layers
from pruning_core.models.lm_metrics import next_token_loss, perplexity, task_loss
from pruning_core.models.registry import build_model, load_data, spec_for
from pruning_core.models.text_data import split_ranges, text_splits
from pruning_core.pipeline.checks import check
from pruning_core.pipeline.run import prune
from pruning_core.recipe import parse_recipe


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``root/model`` (2 blocks, width 32, vocabulary 320) and ``root/text.txt``."""
    return make_llama_dir(tmp_path_factory.mktemp("llama"))


def _recipe(root: Path, **fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "model": f"hf:{root / 'model'}",
        "data": {"kind": "text", "path": str(root / "text.txt"), "seq_len": 32},
        "finetune": {"epochs": 0},
        "calibration": {"samples": 16, "batch_size": 8},
    }
    return {**base, **fields}


def test_hf_directory_loads_as_an_ids_to_logits_module(llama: Path) -> None:
    spec = spec_for(f"hf:{llama / 'model'}")
    assert spec.task == "causal_lm" and spec.trained and spec.default_skip == ("lm_head",)
    model = build_model(spec)
    ids = torch.randint(0, 320, (3, 16))
    logits = model(ids)
    assert logits.shape == (3, 16, 320)
    names = [layer.name for layer in prunable_layers(model)]
    assert names[0] == "model.layers.0.self_attn.q_proj" and names[-1] == "lm_head"
    assert "model.layers.1.mlp.down_proj" in names
    assert type(model).__name__ == "LlamaForCausalLM"  # save_pretrained records this name
    assert torch.equal(model(ids.float()), logits)  # the engine's all-zeros probes work


def _write_config(directory: Path, **changes: object) -> None:
    config = json.loads((directory / "config.json").read_text())
    config.update(changes)
    (directory / "config.json").write_text(json.dumps(config))


def _copy_model(llama: Path, target: Path) -> Path:
    target.mkdir()
    for path in (llama / "model").iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


BAD_DIRECTORIES = [
    # (how to break a copy of the checkpoint, field, piece of the one-line message)
    ("no_config", "model", "has no config.json"),
    ("auto_map", "model", "needs custom code"),
    ("pickle_only", "model", "only pickle weights"),
    ("unknown_type", "model", "transformers does not know"),
    ("not_causal", "model", "not a causal language model"),
    ("no_tokenizer", "model", "has no tokenizer"),
    ("wrong_shapes", "model", "cannot be loaded"),
    ("missing_tensor", "model", "model.norm.weight are missing"),
    ("missing_dir", "model", "is not a directory"),
]


def _break(directory: Path, how: str) -> None:
    if how == "no_config":
        (directory / "config.json").unlink()
    elif how == "auto_map":
        _write_config(directory, auto_map={"AutoModelForCausalLM": "modeling_evil.Evil"})
    elif how == "pickle_only":
        (directory / "model.safetensors").rename(directory / "pytorch_model.bin")
    elif how == "unknown_type":
        _write_config(directory, model_type="no-such-architecture")
    elif how == "not_causal":
        _write_config(directory, model_type="vit")
    elif how == "no_tokenizer":
        (directory / "tokenizer.json").unlink()
    elif how == "missing_tensor":
        tensors = load_file(directory / "model.safetensors")
        del tensors["model.norm.weight"]
        save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
    elif how == "wrong_shapes":
        _write_config(directory, intermediate_size=48)
    elif how == "missing_dir":
        for path in directory.iterdir():
            path.unlink()
        directory.rmdir()


@pytest.mark.parametrize(("how", "field", "piece"), BAD_DIRECTORIES)
def test_bad_checkpoint_directories_fail_in_one_line(
    cli: Cli, llama: Path, tmp_path: Path, how: str, field: str, piece: str
) -> None:
    directory = _copy_model(llama, tmp_path / "copy")
    _break(directory, how)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"model: 'hf:{directory}'\ncriterion: magnitude\nfinetune: {{epochs: 0}}\n")
    result = cli.invoke("run", str(recipe), "--out", str(tmp_path / "out"))
    cli.error_line(result, f"{field}:", piece)
    assert not (tmp_path / "out" / "results.json").exists()


BAD_LM_RECIPES = [
    # (recipe changes, field, piece)
    ({"weights": "w.safetensors"}, "weights", "omit it"),
    ({"calibration": {"samples": 100_000}}, "calibration.samples", "windows of 32 tokens"),
    ({"structure": "channel"}, "structure", "allowed: unstructured, n:m, block"),
    ({"allocation": "sensitivity"}, "allocation", "allowed: uniform"),
    ({"data": {"kind": "text", "path": "no/such/file.txt"}}, "data.path", "does not exist"),
    ({"data": {"kind": "text", "path": __file__}}, "data.path", "not a .txt or .jsonl"),
]


@pytest.mark.parametrize(("changes", "field", "piece"), BAD_LM_RECIPES)
def test_bad_language_model_recipes_fail_in_one_line(
    cli: Cli, llama: Path, tmp_path: Path, changes: dict[str, object], field: str, piece: str
) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(_recipe(llama, criterion="wanda", **changes)))
    result = cli.invoke("run", str(recipe), "--out", str(tmp_path / "out"))
    cli.error_line(result, f"{field}:", piece)


@pytest.mark.slow
def test_text_data_refuses_classifiers_and_short_texts(llama: Path, tmp_path: Path) -> None:
    digits = parse_recipe({"model": "digits_mlp", "data": _recipe(llama)["data"]})
    assert check(digits)[0].field == "data.kind"
    short = tmp_path / "short.txt"
    short.write_text("def f(): return 1\n" * 3)
    recipe = parse_recipe(_recipe(llama, data={"kind": "text", "path": str(short), "seq_len": 32}))
    problem = check(recipe)[0]
    assert problem.field == "data.path" and "shorter than one window" in problem.message


def test_text_splits_are_deterministic_and_never_overlap(llama: Path, tmp_path: Path) -> None:
    ranges = split_ranges(1000, 0.1, 0.2)
    assert ranges == {"train": (0, 700), "val": (700, 800), "test": (800, 1000)}
    config = TextData(path=str(llama / "text.txt"), seq_len=32)
    splits = text_splits(config, llama / "model")
    again = text_splits(config, llama / "model")
    assert all(torch.equal(splits[k].x, again[k].x) for k in splits)
    sizes = {name: split.x.shape for name, split in splits.items()}
    assert all(shape[1] == 32 for shape in sizes.values())
    assert sizes["val"][0] == sizes["test"][0] and sizes["train"][0] > 7 * sizes["val"][0]
    assert all(torch.equal(split.x, split.y) for split in splits.values())  # labels = ids
    # the same text as a .jsonl file and as a directory gives the same windows
    text = (llama / "text.txt").read_text()
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.jsonl").write_text(json.dumps({"text": text}) + "\n")
    from_jsonl = text_splits(TextData(path=str(folder), seq_len=32), llama / "model")
    assert torch.equal(from_jsonl["test"].x, splits["test"].x)
    (folder / "b.jsonl").write_text('{"title": "no text field"}\n')
    with pytest.raises(UserInputError, match="data.path: line 1 of .*b.jsonl"):
        text_splits(TextData(path=str(folder), seq_len=32), llama / "model")


class _Uniform(nn.Module):
    """Logits that are all zero: every token has probability 1 / vocab."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.zeros((*ids.shape, self.vocab)) + 0 * self.dummy


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size() -> None:
    windows = torch.randint(0, 50, (7, 9))
    value, nll = perplexity(_Uniform(50), windows, batch_size=3)
    assert value == pytest.approx(50.0) and nll == pytest.approx(math.log(50))
    assert perplexity(_Uniform(50), windows)[0] == pytest.approx(50.0)


def test_next_token_loss_predicts_the_following_token() -> None:
    ids = torch.tensor([[1, 2, 0]])
    logits = torch.full((1, 3, 3), -1e4)
    logits[0, 0, 2] = logits[0, 1, 0] = 0.0  # right: 1 -> 2 and 2 -> 0; last is unused
    assert float(next_token_loss(logits, ids)) == pytest.approx(0.0, abs=1e-6)
    assert torch.equal(task_loss(logits, ids), next_token_loss(logits, ids))
    classifier = torch.tensor([[2.0, 0.0]])
    assert float(task_loss(classifier, torch.tensor([0]))) < 0.2


@pytest.mark.parametrize("structure", ["2:4", "unstructured"])
def test_run_exports_a_checkpoint_that_gives_the_reported_perplexity(
    llama: Path, tmp_path: Path, structure: str
) -> None:
    from pruning_core.pipeline.artifacts import save_run

    phases: list[tuple[str, str]] = []
    recipe = parse_recipe(_recipe(llama, criterion="sparsegpt", structure=structure))
    result = prune(recipe, progress=lambda phase, _f, message: phases.append((phase, message)))
    summary = result.summary
    assert summary["metric"] == "perplexity" and summary["metric_direction"] == "lower"
    assert summary["test_accuracy"] is None
    for key in ("dense_test_perplexity", "test_perplexity", "dense_val_perplexity"):
        assert summary[key] > 1.0
    assert summary["test_perplexity"] == pytest.approx(math.exp(summary["test_loss"]))
    assert [m for p, m in phases if p == "prune" and "model.layers" in m] == [
        "calibrating and pruning model.layers.0",
        "calibrating and pruning model.layers.1",
    ]
    out = save_run(result, tmp_path / "run")
    tensors = {
        row["tensor"]: row for row in json.loads((out / "results.json").read_text())["tensors"]
    }
    expected = "2:4" if structure == "2:4" else "unstructured"
    assert tensors["model.layers.1.mlp.up_proj.weight"]["pattern"] == expected
    assert tensors["lm_head.weight"]["pattern"] == "dense"
    auto = transformers_module().AutoModelForCausalLM
    exported = auto.from_pretrained(str(out / "hf"), local_files_only=True)
    weight = exported.model.layers[0].self_attn.q_proj.weight
    assert float((weight == 0).float().mean()) == pytest.approx(0.5, abs=0.01)
    test = load_data(spec_for(recipe.model, None, recipe.data), recipe.data)["test"].x
    value, _ = perplexity(engine_view(exported), test)
    assert value == pytest.approx(summary["test_perplexity"], rel=1e-5)
    tokenizer = transformers_module().AutoTokenizer.from_pretrained(str(out / "hf"))
    assert tokenizer.encode("def f():") == transformers_module().AutoTokenizer.from_pretrained(
        str(llama / "model")
    ).encode("def f():")


@pytest.mark.slow
def test_owl_and_4_of_8_runs_on_language_models(llama: Path) -> None:
    owl = prune(parse_recipe(_recipe(llama, criterion="wanda", allocation="owl", sparsity=0.5)))
    sparsities = [row["sparsity"] for row in owl.layers if row["pruned"]]
    assert len(set(round(s, 3) for s in sparsities)) > 1  # OWL spreads the sparsity
    assert owl.summary["sparsity_pruned_layers"] == pytest.approx(0.5, abs=0.01)
    four_eight = prune(parse_recipe(_recipe(llama, criterion="wanda", structure="4:8")))
    assert {row["pattern"] for row in four_eight.tensors if row["pruned"]} == {"4:8"}


@pytest.mark.slow
def test_finetuning_a_language_model_keeps_its_masks(llama: Path) -> None:
    recipe = _recipe(llama, criterion="magnitude", structure="2:4")
    recipe["finetune"] = {"epochs": 1, "batch_size": 16, "lr": 1e-3}
    result = prune(parse_recipe(recipe))
    assert [c["kind"] for c in result.curves] == ["dense", "prune", "finetune"]
    assert result.curves[-1]["val_perplexity"] > 1.0
    assert {row["pattern"] for row in result.tensors if row["pruned"]} == {"2:4"}


def test_language_model_without_data_prunes_by_magnitude_only(llama: Path) -> None:
    bare = {"model": f"hf:{llama / 'model'}", "finetune": {"epochs": 0}}
    assert check(parse_recipe({**bare, "criterion": "wanda"}))[0].field == "criterion"
    result = prune(parse_recipe({**bare, "criterion": "magnitude"}))
    assert result.summary["test_perplexity"] is None
    assert result.summary["sparsity_pruned_layers"] == pytest.approx(0.5)


def test_splits_are_plain_windows(llama: Path) -> None:
    recipe = parse_recipe(_recipe(llama))
    splits = load_data(spec_for(recipe.model, None, recipe.data), recipe.data)
    assert splits is not None and all(isinstance(s, Split) for s in splits.values())
    assert spec_for(recipe.model, None, recipe.data).input_shape == (32,)


@pytest.mark.slow
def test_a_pruned_tied_head_prunes_its_embedding_and_exports(tmp_path: Path) -> None:
    from pruning_core.pipeline.artifacts import save_run

    root = make_llama_dir(tmp_path / "tied", layers=1, tie=True)
    recipe = parse_recipe(_recipe(root, criterion="magnitude", skip_layers=[]))
    result = prune(recipe)
    out = save_run(result, tmp_path / "run")
    # tied: lm_head and the embedding are one tensor, so both hold the pruned values
    assert json.loads((out / "hf" / "config.json").read_text())["tie_word_embeddings"] is True
    assert result.summary["sparsity_pruned_layers"] == pytest.approx(0.5)
    exported = transformers_module().AutoModelForCausalLM.from_pretrained(str(out / "hf"))
    test = load_data(spec_for(recipe.model, None, recipe.data), recipe.data)["test"].x
    value, _ = perplexity(engine_view(exported), test)
    assert value == pytest.approx(result.summary["test_perplexity"], rel=1e-5)
    embedding = exported.model.embed_tokens.weight
    assert float((embedding == 0).float().mean()) == pytest.approx(0.5, abs=0.01)


def test_models_roots_confine_hf_directories(
    llama: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pruning_core.models.hf_dirs import find_checkpoints, find_texts, model_roots

    monkeypatch.setenv("PRUNING_CORE_MODELS", str(llama))
    assert find_checkpoints(model_roots()) == [f"hf:{(llama / 'model').resolve()}"]
    assert find_texts(model_roots()) == [str((llama / "text.txt").resolve())]
    assert spec_for("hf:model").source == (llama / "model").resolve()  # relative to the root
    outside = _copy_model(llama, tmp_path / "elsewhere")
    for text in (str(outside), "../" + "/".join(outside.parts[1:]), "model/../../x"):
        with pytest.raises(UserInputError, match="model: .* is not inside the models roots"):
            spec_for(f"hf:{text}")
    (llama / "escape").symlink_to(outside)
    try:
        with pytest.raises(UserInputError, match="not inside the models roots"):
            spec_for("hf:escape")
    finally:
        (llama / "escape").unlink()


def test_global_allocation_may_drop_a_whole_layer_of_a_language_model(llama: Path) -> None:
    result = prune(parse_recipe(_recipe(llama, criterion="wanda", allocation="global")))
    assert result.summary["sparsity_pruned_layers"] == pytest.approx(0.5, abs=1e-3)
    assert max(row["sparsity"] for row in result.layers) <= 1.0


def test_evaluate_gives_next_token_accuracy_and_loss_for_language_models(llama: Path) -> None:
    from pruning_core.models.metrics import evaluate

    recipe = parse_recipe(_recipe(llama))
    spec = spec_for(recipe.model, None, recipe.data)
    test = load_data(spec, recipe.data)["test"]
    model = build_model(spec)
    accuracy, loss = evaluate(model, test.x, test.y, batch_size=7)
    assert 0.0 <= accuracy <= 1.0
    assert math.exp(loss) == pytest.approx(perplexity(model, test.x)[0], rel=1e-5)
