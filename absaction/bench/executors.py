"""Where the runs of a sweep execute: a local process pool (the default, no extra dependency) or a Ray
cluster (``pip install 'absaction[ray]'``), behind one interface.

Both executors take picklable jobs and a module-level function, and yield ``(job, fn(job))`` as the
jobs finish. Every run writes its output folder atomically (a temporary folder renamed into place), so
a run interrupted, killed or retried by either executor leaves no half-written folder behind, and a
sweep interrupted under one executor can be resumed (``--resume``) under the other.

- :class:`LocalExecutor`: ``workers`` spawned processes with one torch thread each (or this process);
- :class:`RayExecutor`: every job a Ray task (``cpus_per_run`` CPUs; a GPU when the job's torch device is
  CUDA, see :meth:`ExecutorSpec.gpus_for`), retried up to ``max_retries`` times when its worker dies (a
  killed process, a lost node); exceptions raised by the run itself are not retried (the same inputs
  would fail the same way);
- :func:`make_executor`: the one an :class:`ExecutorSpec` (the ``--executor`` flags) asks for.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import signal
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from types import ModuleType
from typing import Any, Protocol

import torch

from absaction.errors import AbsactionError, check_choice

EXECUTORS: tuple[str, ...] = ("local", "ray")
RAY_MAX_RETRIES = 3
"""Times Ray restarts a run whose worker died before giving up on the sweep."""


class Executor(Protocol):
    """Runs jobs somewhere; a context manager (resources are released on exit)."""

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def imap_unordered(
        self, fn: Callable[[Any], Any], jobs: Sequence[Any], devices: Sequence[str] | None = None
    ) -> Iterator[tuple[Any, Any]]:
        """Yield ``(job, fn(job))`` as the jobs finish; the first error is raised and the other jobs
        are stopped (their atomic writes remove what they had written). ``devices``: each job's torch
        device (a job on CUDA gets a GPU from Ray); None: every job on the CPU."""
        ...


@dataclasses.dataclass(frozen=True)
class ExecutorSpec:
    """Where a sweep's runs execute (the ``--executor`` flags of ``absaction bench`` and of the studies)."""

    kind: str = "local"
    """local (a process pool on this machine) | ray (Ray tasks)"""
    ray_address: str | None = None
    """an existing Ray cluster (``ray start --head`` prints it, e.g. ``10.0.0.1:6379``, or ``auto``);
    None starts a Ray instance on this machine for the sweep"""
    ray_cpus_per_run: float = 1.0
    """CPUs Ray reserves for every run (also its torch threads, at least 1)"""
    ray_gpus_per_run: float | None = None
    """GPUs (or a fraction of one) Ray reserves for every run whose torch device is CUDA; None: one (a run
    on the CPU, ``auto`` included, reserves none)"""
    max_retries: int = RAY_MAX_RETRIES
    """Ray restarts of a run whose worker died"""

    def validate(self) -> None:
        """One-line errors for an unknown executor, bad resources, or Ray options without Ray."""
        check_choice(self.kind, EXECUTORS, "executor")
        if self.ray_cpus_per_run <= 0 or (self.ray_gpus_per_run or 0.0) < 0:
            raise AbsactionError(
                f"a run needs > 0 CPUs and >= 0 GPUs, "
                f"got {self.ray_cpus_per_run} and {self.ray_gpus_per_run}",
                "pass --ray-cpus-per-run 1 (or more) and --ray-gpus-per-run 0 (or a fraction)",
            )
        if self.kind == "local" and self.ray_address is not None:
            raise AbsactionError("--ray-address needs --executor ray", "add --executor ray")
        if self.kind == "ray":
            require_ray()

    def gpus_for(self, device: str) -> float:
        """GPUs a Ray task reserves for a run on torch ``device``: ``ray_gpus_per_run`` (default one) for
        ``cuda`` or ``cuda:N``, none otherwise. Ray shows a task the GPUs it reserved as ``cuda:0`` on.

        >>> ExecutorSpec(kind="ray").gpus_for("cuda"), ExecutorSpec(kind="ray").gpus_for("cpu")
        (1.0, 0.0)
        >>> ExecutorSpec(kind="ray", ray_gpus_per_run=0.25).gpus_for("cuda:0")
        0.25
        """
        if not str(device).startswith("cuda"):
            return 0.0
        return 1.0 if self.ray_gpus_per_run is None else float(self.ray_gpus_per_run)


def require_ray() -> ModuleType:
    """The ``ray`` module, or a one-line error naming the extra that installs it."""
    try:
        # lazy: Ray is an optional extra, and importing it takes about a second
        import ray
    except ImportError:
        raise AbsactionError(
            "--executor ray needs the ray package, which is not installed",
            "pip install 'absaction[ray]' (or use --executor local)",
        ) from None
    return ray


def make_executor(spec: ExecutorSpec, workers: int | None, threads: int | None = 1) -> Executor:
    """The executor ``spec`` asks for.

    Args:
        spec: local or Ray, and Ray's settings.
        workers: runs at a time on this machine: the local pool's processes, and the size of a Ray
            instance started here (None: one local process; Ray takes every core).
        threads: torch threads of this process when the local executor runs the jobs in it.
    """
    spec.validate()
    if spec.kind == "ray":
        return RayExecutor(spec, workers)
    return LocalExecutor(workers or 1, threads)


# ------------------------------------------------------------------------------------------- local
# Set in every worker by _worker_init: the parent sets it on Ctrl-C, so that jobs already queued to a
# worker (the pool hands each worker one job ahead) stop at once instead of running to the end.
_STOP: Any = None


