"""A tiny Hugging Face ViT image classifier checkpoint, built offline in a second."""

from __future__ import annotations

from pathlib import Path

import torch

from pruning_core.models.hf import transformers_module

MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]


def make_vit_dir(directory: Path, classes: int = 3) -> Path:
    """A 2-block ViT for 32x32 images (patch 8, width 32) with its preprocessor config."""
    hf = transformers_module()
    config = hf.ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=classes,
    )
    torch.manual_seed(0)
    hf.ViTForImageClassification(config).save_pretrained(str(directory), safe_serialization=True)
    hf.ViTImageProcessor(image_mean=MEAN, image_std=STD, size={"height": 32, "width": 32})\
        .save_pretrained(str(directory))  # fmt: skip
    return directory
