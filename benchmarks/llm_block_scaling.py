"""Time and peak memory of block-by-block SparseGPT 2:4 on Llama-shaped models, vs all at once.

Random-init Llama-shaped models (``LlamaForCausalLM``, fp32, no download) of about 10M,
50M and 125M parameters (``--sizes``); every decoder ``Linear`` is pruned 2:4 by SparseGPT
from ``--samples`` calibration windows of ``--seq-len`` random token ids (the content does
not change time or memory). Two ways:

* ``block``: the engine's :func:`pruning_core.pruning.decoder.decoder_prune`: capture the
  inputs of block 0, prune each block from its own inputs, propagate the pruned block's
  outputs; one block (and its Hessians) at a time on the compute device.
* ``all_at_once``: one forward pass of the whole dense model keeps *every* layer's input
  activations, then every layer is pruned from its stored inputs (the naive way; it also
  skips the sequential propagation, so only its time and memory are comparable).

Each (size, way) runs in a fresh subprocess. Time is wall-clock of the pruning only (the
model is built first), and the process's CPU time (user + system, both threads) beside it:
on a shared machine the wall clock mostly measures the other jobs; memory is the process's peak resident set during pruning minus the
resident set before it (``VmHWM`` reset through ``/proc/self/clear_refs``), or on CUDA the
peak allocated device memory (``torch.cuda.max_memory_allocated``) with the model's blocks
kept on the host.

The fitted seconds per pruned parameter of the ``block`` rows and the 7B numbers derived
from it are a **projection, not a measurement**; they are labelled so in the result file.

Run (CPU, a few minutes): ``.venv/bin/python -m benchmarks.llm_block_scaling``
On a lent GPU: ``python -m benchmarks.llm_block_scaling --device cuda --sizes 1b
--samples 128 --seq-len 2048 --ways block`` (a ~1B Llama-shaped model, block by block).
Writes ``benchmarks/results/llm_block_scaling[_cuda].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.provenance import finished, header, started, write_json

OUT = Path(__file__).parent / "results"
SIZES: dict[str, dict[str, int]] = {
    "10m": {
        "hidden_size": 256,
        "intermediate_size": 688,
        "num_hidden_layers": 8,
        "num_attention_heads": 4,
        "vocab_size": 8192,
    },
    "50m": {
        "hidden_size": 512,
        "intermediate_size": 1376,
        "num_hidden_layers": 12,
        "num_attention_heads": 8,
        "vocab_size": 8192,
    },
    "125m": {
        "hidden_size": 768,
        "intermediate_size": 2560,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "vocab_size": 32000,
    },
    "1b": {
        "hidden_size": 2048,
        "intermediate_size": 5632,
        "num_hidden_layers": 16,
        "num_attention_heads": 16,
        "vocab_size": 32000,
    },
}
PAPER_SAMPLES, PAPER_SEQ_LEN = 128, 2048  # the SparseGPT/Wanda calibration set (memory model)
LLAMA_7B = {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32}


def decoder_linear_params(shape: dict[str, int]) -> int:
    """Weights of a Llama's decoder ``Linear`` layers (q, k, v, o, gate, up, down per block)."""
    d, ff = shape["hidden_size"], shape["intermediate_size"]
    return shape["num_hidden_layers"] * (4 * d * d + 3 * d * ff)


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def _build(size: str) -> torch.nn.Module:
    from pruning_core.models.hf import engine_view, transformers_module

    hf = transformers_module()
    shape = SIZES[size]
    config = hf.LlamaConfig(
        **shape, num_key_value_heads=shape["num_attention_heads"], tie_word_embeddings=True
    )
    torch.manual_seed(0)
    return engine_view(hf.LlamaForCausalLM(config)).eval()


@torch.no_grad()
def _all_at_once(
    model: torch.nn.Module, layers: list[Any], batches: list[Any], device: str
) -> None:
    """Keep every layer's inputs from one dense forward pass, then prune each layer."""
    from pruning_core.criteria import CRITERIA, LayerStats
    from pruning_core.pruning.sequential import prune_layer
    from pruning_core.recipe import Structure

    model.to(device)
    stored: dict[str, list[torch.Tensor]] = {layer.name: [] for layer in layers}
    handles = [
        layer.module.register_forward_hook(
            lambda module, args, out, name=layer.name: stored[name].append(args[0].detach())
        )
        for layer in layers
    ]
    try:
        for ids, _ in batches:
            model(ids.to(device))
    finally:
        for handle in handles:
            handle.remove()
    sparsegpt, two_four = CRITERIA.get("sparsegpt"), Structure.model_validate("2:4")
    for layer in layers:
        hessian = None
        for x in stored.pop(layer.name):
            rows = x.reshape(-1, x.shape[-1]).double()
            gram = rows.t() @ rows * 2
            hessian = gram if hessian is None else hessian.add_(gram)
        assert hessian is not None
        prune_layer(layer, LayerStats(hessian=hessian[None]), sparsegpt, two_four, 0.5)


