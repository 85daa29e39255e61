"""Several processes under torchrun: either each rank trains its own share
of the splits (the default), or, with ``--ddp``, every rank trains the same
split together with DistributedDataParallel, for one model on a corpus too
large for one device.

In DDP mode each rank draws the same global batch of ``batch_size`` windows
(the same seed gives every rank the same epoch order and mixup draws), mixes
it, and keeps every ``world``-th row; DDP averages the ranks' gradients, so
an update is the single-process update on the same global batch, except
that BatchNorm statistics come from each rank's rows (SyncBatchNorm on CUDA
makes them global; PyTorch offers it on accelerators only)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> World:
        """This process's place under torchrun (its environment variables),
        else a world of one."""
        env = dict(os.environ) if env is None else env
        return cls(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, requested: str) -> str:
        """``cuda`` becomes this process's own GPU; an explicit index stays."""
        return f"cuda:{self.local_rank}" if requested == "cuda" and self.size > 1 else requested

    def init(self, device: str) -> None:
        if self.size > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")

    def barrier(self) -> None:
        if self.size > 1 and dist.is_initialized():
            dist.barrier()


@dataclass(frozen=True)
class DataParallel:
    """One split trained by every rank of ``world``."""

    world: World

    def wrap(self, model: nn.Module, device: str) -> nn.Module:
        if device.startswith("cuda"):
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            return DistributedDataParallel(model, device_ids=[torch.device(device).index])
        return DistributedDataParallel(model)

    def rows(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """This rank's rows of a global batch."""
        return tuple(t[self.world.rank :: self.world.size] for t in tensors)

    def usable(self, batch_rows: int) -> bool:
        # Every rank must take part in every step (DDP's all-reduce would
        # wait forever), so a last batch too small to give each a row is
        # skipped, by every rank alike.
        return batch_rows >= self.world.size

    def sync_buffers(self, model: nn.Module) -> None:
        """Rank 0's BatchNorm running statistics on every rank, so all ranks
        evaluate the same model (DDP only broadcasts them before a forward)."""
        for buffer in model.buffers():
            dist.broadcast(buffer, 0)
