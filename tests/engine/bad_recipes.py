"""Every bad recipe a user can hand the engine, as one table.

``test_cli.py`` runs each through ``pruning-core run`` (one line, exit code 2) and
``test_checks_agree.py`` through ``check`` and ``prune`` (the same first problem). A row
is the recipe file's text, or a function that writes the files the recipe names (weights)
into a folder and returns the text, and the pieces the printed line must contain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from pruning_core.models.registry import MODELS

MLP = "model: digits_mlp\n"  # the hostile-input rows use the MLP, the others digits_cnn
TINY_LM = Path(__file__).resolve().parents[2] / "sample_models" / "tiny_lm"


@dataclass(frozen=True)
class BadRecipe:
    """One bad recipe: an id, its text (or a writer of it) and pieces of the error line."""

    id: str
    text: str | Callable[[Path], str]
    pieces: tuple[str, ...]

    def write(self, folder: Path) -> Path:
        """Write the recipe (and any file it names) into ``folder``; return the recipe's path."""
        text = self.text(folder) if callable(self.text) else self.text
        path = folder / "recipe.yaml"
        path.write_text(text)
        return path


def _pickled_weights(folder: Path) -> str:
    pickled = folder / "w.pt"
    torch.save({"features.0.weight": torch.zeros(1)}, pickled)
    return f"weights: {pickled}\n"


def _corrupt_weights(folder: Path) -> str:
    corrupt = folder / "w.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    return f"weights: {corrupt}\n"


def _other_architecture(folder: Path) -> str:
    other = folder / "w.safetensors"
    save_file({"fc.weight": torch.zeros(2, 2)}, str(other))
    return f"weights: {other}\n"


def _weights_with_nan(folder: Path) -> str:
    shipped = MODELS.get("digits_cnn").weights
    assert shipped is not None
    state = load_file(shipped)
    state["classifier.1.weight"][0, 0] = float("nan")
    bad = folder / "nan.safetensors"
    save_file(state, str(bad))
    return f"weights: {bad}\n"


