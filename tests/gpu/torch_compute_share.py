"""Compute slices with real PyTorch workloads, on a real GPU.

    torch_compute_share.py split --lib build-gpu/lib/libvxpu.so --workload matmul --shares 30,70 10,90

runs, for each split, one tenant per share, each a PyTorch process under its own compute slice (libvxpu.so
preloaded, VXPU_COMPUTE set: what `vxpu run --compute N` does), all saturating the GPU over the
same window, and compares each tenant's work rate with the rate of one tenant alone (no slice).
A tenant's achieved share is its rate over the rate alone, normalised over the tenants; the
aggregate throughput is the sum of those ratios. Prints, per split, one PASS/FAIL line (target:
every share within --tolerance points) and a JSON line with the figures.

Workloads: "matmul" (back-to-back fp16 4096x4096 matrix products) and "train" (a small MLP's
training steps: forward, backward, SGD step). Tenants warm up first (CUDA context, cuBLAS,
allocator) and say so; then all work from one start time to one stop time, so start-up does not
skew the split.
"""
import argparse
import json
import os
import subprocess
import sys
import time


def make_workload(name):
    import torch

    if name == "matmul":
        a = torch.randn(4096, 4096, device="cuda", dtype=torch.float16)
        b = torch.randn(4096, 4096, device="cuda", dtype=torch.float16)

        def step():
            torch.mm(a, b)

        return step
    if name == "train":
        model = torch.nn.Sequential(
            torch.nn.Linear(2048, 4096), torch.nn.ReLU(), torch.nn.Linear(4096, 4096), torch.nn.ReLU(),
            torch.nn.Linear(4096, 1024)).cuda()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
        x = torch.randn(512, 2048, device="cuda")
        y = torch.randn(512, 1024, device="cuda")

        def step():
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()

        return step
    raise SystemExit(f"unknown workload {name!r} (want matmul or train)")


def tenant(args):
    """One tenant: warm up, say "ready", read the window, count steps until its end."""
    import torch

    step = make_workload(args.workload)
    for _ in range(20):
        step()
    torch.cuda.synchronize()
    print("ready", flush=True)
    start_at, stop_at = (float(x) for x in sys.stdin.readline().split())
    time.sleep(max(0.0, start_at - time.time()))
    steps = 0
    while time.time() < stop_at:
        for _ in range(10):
            step()
        torch.cuda.synchronize()  # count completed work, not queued work
        steps += 10
    print(json.dumps({"pid": os.getpid(), "steps": steps, "seconds": stop_at - start_at}))
    return 0


def run_tenants(args, shares):
    """Runs one tenant per share (None: no slice) over one window; returns their step rates."""
    procs = []
    for i, share in enumerate(shares):
        env = dict(os.environ)
        if share is not None:
            env.update({"LD_PRELOAD": args.lib, "VXPU_COMPUTE": f"{share:g}",
                        "VXPU_SLICE": f"gpu-share-{os.getpid()}-{i}"})
        cmd = [sys.executable, __file__, "tenant", "--workload", args.workload]
        procs.append(subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    for p in procs:
        if p.stdout.readline().strip() != "ready":
            raise SystemExit(f"FAIL a tenant did not start (exit {p.wait()})")
    start_at = time.time() + 0.5
    for p in procs:
        p.stdin.write(f"{start_at!r} {start_at + args.seconds!r}\n")
        p.stdin.flush()
    rates = []
    for p in procs:
        out, _ = p.communicate()
        lines = out.strip().splitlines()
        report = json.loads(lines[-1]) if lines else {}
        if p.returncode != 0 or "steps" not in report:
            raise SystemExit(f"FAIL tenant exited {p.returncode}: {out.strip()}")
        rates.append(report["steps"] / report["seconds"])
    return rates


def parse_shares(text):
    try:
        shares = [float(s) for s in text.split(",")]
    except ValueError:
        raise SystemExit(f"--shares: bad split {text!r} (want percentages like 30,70)")
    if not all(0 < s <= 100 for s in shares) or sum(shares) > 100:
        raise SystemExit(f"--shares: bad split {text!r} (each in (0, 100], at most 100 in all)")
    return shares


def split(args, alone, shares):
    rates = run_tenants(args, shares)
    ratios = [r / alone for r in rates]
    achieved = [100.0 * x / sum(ratios) for x in ratios]
    errors = [abs(a - s) for a, s in zip(achieved, shares)]
    result = {"workload": args.workload, "shares": shares, "achieved": [round(a, 2) for a in achieved],
              "max_error_points": round(max(errors), 2), "aggregate_throughput": round(sum(ratios), 3),
              "steps_per_second_alone": round(alone, 1), "seconds": args.seconds}
    ok = max(errors) <= args.tolerance
    label = "/".join(f"{s:g}" for s in shares)
    print(f"{'PASS' if ok else 'FAIL'} compute split {label} ({args.workload}): achieved "
          f"{' / '.join(f'{a:.1f}' for a in achieved)}, max error {max(errors):.2f} points, "
          f"aggregate throughput {100 * sum(ratios):.1f}% of one tenant alone", flush=True)
    print(json.dumps(result), flush=True)
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("split", help="measure a split against one tenant alone")
    s.add_argument("--lib", required=True, help="path to libvxpu.so")
    s.add_argument("--shares", nargs="+", default=["30,70"], help="splits: compute shares in percent, one tenant each")
    s.add_argument("--workload", default="matmul", choices=["matmul", "train"])
    s.add_argument("--seconds", type=float, default=10.0, help="length of the measured window")
    s.add_argument("--tolerance", type=float, default=3.0, help="allowed error in points")
    t = sub.add_parser("tenant", help="(internal) one tenant")
    t.add_argument("--workload", required=True, choices=["matmul", "train"])
    args = parser.parse_args()
    if args.command == "tenant":
        return tenant(args)
    if not os.path.exists(args.lib):
        raise SystemExit(f"--lib: no such file: {args.lib}")
    if not 1.0 <= args.seconds <= 600.0:
        raise SystemExit(f"--seconds: {args.seconds} is out of range (1-600)")
    splits = [parse_shares(text) for text in args.shares]
    alone = run_tenants(args, [None])[0]
    results = [split(args, alone, shares) for shares in splits]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
