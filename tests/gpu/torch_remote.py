"""PyTorch on a remote vXPU, for the GPU suite (tests/gpu/run.sh runs it through
tests/gpu/remote_session.py, so that torch's CUDA runtime finds the remote client's libcuda.so.1).

Steps, each one PASS/FAIL line, stopping at the first failure and saying where: CUDA seen, a
tensor's round trip, a matmul checked against the CPU, a few training steps of a small model
whose loss must fall. cuBLAS asks the driver for private tables cudart does not; if the client
refuses one, its stderr names the table (`export table ... is not served`), which is where a
matmul stops.
"""
import sys

import torch


def check(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} torch remote: {name}{': ' + detail if detail else ''}", flush=True)
    return ok


def main():
    if not check("CUDA available", torch.cuda.is_available(), f"torch {torch.__version__}, cuda {torch.version.cuda}"):
        return 1
    check("device", True, torch.cuda.get_device_name(0))
    host = torch.arange(1 << 20, dtype=torch.float32)
    back = host.to("cuda").mul(2).cpu()
    if not check("tensor round trip", torch.equal(back, host * 2)):
        return 1
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    try:
        product = (a.cuda() @ b.cuda()).cpu()
    except RuntimeError as e:
        return 0 if check("matmul (cuBLAS)", False, str(e).splitlines()[0]) else 1
    if not check("matmul (cuBLAS)", torch.allclose(product, a @ b, rtol=1e-3, atol=1e-3)):
        return 1
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 1)).cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    x = torch.randn(256, 64, device="cuda")
    y = x.sum(dim=1, keepdim=True)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return 0 if check("training steps", losses[-1] < losses[0], f"loss {losses[0]:.3f} -> {losses[-1]:.3f}") else 1


if __name__ == "__main__":
    sys.exit(main())
