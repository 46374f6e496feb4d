"""A run as data: pydantic models that round-trip to YAML.

The YAML a user exports from the dashboard or writes by hand is exactly
``Recipe.model_dump``; loading it back and running it gives the same result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pruning_core.errors import UserInputError

StructureKind = Literal["unstructured", "n:m", "block", "channel", "head"]
AllocationKind = Literal["uniform", "global", "erk"]  # decided from one step's scores
# ``sensitivity`` and ``owl`` are resolved once into explicit ``layer_sparsity`` by the run
AllocationName = Literal["uniform", "global", "erk", "sensitivity", "owl"]
Precision = Literal["fp32", "fp16", "bf16", "int8"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Structure(_Frozen):
    """How scores become a mask: single weights, N:M groups, blocks or whole channels.

    ``head`` removes whole attention heads instead (q/k/v rows and output-projection
    columns); the recipe's ``sparsity`` is then the share of heads removed from every
    attention module (rounded, at least one head kept).
    """

    kind: StructureKind = "unstructured"
    n: int = Field(2, ge=1, description="N of N:M: nonzeros kept in every M consecutive inputs")
    m: int = Field(4, ge=2, le=64, description="M of N:M")
    block: tuple[int, int] = (4, 4)
    skip_incompatible: bool = Field(
        False,
        description="skip layers whose shape does not fit N:M or the block instead of failing",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_shorthand(cls, value: Any) -> Any:
        """Accept ``"2:4"`` or a kind name (``"unstructured"``, ``"channel"``, ...) as shorthand."""
        if isinstance(value, str):
            if ":" in value and value != "n:m":
                n_text, _, m_text = value.partition(":")
                if not (n_text.strip().isdigit() and m_text.strip().isdigit()):
                    raise ValueError(f"'{value}' is not N:M with integers N < M, e.g. '2:4'")
                return {"kind": "n:m", "n": int(n_text), "m": int(m_text)}
            return {"kind": value}
        return value

    @model_validator(mode="after")
    def _check_sizes(self) -> Structure:
        if self.kind == "n:m" and not self.n < self.m:
            raise ValueError(f"N must be smaller than M, got {self.n}:{self.m}")
        if min(self.block) < 1:
            raise ValueError(f"block sides must be >= 1, got {list(self.block)}")
        return self

    def label(self) -> str:
        """Short human name: ``unstructured``, ``2:4``, ``block 4x4``, ``channel``."""
        if self.kind == "n:m":
            return f"{self.n}:{self.m}"
        if self.kind == "block":
            return f"block {self.block[0]}x{self.block[1]}"
        return self.kind


class Schedule(_Frozen):
    """When pruning happens: once, in rounds with finetuning, or gradually during training."""

    kind: Literal["one_shot", "iterative", "gradual"] = "one_shot"
    rounds: int = Field(3, ge=1, le=100, description="iterative: prune+finetune rounds")
    initial_sparsity: float = Field(0.0, ge=0.0, lt=1.0, description="gradual: sparsity at start")
    start_step: int = Field(0, ge=0, description="gradual: first optimizer step that prunes")
    end_step: int | None = Field(
        None,
        ge=0,
        description="gradual: step where the final sparsity is reached (null: 2/3 of steps)",
    )
    frequency: int = Field(10, ge=1, description="gradual: prune every this many optimizer steps")


class Distillation(_Frozen):
    """Knowledge distillation from the dense model (the teacher) during finetuning."""

    weight: float = Field(0.5, ge=0.0, le=1.0, description="share of the distillation loss")
    temperature: float = Field(4.0, gt=0.0)


class Finetune(_Frozen):
    """Mask-preserving finetuning; for iterative schedules, the budget of each round."""

    epochs: int = Field(2, ge=0, le=1000)
    lr: float = Field(1e-3, gt=0.0, le=10.0)
    batch_size: int = Field(64, ge=1, le=65536)
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    weight_decay: float = Field(0.0, ge=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="sgd momentum")
    distillation: Distillation | None = None


class Calibration(_Frozen):
    """Training-split samples used for gradient and activation statistics."""

    samples: int = Field(256, ge=1)
    batch_size: int = Field(64, ge=1)


class LowRankCompression(_Frozen):
    """Truncated SVD of each pruned layer into two smaller layers (after pruning).

    The rank keeps ``energy`` of the squared singular values, or is ``ratio`` of
    ``min(out, in)``; set one (neither: energy 0.9). Layers where the factors would not be
    smaller are left as they are.
    """

    kind: Literal["lowrank"] = "lowrank"
    energy: float | None = Field(None, gt=0.0, le=1.0, description="share of energy kept")
    ratio: float | None = Field(None, gt=0.0, le=1.0, description="rank / min(out, in)")

    @model_validator(mode="after")
    def _one_rule(self) -> LowRankCompression:
        if self.energy is not None and self.ratio is not None:
            raise ValueError("set energy or ratio, not both")
        if self.energy is None and self.ratio is None:
            object.__setattr__(self, "energy", 0.9)
        return self


class WeightSharingCompression(_Frozen):
    """k-means of each pruned layer's nonzero weights into ``clusters`` shared values."""

    kind: Literal["weight_sharing"] = "weight_sharing"
    clusters: int = Field(16, ge=2, le=256, description="shared values per layer (zero extra)")


Compression = Annotated[
    LowRankCompression | WeightSharingCompression, Field(discriminator="kind")
]


