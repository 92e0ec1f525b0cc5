#!/usr/bin/env bash
# Regenerates sim_kernels.ptx from sim_kernels.cu. The PTX ISA version is lowered to 7.0 and
# the target to sm_70 so that drivers from CUDA 11 on can JIT it (these kernels use nothing newer).
set -euo pipefail
cd "$(dirname "$0")"
nvcc -ptx -arch=compute_75 -o sim_kernels.ptx sim_kernels.cu
sed -i -e 's/^\.version .*/.version 7.0/' -e 's/^\.target .*/.target sm_70/' sim_kernels.ptx
