"""The sensitivity profile as a queued job: cache, resume after a restart, artifacts.

A job is queued in the run store like a run, its JSON carrying ``job: sensitivity``
(see :class:`pruning_core.sensitivity.profile.SensitivityJob`). The worker calls
:func:`run_sensitivity_job`. Every computed (layer, sparsity) row is appended to a cache
file at once, keyed by the job and the weights file's content hash, so a job that is
stopped (worker restart) or cancelled and queued again continues where it was, and a
job already computed once finishes from the cache. The key also covers the recipe's
``data`` files (names, sizes, modification times), so edited data is measured anew. The
profile is written to the run's artifacts as ``sensitivity.json`` and ``sensitivity.csv``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pruning_core.errors import RunCancelled
from pruning_core.models.registry import spec_for
from pruning_core.sensitivity.profile import SensitivityJob, compute_profile, parse_job

PROFILE_JSON = "sensitivity.json"
PROFILE_CSV = "sensitivity.csv"
CSV_COLUMNS = [
    "layer", "sparsity", "achieved_sparsity", "val_loss", "val_accuracy", "loss_delta",
    "accuracy_delta", "method", "type", "params", "macs", "params_share", "macs_share",
    "latency_ms", "latency_share",
]  # fmt: skip
OPTIONAL_FIELDS = ("data", "val_samples")  # left out of the cache key while unset
DATA_PATH_FIELDS = ("path", "train", "val", "test")  # fields of data sources naming files
Row = dict[str, Any]


def json_safe(value: Any) -> Any:
    """Non-finite floats become ``None`` (strict JSON), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def weights_identity(job: SensitivityJob) -> str:
    """SHA-256 of the weights file the job loads (``random-init`` when there is none)."""
    path = Path(job.weights) if job.weights else spec_for(job.model, job.weights).weights
    if path is None or not Path(path).is_file():
        return "random-init"
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def data_identity(job: SensitivityJob) -> str:
    """Names, sizes and modification times of the files of the job's ``data`` paths."""
    if job.data is None:
        return ""
    paths = [Path(value).expanduser() for key, value in job.data if key in DATA_PATH_FIELDS]
    stamps = []
    for root in paths:
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for file in (f for f in files if f.is_file()):
            stat = file.stat()
            stamps.append(f"{file}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(stamps).encode()).hexdigest()


def cache_key(job: SensitivityJob) -> str:
    """Key of a job's cached rows: the job's fields, its weights' and its data's files."""
    fields = job.model_dump(mode="json")
    for name in OPTIONAL_FIELDS:  # keys of jobs from before these fields stay the same
        if fields.get(name) is None:
            fields.pop(name, None)
    text = json.dumps(fields, sort_keys=True) + weights_identity(job) + data_identity(job)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class ProfileCache:
    """Rows of one job, appended as they are computed, and the finished profile."""

    def __init__(self, root: Path, key: str) -> None:
        """Use ``root/<key>.rows.jsonl`` and ``root/<key>.json``."""
        root.mkdir(parents=True, exist_ok=True)
        self.rows_file, self.final_file = root / f"{key}.rows.jsonl", root / f"{key}.json"

    def rows(self) -> dict[tuple[str, float], Row]:
        """Rows computed so far (a torn last line from a killed process is ignored)."""
        done: dict[tuple[str, float], Row] = {}
        if self.rows_file.is_file():
            for line in self.rows_file.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                done[(row["layer"], float(row["sparsity"]))] = row
        return done

    def append(self, row: Row) -> None:
        """Add one row (flushed at once)."""
        with self.rows_file.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(json_safe(row)) + "\n")

    def finished(self) -> dict[str, Any] | None:
        """The finished profile, if any."""
        if not self.final_file.is_file():
            return None
        return json.loads(self.final_file.read_text(encoding="utf-8"))

    def finish(self, profile: dict[str, Any]) -> None:
        """Keep the finished profile."""
        self.final_file.write_text(json.dumps(json_safe(profile)), encoding="utf-8")


def csv_columns(profile: dict[str, Any]) -> list[str]:
    """The CSV's columns: a perplexity profile's metric columns replace the accuracy ones."""
    metric = profile.get("metric", "accuracy")
    if metric == "accuracy":
        return CSV_COLUMNS
    names = {"val_accuracy": f"val_{metric}", "accuracy_delta": f"{metric}_delta"}
    return [names.get(column, column) for column in CSV_COLUMNS]


def write_profile(profile: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write ``sensitivity.json`` and ``sensitivity.csv`` (rows joined with layer facts)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out_dir / PROFILE_JSON, out_dir / PROFILE_CSV
    json_path.write_text(json.dumps(json_safe(profile), indent=1), encoding="utf-8")
    facts = {row["layer"]: row for row in profile["layers"]}
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=csv_columns(profile), extrasaction="ignore")
        writer.writeheader()
        for row in profile["rows"]:
            writer.writerow({**facts.get(row["layer"], {}), **row})
    return [json_path, csv_path]


def run_sensitivity_job(
    document: dict[str, Any],
    out_dir: Path,
    cache_root: Path,
    progress: Callable[[str, float, str], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Compute (or resume, or reuse) a profile and write its artifacts; returns the summary.

    Raises:
        UserInputError: the job is invalid or does not fit the model.
        RunCancelled: ``should_cancel`` asked to stop (rows so far stay cached).
    """
    job = parse_job(document)

    def report(phase: str, fraction: float, message: str) -> None:
        if should_cancel is not None and should_cancel():
            raise RunCancelled(f"cancelled during {phase}")
        if progress is not None:
            progress(phase, fraction, message)

    cache = ProfileCache(cache_root, cache_key(job))
    profile = cache.finished()
    if profile is not None:
        profile["from_cache"] = True
        report("done", 1.0, "profile taken from the cache")
    else:
        done = cache.rows()
        profile = compute_profile(job, report, done, cache.append)
        profile["reused_points"], profile["from_cache"] = len(done), False
        cache.finish(profile)
    write_profile(profile, out_dir)
    summary = {
        "job": "sensitivity",
        "model": job.model,
        "criterion": job.criterion,
        "structure": profile["structure"],
        "method": job.method,
        "layers_profiled": len({row["layer"] for row in profile["rows"]}),
        "points": len(profile["rows"]),
        "reused_points": profile.get("reused_points", 0),
        "from_cache": profile["from_cache"],
        "metric": profile.get("metric", "accuracy"),
        "dense_val_accuracy": profile["dense"].get("val_accuracy"),
        "seconds": profile.get("seconds"),
    }
    if "val_perplexity" in profile["dense"]:
        summary["dense_val_perplexity"] = profile["dense"]["val_perplexity"]
    return summary
