"""``data: {kind: image_folder, train: DIR, val: DIR, test: DIR, image_size: N}``.

Each directory has torchvision's ``ImageFolder`` layout: one sub-folder per class, images
(``.png``, ``.jpg``, ...) inside, at any depth. Class names are the sorted sub-folder
names of ``train`` and must be the same in ``val`` and ``test``. Every image is converted
to RGB, resized (shorter side) to ``image_size``, center-cropped to a square and
normalised with the recipe's ``mean``/``std`` (default: the model's own, e.g. a Hugging Face
checkpoint's preprocessor_config.json, else ImageNet's).

All three splits are decoded once into float tensors held in memory (and reused while
the files do not change): right for the small fine-tuning and evaluation folders this
tool targets (a few thousand images), not for ImageNet. Folders whose tensors would take
more than :data:`MAX_TENSOR_BYTES` are refused before any image is decoded.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from PIL import Image
from torchvision import transforms
from torchvision.datasets.folder import IMG_EXTENSIONS

from pruning_core.data_config import ImageFolderData
from pruning_core.errors import UserInputError, shorten
from pruning_core.models.data import Split
from pruning_core.models.hf_dirs import user_path
from pruning_core.models.sources import data_source, data_spec
from pruning_core.models.spec import ModelSpec

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MAX_TENSOR_BYTES = 2 * 1024**3  # float32 tensors of all three splits together
SPLITS = ("train", "val", "test")
_CACHE_SIZE = 2  # recently loaded folders (the dashboard checks, then runs, the same one)

Files = list[tuple[Path, int]]  # (image file, class index)
Signature = tuple[tuple[str, int, int], ...]  # (path, size, mtime) of every image


def _class_folders(field: str, root: Path) -> list[str]:
    if not root.is_dir():
        raise UserInputError(field, f"directory not found: {shorten(root, 300)}")
    classes = sorted(
        entry.name
        for entry in os.scandir(root)
        if entry.is_dir() and not entry.name.startswith(".")
    )
    if not classes:
        raise UserInputError(
            field,
            f"no class folders in {shorten(root, 300)} (ImageFolder layout: one sub-folder "
            "per class, e.g. DIR/cat/001.png)",
        )
    return classes


def _images(folder: Path) -> list[Path]:
    found = []
    for directory, subdirs, names in os.walk(folder, followlinks=True):
        subdirs.sort()
        found += [
            Path(directory) / name
            for name in sorted(names)
            if name.lower().endswith(IMG_EXTENSIONS) and not name.startswith(".")
        ]
    return found


def _bytes_per_image(config: ImageFolderData) -> int:
    return 3 * config.image_size**2 * 4


def scan(config: ImageFolderData) -> tuple[list[str], dict[str, Files]]:
    """The class names and each split's ``(file, class index)`` list, without decoding.

    Raises:
        UserInputError: naming ``data.<split>``: a missing directory, no class folders,
            an empty class folder, a class set differing from ``data.train``'s; or
            ``data``: more images than :data:`MAX_TENSOR_BYTES` holds.
    """
    classes = _class_folders("data.train", user_path(config.train, "data.train"))
    files: dict[str, Files] = {}
    total = 0
    for split in SPLITS:
        field = f"data.{split}"
        root = user_path(getattr(config, split), field)
        found = _class_folders(field, root)
        if found != classes:
            missing = sorted(set(classes) - set(found))
            extra = sorted(set(found) - set(classes))
            parts = ([f"missing {', '.join(missing[:5])}"] if missing else []) + (
                [f"extra {', '.join(extra[:5])}"] if extra else []
            )
            raise UserInputError(
                field,
                f"its class folders differ from data.train's: {'; '.join(parts)} "
                f"(every split needs the same classes)",
            )
        files[split] = []
        for index, name in enumerate(classes):
            images = _images(root / name)
            if not images:
                raise UserInputError(
                    field,
                    f"class folder '{shorten(name)}' in {shorten(root, 300)} has no images "
                    f"({', '.join(IMG_EXTENSIONS[:4])} ...)",
                )
            files[split] += [(image, index) for image in images]
            total += len(images)
            if total * _bytes_per_image(config) > MAX_TENSOR_BYTES:
                raise UserInputError(
                    "data",
                    f"more than {total:,} images at image_size {config.image_size} exceed the "
                    f"{MAX_TENSOR_BYTES / 1024**3:.0f} GiB this loader holds in memory; use a "
                    "smaller subset of images or a smaller image_size",
                )
    return classes, files


def _transform(config: ImageFolderData) -> Callable[[Image.Image], torch.Tensor]:
    return transforms.Compose(
        [
            transforms.Resize(config.image_size),
            transforms.CenterCrop(config.image_size),
            transforms.ToTensor(),
            transforms.Normalize(config.mean or IMAGENET_MEAN, config.std or IMAGENET_STD),
        ]
    )


def _decode(field: str, files: Files, transform: Callable[[Image.Image], torch.Tensor]) -> Split:
    tensors = []
    for file, _ in files:
        try:
            with Image.open(file) as image:
                tensors.append(transform(image.convert("RGB")))
        except Exception as error:  # PIL raises many types for broken or hostile files
            raise UserInputError(
                field,
                f"cannot read image {shorten(file, 300)} "
                f"({type(error).__name__}: {shorten(error, 200)})",
            ) from None
    labels = torch.tensor([index for _, index in files], dtype=torch.int64)
    return Split(torch.stack(tensors), labels)


_cache: OrderedDict[tuple[str, Signature], dict[str, Split]] = OrderedDict()
_cache_lock = threading.Lock()


def _signature(files: dict[str, Files]) -> Signature:
    stats = []
    for split in SPLITS:
        for file, _ in files[split]:
            try:
                stat = file.stat()
            except OSError:
                continue  # decoding names the file
            stats.append((str(file), stat.st_size, stat.st_mtime_ns))
    return tuple(stats)


def load_image_folder(config: ImageFolderData) -> dict[str, Split]:
    """The ``train``/``val``/``test`` splits of an image-folder config, decoded once.

    Raises:
        UserInputError: see :func:`scan`; an unreadable image names its file and split.
    """
    _, files = scan(config)
    key = (config.model_dump_json(), _signature(files))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    transform = _transform(config)
    splits = {split: _decode(f"data.{split}", files[split], transform) for split in SPLITS}
    with _cache_lock:
        _cache[key] = splits
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return splits


def _model_normalized(config: ImageFolderData, spec: ModelSpec) -> ImageFolderData:
    """``config`` with the model's own mean/std when the recipe gives none."""
    if config.mean is None and config.std is None and spec.normalization is not None:
        mean, std = spec.normalization  # e.g. a checkpoint's preprocessor_config.json
        return config.model_copy(update={"mean": mean, "std": std})
    return config


@data_source("image_folder")
def _load(config: ImageFolderData, spec: ModelSpec) -> dict[str, Split]:
    return load_image_folder(_model_normalized(config, spec))


@data_spec("image_folder")
def image_spec(config: ImageFolderData, spec: ModelSpec) -> ModelSpec:
    """``spec`` fed RGB images of ``image_size``: its input shape and data come from them.

    Raises:
        UserInputError: the model does not take 3-channel images (``data.kind``).
    """
    size = config.image_size
    if spec.task != "classification" or len(spec.input_shape) != 3 or spec.input_shape[0] != 3:
        shape = "x".join(str(side) for side in spec.input_shape)
        raise UserInputError(
            "data.kind",
            f"image_folder feeds RGB images (3x{size}x{size}) to an image classifier; "
            f"'{shorten(spec.name)}' is a {spec.task} model taking {shape} inputs",
        )
    return replace(
        spec,
        input_shape=(3, size, size),
        data=functools.partial(load_image_folder, _model_normalized(config, spec)),
    )
