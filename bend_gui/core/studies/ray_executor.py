"""The Ray executor: each point a remote task on a Ray cluster; imported only when a study asks for it.

The driver puts the shared inputs (base network, snapshots, cached test activations, generator) into
the object store once; every task receives that one object, so workers need neither the project folder
nor a shared filesystem (they need this package installed, without Qt). Workers return rows; only the
driver writes files. A task whose worker or node dies is retried by Ray (`retries`); an exception raised
by the point itself is not retried: it is returned as the point's error.

Ray tells the driver when a task ends, not when it starts; so each task, as it starts, posts its point
and node to a small board (an actor pinned to the driver's node, holding no CPU), which the driver reads
while it waits: that is how a point shows as running, and where. Nodes are named for people as their
address and a short id ("127.0.0.1 · 3f2a1b", "head" added for the head node), since several nodes may
share one address.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import Cancelled, ClusterError
from ..events import CancelFlag
from .executors import Outcome, PointStarted, Task, error_text

POLL_S = 0.2   # how often the driver looks at cancel while waiting for results
PROBE_S = 3.0  # how long the head node's port may take to answer before the cluster counts as unreachable
# Where `ray start --head` leaves the address of the cluster it started (what address='auto' reads).
CURRENT_CLUSTER = Path("/tmp/ray/ray_current_cluster")


class _StartBoard:
    """Where starting tasks post (point key, node id); the driver takes what was posted since it last looked."""

    def __init__(self):
        self.posted: list[tuple[str, str]] = []

    def post(self, key: str, node: str) -> None:
        self.posted.append((key, node))

    def take(self) -> list[tuple[str, str]]:
        out, self.posted = self.posted, []
        return out


def _remote_point(inputs: dict, cfg: dict, level: str, seed: int, key: str = "", board=None) -> dict:
    """What a worker runs: the point's row, or its error, and where it ran."""
    import ray

    from .point import compute_point

    node = ray.get_runtime_context().get_node_id()
    if board is not None:
        board.post.remote(key, node)  # not awaited: a lost board must not hold up or fail the point
    t0 = time.perf_counter()
    try:
        return {"row": compute_point(inputs, cfg, level, seed), "node": node, "seconds": time.perf_counter() - t0}
    except Exception as e:  # noqa: BLE001 - the point's own failure travels back as text
        return {"error": error_text(e), "node": node, "seconds": time.perf_counter() - t0}


def resolve_address(address: str) -> str:
    """HOST:PORT of the head node: `address` itself, or for 'auto' $RAY_ADDRESS or the cluster started on
    this machine; a ClusterError when there is none."""
    if address != "auto":
        return address
    found = os.environ.get("RAY_ADDRESS", "")
    if not found and CURRENT_CLUSTER.is_file():
        found = CURRENT_CLUSTER.read_text().strip()
    if not found:
        raise ClusterError("no Ray cluster on this machine (--address auto): start one with `ray start --head`, "
                           "or pass --address HOST:PORT of a running head node")
    return found


def probe(address: str) -> None:
    """A ClusterError unless the head node answers at HOST:PORT within PROBE_S (ray.init itself would
    retry for minutes)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=PROBE_S):
            pass
    except ValueError:
        raise ClusterError(f"--address {address!r}: write auto or HOST:PORT, e.g. 127.0.0.1:6379") from None
    except OSError as e:
        raise ClusterError(f"cannot reach a Ray cluster at {address} ({e.strerror or e}); start one with "
                           f"`ray start --head` or pass --address HOST:PORT of a running head node") from None


def connect(address: str) -> None:
    """Join the cluster at `address` ('auto' = the one started on this machine, or HOST:PORT), or a
    ClusterError in one line."""
    import ray

    target = resolve_address(address)
    if ray.is_initialized():
        if getattr(connect, "address", None) == target:
            return
        ray.shutdown()
    probe(target)
    host = target.rpartition(":")[0]
    # A head on the loopback address: the driver is on that node too, and must say so (Ray would otherwise
    # look for its local node under the machine's outward address).
    local = {"_node_ip_address": host} if host in ("127.0.0.1", "localhost") else {}
    try:
        ray.init(address=target, log_to_driver=False, logging_level=logging.ERROR, configure_logging=False,
                 **local)
    except Exception as e:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError: all mean "not reachable"
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ClusterError(f"cannot reach a Ray cluster at {address!r} ({first[:200]}); start one with "
                           f"`ray start --head` or pass --address HOST:PORT of a running head node") from None
    connect.address = target


class RayExecutor:
    name = "ray"

    def __init__(self, address: str = "auto", cpus_per_point: float = 1, gpus_per_point: float = 0,
                 retries: int = 3):
        if cpus_per_point < 0 or gpus_per_point < 0 or retries < 0:
            raise ClusterError("--cpus-per-point, --gpus-per-point and --retries must not be negative")
        self.address, self.cpus, self.gpus, self.retries = address, cpus_per_point, gpus_per_point, int(retries)

    def describe(self) -> str:
        gpu = f", {self.gpus:g} GPU" if self.gpus else ""
        return f"on the Ray cluster at {self.address} ({self.cpus:g} CPU{gpu} per point, {self.retries} retries)"

    def check_reachable(self) -> None:
        """A ClusterError unless a head node answers at the address (a quick probe; Ray is not started)."""
        probe(resolve_address(self.address))

    def prepare(self) -> None:
        """Join the cluster before the study reads the project: an unreachable one fails at once."""
        connect(self.address)

    def run(self, inputs: dict, tasks: list[Task], cancel: CancelFlag) -> Iterator[Outcome | PointStarted]:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        connect(self.address)
        names = NodeNames()
        shared = ray.put(inputs)   # once: every task gets this object, each node fetches it once
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        board = ray.remote(_StartBoard).options(num_cpus=0, scheduling_strategy=here).remote()
        remote = ray.remote(_remote_point).options(num_cpus=self.cpus, num_gpus=self.gpus,
                                                   max_retries=self.retries, retry_exceptions=False)
        pending = {}
        by_key = {task.point.key: task for task in tasks}
        for task in tasks:
            pending[remote.remote(shared, task.cfg, task.level, task.point.seed, task.point.key, board)] = task
            yield PointStarted(task.point, "queued")
        asked, finished = board.take.remote(), set()
        try:
            while pending:
                if cancel.is_set():
                    raise Cancelled()
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
                # One look at the board at a time, never waited for (its actor may take seconds to start).
                if asked is not None and ray.wait([asked], timeout=0)[0]:
                    try:
                        posted = ray.get(asked)
                    except Exception:  # noqa: BLE001 - the board is only for show: points go on without it
                        posted, board = [], None
                    asked = board.take.remote() if board is not None else None
                    finished |= {pending[r].point.key for r in ready}
                    for key, node in posted:   # a start posted late, after its point finished, is old news
                        if key in by_key and key not in finished:
                            yield PointStarted(by_key[key].point, "running", names(node))
                for ref in ready:
                    task = pending.pop(ref)
                    finished.add(task.point.key)
                    try:
                        res = ray.get(ref)
                    except Exception as e:  # noqa: BLE001 - retries used up (a dead worker or node)
                        yield Outcome(task.point, "failed", {}, error_text(e), "", 0.0)
                        continue
                    node = names(res["node"])
                    if "error" in res:
                        yield Outcome(task.point, "failed", {}, res["error"], node, res["seconds"], res["node"])
                    else:
                        yield Outcome(task.point, "done", res["row"], "", node, res["seconds"], res["node"])
        finally:
            for ref in pending:  # cancelled or the driver stopped: the cluster need not finish them
                ray.cancel(ref, force=True)
            if board is not None:
                ray.kill(board)


class NodeNames:
    """Ray node id → a name a person recognises: the node's address and the id's first 6 characters,
    'head' first for the head node ("head 127.0.0.1 · 3f2a1b"); looked up again for a node not seen yet."""

    def __init__(self):
        self.known: dict[str, str] = {}

    def __call__(self, node_id: str) -> str:
        if node_id not in self.known:
            self._refresh()
        return self.known.get(node_id, node_id[:6])

    def _refresh(self) -> None:
        import ray

        try:
            nodes = ray.nodes()
        except Exception:  # noqa: BLE001 - a name is only for show; the id stays in the point's file
            return
        for n in nodes:
            head = "node:__internal_head__" in (n.get("Resources") or {})
            addr = n.get("NodeManagerAddress") or n.get("NodeManagerHostname") or "?"
            self.known[n["NodeID"]] = f"{'head ' if head else ''}{addr} · {n['NodeID'][:6]}"
