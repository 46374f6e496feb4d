"""``pruning-core bench`` and ``pruning-core sensitivity``: measuring a recipe's model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pruning_core.cli_support import guard, load_plugins, parse_list, progress_bar
from pruning_core.errors import UserInputError
from pruning_core.output_paths import check_output_dir
from pruning_core.recipe import load_recipe, parse_recipe


def _parse_shapes(text: str) -> list[tuple[int, int, int]]:
    shapes = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        sides = part.lower().split("x")
        if len(sides) != 3 or not all(side.isdigit() and int(side) > 0 for side in sides):
            raise UserInputError("crossover", f"'{part}' is not OUTxINxCOLUMNS, e.g. 4096x4096x64")
        shapes.append((int(sides[0]), int(sides[1]), int(sides[2])))
    return shapes


def bench(
    recipe_file: Annotated[
        Path | None, typer.Argument(help="recipe YAML (default: --model, no finetuning)")
    ] = None,
    model: Annotated[str, typer.Option(help="model when no recipe is given")] = "digits_cnn",
    batch: Annotated[int, typer.Option(min=1)] = 64,
    threads: Annotated[int, typer.Option(min=1, help="torch.set_num_threads")] = 2,
    repeats: Annotated[int, typer.Option(min=30, help="timed repetitions (>= 30)")] = 30,
    warmup: Annotated[int, typer.Option(min=0)] = 5,
    compile_: Annotated[
        bool, typer.Option("--compile", help="also time torch.compile variants (slow to build)")
    ] = False,
    int8: Annotated[bool, typer.Option(help="int8 variants (torchao, quantize_dynamic)")] = True,
    layers: Annotated[bool, typer.Option(help="per-layer format/precision rows")] = True,
    crossover: Annotated[
        str, typer.Option(help="CSR/BSR crossover shapes OUTxINxCOLUMNS, comma-separated")
    ] = "",
    out: Annotated[Path, typer.Option("--out", help="results directory")] = Path(
        "benchmarks/results"
    ),
) -> None:
    """Measure latency of each format/precision vs dense on this machine (median, IQR)."""

    def execute() -> None:
        recipe = (
            load_recipe(recipe_file)
            if recipe_file is not None
            else parse_recipe({"model": model, "finetune": {"epochs": 0}})
        )
        check_output_dir(out, "--out", overwrite=True)
        load_plugins()
        from pruning_core.bench.run import BenchSettings, run_bench

        settings = BenchSettings(
            batch=batch,
            threads=threads,
            repeats=repeats,
            warmup=warmup,
            compile=compile_,
            int8=int8,
            layers=layers,
            crossover=_parse_shapes(crossover),
            out_dir=out,
        )
        result = run_bench(recipe, settings)
        for row in result.end_to_end:
            if row.get("status") != "ok":
                typer.echo(f"{row['variant']:<32} {row.get('mode', '')}: {row['error']}")
                continue
            typer.echo(
                f"{row['variant']:<32} {row['mode']:<8} {row['median_ms']:9.3f} ms "
                f"(IQR {row['iqr_ms']:.3f})  {row['speedup']:.2f}x measured"
            )
        for shape, points in result.crossover_points.items():
            typer.echo(f"crossover {shape}: {points}")
        typer.echo("wrote " + ", ".join(str(path) for path in result.files))

    guard(execute)


def sensitivity(
    recipe_file: Annotated[
        Path, typer.Argument(help="recipe YAML: model, data, criterion, structure")
    ],
    out: Annotated[Path, typer.Option("--out", help="output directory")] = Path("sensitivity_out"),
    sparsities: Annotated[str, typer.Option(help="comma-separated grid")] = "",
    method: Annotated[str, typer.Option(help="measured | fisher (approximation)")] = "measured",
    latency: Annotated[bool, typer.Option(help="time each layer on this CPU")] = True,
    val_samples: Annotated[
        int | None, typer.Option(min=1, help="measure on this many validation samples (all)")
    ] = None,
    target: Annotated[
        float | None, typer.Option(help="allocate this average sparsity (or --budget share)")
    ] = None,
    budget: Annotated[str, typer.Option(help="sparsity | macs")] = "sparsity",
    write_recipe: Annotated[
        Path | None, typer.Option(help="write the recipe with explicit per-layer sparsities")
    ] = None,
) -> None:
    """Profile each layer's sensitivity (one layer pruned at a time); optionally allocate.

    Measured on the recipe's data (else the model's own): perplexity for language models.
    """

    def execute() -> None:
        recipe = load_recipe(recipe_file)
        check_output_dir(out, "--out", overwrite=True)
        load_plugins()
        from pruning_core.sensitivity.job import write_profile
        from pruning_core.sensitivity.plan import allocated_recipe, propose
        from pruning_core.sensitivity.profile import compute_profile, job_from_recipe

        grid = parse_list(sparsities, float, "sparsities", allow_empty=True) or None
        job = job_from_recipe(recipe, grid, method, latency, val_samples)
        with progress_bar() as update:
            profile = compute_profile(job, update)
        files = write_profile(profile, out)
        typer.echo(f"wrote {', '.join(str(path) for path in files)}")
        if target is None:
            return
        data = allocated_recipe(recipe.model_dump(mode="json"), profile, target, budget)
        plan = propose(profile, target, budget)
        for name, value in data["layer_sparsity"].items():
            typer.echo(f"{name:<28} {value:.4f}")
        typer.echo(
            f"average sparsity {plan['average_sparsity']:.4f}, theoretical speedup "
            f"{plan['theoretical_speedup']:.2f}x, predicted loss increase "
            f"{plan['predicted_loss_delta']:+.4f} (additive estimate, before finetuning)"
        )
        if plan.get("predicted_val_perplexity") is not None:
            typer.echo(f"predicted validation perplexity {plan['predicted_val_perplexity']:.2f}")
        if write_recipe is not None:
            write_recipe.parent.mkdir(parents=True, exist_ok=True)
            write_recipe.write_text(parse_recipe(data).to_yaml(), encoding="utf-8")
            typer.echo(f"wrote {write_recipe}")

    guard(execute)