def child(size: str, way: str, device: str, samples: int, seq_len: int) -> dict[str, Any]:
    """One measurement in this (fresh) process."""
    from pruning_core.criteria import CRITERIA
    from pruning_core.models.layers import prunable_layers
    from pruning_core.pruning.decoder import decoder_prune
    from pruning_core.recipe import Structure

    torch.set_num_threads(2)
    model = _build(size)
    layers = [layer for layer in prunable_layers(model) if layer.name != "lm_head"]
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(SIZES[size]["vocab_size"], (samples, seq_len), generator=generator)
    batch = 8
    batches = [(ids[i : i + batch], ids[i : i + batch]) for i in range(0, samples, batch)]
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS now
        before = _rss_kib("VmRSS") * 1024
    status = "ok"
    started_at, cpu_at = time.perf_counter(), time.process_time()
    try:
        if way == "block":
            targets = {layer.name: 0.5 for layer in layers}
            decoder_prune(
                model,
                layers,
                batches,
                CRITERIA.get("sparsegpt"),
                Structure.model_validate("2:4"),
                targets,
                device=device,
            )
        else:
            _all_at_once(model, layers, batches, device)
        if cuda:
            torch.cuda.synchronize()
    except torch.OutOfMemoryError:
        status = "out of memory"
    seconds, cpu_seconds = time.perf_counter() - started_at, time.process_time() - cpu_at
    peak = (torch.cuda.max_memory_allocated() if cuda else _rss_kib("VmHWM") * 1024) - before
    return {
        "size": size,
        "way": way,
        "device": device,
        "status": status,
        "params": sum(p.numel() for p in model.parameters()),
        "pruned_params": sum(layer.weight.numel() for layer in layers),
        "blocks": SIZES[size]["num_hidden_layers"],
        "hidden": SIZES[size]["hidden_size"],
        "samples": samples,
        "seq_len": seq_len,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_memory_bytes": peak,
        "memory_kind": "peak CUDA allocated - before" if cuda else "peak RSS - RSS before",
    }


def fit_seconds_per_param(rows: list[dict[str, Any]], key: str = "seconds") -> float:
    """Least squares ``rows[key] = a * pruned_params`` (through the origin) over the rows."""
    return sum(r[key] * r["pruned_params"] for r in rows) / sum(
        r["pruned_params"] ** 2 for r in rows
    )


def fit_affine(rows: list[dict[str, Any]], key: str = "seconds") -> tuple[float, float] | None:
    """Least squares ``rows[key] = a * pruned_params + b``; ``None`` with fewer than 2 sizes."""
    xs, ys = [r["pruned_params"] for r in rows], [r[key] for r in rows]
    if len(set(xs)) < 2:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    a = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return a, my - a * mx


