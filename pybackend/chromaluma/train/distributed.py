"""Training on several processes or machines: torch.distributed with DistributedDataParallel.

Two launchers start the same ranks:

- `chromaluma train --nproc N` (:func:`launch_local`) spawns N processes on this machine and gives each the variables
  torchrun gives its workers (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT);
- `torchrun --nnodes … --nproc-per-node … -m chromaluma train …` sets them itself, on one machine or several.

Either way each rank calls :func:`join_world`, which reads those variables. Invariants every rank keeps:

- Gradients are averaged over the ranks (DDP), so one step is one optimizer step on world size × --batch crops, and
  every rank's model, optimizer and learning rate stay identical.
- Rank 0's clock is the run's clock: the elapsed time (it drives the learning-rate schedule) and the decision to stop
  a --minutes run are rank 0's, sent to every rank, so all ranks take the same number of steps and none waits for a
  step that never comes.
- Rank 0 alone writes: checkpoints, previews, train.log, config.json, pairs.json, the export and the card. The other
  ranks read the pairs (and, on --resume, the run folder's config and newest checkpoint) and write nothing.
- A rank that fails ends the run: its peers' next collective fails (gloo and NCCL report a peer that has gone) or,
  for a rank that hangs, times out after :data:`TIMEOUT_S`; the launcher (ours or torchrun) then stops the rest.

Devices: --device cpu → gloo; auto/gpu → CUDA (NCCL) when every rank sees a GPU for its LOCAL_RANK, else (auto)
CPU with gloo on every rank; gpu without a GPU on every rank is refused.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from chromaluma.errors import ChromalumaError, DeviceError, ParameterError

log = logging.getLogger(__name__)

ENV_NAMES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
# A collective waits this long for a rank that neither answers nor fails (a crashed rank is noticed at once): longer
# than rank 0's validation, previews and checkpoint between two steps, which the other ranks wait for.
# CHROMALUMA_TRAIN_TIMEOUT_S (seconds) overrides it.
TIMEOUT_S = 900.0
# After one rank has ended, the launcher gives the others this long to end on their own before it stops them.
GRACE_S = 5.0


class DistributedError(ChromalumaError):
    """A rank of a training run failed or the process group could not be formed."""


@dataclass(frozen=True)
class World:
    """This process's place in a training run: rank `rank` of `size` (size 1: a single process, no group)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None  # "gloo" or "nccl"; None for a single process

    @property
    def writes(self) -> bool:
        """Whether this rank writes the run folder (rank 0 only)."""
        return self.rank == 0

    def record(self) -> dict[str, Any]:
        """The model card's entry for this sitting of the run."""
        return {"world_size": self.size, "backend": self.backend}


def launched_by_torchrun() -> bool:
    """Whether this process is one rank of a world started by torchrun (or our own launcher)."""
    return "WORLD_SIZE" in os.environ


def join_world(device_name: str) -> tuple[World, torch.device | None]:
    """Join the run's process group from the torchrun variables; returns the world and the device every rank agreed
    on (None: a single process; the session picks its device as usual)."""
    if not launched_by_torchrun():
        return World(), None
    size = _env_int("WORLD_SIZE")
    missing = [name for name in ENV_NAMES if name not in os.environ]
    if size == 1 and "RANK" not in os.environ:
        return World(), None
    if missing:
        raise ParameterError(f"torchrun variables {', '.join(missing)} are not set but WORLD_SIZE is: start the run "
                             "with `torchrun … -m chromaluma train …` or `chromaluma train --nproc N`.")
    rank, local_rank = _env_int("RANK"), _env_int("LOCAL_RANK")
    if size < 1 or not 0 <= rank < size:
        raise ParameterError(f"RANK={rank} WORLD_SIZE={size}: RANK must lie in 0…WORLD_SIZE−1; check the launcher.")
    if size == 1:
        return World(), None
    maybe_gpu = device_name != "cpu" and torch.cuda.is_available()
    try:
        dist.init_process_group("cpu:gloo,cuda:nccl" if maybe_gpu else "gloo", rank=rank, world_size=size,
                                timeout=timedelta(seconds=_timeout_s()))
    except (RuntimeError, ValueError, OSError) as exc:
        raise DistributedError(f"rank {rank}: cannot join the process group at {os.environ['MASTER_ADDR']}:"
                               f"{os.environ['MASTER_PORT']} ({_first_line(exc)}); check MASTER_ADDR/MASTER_PORT and "
                               "that every rank was started.") from exc
    has_gpu = maybe_gpu and local_rank < torch.cuda.device_count()
    every_rank = torch.tensor([1 if has_gpu else 0], dtype=torch.int32)
    dist.all_reduce(every_rank, op=dist.ReduceOp.MIN)
    if device_name == "gpu" and not every_rank.item():
        leave_world()
        raise DeviceError(f"--device gpu: not every rank sees a CUDA GPU (rank {rank} on {socket.gethostname()} "
                          f"{'does' if has_gpu else 'does not'}). Give each rank a GPU, or use --device auto / cpu.")
    if every_rank.item():
        torch.cuda.set_device(local_rank)
        return World(rank, size, local_rank, "nccl"), torch.device("cuda", local_rank)
    return World(rank, size, local_rank, "gloo"), torch.device("cpu")


