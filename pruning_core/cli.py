"""Command line: ``pruning-core models | run | sweep | bench | sensitivity | worker``.

User mistakes print one line naming the field and what is allowed, and exit with 2.
Each command parses and checks its arguments (recipe, output paths) first and imports
the torch-based engine only after that, inside the command: a usage mistake is reported
in a fraction of a second instead of after torch's import.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from pruning_core.cli_measure import bench, sensitivity
from pruning_core.cli_support import (
    ADDRESS_HELP,
    EXECUTOR_HELP,
    PLUGINS,
    guard,
    load_plugins,
    parse_list,
    progress_bar,
    raise_first,
    stderr,
)
from pruning_core.errors import UserInputError, shorten
from pruning_core.models import hf_dirs  # no torch: the listing stays fast
from pruning_core.output_paths import check_output_dir, check_output_file
from pruning_core.recipe import load_recipe
from pruning_core.runs.executors import check_executor, configured_address, serve, sweep_rows
from pruning_core.runs.ray_cluster import check_ray_installed
from pruning_core.runs.ray_runner import ClusterLost, RayRunFailed
from pruning_core.runs.store import RunStore

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)


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
    PLUGINS[:] = plugin or []


@app.command()
def models() -> None:
    """List the registered models."""
    guard(load_plugins)
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
    _list_models_roots()


def _list_models_roots() -> None:
    """What the models roots (``PRUNING_CORE_MODELS``) hold, as recipes name it."""
    roots = hf_dirs.model_roots()
    if not roots:
        typer.echo(f"(set {hf_dirs.MODELS_ENV}=dir1:dir2 to list the checkpoints and data there)")
        return
    typer.echo(f"\nunder {hf_dirs.MODELS_ENV} ({', '.join(map(str, roots))}):")
    for title, found in (
        ("model", hf_dirs.find_checkpoints(roots)),
        ("weights", hf_dirs.find_weight_files(roots)),
        ("data.path (text)", hf_dirs.find_texts(roots)),
        ("image folders (train/val/test)", hf_dirs.find_image_datasets(roots)),
    ):
        typer.echo(f"  {title}: " + (", ".join(found) if found else "none"))


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
        load_plugins()
        from pruning_core.pipeline.artifacts import save_run
        from pruning_core.pipeline.checks import check
        from pruning_core.pipeline.run import prune

        raise_first(check(recipe))
        with progress_bar() as update:
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

    guard(execute)


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
            parse_list(criteria, str, "criteria"),
            parse_list(sparsities, float, "sparsities"),
            parse_list(seeds, int, "seeds"),
        )
        name, address = _executor_options(executor, ray_address)
        check_output_file(out, "--out", overwrite)
        if runs_dir is not None:
            check_output_dir(runs_dir, "--runs-dir", overwrite)
        load_plugins()
        from pruning_core.pipeline.checks import check
        from pruning_core.pipeline.sweep import sweep_recipes

        recipes = sweep_recipes(base, *grid)
        for recipe in recipes:  # every run is checked before the first one starts
            raise_first(check(recipe))
        rows = list(
            sweep_rows(
                recipes,
                name,
                address,
                runs_dir,
                on_run=lambda i, r: stderr.print(
                    f"[{i + 1}/{len(recipes)}] {r.criterion} sparsity {r.sparsity:g} seed {r.seed}"
                ),
                plugins=list(PLUGINS),
                on_retry=lambda i, reason: stderr.print(f"[{i + 1}] retrying once: {reason}"),
            )
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        typer.echo(f"{out}: {len(rows)} runs")

    guard(lambda: _on_ray_failure(execute))


app.command()(bench)
app.command()(sensitivity)


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
        load_plugins()
        serve(opened, name, address, plugins=list(PLUGINS), once=once)

    guard(lambda: _on_ray_failure(execute))


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