class Owl(_Frozen):
    """Outlier-weighed layerwise sparsity (Yin et al., 2023) for ``allocation: owl``."""

    threshold: float = Field(
        5.0, gt=0.0, description="M: a score |W|*||X|| above M x its layer's mean is an outlier"
    )
    lam: float = Field(
        0.08, ge=0.0, lt=0.5, description="lambda: layer sparsities span target ± lambda"
    )


class Recipe(_Frozen):
    """One complete, reproducible pruning run."""

    model: str = "digits_cnn"
    weights: str | None = Field(
        None, description="safetensors file for the model's architecture (null: shipped weights)"
    )
    criterion: str = "magnitude"
    structure: Structure = Structure()
    sparsity: float = Field(0.5, ge=0.0, lt=1.0, description="target sparsity of the pruned layers")
    allocation: AllocationName = "uniform"
    layer_sparsity: dict[str, float] | None = Field(
        None,
        description="explicit sparsity per pruned layer; overrides allocation (unlisted: dense)",
    )
    owl: Owl = Owl()
    skip_layers: list[str] | None = Field(
        None, description="layer names or globs left dense (null: first and last layer)"
    )
    schedule: Schedule = Schedule()
    finetune: Finetune = Finetune()
    calibration: Calibration = Calibration()
    compression: Compression | None = Field(
        None, description="after pruning: {kind: lowrank, energy} or {kind: weight_sharing}"
    )
    precision: Precision = "fp32"
    seed: int = Field(0, ge=0)

    @field_validator("compression", mode="before")
    @classmethod
    def _compression_shorthand(cls, value: Any) -> Any:
        """Accept ``"lowrank"`` or ``"weight_sharing"`` for the kind with its defaults."""
        return {"kind": value} if isinstance(value, str) else value

    @field_validator("criterion")
    @classmethod
    def _known_criterion(cls, name: str) -> str:
        from pruning_core.criteria import CRITERIA

        if name not in CRITERIA:
            raise ValueError(f"unknown criterion '{name}'; allowed: {', '.join(CRITERIA.names())}")
        return name

    @field_validator("structure")
    @classmethod
    def _criterion_supports_structure(cls, structure: Structure, info: ValidationInfo) -> Structure:
        from pruning_core.criteria import CRITERIA

        name = info.data.get("criterion")
        if not isinstance(name, str) or name not in CRITERIA:
            return structure
        allowed = CRITERIA.get(name).structures
        if allowed is not None and structure.kind not in allowed:
            kinds = [kind for kind in get_args(StructureKind) if kind in allowed]
            raise ValueError(
                f"criterion '{name}' does not support '{structure.kind}'; "
                f"allowed: {', '.join(kinds)}"
            )
        return structure

    @field_validator("allocation")
    @classmethod
    def _heads_are_uniform(cls, allocation: str, info: ValidationInfo) -> str:
        structure = info.data.get("structure")
        if structure is not None and structure.kind == "head" and allocation != "uniform":
            raise ValueError(
                "structure 'head' removes the same share of heads from every attention "
                "module; allowed: uniform"
            )
        return allocation

    @field_validator("layer_sparsity")
    @classmethod
    def _layer_sparsity_fits(
        cls, targets: dict[str, float] | None, info: ValidationInfo
    ) -> dict[str, float] | None:
        from pruning_core.sensitivity_targets import check_layer_sparsity

        structure = info.data.get("structure")
        return check_layer_sparsity(targets, structure) if structure is not None else targets

    @model_validator(mode="after")
    def _nm_fixes_sparsity(self) -> Recipe:
        if self.structure.kind != "n:m":
            return self
        implied = 1.0 - self.structure.n / self.structure.m
        if "sparsity" in self.model_fields_set and abs(self.sparsity - implied) > 1e-9:
            raise ValueError(
                f"sparsity: {self.structure.label()} fixes the sparsity of pruned layers at "
                f"{implied:g}; omit sparsity or set it to {implied:g}"
            )
        object.__setattr__(self, "sparsity", implied)
        return self

    def to_yaml(self) -> str:
        """The complete recipe as YAML (every field, defaults included)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    def with_updates(self, **changes: Any) -> Recipe:
        """A validated copy with top-level fields replaced (nested values as dicts or models)."""
        data = self.model_dump(mode="json")
        for key, value in changes.items():
            data[key] = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        if self.structure.kind == "n:m" and "structure" not in changes:
            data.pop("sparsity", None)
        return parse_recipe(data)


def _describe(error: ValidationError) -> UserInputError:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "recipe"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field (not part of a recipe)"
    elif first["type"] == "missing":
        message = "required field is missing"
    return UserInputError(field, message)


def parse_recipe(data: Any) -> Recipe:
    """Validate a mapping as a :class:`Recipe`, raising :class:`UserInputError` if invalid."""
    if not isinstance(data, dict):
        raise UserInputError("recipe", "must be a mapping of fields, e.g. 'criterion: magnitude'")
    try:
        return Recipe.model_validate(data)
    except ValidationError as error:
        raise _describe(error) from None


def recipe_from_yaml(text: str) -> Recipe:
    """Parse YAML text (never executes tags: ``yaml.safe_load``)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None)
        raise UserInputError(
            "recipe", f"malformed YAML{where}" + (f": {problem}" if problem else "")
        ) from None
    return parse_recipe(data if data is not None else {})


def load_recipe(path: str | Path) -> Recipe:
    """Read a recipe YAML file."""
    file = Path(path)
    if not file.is_file():
        raise UserInputError("recipe", f"file not found: {file}")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserInputError("recipe", f"cannot read {file}: {error}") from None
    return recipe_from_yaml(text)
