"""PyTorch under a vxpu memory slice, on a real GPU.

Run under libvxpu.so with VXPU_MEMORY set (tests/gpu/run.sh does it). Checks that
torch.cuda.mem_get_info() shows the slice, that allocating past it raises PyTorch's normal
out-of-memory error, and that freeing makes room again. Prints one PASS/FAIL line per check.
"""
import os
import sys

import torch

GIB = 1 << 30


def check(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    return ok


def main():
    limit = int(sys.argv[1])
    mode = os.environ.get("PYTORCH_CUDA_ALLOC_CONF", "default allocator")
    results = []
    free, total = torch.cuda.mem_get_info()
    results.append(check(f"[{mode}] mem_get_info shows the slice", total == limit, f"total={total} free={free}"))

    half = torch.empty(limit // 2, dtype=torch.uint8, device="cuda")
    try:
        too_much = torch.empty(limit, dtype=torch.uint8, device="cuda")
        results.append(check(f"[{mode}] allocation past the slice is refused", False, "it succeeded"))
        del too_much
    except torch.cuda.OutOfMemoryError as error:
        results.append(check(f"[{mode}] allocation past the slice is refused", True, str(error).splitlines()[0]))

    del half
    torch.cuda.empty_cache()
    again = torch.empty(limit * 3 // 4, dtype=torch.uint8, device="cuda")
    results.append(check(f"[{mode}] freeing makes room again", again.numel() == limit * 3 // 4))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