def _worker_init(stop: Any, threads: int = 1) -> None:
    global _STOP
    _STOP = stop
    # Idle workers ignore Ctrl-C (the parent decides what happens); a running job re-enables it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)  # one core per worker by default: --workers processes = --workers cores
    warnings.filterwarnings("ignore", category=UserWarning)  # SB3/gymnasium advice, not results


def _interruptible(fn: Callable[[Any], Any], job: Any) -> Any:
    """Run ``fn(job)`` in a worker with Ctrl-C enabled (KeyboardInterrupt unwinds the run, so its atomic
    writes remove what it had written), unless the sweep was stopped already."""
    if _STOP is not None and _STOP.is_set():
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return fn(job)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


class LocalExecutor:
    """Runs jobs in ``workers`` spawned processes with one torch thread each, or in this process for
    one worker (with ``threads`` torch threads; None leaves them as they are). Use as a context manager;
    jobs and their functions must be picklable."""

    def __init__(self, workers: int, threads: int | None = 1) -> None:
        self.workers = workers
        self.threads = threads
        self._pool: ProcessPoolExecutor | None = None
        self._stop: Any = None

    def __enter__(self) -> LocalExecutor:
        if self.workers > 1:
            # spawn: a fresh interpreter per worker (forking a process that holds torch threads is unsafe)
            context = multiprocessing.get_context("spawn")
            self._stop = context.Event()
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=_worker_init,
                initargs=(self._stop, self.threads or 1),
            )
        elif self.threads is not None:
            torch.set_num_threads(self.threads)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def imap_unordered(
        self, fn: Callable[[Any], Any], jobs: Sequence[Any], devices: Sequence[str] | None = None
    ) -> Iterator[tuple[Any, Any]]:
        """Yield ``(job, fn(job))`` as the jobs finish (the first error is raised). On Ctrl-C, or when
        a job fails, the running jobs are interrupted (their atomic writes remove what they had
        written) and the others cancelled; finished jobs keep their outputs. ``devices`` is not used
        here: every job sees this machine's devices."""
        if self._pool is None:
            for job in jobs:
                yield job, fn(job)
            return
        pending: dict[Future[Any], Any] = {self._pool.submit(_interruptible, fn, job): job for job in jobs}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    job = pending.pop(future)
                    yield job, future.result()
        except BaseException:
            self._stop.set()
            for future in pending:
                future.cancel()
            for child in multiprocessing.active_children():  # our own workers: interrupt their runs
                if child.pid is not None:
                    os.kill(child.pid, signal.SIGINT)
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            raise


# --------------------------------------------------------------------------------------------- ray
def _ray_task(fn: Callable[[Any], Any], job: Any, threads: int) -> Any:
    """The body of every Ray task: the run with the worker's torch threads set to its CPU share."""
    torch.set_num_threads(threads)
    warnings.filterwarnings("ignore", category=UserWarning)  # SB3/gymnasium advice, not results
    return fn(job)


class RayExecutor:
    """Runs every job as a Ray task on the cluster at ``spec.ray_address``, or on a Ray instance it
    starts on this machine for ``workers`` runs at a time (stopped again on exit). A Ray already
    initialised in this process (``ray.init`` in a notebook or script) is used as it is.

    Output folders must be on a file system every node sees (runs write their folders themselves), and
    every node needs absaction installed.
    """

    def __init__(self, spec: ExecutorSpec, workers: int | None = None) -> None:
        self.spec = spec
        self.workers = workers
        self._ray: Any = None
        self._started = False

    def __enter__(self) -> RayExecutor:
        ray = require_ray()
        if not ray.is_initialized():
            if self.spec.ray_address is not None:
                ray.init(address=self.spec.ray_address, log_to_driver=False)
            else:
                cpus = None if self.workers is None else math.ceil(self.workers * self.spec.ray_cpus_per_run)
                # "local": a new instance of our own, even where an earlier `ray start` left its address
                # behind (Ray would connect to that cluster, or fail on a dead one)
                ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False)
            self._started = True
        self._ray = ray
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started and self._ray is not None:
            self._ray.shutdown()  # disconnects from a cluster; stops an instance it started
        self._ray, self._started = None, False

    def imap_unordered(
        self, fn: Callable[[Any], Any], jobs: Sequence[Any], devices: Sequence[str] | None = None
    ) -> Iterator[tuple[Any, Any]]:
        """Submit every job as a Ray task and yield ``(job, fn(job))`` as they finish. A job whose device
        (``devices``, one per job) is CUDA reserves :meth:`ExecutorSpec.gpus_for` GPUs. An error of a
        run is raised as the run raised it; on it (or Ctrl-C) the other tasks are cancelled (a running
        one gets KeyboardInterrupt, so its atomic writes remove what it had written)."""
        ray = self._ray
        if ray is None:
            raise RuntimeError("RayExecutor is used as a context manager")
        remote = ray.remote(
            num_cpus=self.spec.ray_cpus_per_run,
            max_retries=self.spec.max_retries,  # a dead worker: rerun the job
            retry_exceptions=False,  # an exception of the run itself: fail
        )(_ray_task)
        threads = max(1, int(self.spec.ray_cpus_per_run))
        if devices is not None and len(devices) != len(jobs):
            raise ValueError(f"{len(jobs)} jobs, {len(devices)} devices")
        gpus = [self.spec.gpus_for(d) for d in devices] if devices is not None else [0.0] * len(jobs)
        pending = {
            remote.options(num_gpus=g).remote(fn, job, threads): job
            for job, g in zip(jobs, gpus, strict=True)
        }
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    job = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayTaskError as err:
                        # the run's own exception (e.g. a one-line AbsactionError), not Ray's wrapper
                        cause = err.cause
                        if isinstance(cause, BaseException):
                            raise cause from None
                        raise
                    yield job, result
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise
