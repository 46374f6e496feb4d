"""Schedules as runners: one-shot, iterative rounds, gradual pruning during finetuning.

Each runner takes the run state and the optional distillation teacher; :data:`RUNNERS`
dispatches on ``recipe.schedule.kind``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from pruning_core.pipeline.checks import finetune_steps, gradual_end_step
from pruning_core.pipeline.finetune import finetune
from pruning_core.pipeline.schedules import cubic_sparsity, gradual_steps, iterative_targets
from pruning_core.pipeline.state import RunState
from pruning_core.pipeline.steps import prune_to

StepHook = Callable[[int], bool]  # called after each optimizer step; True: parameters replaced


def finetune_round(
    run: RunState, teacher: nn.Module | None, on_step: StepHook | None, round_index: int
) -> None:
    """Finetune the masked model for the recipe's budget, recording each epoch."""
    train = run.split("train")
    total = finetune_steps(run.recipe, train)
    if train is None or total == 0:
        return
    first = run.step

    def step_hook(step: int) -> bool:
        run.step = step
        run.report(
            "finetune", (step - first) / total, f"round {round_index} step {step - first}/{total}"
        )
        return on_step(step) if on_step is not None else False

    def epoch_hook(epoch: int, train_loss: float) -> None:
        run.record("finetune", round=round_index, epoch=epoch, train_loss=train_loss)

    run.step = finetune(
        run.model,
        train.x,
        train.y,
        run.recipe.finetune,
        run.generator,
        teacher=teacher,
        first_step=run.step,
        on_step=step_hook,
        on_epoch=epoch_hook,
    )


def one_shot(run: RunState, teacher: nn.Module | None) -> None:
    """Prune once to the target, then finetune."""
    run.report("prune", 0.0, "one-shot pruning")
    prune_to(run, run.recipe.sparsity, round=1)
    finetune_round(run, teacher, None, 1)


def iterative(run: RunState, teacher: nn.Module | None) -> None:
    """Rounds of prune + finetune, each removing the same share of the remaining weights."""
    rounds = run.recipe.schedule.rounds
    for index, target in enumerate(iterative_targets(run.recipe.sparsity, rounds), start=1):
        run.report("prune", (index - 1) / rounds, f"round {index}/{rounds}: {target:.3f}")
        prune_to(run, target, round=index)
        finetune_round(run, teacher, None, index)


def gradual(run: RunState, teacher: nn.Module | None) -> None:
    """Zhu & Gupta's cubic schedule, pruning every ``frequency`` steps while finetuning."""
    recipe = run.recipe
    schedule = recipe.schedule
    end = gradual_end_step(recipe, finetune_steps(recipe, run.split("train")))
    run.recipe = recipe.with_updates(schedule=schedule.model_copy(update={"end_step": end}))
    prune_at = set(gradual_steps(schedule.start_step, end, schedule.frequency))

    def gradual_hook(step: int) -> bool:
        if step not in prune_at:
            return False
        target = cubic_sparsity(
            step, schedule.initial_sparsity, recipe.sparsity, schedule.start_step, end
        )
        return prune_to(run, target, round=1)

    if 0 in prune_at:
        gradual_hook(0)
    finetune_round(run, teacher, gradual_hook, 1)


RUNNERS: dict[str, Callable[[RunState, nn.Module | None], None]] = {
    "one_shot": one_shot,
    "iterative": iterative,
    "gradual": gradual,
}
