"""pruning_core: the engine of the pruning trade-off explorer.

The one entry point for running a recipe is :func:`pruning_core.api.prune`.
"""

__version__ = "0.1.0"
