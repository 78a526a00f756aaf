#!/usr/bin/env bash
# bench-onednn.sh — the measurement behind the bf16 engine's choice of matrix product (SPEC.md §4.9,
# BENCHMARKS.md "bf16 matrix products"): Debian's oneDNN 2.6 bf16 matmul (scripts/onednn/
# bench_onednn.cpp: weights read in place, weights reordered once into oneDNN's layout, and f32)
# and our AVX512-BF16 kernel (scripts/onednn/bench_ours.c around Sources/CHxa079Kernels/
# isa_avx512bf16.c) on the same shapes, back to back, with /proc/loadavg before each.
#
# Usage: scripts/bench-onednn.sh
# Needs: Debian's libdnnl-dev (`apt-get install libdnnl-dev`; not a dependency of the package),
#        g++ and clang, a CPU with AVX512-BF16. Builds into a temporary directory, removed at the end.
# Exit status: 0 done, 2 a tool or library is missing (named on stderr), else the failing step's.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
[[ -f /usr/include/dnnl.hpp ]] || { echo "bench-onednn.sh: oneDNN headers not found (apt-get install libdnnl-dev)" >&2; exit 2; }
command -v g++ >/dev/null || { echo "bench-onednn.sh: g++ not found" >&2; exit 2; }
command -v clang >/dev/null || { echo "bench-onednn.sh: clang not found" >&2; exit 2; }
D="$(mktemp -d "${TMPDIR:-/tmp}/hxa079-onednn.XXXXXX")"
trap 'rm -rf "$D"' EXIT
g++ -O2 -std=c++17 scripts/onednn/bench_onednn.cpp -ldnnl -o "$D/bench_onednn"
clang -O2 -I Sources/CHxa079Kernels/include -I Sources/CHxa079Kernels scripts/onednn/bench_ours.c \
    Sources/CHxa079Kernels/isa_avx512bf16.c -lpthread -lm -o "$D/bench_ours"
export OMP_NUM_THREADS=2
echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(nproc) cores; oneDNN $(dpkg-query -W -f '${Version}' libdnnl-dev 2>/dev/null || echo '?')"
"$D/bench_onednn" --check
echo "== oneDNN's implementation (ONEDNN_VERBOSE=1, 128×1024×1024)"
ONEDNN_VERBOSE=1 "$D/bench_onednn" 128 1024 1024 | grep -E ',(info|exec),' | cut -d, -f2-8 | sort | uniq -c
echo "== oneDNN; /proc/loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
"$D/bench_onednn"
echo "== ours; /proc/loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
"$D/bench_ours"
echo "== end; /proc/loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
