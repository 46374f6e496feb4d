"""2:4 semi-structured vs dense on an NVIDIA GPU: a shape sweep and vit_b_16 end to end.

Needs only torch, torchvision and pandas (runs on a bare GPU machine):

    python -m benchmarks.gpu_2of4 --out benchmarks/results/gpu

For every shape x tokens x dtype x backend: dense and 2:4 ``linear`` timed with CUDA events
after warm-up (median and IQR of many repetitions); the dense baseline is timed before and
again after the sparse kernel in the same process, and the slower of the two medians is not
used: the reported dense time is the median of both runs' samples. vit_b_16 (random init;
timing only) is timed end to end eager and under ``torch.compile`` (compiled vs compiled),
with every eligible Linear converted, and in "measured 2:4" mode where only the layers whose
shape measured faster as 2:4 are converted. Every row carries the device metadata.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from pruning_core.formats.semi_structured import (
    convert_model,
    cuda_available_for_2of4,
    eligibility,
    two_of_four_magnitude,
)

SHAPES = {  # (out_features, in_features)
    "digits_vit qkv/proj": (64, 64),
    "digits_vit fc1": (128, 64),
    "digits_vit fc2": (64, 128),
    "bert-base attn": (768, 768),
    "bert-base fc1": (3072, 768),
    "bert-base fc2": (768, 3072),
    "llama-7b attn": (4096, 4096),
    "llama-7b up": (11008, 4096),
    "llama-7b down": (4096, 11008),
    "8192 square": (8192, 8192),
}
TOKENS = [1, 16, 64, 256, 2048, 8192]
DTYPES = ["fp16", "bf16", "int8"]
BACKENDS = ["cusparselt", "cutlass"]
TORCH_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "int8": torch.int8}


def device_metadata() -> dict[str, Any]:
    """GPU, driver, CUDA, torch and cuSPARSELt versions, and the date."""
    meta: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cusparselt": torch.backends.cusparselt.version()
        if torch.backends.cusparselt.is_available()
        else None,
        "python": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        meta.update(gpu=props.name, capability=f"{props.major}.{props.minor}")
        try:
            meta["driver"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            ).stdout.strip()
        except OSError:
            meta["driver"] = None
    return meta


def cuda_times(action: Callable[[], object], repeats: int, warmup: int) -> list[float]:
    """Milliseconds of ``action`` per repetition, CUDA events around each, after warm-up."""
    for _ in range(warmup):
        action()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        action()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return times


def summary(times: list[float]) -> dict[str, float]:
    """Median and interquartile range."""
    q = statistics.quantiles(times, n=4)
    return {"median_ms": statistics.median(times), "iqr_ms": q[2] - q[0]}


def _operands(out_f: int, in_f: int, tokens: int, dtype: str) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator(device="cuda").manual_seed(0)
    if dtype == "int8":
        weight = torch.randint(-8, 8, (out_f, in_f), device="cuda", generator=generator).to(
            torch.int8
        )
        x = torch.randint(-8, 8, (tokens, in_f), device="cuda", generator=generator).to(torch.int8)
    else:
        kind = TORCH_DTYPES[dtype]
        weight = torch.randn(out_f, in_f, device="cuda", generator=generator).to(kind)
        x = torch.randn(tokens, in_f, device="cuda", generator=generator).to(kind)
    return two_of_four_magnitude(weight).contiguous(), x


def _dense_op(weight: torch.Tensor, x: torch.Tensor, dtype: str) -> Callable[[], object]:
    if dtype == "int8":  # int8 x int8 -> int32, the dense counterpart of the int8 sparse mm
        wt = weight.t().contiguous().t()
        return lambda: torch._int_mm(x, wt) if x.shape[0] > 16 else torch.mm(x.float(), wt.float())
    return lambda: F.linear(x, weight)


def _sparse_op(
    weight: torch.Tensor, x: torch.Tensor, dtype: str, backend: str
) -> Callable[[], object]:
    from torch.sparse import semi_structured as ss

    ss.SparseSemiStructuredTensor._FORCE_CUTLASS = backend == "cutlass"
    compressed = ss.to_sparse_semi_structured(weight)
    if dtype == "int8":  # sparse (out, in) @ dense (in, tokens)
        xt = x.t().contiguous()
        return lambda: torch.mm(compressed, xt)
    return lambda: F.linear(x, compressed)


def measure_shape(
    out_f: int, in_f: int, tokens: int, dtype: str, backend: str, repeats: int
) -> dict[str, Any]:
    """One row: dense vs 2:4 for a product ``(tokens, in) x (in, out)``."""
    row: dict[str, Any] = {
        "out_features": out_f,
        "in_features": in_f,
        "tokens": tokens,
        "dtype": dtype,
        "backend": backend,
        "mode": "eager",
        "kind": "measured",
    }
    fits = eligibility(out_f, in_f, dtype, backend)
    if not fits.ok:
        return {**row, "status": "ineligible", "error": fits.reason}
    try:
        weight, x = _operands(out_f, in_f, tokens, dtype)
        dense = _dense_op(weight, x, dtype)
        sparse = _sparse_op(weight, x, dtype, backend)
        warmup = 10
        first = cuda_times(dense, repeats, warmup)
        sparse_times = cuda_times(sparse, repeats, warmup)
        last = cuda_times(dense, repeats, warmup)
    except (RuntimeError, NotImplementedError) as error:
        return {**row, "status": "error", "error": str(error).splitlines()[0][:300]}
    dense_stats, sparse_stats = summary(first + last), summary(sparse_times)
    return {
        **row,
        "status": "ok",
        "repetitions": repeats,
        "dense_ms": dense_stats["median_ms"],
        "dense_iqr_ms": dense_stats["iqr_ms"],
        "dense_first_ms": statistics.median(first),
        "dense_last_ms": statistics.median(last),
        "sparse_ms": sparse_stats["median_ms"],
        "sparse_iqr_ms": sparse_stats["iqr_ms"],
        "speedup": dense_stats["median_ms"] / sparse_stats["median_ms"],
    }


def _vit_latency(model: torch.nn.Module, x: torch.Tensor, compiled: bool, repeats: int) -> float:
    runner = torch.compile(model) if compiled else model
    with torch.inference_mode():
        return statistics.median(cuda_times(lambda: runner(x), repeats, warmup=5))


def measure_vit(
    batch: int, backend: str, faster_shapes: set[tuple[int, int]], repeats: int
) -> list[dict[str, Any]]:
    """vit_b_16 end to end, fp16: dense vs all-eligible 2:4 vs "measured 2:4" layers only."""
    import torchvision

    rows = []
    x = torch.randn(batch, 3, 224, 224, device="cuda", dtype=torch.float16)
    for compiled in (False, True):
        torch.manual_seed(0)
        dense = torchvision.models.vit_b_16().cuda().half().eval()
        for module in dense.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.data = two_of_four_magnitude(module.weight.data).contiguous()
        base = {
            "model": "vit_b_16",
            "batch": batch,
            "dtype": "fp16",
            "backend": backend,
            "mode": "compiled" if compiled else "eager",
            "kind": "measured",
        }
        try:
            dense_ms = _vit_latency(dense, x, compiled, repeats)
            for variant in ("all eligible", "measured 2:4"):
                model = torchvision.models.vit_b_16().cuda().half().eval()
                model.load_state_dict(dense.state_dict())
                only = None
                if variant == "measured 2:4":
                    only = {
                        name
                        for name, m in model.named_modules()
                        if isinstance(m, torch.nn.Linear) and tuple(m.weight.shape) in faster_shapes
                    }
                converted = convert_model(model, backend, "fp16", only)
                sparse_ms = _vit_latency(model, x, compiled, repeats) if converted else dense_ms
                rows.append(
                    {
                        **base,
                        "variant": variant,
                        "status": "ok",
                        "dense_ms": dense_ms,
                        "sparse_ms": sparse_ms,
                        "speedup": dense_ms / sparse_ms,
                        "converted_layers": len(converted),
                        "converted": ",".join(converted),
                    }
                )
        except Exception as error:  # noqa: BLE001 - a failed compile is a result to record
            rows.append({**base, "status": "error", "error": str(error).splitlines()[0][:300]})
        torch.cuda.empty_cache()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/gpu"))
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="a few shapes only (smoke test)")
    args = parser.parse_args()
    ready = cuda_available_for_2of4()
    if not ready.ok:
        raise SystemExit(f"2:4 benchmark needs an Ampere-or-newer NVIDIA GPU: {ready.reason}")
    meta = device_metadata()
    shapes = dict(list(SHAPES.items())[:4]) if args.quick else SHAPES
    tokens = [16, 2048] if args.quick else TOKENS
    rows = []
    for label, (out_f, in_f) in shapes.items():
        for dtype in DTYPES:
            for backend in BACKENDS:
                for n_tokens in tokens:
                    row = {
                        "shape": label,
                        **measure_shape(out_f, in_f, n_tokens, dtype, backend, args.repeats),
                        **meta,
                    }
                    print(
                        {
                            k: row.get(k)
                            for k in ("shape", "tokens", "dtype", "backend", "status", "speedup")
                        },
                        flush=True,
                    )
                    rows.append(row)
    vit_rows = []
    for backend in BACKENDS:
        vit_tokens = 64 * 197
        faster = {
            (r["out_features"], r["in_features"])
            for r in rows
            if r.get("status") == "ok"
            and r["backend"] == backend
            and r["dtype"] == "fp16"
            and r["tokens"] == max(tokens)
            and r["speedup"] > 1.0
        }
        for batch in (64,) if args.quick else (64, 128):
            vit_rows += [
                {**row, "tokens": vit_tokens * batch // 64, **meta}
                for row in measure_vit(batch, backend, faster, args.repeats // 2)
            ]
            print(vit_rows[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_2of4_shapes.json").write_text(json.dumps(rows, indent=1))
    (args.out / "gpu_2of4_vit_b_16.json").write_text(json.dumps(vit_rows, indent=1))
    try:
        import pandas as pd

        pd.DataFrame(rows).to_csv(args.out / "gpu_2of4_shapes.csv", index=False)
        pd.DataFrame(vit_rows).to_csv(args.out / "gpu_2of4_vit_b_16.csv", index=False)
    except ImportError:
        pass


if __name__ == "__main__":
    main()
