"""The Configure page through AppTest: the layer plan, every problem inline, queueing, plugins."""

from __future__ import annotations

import io
import pickle
import textwrap
from pathlib import Path

import pytest
from app_support import configure, errors, open_page, texts
from safetensors.torch import load_file, save
from streamlit.testing.v1 import AppTest
from tiny_model import TinyModel

from pruning_core.runs.store import RunStore

# each test builds, checks and evaluates digits_mlp in Streamlit: ~10 s alone, ~2 s warm
pytestmark = pytest.mark.slow


def problem_count(at: AppTest) -> int:
    """The number the page's "Fix the N problem(s)" warning states (0: none)."""
    for warning in at.warning:
        if str(warning.value).startswith("Fix the "):
            return int(str(warning.value).split()[2])
    return 0


def upload(at: AppTest, file: tuple[str, bytes, str]) -> None:
    """Put ``file`` (name, bytes, type) into the weights uploader and rerun."""
    uploader = at.get("file_uploader")[0]
    uploader.set_value(file).run()  # type: ignore[union-attr]


def test_configure_shows_the_model_and_queues_a_run(empty_store: RunStore) -> None:
    at = configure(cfg_structure="n:m", cfg_epochs=1)
    labels = {metric.label: metric.value for metric in at.metric}
    assert labels["parameters"] == "116,618" and labels["dense test accuracy"].endswith("%")
    plan = at.dataframe[0].value
    assert list(plan["layer"]) == ["net.1", "net.3", "net.5", "net.7"]
    assert list(plan["plan"]) == [  # the engine's own words for the layers it leaves alone
        "skipped (skip_layers)",
        "prune",
        "prune",
        "skipped (skip_layers)",
    ]
    assert "50% (fixed by 2:4: 2 of every 4 kept)" in texts(at)
    assert labels["theoretical speedup"].endswith("x")
    assert not at.error and problem_count(at) == 0
    at.button(key="queue_run").click().run()
    (run,) = empty_store.list_runs()
    assert run.state == "queued" and run.recipe["structure"]["kind"] == "n:m"
    assert run.recipe["finetune"]["epochs"] == 1 and run.recipe["skip_layers"] == ["net.1", "net.7"]
    assert "Queued #1" in texts(at)


def test_configure_lists_every_problem_and_counts_them(empty_store: RunStore) -> None:
    at = configure(cfg_structure="n:m", cfg_m=3, cfg_n=1)
    shown = errors(at)
    assert [e.split("'")[1] for e in shown] == ["net.3", "net.5"]  # one per layer that misfits
    assert all(
        e.startswith("**structure / sparsity format** (structure): 1:3 does not fit layer")
        for e in shown
    )
    assert all("tick 'Skip layers whose shape does not fit'" in e for e in shown)
    assert at.checkbox(key="cfg_skip_incompatible").label == "Skip layers whose shape does not fit"
    assert all("not a multiple of M=3" in e for e in shown)
    assert problem_count(at) == 2 and at.button(key="queue_run").disabled
    plan = at.dataframe[0].value
    assert list(plan["plan"])[1] == "skipped: input size 256 is not a multiple of M=3"

    at = configure(cfg_schedule="gradual", cfg_epochs=0)
    assert any(e.startswith("**finetune epochs** (finetune.epochs)") for e in errors(at))
    assert problem_count(at) == len(at.error) and at.button(key="queue_run").disabled
    at.multiselect(key="cfg_skip_digits_mlp").set_value(["net.1", "net.3", "net.5", "net.7"]).run()
    assert any("every prunable layer is skipped" in e for e in errors(at))
    assert problem_count(at) == len(at.error)
    assert empty_store.list_runs() == []


def test_nm_with_owl_allocation_is_an_error_before_queueing(empty_store: RunStore) -> None:
    at = configure(cfg_structure="n:m", cfg_allocation="owl")
    (error,) = errors(at)
    assert error.startswith(
        "**allocation across layers** (allocation): 'owl' does not apply: 2:4 fixes every layer"
    )
    assert "allowed: uniform, global, erk, sensitivity" in error
    assert problem_count(at) == 1 and at.button(key="queue_run").disabled
    assert empty_store.list_runs() == []