def leave_world() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def from_rank0(world: World, values: list[float]) -> list[float]:
    """Rank 0's `values` on every rank (a single process keeps its own)."""
    if world.size == 1:
        return values
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.broadcast(tensor, src=0)
    return tensor.tolist()


def mean_over_ranks(world: World, values: list[float]) -> list[float]:
    """The mean of `values` over all ranks (a single process keeps its own)."""
    if world.size == 1:
        return values
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor)
    return (tensor / world.size).tolist()


class TrainingObjective(nn.Module):
    """`terms(model, *batch)` as a module, so DDP wraps the whole loss: the objectives call the model's own methods
    (restored_planes, upsample), not only its forward, and DDP averages gradients only for work done in a forward."""

    def __init__(self, model: nn.Module, terms: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> None:
        super().__init__()
        self.model = model
        self.terms = terms

    def forward(self, *batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.terms(self.model, *batch)


def data_parallel(objective: TrainingObjective, world: World, device: torch.device) -> nn.Module:
    """The objective wrapped in DDP for a world of several ranks; as it is for one process."""
    if world.size == 1:
        return objective
    from torch.nn.parallel import DistributedDataParallel

    # a 1-channel conv weight's gradient differs from DDP's bucket view only in the stride of its size-1 axis: the
    # same memory layout, so the warning about it says nothing
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    # every kind's loss reaches every parameter of its model, so DDP need not search the graph for unused ones
    return DistributedDataParallel(objective, device_ids=[device.index] if device.type == "cuda" else None)


def crop_seed(seed: int, world: World, step: int = 0) -> int | list[int]:
    """The numpy seed of a rank's crops: the run's --seed on rank 0 (so one process draws what it always drew),
    mixed with the rank, and with the step a resumed sitting starts from, on the others (each rank its own crops)."""
    return seed if world.rank == 0 else [seed, world.rank, step]


# --- the local launcher (`chromaluma train --nproc N`) ---------------------------------------------------------------

@dataclass(frozen=True)
class _RankEnd:
    rank: int
    exitcode: int | None
    message: str = ""
    refused: bool = False  # ended with a ChromalumaError: bad input or environment, not a crash
    result: Any = None


def launch_local(nproc: int, job: Callable[..., Any], args: tuple[Any, ...], verbose: bool, resume_hint: str) -> Any:
    """Run `job(*args)` in `nproc` spawned ranks on this machine; returns rank 0's result.

    A rank that fails stops the others; raises one :class:`DistributedError` naming the first rank that failed and
    why (its own one-line message for a refusal). Ctrl-C or SIGTERM stops every rank the same way (rank 0 keeps its
    finished checkpoints) and re-raises KeyboardInterrupt with `resume_hint`.
    """
    context = multiprocessing.get_context("spawn")
    pipes = [context.Pipe(duplex=False) for _ in range(nproc)]  # each rank tells how it ended: (reader, writer)
    environment = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "WORLD_SIZE": str(nproc),
                   "LOCAL_WORLD_SIZE": str(nproc)}
    threads = int(os.environ.get("OMP_NUM_THREADS", 0)) or max(1, (os.cpu_count() or 1) // nproc)
    processes = [context.Process(target=_rank_main, name=f"chromaluma-train-rank{rank}",
                                 args=(rank, environment, threads, verbose, pipes[rank][1], job, args))
                 for rank in range(nproc)]
    for process in processes:
        process.start()
    for _, writer in pipes:
        writer.close()  # the ranks hold their own ends: a reader sees EOF once its rank has gone
    try:
        failed = _watch(processes)
    except KeyboardInterrupt:
        _stop(processes)
        raise KeyboardInterrupt(f"training interrupted; every rank stopped, the finished checkpoints are kept. "
                                f"Continue with {resume_hint}") from None
    if failed is None:
        return _told(pipes[0][0], failed=_RankEnd(0, 0)).result
    end = _told(pipes[failed.rank][0], failed)
    exitcode = failed.exitcode
    if end.refused:
        raise DistributedError(f"rank {failed.rank} of {nproc}: {end.message}")
    why = end.message or (f"killed by {signal.Signals(-exitcode).name}" if exitcode is not None and exitcode < 0
                          else f"exit status {exitcode}")
    raise DistributedError(f"--nproc {nproc}: rank {failed.rank} failed ({why}); the other ranks were stopped and the "
                           f"finished checkpoints are kept. Continue with {resume_hint}")


def _watch(processes: list[multiprocessing.process.BaseProcess]) -> _RankEnd | None:
    """Wait for every rank; on the first that fails, give the others GRACE_S, then stop them. Returns that rank."""
    running = {process.sentinel: rank for rank, process in enumerate(processes)}
    while running:
        for sentinel in multiprocessing.connection.wait(list(running)):
            rank = running.pop(sentinel)  # type: ignore[call-overload]
            processes[rank].join()
            if processes[rank].exitcode != 0:
                multiprocessing.connection.wait([p.sentinel for p in processes if p.is_alive()], timeout=GRACE_S)
                _stop(processes)
                return _RankEnd(rank, processes[rank].exitcode)
    return None


def _told(reader: multiprocessing.connection.Connection, failed: _RankEnd) -> _RankEnd:
    """What a rank said about its end; `failed` where it said nothing (killed before it could)."""
    try:
        return reader.recv() if reader.poll() else failed
    except (EOFError, OSError):
        return failed
    finally:
        reader.close()


def _stop(processes: list[multiprocessing.process.BaseProcess]) -> None:
    """SIGTERM every rank still running (rank 0 ends as on Ctrl-C: finished checkpoints kept), then SIGKILL."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=GRACE_S)
        if process.is_alive():
            process.kill()
            process.join()


def _rank_main(rank: int, environment: dict[str, str], threads: int, verbose: bool,
               ends: multiprocessing.connection.Connection, job: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """One spawned rank: torchrun's variables, logging, threads, signals; reports how it ended through `ends`."""
    os.environ.update(environment)
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank)})
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format=f"%(levelname)s %(name)s{'' if rank == 0 else f' (rank {rank})'}: %(message)s")
    quiet_other_ranks(rank)
    torch.set_num_threads(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the launcher hears Ctrl-C and stops every rank alike

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        ends.send(_RankEnd(rank, 0, result=job(*args)))
    except ChromalumaError as exc:
        log.debug("rank %d refused", rank, exc_info=True)
        ends.send(_RankEnd(rank, 2, str(exc), refused=True))
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(128 + signal.SIGTERM) from None
    except Exception as exc:  # a crash or a peer gone: reported as one line by the launcher, traceback at DEBUG
        log.debug("rank %d failed", rank, exc_info=True)
        ends.send(_RankEnd(rank, 1, f"{type(exc).__name__}: {_first_line(exc)}"))
        raise SystemExit(1) from None


def quiet_other_ranks(rank: int) -> None:
    """Ranks other than 0 log warnings and errors only: rank 0 speaks for the run."""
    if rank != 0:
        logging.getLogger("chromaluma").setLevel(logging.WARNING)


def _env_int(name: str) -> int:
    text = os.environ.get(name, "0")
    try:
        return int(text)
    except ValueError:
        raise ParameterError(f"{name}={text!r}: give a whole number (torchrun sets it).") from None


def _timeout_s() -> float:
    text = os.environ.get("CHROMALUMA_TRAIN_TIMEOUT_S")
    if text is None:
        return TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0.0 < seconds < float("inf"):
        raise ParameterError(f"CHROMALUMA_TRAIN_TIMEOUT_S={text!r}: give the seconds a rank may wait for the others, "
                             f"e.g. {TIMEOUT_S:g}, or unset it.")
    return seconds


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
