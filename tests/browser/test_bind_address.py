"""Started from another directory, the dashboard still listens on 127.0.0.1 only.

No flags for the address here: the app's own ``dashboard/.streamlit/config.toml`` must be
found next to the script whatever the working directory (it once bound every interface).
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
from streamlit_server import free_port, start_streamlit, stop_process, wait_healthy

pytestmark = pytest.mark.slow  # starts a real server (a few seconds; no browser needed)


def listening_addresses(port: int) -> list[str]:
    """Local addresses with a TCP socket listening on ``port`` (``ss -ltn``)."""
    shown = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return [line.split()[3].rsplit(":", 1)[0] for line in shown.splitlines() if line.strip()]


def outward_address() -> str | None:
    """This host's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing decision only
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_started_elsewhere_it_listens_on_loopback_only(tmp_path: Path) -> None:
    if subprocess.run(["which", "ss"], capture_output=True).returncode:
        pytest.skip("needs ss (iproute2) to list listening sockets")
    port = free_port()
    env = {
        **os.environ,
        "PRUNING_CORE_STORE": str(tmp_path / "store" / "runs.sqlite"),
        "PRUNING_CORE_AUTOSTART_WORKER": "0",
    }
    log = tmp_path / "streamlit.log"
    process = start_streamlit(port, tmp_path, env, log)  # cwd: not the repository
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        assert listening_addresses(port) == ["127.0.0.1"]
        other = outward_address()
        if other is not None:  # the port is closed on this host's other address
            with pytest.raises(OSError), socket.create_connection((other, port), timeout=2):
                pass
    finally:
        stop_process(process)
    output = log.read_text()
    assert f"URL: http://127.0.0.1:{port}" in output, output
    for outward in ("Network URL", "External URL", "Collecting usage statistics"):
        assert outward not in output, output
