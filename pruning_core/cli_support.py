"""What every ``pruning-core`` command shares: plugins, one-line errors, progress, lists.

Torch-free, so a usage mistake is reported before the engine is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from pruning_core.errors import RunCancelled, UserInputError, shorten

stderr = Console(stderr=True)
T = TypeVar("T")

PLUGINS: list[str] = []


def load_plugins() -> None:
    from pruning_core.models.registry import load_env_plugins, load_plugin

    load_env_plugins()
    for target in PLUGINS:
        load_plugin(target)


def fail(error: UserInputError) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(2)


def guard(action: Callable[[], T]) -> T:
    """Turn user errors into one line and exit code 2; Ctrl-C into exit code 130."""
    try:
        return action()
    except UserInputError as error:
        fail(error)
    except (RunCancelled, KeyboardInterrupt):
        typer.echo("cancelled", err=True)
        raise typer.Exit(130) from None
    raise AssertionError("unreachable")


@contextmanager
def progress_bar() -> Iterator[Callable[[str, float, str], None]]:
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


def parse_list(
    text: str, convert: Callable[[str], Any], field: str, allow_empty: bool = False
) -> list[Any]:
    try:
        values = [convert(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserInputError(field, f"'{shorten(text)}' is not a comma-separated list") from None
    if not values and not allow_empty:
        raise UserInputError(field, "give at least one value (comma-separated)")
    return values


def raise_first(problems: list[Any]) -> None:
    if problems:
        raise problems[0].as_error()


EXECUTOR_HELP = "local (this machine, the default) | ray (a Ray cluster; needs the ray extra)"
ADDRESS_HELP = (
    "Ray cluster: auto, ray://HOST:PORT or HOST:PORT; default: start a local Ray "
    "instance for this command"
)
