"""Sparsity schedules: one-shot, iterative rounds and the gradual cubic schedule.

Gradual follows Zhu & Gupta (2017), "To prune, or not to prune":
``s_t = s_f + (s_i - s_f) * (1 - (t - t_0) / (t_end - t_0)) ** 3`` for pruning steps
``t`` in ``t_0, t_0 + dt, ...`` up to ``t_end``, held at ``s_f`` afterwards.
"""

from __future__ import annotations


def iterative_targets(final: float, rounds: int) -> list[float]:
    """Per-round targets that remove the same fraction of the remaining weights each round.

    ``s_r = 1 - (1 - final) ** (r / rounds)`` for ``r = 1..rounds``; the last is ``final``.
    """
    return [1.0 - (1.0 - final) ** (r / rounds) for r in range(1, rounds + 1)]


def cubic_sparsity(step: int, initial: float, final: float, start: int, end: int) -> float:
    """Zhu & Gupta's cubic sparsity at optimizer step ``step``."""
    if step <= start:
        return initial
    if step >= end or end <= start:
        return final
    progress = (step - start) / (end - start)
    return final + (initial - final) * (1.0 - progress) ** 3


def gradual_steps(start: int, end: int, frequency: int) -> list[int]:
    """Optimizer steps at which the gradual schedule prunes (``end`` always included)."""
    steps = list(range(start, end, frequency))
    if not steps or steps[-1] != end:
        steps.append(end)
    return steps


def default_end_step(total_steps: int, start: int) -> int:
    """When a recipe leaves ``end_step`` empty: two thirds of training, after ``start``."""
    return max(start, (2 * total_steps) // 3)
