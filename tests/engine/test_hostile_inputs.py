"""Hostile and careless inputs: one line naming the field, exit code 2, nothing lost.

Every case of the audit in issue 13 (items 8-12) is a row: what the user typed, the exit
code, and a piece of the one-line message. Bad recipe files are rows of the shared table
in ``bad_recipes.py`` (run by ``test_cli.py`` and ``test_checks_agree.py``); the rows here
are the other inputs: ``--out``, sweep options, the worker's store, plugins. The CLI is
run in-process so the tables stay fast; the torch-free argument checks are also timed by
running one real process.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_support import Cli
from hypothesis import given, settings
from hypothesis import strategies as st

from pruning_core.errors import UserInputError
from pruning_core.recipe import parse_recipe, recipe_from_yaml
from pruning_core.runs.store import RunStore

FAST = "model: digits_mlp\nfinetune: {epochs: 0}\ncalibration: {samples: 32}\n"


@pytest.mark.parametrize(
    ("out_kind", "piece"),
    [
        ("file", "is not a directory"),
        ("devnull", "is not a directory"),
        ("under_file", "is not a directory"),
        ("nonempty", "--overwrite"),
        ("empty_string", "already holds"),
    ],
)
def test_run_out_is_checked_before_running(
    tmp_path: Path, cli: Cli, out_kind: str, piece: str
) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(FAST)
    (tmp_path / "f").write_text("keep me")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("keep me")
    out = {
        "file": str(tmp_path / "f"),
        "devnull": "/dev/null",
        "under_file": str(tmp_path / "f" / "sub"),
        "nonempty": str(tmp_path / "full"),
        "empty_string": "",  # the current directory, which holds the test's files
    }[out_kind]
    cli.error_line(cli.invoke("run", str(recipe), "--out", out), "--out:", piece)
    assert (tmp_path / "f").read_text() == "keep me"
    assert (tmp_path / "full" / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    ("args", "field", "piece"),
    [
        (["--criteria", ""], "criteria", "at least one"),
        (["--sparsities", ""], "sparsities", "at least one"),
        (["--seeds", "x"], "seeds", "comma-separated"),
        (["--criteria", "magnitude,nope"], "criterion", "unknown criterion"),
        (["--out", "DIR"], "--out", "is a directory"),
        (["--out", "/dev/null"], "--out", "not a regular file"),
        (["--runs-dir", "/dev/null"], "--runs-dir", "is not a directory"),
    ],
)
def test_sweep_arguments(tmp_path: Path, cli: Cli, args: list[str], field: str, piece: str) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(FAST)
    args = [str(tmp_path) if arg == "DIR" else arg for arg in args]
    cli.error_line(cli.invoke("sweep", str(recipe), *args), f"{field}:", piece)


@pytest.mark.parametrize(
    ("store", "piece"),
    [
        ("/dev/null", "not a regular file"),
        ("DIR", "is a directory"),
        ("TEXT", "not a run store"),
    ],
)
def test_worker_store_must_be_a_database(tmp_path: Path, cli: Cli, store: str, piece: str) -> None:
    (tmp_path / "notes.txt").write_text("not sqlite")
    path = {"DIR": str(tmp_path), "TEXT": str(tmp_path / "notes.txt")}.get(store, store)
    cli.error_line(cli.invoke("worker", "--store", path, "--once"), "store:", piece)
    assert not Path("/dev/null-journal").exists()


def test_truncated_store_never_reuses_artifact_folders(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    store.enqueue({"model": "digits_mlp"})
    second = store.enqueue({"model": "digits_mlp"})
    store.artifacts_dir(second).mkdir(parents=True)
    (store.artifacts_dir(second) / "results.json").write_text("{}")
    (tmp_path / "runs.sqlite").write_bytes(b"")  # truncated to 0 bytes
    with pytest.raises(UserInputError, match="holds runs 2 it does not know"):
        RunStore(tmp_path / "runs.sqlite")
    assert (store.artifacts_dir(second) / "results.json").read_text() == "{}"


PLUGINS = {
    "raising_module": "raise RuntimeError('boom at import')\n",
    "syntax_error": "def broken(:\n",
    "exits": "def specs():\n    raise SystemExit(3)\n",
    "returns_none": "def specs():\n    return None\n",
    "returns_str": "def specs():\n    return 'resnet18'\n",
    "needs_args": "def specs(a, b):\n    return []\n",
    "not_callable": "specs = 42\n",
    "raises": "def specs():\n    raise ValueError('bad zoo')\n",
    "shadows_builtin": textwrap.dedent(
        """
        import torch
        from pruning_core import ModelSpec

        def specs():
            return ModelSpec("resnet18", lambda: torch.nn.Linear(2, 2), (2,))
        """
    ),
    "bad_factory": textwrap.dedent(
        """
        from pruning_core import ModelSpec

        def boom():
            raise RuntimeError("factory failed")

        def specs():
            return ModelSpec("boom_model", boom, (2,))
        """
    ),
}
PLUGIN_CASES = [
    ("os:system", "os:system"),
    ("os:sep", "is not a function"),
    ("json:loads", "json:loads"),
    ("no_such_module_xyz:specs", "cannot load"),
    ("nocolon", "is not 'module:function'"),
    ("raising_module:specs", "boom at import"),
    ("syntax_error:specs", "SyntaxError"),
    ("exits:specs", "tried to exit"),
    ("returns_none:specs", "returned nothing"),
    ("returns_str:specs", "must return a ModelSpec"),
    ("needs_args:specs", "TypeError"),
    ("not_callable:specs", "is not a function"),
    ("raises:specs", "bad zoo"),
    ("shadows_builtin:specs", "distinct name"),
]


@pytest.mark.parametrize(("target", "piece"), PLUGIN_CASES)
def test_bad_plugins_fail_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, target: str, piece: str
) -> None:
    for name, source in PLUGINS.items():
        (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    cli.error_line(cli.invoke("--plugin", target, "models"), "plugin:", piece)


def test_factory_failing_at_run_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    (tmp_path / "bad_factory.py").write_text(PLUGINS["bad_factory"])
    monkeypatch.syspath_prepend(str(tmp_path))
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: boom_model\nfinetune: {epochs: 0}\n")
    result = cli.invoke(
        "--plugin", "bad_factory:specs", "run", str(recipe), "--out", str(tmp_path / "o")
    )
    cli.error_line(result, "factory failed")


def test_usage_errors_are_reported_before_torch_is_imported() -> None:
    probe = (
        "import sys\nfrom typer.testing import CliRunner\nfrom pruning_core.cli import app\n"
        "result = CliRunner().invoke(app, ['run', '/no/such/recipe.yaml'])\n"
        "print(result.exit_code, 'torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["2", "False"], done.stdout + done.stderr


NUMERIC_FIELDS = [
    ("sparsity",),
    ("seed",),
    ("finetune", "epochs"),
    ("finetune", "lr"),
    ("finetune", "batch_size"),
    ("finetune", "weight_decay"),
    ("finetune", "momentum"),
    ("finetune", "distillation", "weight"),
    ("finetune", "distillation", "temperature"),
    ("calibration", "samples"),
    ("calibration", "batch_size"),
    ("schedule", "rounds"),
    ("schedule", "initial_sparsity"),
    ("schedule", "start_step"),
    ("schedule", "frequency"),
    ("owl", "threshold"),
    ("owl", "lam"),
]


def _nest(path: tuple[str, ...], value: object) -> dict[str, object]:
    data: dict[str, object] = {path[-1]: value}
    for key in reversed(path[:-1]):
        data = {key: data}
    if path[:2] == ("finetune", "distillation"):
        data = {"finetune": {"distillation": {"weight": 0.5, path[-1]: value}}}
    return data


@pytest.mark.parametrize("path", NUMERIC_FIELDS, ids=".".join)
@settings(max_examples=12, deadline=None)
@given(value=st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -1e308, 2**70, -(2**70)]))
def test_non_finite_and_huge_numbers_are_refused_or_bounded(
    path: tuple[str, ...], value: float
) -> None:
    try:
        recipe = parse_recipe(_nest(path, value))
    except UserInputError as error:
        assert error.field.startswith(".".join(path[:1]))
        assert len(str(error)) < 500
        return
    assert isinstance(value, float) and math.isfinite(value)  # accepted: finite and in range
    assert recipe.to_yaml()  # and it still round-trips
    assert recipe_from_yaml(recipe.to_yaml()) == recipe


@pytest.mark.parametrize(
    ("args", "piece"),
    [
        (["run"], "Missing argument"),
        (["bench", "--repeats", "5"], "--repeats"),
        (["nope"], "No such command"),
        (["run", "--bogus", "x"], "No such option"),
        (["run", "/no/such/recipe.yaml"], "recipe: file not found"),
        (["sweep", "/no/such/recipe.yaml", "--criteria", ""], "recipe: file not found"),
    ],
)
def test_usage_mistakes_are_one_line_from_the_installed_command(
    args: list[str], piece: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from pruning_core.cli import main_entry; main_entry()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert piece in lines[0] and "Traceback" not in done.stderr