def test_layer_sparsity_naming_a_skipped_layer_is_an_error(empty_store: RunStore) -> None:
    at = configure(cfg_layer_sparsity="net.1: 0.5, net.3: 0.7")
    (error,) = errors(at)
    assert error.startswith(
        "**Per-layer sparsities** (layer_sparsity): 'net.1' is not a layer this recipe prunes"
    )
    assert "(skipped (skip_layers))" in error and error.endswith("pruned: net.3, net.5")
    assert problem_count(at) == 1 and at.button(key="queue_run").disabled

    at.text_input(key="cfg_layer_sparsity").set_value("net.3 0.7").run()  # not 'layer: value'
    (error,) = errors(at)
    assert error.startswith("**Per-layer sparsities** (layer_sparsity): write 'layer: sparsity'")

    at.text_input(key="cfg_layer_sparsity").set_value("net.3: 0.7").run()
    assert not at.error and not at.button(key="queue_run").disabled
    weights = {m.label: m.value for m in at.metric}["weights removed"]
    assert weights == f"{round(256 * 256 * 0.7):,}"  # only net.3, at its own sparsity
    at.button(key="queue_run").click().run()
    (run,) = empty_store.list_runs()
    assert run.recipe["layer_sparsity"] == {"net.3": 0.7}


def test_configure_accepts_valid_safetensors_only(
    empty_store: RunStore, tiny_model: TinyModel
) -> None:
    at = configure(cfg_weights="upload")
    assert at.button(key="queue_run").disabled  # nothing uploaded yet
    assert problem_count(at) == 1 and errors(at)[0].startswith("**weights**: no valid uploaded")
    tensors = load_file(tiny_model.weights)
    upload(at, ("mine.safetensors", save(tensors), "application/octet-stream"))
    assert not at.error and "validated" in texts(at)
    stored = list(empty_store.uploads_dir.glob("*.safetensors"))
    assert len(stored) == 1 and not at.button(key="queue_run").disabled
    at.button(key="queue_run").click().run()
    assert empty_store.list_runs()[0].recipe["weights"] == str(stored[0])

    buffer = io.BytesIO()
    pickle.dump({"net.1.weight": [1.0]}, buffer, protocol=4)
    name = "[link](javascript:alert(1)).safetensors"  # a hostile name stays text, not a link
    upload(at, (name, buffer.getvalue(), "application/octet-stream"))
    (error,) = errors(at)
    assert error.startswith(f"**weights**: '{name}' is a pickle/torch.save file; only .safe")
    assert "[link](" not in at.error[0].value  # escaped in the Markdown source
    assert problem_count(at) == 1
    wrong = dict(tensors)
    wrong["net.3.weight"] = wrong["net.3.weight"][:, :10].contiguous()
    upload(at, ("wrong.safetensors", save(wrong), "application/octet-stream"))
    assert any("'net.3.weight' has shape [256, 10]" in e for e in errors(at))
    assert at.button(key="queue_run").disabled


def test_configure_queues_a_sweep(empty_store: RunStore) -> None:
    at = configure()
    at.multiselect(key="cfg_sweep_criteria").set_value(["magnitude", "random"])
    at.text_input(key="cfg_sweep_sparsities").set_value("0.5, 0.9")
    at.text_input(key="cfg_sweep_seeds").set_value("0, 1").run()
    assert at.button(key="queue_sweep").label == "Queue sweep (8 runs)"
    at.button(key="queue_sweep").click().run()
    assert "Queued 8 runs, #1 to #8." in texts(at)
    runs = empty_store.list_runs()
    assert len(runs) == 8 and len({run.sweep for run in runs}) == 1 and runs[0].sweep
    assert sorted({(r.recipe["criterion"], r.recipe["sparsity"]) for r in runs}) == [
        ("magnitude", 0.5),
        ("magnitude", 0.9),
        ("random", 0.5),
        ("random", 0.9),
    ]
    at.text_input(key="cfg_sweep_sparsities").set_value("0.5, 1.5").run()
    assert any(e.startswith("**sparsity**") for e in errors(at))
    assert at.button(key="queue_sweep").disabled


def test_models_from_plugins_in_the_environment(
    empty_store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dashboard_test_plugin.py").write_text(
        textwrap.dedent(
            """
            from torch import nn

            from pruning_core import ModelSpec


            def specs():
                return ModelSpec(
                    name="plugin_mlp",
                    factory=lambda: nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)),
                    input_shape=(8,),
                    description="a model from PRUNING_CORE_PLUGINS",
                )
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PRUNING_CORE_PLUGINS", "dashboard_test_plugin:specs")
    at = open_page("configure")
    assert "plugin_mlp" in at.selectbox(key="cfg_model").options[-1]
    at.selectbox(key="cfg_model").set_value("plugin_mlp").run()
    assert not at.exception and "a model from PRUNING_CORE_PLUGINS" in texts(at)
    assert list(at.dataframe[0].value["layer"]) == ["0", "2"]


def test_a_broken_plugin_is_one_line_not_a_trace(
    empty_store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRUNING_CORE_PLUGINS", "no_such_module_for_the_dashboard:specs")
    at = open_page("runs")
    (error,) = errors(at)
    assert error.startswith("**PRUNING_CORE_PLUGINS**: cannot load 'no_such_module_for_the")
    assert "ModuleNotFoundError" in error and "\n" not in error and "Traceback" not in error
