"""Write and read a run's artifacts: recipe.yaml, results.json, layers.csv, model.safetensors.

Causal LMs also get ``hf/``: a Hugging Face checkpoint directory of the pruned model
(:mod:`pruning_core.models.hf_export`).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from pruning_core.models.hf_export import HF_DIR, export_hf
from pruning_core.pipeline.report import LAYER_COLUMNS
from pruning_core.pipeline.run import RunResult

RECIPE_FILE = "recipe.yaml"
RESULTS_FILE = "results.json"
LAYERS_FILE = "layers.csv"
WEIGHTS_FILE = "model.safetensors"


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def results_document(result: RunResult) -> dict[str, Any]:
    """The content of results.json."""
    return _json_safe(
        {
            "summary": result.summary,
            "layers": result.layers,
            "curves": result.curves,
            "environment": result.environment,
            "timing": result.timing,
            "sizes": result.sizes,
            "tensors": result.tensors,
            "recipe": result.recipe.model_dump(mode="json"),
        }
    )


def shape_text(shape: Any) -> str:
    """``[64, 32, 3, 3]`` -> ``64x32x3x3``; low-rank factors -> ``60x256 + 256x60``."""
    if shape and isinstance(shape[0], list | tuple):
        return " + ".join(shape_text(part) for part in shape)
    return "x".join(str(side) for side in shape)


def write_layers_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """Per-layer rows as CSV (shapes written as ``AxB``, factors as ``AxB + BxC``)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LAYER_COLUMNS)
        writer.writeheader()
        for row in rows:
            flat = dict(row)
            for key in ("shape", "shape_original"):
                flat[key] = shape_text(row[key])
            writer.writerow(flat)


def _unshared(state: dict[str, Any]) -> dict[str, Any]:
    """Plain contiguous tensors; a tensor shared by two names (tied embeddings) is copied,
    since safetensors stores every name on its own."""
    seen: set[int] = set()
    plain = {}
    for name, tensor in state.items():
        tensor = tensor.detach().contiguous()
        pointer = tensor.untyped_storage().data_ptr()
        plain[name] = tensor.clone() if pointer in seen else tensor
        seen.add(pointer)
    return plain


def save_run(result: RunResult, out_dir: str | Path) -> Path:
    """Write all four artifacts into ``out_dir`` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / RECIPE_FILE).write_text(result.recipe.to_yaml(), encoding="utf-8")
    (out / RESULTS_FILE).write_text(
        json.dumps(results_document(result), indent=2), encoding="utf-8"
    )
    write_layers_csv(result.layers, out / LAYERS_FILE)
    state = _unshared(result.model.state_dict())
    save_file(state, str(out / WEIGHTS_FILE), metadata={"recipe": result.recipe.model_dump_json()})
    if result.source is not None:  # causal LMs: also a checkpoint transformers loads as is
        export_hf(result.model, result.source, out / HF_DIR)
    return out


def load_results(out_dir: str | Path) -> dict[str, Any]:
    """Read results.json of a run directory."""
    return json.loads((Path(out_dir) / RESULTS_FILE).read_text(encoding="utf-8"))
