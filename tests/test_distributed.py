"""DistributedDataParallel training of one split over two gloo processes:
the update is the single-process update of the same global batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from glam_py import models
from glam_py.train.distributed import DataParallel, World
from tests.support.training import split_metrics, train_command

WORLD = 2


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return torch.randn(8, 1, 26, 63, generator=generator), torch.randint(0, 4, (8,), generator=generator)


def _fresh_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return models.build("mhcnn").train()


def _ddp_step(rank: int, init_file: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    model = _fresh_model()
    parallel = DataParallel(World(rank, WORLD))
    net = parallel.wrap(model, "cpu")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = parallel.rows(*_batch())
    F.cross_entropy(net(x), y).backward()
    optimizer.step()
    parallel.sync_buffers(model)
    torch.save(model.state_dict(), f"{out}.{rank}")
    dist.destroy_process_group()


def test_a_ddp_step_is_the_single_process_step_on_the_global_batch(tmp_path):
    mp.spawn(_ddp_step, args=(str(tmp_path / "init"), str(tmp_path / "state")), nprocs=WORLD)
    ranks = [torch.load(tmp_path / f"state.{r}", weights_only=True) for r in range(WORLD)]

    # One process, the same global batch; BatchNorm sees each rank's rows
    # separately, as it does under DDP on the CPU.
    model = _fresh_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = _batch()
    loss = sum(F.cross_entropy(model(x[r::WORLD]), y[r::WORLD]) for r in range(WORLD)) / WORLD
    loss.backward()
    optimizer.step()

    before = _fresh_model().state_dict()
    for key, expected in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        for state in ranks:
            torch.testing.assert_close(state[key], ranks[0][key], rtol=0, atol=0)  # ranks agree
        if "running" not in key:  # rank 0's statistics (its rows) are kept, by design
            torch.testing.assert_close(ranks[0][key], expected, rtol=1e-5, atol=1e-6)
    assert any(not torch.equal(before[k], ranks[0][k]) for k in before)  # the step moved something


def _torchrun_ddp(root, out, port: int) -> list[str]:
    command = train_command(root, out) + ["--ddp"]
    command[command.index("apcnn,mhcnn")] = "apcnn"
    command[command.index("--threads") + 1] = "1"
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        str(WORLD),
        "--master-port",
        str(port),
    ] + command[1:]


def test_torchrun_ddp_trains_each_split_on_both_ranks(small, tmp_path):
    root = small[0]
    subprocess.run(
        _torchrun_ddp(root, tmp_path / "ddp", 29700 + os.getpid() % 1000),
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    results = json.loads((tmp_path / "ddp" / "results.json").read_text())
    assert results["config"]["run"]["ddp"] is True
    splits = results["models"]["apcnn"]["splits"]
    assert len(splits) == 2 and all(len(s["history"]) == 3 for s in splits)
    # Every optimisation step had both ranks: the loss fell from the first epoch.
    for s in splits:
        assert s["history"][-1]["loss"] < s["history"][0]["loss"]
    assert len(list((tmp_path / "ddp" / "models").glob("apcnn__*.pt"))) == 2


def test_a_killed_ddp_run_resumes_to_the_same_results(small, tmp_path):
    root, env = small[0], {**os.environ, "OMP_NUM_THREADS": "1"}
    port = 30700 + os.getpid() % 1000
    subprocess.run(_torchrun_ddp(root, tmp_path / "straight", port), check=True, env=env)
    straight = json.loads((tmp_path / "straight" / "results.json").read_text())

    out = tmp_path / "killed"
    # Its own process group, so one SIGKILL takes the launcher and both ranks.
    proc = subprocess.Popen(_torchrun_ddp(root, out, port + 1), env=env, start_new_session=True)
    while proc.poll() is None and not list((out / "state").glob("*.pt")):
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "results.json").exists()
    subprocess.run(_torchrun_ddp(root, out, port + 2), check=True, env=env)
    assert split_metrics(json.loads((out / "results.json").read_text())) == split_metrics(straight)