def projection_7b(rows: list[dict[str, Any]], device: str) -> dict[str, Any]:
    """What the fits and the memory model predict for Llama-2-7B's shape: NOT a measurement."""
    d, ff, blocks = (LLAMA_7B[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers"))
    tokens = PAPER_SAMPLES * PAPER_SEQ_LEN
    block_hessians = (6 * d * d + ff * ff) * 8  # float64 H of q,k,v,o,gate,up (d) and down (ff)
    boundary = 2 * tokens * d * 4  # fp32 inputs and outputs of one block
    all_inputs = blocks * tokens * (3 * d + ff) * 4  # q/k/v, o, gate/up and down inputs, fp32
    pruned = decoder_linear_params(LLAMA_7B)
    seconds: dict[str, Any] = {}
    fits: dict[str, Any] = {}
    for kind, key in (("wall", "seconds"), ("cpu", "cpu_seconds")):
        affine = fit_affine(rows, key)
        fits[kind] = {
            "seconds_per_weight_through_origin": fit_seconds_per_param(rows, key) if rows else None,
            "affine_seconds_per_weight_and_offset": list(affine) if affine else None,
        }
        seconds[kind] = {
            "through_origin": fit_seconds_per_param(rows, key) * pruned if rows else None,
            "affine": affine[0] * pruned + affine[1] if affine else None,
        }
    return {
        "kind": "projection, not a measurement",
        "pruned_params": pruned,
        "fits": fits,
        "seconds": seconds,
        "fit_device": device,
        "fit_rows": [r["size"] for r in rows],
        "caveat": "time per weight is not constant: fixed per-layer and per-column costs "
        "dominate small layers, SparseGPT's O(d_in) work per weight (Cholesky, column sweep) "
        "dominates wide ones, and the Hessian work grows with the calibration tokens; a 7B "
        "figure extrapolated from small models on a shared CPU is rough",
        "block_memory_bytes_model": block_hessians + boundary + (4 * d * d + 3 * d * ff) * 4,
        "all_at_once_memory_bytes_model": all_inputs,
        "memory_model": "block: one block's fp32 weights + float64 Hessians + fp32 activations "
        "at one block boundary (in and out); all at once: every layer's fp32 inputs",
        "samples": PAPER_SAMPLES,
        "seq_len": PAPER_SEQ_LEN,
    }


def markdown(meta: dict[str, Any], rows: list[dict[str, Any]], projection: dict[str, Any]) -> str:
    lines = [
        "| model | params | pruned | way | wall (s) | CPU (s) | peak memory (MiB) |"
        " CPU s per M pruned |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        per = r["cpu_seconds"] / r["pruned_params"] * 1e6
        lines.append(
            f"| {r['size']} ({r['blocks']} blocks, d={r['hidden']}) | {r['params'] / 1e6:.1f}M | "
            f"{r['pruned_params'] / 1e6:.1f}M | {r['way']} | {r['seconds']:.1f} | "
            f"{r['cpu_seconds']:.1f} | {r['peak_memory_bytes'] / 2**20:.0f} | {per:.2f} |"
            if r["status"] == "ok"
            else f"| {r['size']} | | | {r['way']} | {r['status']} | | | |"
        )
    p = projection
    cpu = p["seconds"]["cpu"]

    def hours(value: float | None) -> str:
        return "n/a" if value is None else f"{value / 3600:.1f} h"

    lines += [
        "",
        f"Projection for a 7B Llama shape ({p['pruned_params'] / 1e9:.2f}B pruned weights), "
        f"**not a measurement**, from the block-by-block rows on {p['fit_device']}: "
        f"{hours(cpu['affine'])} of CPU time by a straight-line fit (time = a x weights + b), "
        f"{hours(cpu['through_origin'])} through the origin (CPU time: wall-clock on this "
        f"shared machine mostly measured the other jobs). "
        f"{p['caveat'][0].upper()}{p['caveat'][1:]}. "
        f"Memory model for {p['samples']} x {p['seq_len']} calibration tokens: block by block "
        f"{p['block_memory_bytes_model'] / 2**30:.1f} GiB, all at once "
        f"{p['all_at_once_memory_bytes_model'] / 2**30:.0f} GiB.",
        "",
        header(meta),
    ]
    return "\n".join(lines) + "\n"


def measure(args: argparse.Namespace) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every (size, way) in a fresh subprocess; the machine metadata around them."""
    torch.set_num_threads(2)
    meta = started(" ".join(["python -m benchmarks.llm_block_scaling", *sys.argv[1:]]))
    rows = []
    for size in args.sizes.split(","):
        for way in args.ways.split(","):
            command = [
                sys.executable, "-m", "benchmarks.llm_block_scaling", "--child", size, way,
                "--device", args.device, "--samples", str(args.samples),
                "--seq-len", str(args.seq_len),
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                rows.append({"size": size, "way": way, "status": f"failed: {done.stderr[-300:]}"})
            else:
                rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    return finished(meta), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10m,50m,125m")
    parser.add_argument("--ways", default="block,all_at_once")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--child", nargs=2, metavar=("SIZE", "WAY"))
    parser.add_argument(
        "--report-only", action="store_true", help="re-derive fits and tables from the JSON"
    )
    args = parser.parse_args()
    if args.child:
        size, way = args.child
        print(json.dumps(child(size, way, args.device, args.samples, args.seq_len)))
        return
    suffix = "" if args.device == "cpu" else f"_{args.device.split(':')[0]}"
    name = f"llm_block_scaling{suffix}"
    if args.report_only:  # re-derive fits and tables from the measured rows
        saved = json.loads((OUT / f"{name}.json").read_text(encoding="utf-8"))
        meta, rows = saved["metadata"], saved["rows"]
    else:
        meta, rows = measure(args)
    blocks = [r for r in rows if r.get("status") == "ok" and r["way"] == "block"]
    projection = projection_7b(blocks, args.device)
    write_json(OUT / f"{name}.json", meta, rows, projection_7b=projection)
    measured = [r for r in rows if "blocks" in r]  # out-of-memory rows included
    (OUT / f"{name}.md").write_text(markdown(meta, measured, projection), encoding="utf-8")
    print(markdown(meta, measured, projection))


if __name__ == "__main__":
    main()
