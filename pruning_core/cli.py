"""Command line: ``pruning-core models | run | sweep | bench | sensitivity | worker``.

User mistakes print one line naming the field and what is allowed, and exit with 2.
Each command parses and checks its arguments (recipe, output paths) first and imports
the torch-based engine only after that, inside the command: a usage mistake is reported
in a fraction of a second instead of after torch's import.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from pruning_core.errors import RunCancelled, UserInputError, shorten
from pruning_core.output_paths import check_output_dir, check_output_file
from pruning_core.recipe import load_recipe, parse_recipe
from pruning_core.runs.executors import check_executor, configured_address, serve, sweep_rows
from pruning_core.runs.ray_cluster import check_ray_installed
from pruning_core.runs.ray_runner import ClusterLost, RayRunFailed
from pruning_core.runs.store import RunStore

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)
stderr = Console(stderr=True)
T = TypeVar("T")


@app.callback()
def main(
    plugin: Annotated[
        list[str] | None,
        typer.Option(help="module:function returning ModelSpec(s) to register (repeatable)"),
    ] = None,
) -> None:
    """Explore pruning trade-offs: run recipes, sweeps and list models."""
    # Plugins are loaded by the commands that need models, after their arguments are
    # checked: a usage mistake is reported at once, before torch is imported.
    _plugins[:] = plugin or []


_plugins: list[str] = []


def _load_plugins() -> None:
    from pruning_core.models.registry import load_env_plugins, load_plugin

    load_env_plugins()
    for target in _plugins:
        load_plugin(target)


def _fail(error: UserInputError) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(2)


def _guard(action: Callable[[], T]) -> T:
    """Turn user errors into one line and exit code 2; Ctrl-C into exit code 130."""
    try:
        return action()
    except UserInputError as error:
        _fail(error)
    except (RunCancelled, KeyboardInterrupt):
        typer.echo("cancelled", err=True)
        raise typer.Exit(130) from None
    raise AssertionError("unreachable")


@contextmanager
def _progress_bar() -> Iterator[Callable[[str, float, str], None]]:
    with Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[message]}"),
        console=stderr,
        transient=True,  # erased at exit: errors and the summary stay one clean line
    ) as bar:
        task = bar.add_task("start", total=1.0, message="")

        def update(phase: str, fraction: float, message: str) -> None:
            bar.update(task, completed=fraction, description=phase, message=message)

        yield update


@app.command()
def models() -> None:
    """List the registered models."""
    _guard(_load_plugins)
    from pruning_core.models.registry import MODELS

    for name in MODELS:
        spec = MODELS.get(name)
        shape = "x".join(str(side) for side in spec.input_shape)
        typer.echo(
            f"{name:<20} input {shape:<10} {spec.description}"
            + ("" if spec.trained else "  [untrained: structure and speed only, no accuracy]")
        )
    typer.echo(
        "\nyour own models: 'hf:<local directory>' (a Hugging Face checkpoint, safetensors), "
        "'torchvision:<arch>' with 'weights: <file.safetensors>', or --plugin module:function"
    )


@app.command()
def run(
    recipe_file: Annotated[Path, typer.Argument(help="recipe YAML")],
    out: Annotated[Path, typer.Option("--out", help="output directory")] = Path("run_out"),
    overwrite: Annotated[
        bool, typer.Option(help="replace the files of a non-empty --out directory")
    ] = False,
) -> None:
    """Run one recipe and write recipe.yaml, results.json, layers.csv, model.safetensors.

    Causal language models also get DIR/hf/: a Hugging Face checkpoint of the pruned model.
    """

    def execute() -> None:
        recipe = load_recipe(recipe_file)
        check_output_dir(out, "--out", overwrite)
        _load_plugins()
        from pruning_core.pipeline.artifacts import save_run
        from pruning_core.pipeline.checks import check
        from pruning_core.pipeline.run import prune

        _raise_first(check(recipe))
        with _progress_bar() as update:
            result = prune(recipe, progress=update)
        save_run(result, out)
        summary = result.summary
        metric = summary.get("metric", "accuracy")  # perplexity for causal LMs
        value = summary.get(f"test_{metric}")
        typer.echo(
            f"{out}: sparsity {summary['sparsity_pruned_layers']:.3f} (pruned layers), "
            f"test {metric} {'n/a' if value is None else f'{value:.4f}'}, "
            f"theoretical speedup {summary['theoretical_speedup']:.2f}x"
        )

    _guard(execute)


def _parse_list(
    text: str, convert: Callable[[str], Any], field: str, allow_empty: bool = False
) -> list[Any]:
    try:
        values = [convert(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserInputError(field, f"'{shorten(text)}' is not a comma-separated list") from None
    if not values and not allow_empty:
        raise UserInputError(field, "give at least one value (comma-separated)")
    return values


def _raise_first(problems: list[Any]) -> None:
    if problems:
        raise problems[0].as_error()


EXECUTOR_HELP = "local (this machine, the default) | ray (a Ray cluster; needs the ray extra)"
ADDRESS_HELP = (
    "Ray cluster: auto, ray://HOST:PORT or HOST:PORT; default: start a local Ray "
    "instance for this command"
)


def _executor_options(executor: str | None, ray_address: str | None) -> tuple[str, str | None]:
    name = check_executor(executor)
    address = configured_address(ray_address)
    if name != "ray" and ray_address:
        raise UserInputError("ray-address", "only used with --executor ray")
    if name == "ray":
        check_ray_installed()
    return name, address


def _on_ray_failure(action: Callable[[], None]) -> None:
    """A lost cluster or a run Ray lost twice: one line and exit code 1 (not the user's input)."""
    try:
        action()
    except (ClusterLost, RayRunFailed) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


@app.command()
def sweep(
    recipe_file: Annotated[Path, typer.Argument(help="base recipe YAML")],
    criteria: Annotated[str, typer.Option(help="comma-separated criteria")] = "magnitude,random",
    sparsities: Annotated[str, typer.Option(help="comma-separated sparsities")] = "0.5,0.8,0.9",
    seeds: Annotated[str, typer.Option(help="comma-separated seeds")] = "0",
    out: Annotated[Path, typer.Option("--out", help="CSV of summary rows")] = Path("sweep.csv"),
    runs_dir: Annotated[Path | None, typer.Option(help="also keep every run's artifacts")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace existing --out / --runs-dir")] = False,
    executor: Annotated[str, typer.Option(help=EXECUTOR_HELP)] = "local",
    ray_address: Annotated[str | None, typer.Option(help=ADDRESS_HELP)] = None,
) -> None:
    """Run criteria x sparsities x seeds from one base recipe into one CSV."""

    def execute() -> None:
        base = load_recipe(recipe_file)
        grid = (
            _parse_list(criteria, str, "criteria"),
            _parse_list(sparsities, float, "sparsities"),
            _parse_list(seeds, int, "seeds"),
        )
        name, address = _executor_options(executor, ray_address)
        check_output_file(out, "--out", overwrite)
        if runs_dir is not None:
            check_output_dir(runs_dir, "--runs-dir", overwrite)
        _load_plugins()
        from pruning_core.pipeline.checks import check
        from pruning_core.pipeline.sweep import sweep_recipes

        recipes = sweep_recipes(base, *grid)
        for recipe in recipes:  # every run is checked before the first one starts
            _raise_first(check(recipe))
        rows = list(
            sweep_rows(
                recipes,
                name,
                address,
                runs_dir,
                on_run=lambda i, r: stderr.print(
                    f"[{i + 1}/{len(recipes)}] {r.criterion} sparsity {r.sparsity:g} seed {r.seed}"
                ),
                plugins=list(_plugins),
                on_retry=lambda i, reason: stderr.print(f"[{i + 1}] retrying once: {reason}"),
            )
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        typer.echo(f"{out}: {len(rows)} runs")

    _guard(lambda: _on_ray_failure(execute))


def _parse_shapes(text: str) -> list[tuple[int, int, int]]:
    shapes = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        sides = part.lower().split("x")
        if len(sides) != 3 or not all(side.isdigit() and int(side) > 0 for side in sides):
            raise UserInputError("crossover", f"'{part}' is not OUTxINxCOLUMNS, e.g. 4096x4096x64")
        shapes.append((int(sides[0]), int(sides[1]), int(sides[2])))
    return shapes


@app.command()
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
        _load_plugins()
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

    _guard(execute)


@app.command()
def sensitivity(
    recipe_file: Annotated[Path, typer.Argument(help="recipe YAML: model, criterion, structure")],
    out: Annotated[Path, typer.Option("--out", help="output directory")] = Path("sensitivity_out"),
    sparsities: Annotated[str, typer.Option(help="comma-separated grid")] = "",
    method: Annotated[str, typer.Option(help="measured | fisher (approximation)")] = "measured",
    latency: Annotated[bool, typer.Option(help="time each layer on this CPU")] = True,
    target: Annotated[
        float | None, typer.Option(help="allocate this average sparsity (or --budget share)")
    ] = None,
    budget: Annotated[str, typer.Option(help="sparsity | macs")] = "sparsity",
    write_recipe: Annotated[
        Path | None, typer.Option(help="write the recipe with explicit per-layer sparsities")
    ] = None,
) -> None:
    """Profile each layer's sensitivity (one layer pruned at a time); optionally allocate."""

    def execute() -> None:
        recipe = load_recipe(recipe_file)
        check_output_dir(out, "--out", overwrite=True)
        _load_plugins()
        from pruning_core.sensitivity.job import write_profile
        from pruning_core.sensitivity.plan import allocated_recipe, propose
        from pruning_core.sensitivity.profile import compute_profile, job_from_recipe

        grid = _parse_list(sparsities, float, "sparsities", allow_empty=True) or None
        job = job_from_recipe(recipe, grid, method, latency)
        with _progress_bar() as update:
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
        if write_recipe is not None:
            write_recipe.parent.mkdir(parents=True, exist_ok=True)
            write_recipe.write_text(parse_recipe(data).to_yaml(), encoding="utf-8")
            typer.echo(f"wrote {write_recipe}")

    _guard(execute)


@app.command()
def worker(
    store: Annotated[
        Path | None,
        typer.Option(help="run store (SQLite); default: $PRUNING_CORE_STORE or ./runs/runs.sqlite"),
    ] = None,
    once: Annotated[bool, typer.Option(help="exit when the queue is empty")] = False,
    executor: Annotated[
        str | None, typer.Option(help=EXECUTOR_HELP + "; default: $PRUNING_CORE_EXECUTOR")
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option(help=ADDRESS_HELP + "; default: $PRUNING_CORE_RAY_ADDRESS")
    ] = None,
) -> None:
    """Execute queued runs from the run store (the dashboard starts one if none runs)."""

    def execute() -> None:
        name, address = _executor_options(executor, ray_address)
        opened = RunStore(store)  # a bad store path is reported before torch is imported
        _load_plugins()
        serve(opened, name, address, plugins=list(_plugins), once=once)

    _guard(lambda: _on_ray_failure(execute))


def main_entry() -> None:
    """The ``pruning-core`` command: usage mistakes too are one ``error:`` line, exit 2."""
    try:
        code = app(standalone_mode=False)  # a raised Exit comes back as its exit code
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        typer.echo("cancelled", err=True)
        sys.exit(130)
    except typer.TyperException as error:  # usage errors: missing or bad arguments, options
        format_message = getattr(error, "format_message", None)
        message = format_message() if callable(format_message) else str(error)
        ctx = getattr(error, "ctx", None)
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        typer.echo(f"error: {shorten(message, 500)}{where}", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main_entry()
