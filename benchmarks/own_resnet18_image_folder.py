"""Figure for the README: your own resnet18 and image folder, 50% channels pruned + 1 epoch.

Writes a synthetic ``ImageFolder`` (8 classes of noisy patterns: stripes in four
directions, checkerboards, rings, blobs, ramps; 32x32 PNG written here, nothing
downloaded), trains a torchvision resnet18 on it for a few epochs (so the dense accuracy
means something), saves it as safetensors and runs the recipe

    model: torchvision:resnet18, weights: <file>, data: {kind: image_folder, ...},
    structure: channel, sparsity: 0.5, finetune: {epochs: 1}

through :func:`pruning_core.prune` for 3 seeds (the seed of calibration and finetuning
order; the dense model is the same), with, for context, no finetuning (one-shot magnitude is
deterministic: one run) and 3 epochs. Writes
``benchmarks/results/own_resnet18_image_folder.json`` with the machine's metadata.

Run: ``.venv/bin/python -m benchmarks.own_resnet18_image_folder`` (a few minutes on 2 cores)
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file
from torchvision.models import resnet18

from pruning_core.data_config import ImageFolderData
from pruning_core.environment import machine_metadata
from pruning_core.models.image_folder import load_image_folder
from pruning_core.models.metrics import evaluate
from pruning_core.pipeline.run import prune
from pruning_core.recipe import parse_recipe

OUT = Path(__file__).parent / "results" / "own_resnet18_image_folder.json"
PATTERNS = (
    "horizontal",
    "vertical",
    "diagonal",
    "antidiagonal",
    "checker",
    "rings",
    "blob",
    "ramp",
)
COUNTS = {"train": 40, "val": 10, "test": 20}  # images per class and split
SIZE = 32
NOISE = 0.2  # std of the pixel noise; patterns span at most +-0.3 around the background
TRAIN_EPOCHS = 6
SEEDS = (0, 1, 2)
THREADS = 2


def pattern(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One ``size x size`` pattern in [-1, 1] with random period, phase and contrast."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    period, phase = rng.uniform(6.0, 14.0), rng.uniform(0, 2 * math.pi)
    wave = 2 * math.pi / period
    if kind == "horizontal":
        image = np.sin(wave * y + phase)
    elif kind == "vertical":
        image = np.sin(wave * x + phase)
    elif kind == "diagonal":
        image = np.sin(wave * (x + y) / math.sqrt(2) + phase)
    elif kind == "antidiagonal":
        image = np.sin(wave * (x - y) / math.sqrt(2) + phase)
    elif kind == "checker":
        image = np.sign(np.sin(wave * x + phase) * np.sin(wave * y + phase))
    elif kind == "rings":
        cy, cx = rng.uniform(0, size, 2)
        image = np.sin(wave * np.hypot(x - cx, y - cy) + phase)
    elif kind == "blob":
        cy, cx = rng.uniform(size * 0.2, size * 0.8, 2)
        radius = rng.uniform(size * 0.1, size * 0.3)
        image = 2 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * radius**2)) - 1
    else:  # ramp: a linear gradient in a random direction
        angle = rng.uniform(0, 2 * math.pi)
        ramp = math.cos(angle) * x + math.sin(angle) * y
        image = 2 * (ramp - ramp.min()) / (ramp.max() - ramp.min()) - 1
    return image * rng.uniform(0.4, 1.0)


def write_image_folder(
    root: Path,
    classes: tuple[str, ...] = PATTERNS,
    counts: dict[str, int] | None = None,
    size: int = SIZE,
    noise: float = NOISE,
    seed: int = 0,
) -> dict[str, Path]:
    """Write ``root/{train,val,test}/<class>/<i>.png``; returns the split directories."""
    rng = np.random.default_rng(seed)
    dirs = {}
    for split, count in (counts or COUNTS).items():
        dirs[split] = root / split
        for kind in classes:
            folder = dirs[split] / kind
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                gray = pattern(kind, size, rng)
                # a random background colour, the pattern drawn in a random tint over it
                background, tint = rng.uniform(0.3, 0.7, 3), rng.uniform(0.5, 1.0, 3)
                rgb = background + 0.3 * gray[..., None] * tint
                rgb = rgb + rng.normal(0, noise, rgb.shape)
                pixels = (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{index:04d}.png")
    return dirs


def train_resnet18(
    data: ImageFolderData, classes: int, epochs: int, out: Path, seed: int = 0
) -> dict[str, float]:
    """Train torchvision resnet18 (``classes`` outputs) on the folder; save safetensors."""
    torch.manual_seed(seed)
    splits = load_image_folder(data)
    model = resnet18(num_classes=classes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    train = splits["train"]
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(train), generator=generator)
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            loss = F.cross_entropy(model(train.x[batch]), train.y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out))
    return {name: evaluate(model, splits[name].x, splits[name].y)[0] for name in ("val", "test")}


def data_config(dirs: dict[str, Path], size: int = SIZE) -> ImageFolderData:
    return ImageFolderData(
        train=str(dirs["train"]), val=str(dirs["val"]), test=str(dirs["test"]), image_size=size
    )


def recipe_dict(
    weights: Path, data: ImageFolderData, seed: int = 0, epochs: int = 1
) -> dict[str, Any]:
    return {
        "model": "torchvision:resnet18",
        "weights": str(weights),
        "data": data.model_dump(),
        "criterion": "magnitude",
        "structure": "channel",
        "sparsity": 0.5,
        "finetune": {"epochs": epochs, "batch_size": 32},
        "seed": seed,
    }


KEYS = (
    "dense_test_accuracy",
    "test_accuracy",
    "dense_test_top5_accuracy",
    "test_top5_accuracy",
    "sparsity_pruned_layers",
    "params_original",
    "params",
    "theoretical_speedup",
)


def _run(weights: Path, data: ImageFolderData, seed: int, epochs: int) -> dict[str, Any]:
    start = time.perf_counter()
    summary = prune(parse_recipe(recipe_dict(weights, data, seed, epochs))).summary
    row = {"finetune_epochs": epochs, "seed": seed, **{key: summary.get(key) for key in KEYS}}
    row["seconds"] = time.perf_counter() - start
    print(json.dumps(row), flush=True)
    return row


def _mean_std(values: list[float]) -> dict[str, float]:
    if len(values) == 1:
        return {"mean": values[0], "std": 0.0}
    return {"mean": statistics.mean(values), "std": statistics.stdev(values)}


def _variant(rows: list[dict[str, Any]], epochs: int) -> dict[str, Any]:
    mine = [row for row in rows if row["finetune_epochs"] == epochs]
    return {
        "finetune_epochs": epochs,
        "seeds": [row["seed"] for row in mine],
        "test_accuracy": _mean_std([row["test_accuracy"] for row in mine]),
        "test_top5_accuracy": _mean_std([row["test_top5_accuracy"] for row in mine]),
    }


def main() -> None:
    torch.set_num_threads(THREADS)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        dirs = write_image_folder(Path(tmp) / "images")
        data = data_config(dirs)
        weights = Path(tmp) / "resnet18_patterns.safetensors"
        trained = train_resnet18(data, len(PATTERNS), TRAIN_EPOCHS, weights)
        train_seconds = time.perf_counter() - started
        # one-shot magnitude channel selection is deterministic: one seed without finetuning
        rows = [_run(weights, data, 0, 0)]
        rows += [_run(weights, data, seed, epochs) for epochs in (1, 3) for seed in SEEDS]
    dense = rows[0]
    result_file: dict[str, Any] = {
        "what": "torchvision resnet18 trained here on a synthetic 8-class image folder "
        f"({SIZE}x{SIZE} PNG, {COUNTS} images per class), then 50% of the output channels "
        "removed (magnitude, uniform, physically smaller model) and finetuned, through "
        "pruning_core.prune; the figure asked for is 1 finetune epoch",
        "command": ".venv/bin/python -m benchmarks.own_resnet18_image_folder",
        "recipe": recipe_dict(Path("resnet18_patterns.safetensors"), data),
        "dense_training": {"epochs": TRAIN_EPOCHS, **trained, "seconds": train_seconds},
        "summary": {
            "dense_test_accuracy": dense["dense_test_accuracy"],
            "dense_test_top5_accuracy": dense["dense_test_top5_accuracy"],
            "params_original": dense["params_original"],
            "params_pruned": dense["params"],
            "theoretical_speedup": dense["theoretical_speedup"],
            "pruned": [_variant(rows, epochs) for epochs in (0, 1, 3)],
        },
        "runs": rows,
        "machine": machine_metadata(),
        "total_seconds": time.perf_counter() - started,
    }
    for key in ("train", "val", "test"):  # the temporary paths mean nothing afterwards
        result_file["recipe"]["data"][key] = f"<tmp>/images/{key}"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result_file, indent=1, default=str) + "\n", encoding="utf-8")
    print(json.dumps(result_file["summary"], indent=1))


if __name__ == "__main__":
    main()