BAD_RECIPES = [
    # --- names and values a recipe alone shows wrong
    BadRecipe(
        "unknown-criterion",
        "criterion: l7norm\n",
        ("criterion:", "unknown criterion", "l7norm", "magnitude", "random"),
    ),
    BadRecipe(
        "unknown-structure",
        "structure: diagonal\n",
        ("structure", "unstructured", "n:m", "block", "channel"),
    ),
    BadRecipe(
        "unknown-field", "model: digits_cnn\nlearning_rate: 3\n", ("learning_rate", "unknown field")
    ),
    BadRecipe("sparsity-1", "sparsity: 1.0\n", ("sparsity", "less than 1")),
    BadRecipe("sparsity-negative", "sparsity: -0.1\n", ("sparsity", "greater than or equal to 0")),
    BadRecipe("unknown-model", "model: no_such_model\n", ("model", "no_such_model", "digits_cnn")),
    BadRecipe("2:4-sparsity", "structure: '2:4'\nsparsity: 0.7\n", ("sparsity", "0.5")),
    BadRecipe(
        "criterion-structure",
        "criterion: sparsegpt\nstructure: channel\n",
        ("structure:", "sparsegpt", "allowed: unstructured, n:m"),
    ),
    BadRecipe(
        "head-non-uniform",
        "model: digits_vit\nstructure: head\nallocation: global\n",
        ("allocation:", "'global'", "allowed: uniform"),
    ),
    BadRecipe(
        "2:4-owl",  # a user bug: the form accepted it and the worker failed
        "structure: '2:4'\nallocation: owl\n",
        ("allocation:", "'owl'", "allowed: uniform"),
    ),
    BadRecipe(
        "layer-sparsity-1", "layer_sparsity: {features.3: 1.0}\n", ("layer_sparsity:", "features.3")
    ),
    BadRecipe(
        "layer-sparsity-2:4-value",
        "structure: '2:4'\nlayer_sparsity: {features.3: 0.3}\n",
        ("layer_sparsity:", "features.3"),
    ),
    # --- YAML and file problems
    BadRecipe(
        "malformed-yaml",
        "criterion: [magnitude\n",
        ("recipe", "malformed YAML", "line 2", "expected"),
    ),
    BadRecipe("not-a-mapping", "- just\n- a list\n", ("recipe", "mapping")),
    BadRecipe(
        "weights-missing", "weights: /no/such/file.safetensors\n", ("weights", "file not found")
    ),
    BadRecipe("weights-pickled", _pickled_weights, ("weights", "pickle", "safetensors")),
    BadRecipe("weights-corrupt", _corrupt_weights, ("weights", "not a valid safetensors")),
    BadRecipe("weights-other-model", _other_architecture, ("weights", "does not match", "missing")),
    BadRecipe("weights-nan", _weights_with_nan, ("weights", "classifier.1.weight", "NaN")),
    # --- rules that need the model: its layers, its data, its finetune budget
    BadRecipe(
        "2:4-first-layer",
        "structure: '2:4'\nskip_layers: []\n",
        ("structure", "features.0", "not a multiple of M=4"),
    ),
    BadRecipe(
        "skip-matches-nothing",
        "skip_layers: ['nope*']\n",
        ("skip_layers:", "matches no prunable layer"),
    ),
    BadRecipe("head-without-attention", MLP + "structure: head\n", ("structure:",)),
    BadRecipe(
        "layer-sparsity-skipped",  # a user bug: the form accepted it and the worker failed
        "skip_layers: [features.0]\nlayer_sparsity: {features.0: 0.5}\n",
        ("layer_sparsity:", "features.0", "skip_layers", "features.3"),
    ),
    BadRecipe(
        "gradual-end-step", "schedule: {kind: gradual, end_step: 100000}\n", ("schedule.end_step",)
    ),
    BadRecipe(
        "gradual-start-step",
        "schedule: {kind: gradual, start_step: 100000}\n",
        ("schedule.start_step",),
    ),
    BadRecipe(
        "untrained-data-criterion",
        "model: resnet18\ncriterion: gradient\nfinetune: {epochs: 0}\n",
        ("criterion", "untrained", "magnitude"),
    ),
    BadRecipe("untrained-finetune", "model: resnet18\n", ("finetune.epochs:", "set 0")),
    BadRecipe(
        "untrained-owl",
        "model: resnet18\nallocation: owl\nfinetune: {epochs: 0}\n",
        ("allocation:", "'owl'", "uniform, global, erk"),
    ),
    # --- hostile and careless input (issue 13): never echoed whole, never a traceback
    BadRecipe("seed-huge", MLP + "seed: 1180591620717411303424\n", ("seed:", "less than or equal")),
    BadRecipe("nested-deep", "[" * 20000, ("recipe:", "nested too deeply")),
    BadRecipe(
        "nested-unknown",
        "a:\n" + "".join("  " * i + " b:\n" for i in range(1, 400)),
        ("a:", "unknown field"),
    ),
    BadRecipe(
        "weight-decay-inf",
        MLP + "finetune: {weight_decay: .inf}\n",
        ("finetune.weight_decay:", "finite"),
    ),
    BadRecipe(
        "temperature-inf",
        MLP + "finetune: {distillation: {temperature: .inf}}\n",
        ("finetune.distillation.temperature:", "finite"),
    ),
    BadRecipe("lr-nan", MLP + "finetune: {lr: .nan}\n", ("finetune.lr:", "finite")),
    BadRecipe("sparsity-nan", MLP + "sparsity: .nan\n", ("sparsity:", "finite")),
    BadRecipe(
        "duplicate-key",
        MLP + "criterion: magnitude\ncriterion: random\n",
        ("criterion:", "duplicate key"),
    ),
    BadRecipe("empty", "", ("recipe:", "empty")),
    BadRecipe("only-a-comment", "# only a comment\n", ("recipe:", "empty")),
    BadRecipe("5-MB", "model: " + "x" * 5_000_000 + "\n", ("recipe:", "at most")),
    BadRecipe("100-kB-model", "model: " + "x" * 100_000 + "\n", ("model:", "unknown model")),
    BadRecipe(
        "skip-layers-too-many",
        MLP + "skip_layers: [" + ",".join(["a"] * 20_000) + "]\n",
        ("skip_layers:", "at most"),
    ),
    BadRecipe(
        "mlp-layer-sparsity-skipped",
        MLP + "layer_sparsity: {net.1: 0.5}\n",
        ("layer_sparsity:", "skip_layers"),
    ),
    # --- language models and text data (issue 11, item 8)
    BadRecipe(
        "lm-text-too-short-for-calibration",
        "model: tiny_lm\ncriterion: wanda\ncalibration: {samples: 5000}\n",
        ("calibration.samples:", "809 windows of 128 tokens", "5000 samples x 128 tokens"),
    ),
    BadRecipe(
        "lm-channel-removal",
        "model: tiny_lm\nstructure: channel\n",
        ("structure:", "causal language models", "unstructured, n:m, block"),
    ),
    BadRecipe(
        "lm-sensitivity-allocation",
        "model: tiny_lm\nallocation: sensitivity\n",
        ("allocation:", "causal language models", "owl"),
    ),
    BadRecipe("hf-no-directory", "model: 'hf:/no/such/dir'\n", ("model:", "is not a directory")),
    BadRecipe("hf-empty", "model: 'hf:'\n", ("model:", "needs a directory")),
    BadRecipe(
        "hf-with-weights",
        f"model: 'hf:{TINY_LM}'\nweights: w.safetensors\n",
        ("weights:", "omit it"),
    ),
    BadRecipe(
        "text-data-for-a-classifier",
        MLP + f"data: {{kind: text, path: {TINY_LM / 'pydoc_topics.txt'}}}\n",
        ("data.kind:", "causal language model", "classification"),
    ),
    BadRecipe(
        "text-data-missing",
        "model: tiny_lm\ndata: {kind: text, path: /no/such/text.txt}\n",
        ("data.path:", "does not exist"),
    ),
    BadRecipe(
        "text-data-not-text",
        f"model: tiny_lm\ndata: {{kind: text, path: {TINY_LM / 'config.json'}}}\n",
        ("data.path:", "not a .txt or .jsonl"),
    ),
]
