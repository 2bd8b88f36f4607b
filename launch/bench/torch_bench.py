#!/usr/bin/python3
"""PyTorch (CPU) reference for fcnet's training-throughput benchmark (issue 6).

The same model and step as `fcnet_dist train`: per hidden layer Linear -> BatchNorm1d -> ReLU -> Dropout
(when keep < 1), a last Linear, weights N(0, 1e-2) and biases 0, mean softmax cross-entropy, Adam (lr 1e-3,
betas 0.9/0.999, eps 1e-8), weight decay 0. Synthetic float32 data of the right shape lives in memory; every step gathers its
minibatch rows from a per-epoch permutation (what fcnet does), so the gather is part of the step.

Modes:
  single  one process, torch.set_num_threads(T) and OpenBLAS (which Debian's torch uses for sgemm) at T
          (--omp-wait passive: OMP_WAIT_POLICY=PASSIVE; Debian's torch runs its own operators on libgomp's
          pool and its GEMMs on OpenBLAS's pthread pool, and at T = 2 on two cores libgomp's idle worker,
          spinning by default, takes the core that OpenBLAS's worker needs)
  ddp     DistributedDataParallel, gloo, P processes x T threads (torch.multiprocessing spawn,
          MASTER_ADDR=127.0.0.1); the global batch is split in contiguous slices as in fcnet. PyTorch 1.13
          refuses SyncBatchNorm on CPU, so each process normalises over its own rows (less work and less
          communication than fcnet's synchronised batchnorm).

Timing: `--warmup` steps, then `--reps` repetitions of `--steps` steps each (a barrier-free wall clock on
rank 0; DDP steps synchronise every rank anyway); samples/s = steps * global batch / seconds, median over
repetitions. Prints one JSON object per run on stdout.

  /usr/bin/python3 launch/bench/torch_bench.py --name wide --dims 784,1024,1024,1024,10 --batch 512 \
      --keep 0.5 --mode single --threads 2
"""
import argparse
import json
import os
import socket
import statistics
import sys
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="")
    p.add_argument("--dims", required=True, help="D,H1,...,C")
    p.add_argument("--batch", type=int, required=True, help="global batch")
    p.add_argument("--keep", type=float, default=1.0, help="dropout keep probability (1 = off)")
    p.add_argument("--norm", choices=["batchnorm", "none"], default="batchnorm")
    p.add_argument("--weight-scale", type=float, default=1e-2, help="std of the initial weights (fcnet's default)")
    p.add_argument("--mode", choices=["single", "ddp"], default="single")
    p.add_argument("--threads", type=int, default=1, help="threads per process")
    p.add_argument("--procs", type=int, default=2, help="processes for --mode ddp")
    p.add_argument("--omp-wait", choices=["default", "passive"], default="default",
                   help="passive: OMP_WAIT_POLICY=PASSIVE (idle OpenMP workers sleep instead of spinning)")
    p.add_argument("--rows", type=int, default=0, help="training rows in memory (default 20 batches)")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--steps", type=int, default=50, help="steps per repetition")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def set_blas_threads(threads, omp_wait="default"):
    """Before torch is imported: OpenBLAS reads OPENBLAS_NUM_THREADS at load; OpenMP likewise (and
    OMP_WAIT_POLICY, which "default" leaves as the environment has it)."""
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if omp_wait == "passive":
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def openblas_info():
    """The OpenBLAS that torch loaded (the same soname fcnet links): core and thread count."""
    import ctypes
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode(), lib.openblas_get_num_threads()
    except (OSError, AttributeError):
        return "unknown", -1


def build(args, torch):
    dims = [int(d) for d in args.dims.split(",")]
    layers = []
    for i in range(len(dims) - 2):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if args.norm == "batchnorm":
            layers.append(torch.nn.BatchNorm1d(dims[i + 1], eps=1e-5, momentum=0.1))
        layers.append(torch.nn.ReLU())
        if args.keep < 1:
            layers.append(torch.nn.Dropout(p=1.0 - args.keep))
    layers.append(torch.nn.Linear(dims[-2], dims[-1]))
    # fcnet's initialisation (--init normal, --weight-scale 1e-2, biases 0), not PyTorch's Kaiming-uniform
    # default: the same model from the same starting point (the values never reach denormals either way).
    for layer in layers:
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.normal_(layer.weight, 0.0, args.weight_scale)
            torch.nn.init.zeros_(layer.bias)
    return dims, torch.nn.Sequential(*layers)


def run(rank, world, args, port, queue):
    set_blas_threads(args.threads, args.omp_wait)
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(args.seed)
    dims, model = build(args, torch)
    if world > 1:
        import torch.distributed as dist
        os.environ["MASTER_ADDR"] = "127.0.0.1"
        os.environ["MASTER_PORT"] = str(port)
        dist.init_process_group("gloo", rank=rank, world_size=world)
        model = torch.nn.parallel.DistributedDataParallel(model)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)

    B = args.batch
    n_rows = args.rows or 20 * B
    g = torch.Generator().manual_seed(args.seed + 1)
    x = torch.randn(n_rows, dims[0], generator=g)
    y = torch.randint(0, dims[-1], (n_rows,), generator=g)
    # This process's contiguous slice of every global batch (sizes differ by at most one, as fcnet).
    base, extra = divmod(B, world)
    begin = rank * base + min(rank, extra)
    count = base + (1 if rank < extra else 0)
    steps_per_epoch = n_rows // B
    state = {"perm": torch.randperm(n_rows, generator=g), "k": 0}

    def step():
        if state["k"] == steps_per_epoch:
            state["perm"] = torch.randperm(n_rows, generator=g)
            state["k"] = 0
        idx = state["perm"][state["k"] * B + begin: state["k"] * B + begin + count]
        state["k"] += 1
        xb = x.index_select(0, idx)
        yb = y.index_select(0, idx)
        opt.zero_grad(set_to_none=True)
        # Sum of this rank's CE / B_global: DDP averages gradients over processes, so scale by world.
        loss = F.cross_entropy(model(xb), yb, reduction="sum") * (world / B)
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    rates = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            loss = step()
        float(loss)  # the step is done when its loss exists; no lazy work left behind
        dt = time.perf_counter() - t0
        rates.append(args.steps * B / dt)
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
        dist.destroy_process_group()
    if rank == 0:
        core, blas_threads = openblas_info()
        out = {
            "tool": "torch_bench", "name": args.name, "framework": "pytorch", "torch": torch.__version__,
            "mode": args.mode, "procs": world, "threads": args.threads, "dims": dims, "global_batch": B,
            "keep": args.keep, "norm": args.norm, "openblas_core": core, "openblas_threads": blas_threads,
            "torch_threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
            "warmup": args.warmup, "steps": args.steps,
            "samples_per_s": statistics.median(rates), "reps": rates,
        }
        if queue is not None:
            queue.put(out)
        else:
            print(json.dumps(out), flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None):
    args = parse_args(argv)
    if args.mode == "single":
        run(0, 1, args, 0, None)
        return 0
    set_blas_threads(args.threads, args.omp_wait)
    import torch.multiprocessing as mp
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    mp.spawn(run, args=(args.procs, args, free_port(), queue), nprocs=args.procs, join=True)
    print(json.dumps(queue.get()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
