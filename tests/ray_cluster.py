"""A real Ray cluster on this machine for tests and benchmarks: a head node and, when asked, a second node,
each its own `ray start --block` process in its own process group, stopped by its own id (never
`ray stop`, which would stop every user's Ray on the machine)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import ray

REPO = Path(__file__).resolve().parents[1]
# A private cluster on the loopback, without token authentication: Ray turns it on by itself when any run
# on the machine left ~/.ray/auth_token, and a driver then failed to join ("InvalidAuthToken"). Set here,
# it reaches this process (the driver) and, through the environment, the nodes and drivers started below.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
RAY_BIN = Path(sys.executable).with_name("ray")
START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], log: Path, cpus: int = 1) -> subprocess.Popen:
    # PYTHONPATH: the workers import this checkout's bend_gui, as the driver does.
    env = dict(os.environ, PYTHONPATH=str(REPO), RAY_USAGE_STATS_ENABLED="0")
    with open(log, "w") as f:
        return subprocess.Popen([str(RAY_BIN), "start", "--block", "--disable-usage-stats", "--num-cpus", str(cpus),
                                 "--node-ip-address", "127.0.0.1", *args], env=env, stdout=f,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop_node(proc: subprocess.Popen) -> None:
    """Stop one node: its `ray start --block` process group (the daemons it started run in it)."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


class Cluster:
    def __init__(self, tmp: Path, head_cpus: int = 1):
        tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.head = _start(["--head", "--port", str(self.port), "--include-dashboard=false",
                            "--temp-dir", str(tmp / "ray")], tmp / "head.log", head_cpus)
        self.node = None
        self.tmp = tmp

    def wait_for_head(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                assert self.head.poll() is None, (self.tmp / "head.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "the Ray head did not start"
                time.sleep(0.5)

    def start_second_node(self) -> None:
        self.node = _start(["--address", self.address], self.tmp / "node.log")
        deadline = time.monotonic() + START_TIMEOUT_S
        while len(self.alive()) < 2:
            assert self.node.poll() is None, (self.tmp / "node.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the second Ray node did not join"
            time.sleep(0.5)

    def alive(self) -> list[str]:
        return [n["NodeID"] for n in ray.nodes() if n["Alive"]]

    def head_id(self) -> str:
        return next(n["NodeID"] for n in ray.nodes() if n["Alive"] and
                    n.get("Resources", {}).get("node:__internal_head__"))


    def stop(self) -> None:
        if ray.is_initialized():
            ray.shutdown()
        for proc in (self.node, self.head):
            if proc is not None:
                stop_node(proc)
