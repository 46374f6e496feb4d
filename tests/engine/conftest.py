"""Engine layer: the CLI in-process, and its run of each bad recipe (once per session)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from bad_recipes import BAD_RECIPES, BadRecipe
from cli_support import BadRun, Cli


@pytest.fixture(scope="session")
def cli() -> Cli:
    """``pruning-core`` run in-process; ``cli.error_line`` checks a one-line user error."""
    return Cli()


@pytest.fixture(scope="session")
def bad_run(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> Callable[[BadRecipe], BadRun]:
    """Run the CLI on a bad recipe; ``test_cli`` and ``test_checks_agree`` share each run."""
    assert len({case.id for case in BAD_RECIPES}) == len(BAD_RECIPES), "duplicate ids"
    runs: dict[str, BadRun] = {}

    def run(case: BadRecipe) -> BadRun:
        if case.id not in runs:
            folder = tmp_path_factory.mktemp("bad_recipe")
            recipe, out = case.write(folder), folder / "out"
            runs[case.id] = BadRun(recipe, out, cli.invoke("run", str(recipe), "--out", str(out)))
        return runs[case.id]

    return run
