"""Connecting to Ray: a local instance for one command, or an existing cluster.

Ray is an optional extra (``pip install .[ray]``): nothing in the engine imports it
until a command asks for ``--executor ray``, and then :func:`require_ray` turns its
absence into one line that says how to install it. This module imports no torch.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from pruning_core.errors import UserInputError, shorten

RAY_PIN = "2.60.0"  # the version pyproject.toml's `ray` extra installs
LOCAL = "local"  # how a command's own Ray instance is named in descriptions
START_ENV = {
    # A command's own instance is private to this machine and lives for one command:
    # no auth token to manage, no usage report sent (and no dashboard, see connect).
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    # Ray's switch for a single-machine instance: its node address becomes 127.0.0.1 and
    # every server (GCS, raylet, workers) listens on the loopback only. Read when ray is
    # imported, so it is set before the import. ``_node_ip_address="127.0.0.1"`` does not
    # do this: Ray replaces a loopback address with the machine's reachable one.
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
}


MISSING = (
    f"'ray' needs the Ray package: pip install 'pruning-core[ray]' (ray=={RAY_PIN}), "
    "or use --executor local"
)


def check_ray_installed() -> None:
    """Fail with one line, before anything slow, when Ray is not installed (without importing
    it: some of Ray's settings are read at import, see :data:`START_ENV`)."""
    try:
        found = importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):  # ValueError: a stub in sys.modules without a spec
        found = False
    if not found:
        raise UserInputError("executor", MISSING)


def require_ray() -> ModuleType:
    """The ``ray`` module, or a one-line :class:`UserInputError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserInputError("executor", MISSING) from None
    return ray


def check_address(address: str | None) -> str | None:
    """Validate ``--ray-address``: empty (start a local instance), ``auto``, ``ray://host:port``
    or ``host:port`` of a cluster's GCS."""
    if address is None or not address.strip():
        return None
    address = address.strip()
    if address == "auto":
        return address
    rest = address.removeprefix("ray://")
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c in host for c in "/ "):
        raise UserInputError(
            "ray-address",
            f"'{shorten(address)}' is not a Ray address; use auto, ray://HOST:PORT or HOST:PORT "
            "(or leave it out to start a local Ray instance for this command)",
        )
    return address


@dataclass
class Cluster:
    """The Ray cluster a command talks to.

    Attributes:
        address: what the command was given (``None``: it started a local instance).
        started_s: seconds that ``ray.init`` took (the start-up overhead).
        ray: the ``ray`` module.
    """

    address: str | None
    started_s: float
    ray: ModuleType = field(repr=False)

    @property
    def label(self) -> str:
        """``local`` for a command's own instance, else the address given."""
        return self.address or LOCAL

    def resources(self) -> dict[str, float]:
        """The cluster's total resources (``CPU``, ``GPU``, memory, ...) as Ray reports them."""
        return {key: float(value) for key, value in self.ray.cluster_resources().items()}

    def describe(self) -> dict[str, Any]:
        """Executor ``ray``, the address, and the cluster's CPUs, GPUs and nodes."""
        resources = self.resources()
        return {
            "executor": "ray",
            "address": self.label,
            "cpus": resources.get("CPU", 0.0),
            "gpus": resources.get("GPU", 0.0),
            "nodes": sum(1 for node in self.ray.nodes() if node.get("Alive")),
            "ray_version": self.ray.__version__,
        }


@contextmanager
def connect(address: str | None, num_cpus: int | None = None) -> Iterator[Cluster]:
    """Connect to a cluster (``auto``, ``ray://...``, ``host:port``) or start a local instance.

    A local instance binds to 127.0.0.1 with the dashboard off and is shut down when the
    block ends; a connection to an existing cluster is closed, the cluster left running.

    Args:
        address: from :func:`check_address`; ``None`` starts a local instance.
        num_cpus: CPUs of a local instance (default: all of this machine's).
    """
    if address is None:
        for key, value in START_ENV.items():
            os.environ.setdefault(key, value)
    ray = require_ray()
    if ray.is_initialized():  # a caller (a test, a notebook) already connected: use that
        yield Cluster(ray.get_runtime_context().gcs_address, 0.0, ray)
        return
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING"}
    if address is None:
        options["num_cpus"] = num_cpus
    else:
        options = {"address": address, "logging_level": "WARNING"}
    begin = time.perf_counter()
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise UserInputError(
            "ray-address",
            f"cannot reach the Ray cluster at {address or 'a new local instance'}: "
            f"{shorten(error, 300)}",
        ) from None
    try:
        yield Cluster(address, time.perf_counter() - begin, ray)
    finally:
        ray.shutdown()
