"""Is a worker process still alive? Process checks on this host, heartbeats elsewhere."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pruning_core.runs.records import GONE, RunRecord, WorkerRecord

HEARTBEAT_INTERVAL_S = 2.0
# Generous, because a busy machine can stall a heartbeat thread for a while; on the
# same host a dead process is noticed at once anyway (see ``pid_alive``).
HEARTBEAT_TIMEOUT_S = float(os.environ.get("PRUNING_CORE_HEARTBEAT_TIMEOUT", "60"))
# A freshly spawned worker imports torch before it heartbeats; give it this long.
STARTUP_GRACE_S = 180.0


def this_host() -> str:
    """The name workers record as their host."""
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        # The state follows the parenthesised command name; Z = zombie, X = dead.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): trust kill(0)
    return state not in ("Z", "X")


def worker_is_dead(
    worker: WorkerRecord, now: float, timeout_s: float = HEARTBEAT_TIMEOUT_S
) -> bool:
    """Whether ``worker`` can no longer make progress."""
    if worker.state in GONE:
        return True
    if worker.host == this_host() and not pid_alive(worker.pid):
        return True
    limit = max(timeout_s, STARTUP_GRACE_S) if worker.state == "starting" else timeout_s
    return now - worker.heartbeat > limit


def death_reason(
    run: RunRecord, worker: WorkerRecord | None, now: float, timeout_s: float = HEARTBEAT_TIMEOUT_S
) -> str | None:
    """Why a running ``run`` cannot finish any more, or ``None`` while its worker lives."""
    where = f"during '{run.phase or 'start'}' at {run.progress:.0%}"
    if worker is None:
        return f"worker {run.worker} is unknown to the store; the run was orphaned {where}"
    if worker.state == "stopped":
        return f"worker {worker.id} stopped without finishing the run {where}"
    if not worker_is_dead(worker, now, timeout_s):
        return None
    silent = now - max(worker.heartbeat, run.heartbeat or 0.0)
    return (
        f"worker {worker.id} (pid {worker.pid}) died {where}: process gone or no heartbeat "
        f"for {silent:.0f} s (killed, e.g. SIGKILL or out of memory, or crashed)"
    )
