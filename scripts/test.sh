#!/usr/bin/env bash
# The README's test command: sets up what is missing and runs every check.
#
# 1. the Swift package, built once in release mode with testing enabled (the
#    property suite pushes 8192 tokens through the readable reference, ~30×
#    slower in a debug build);
# 2. Python checks against that build: safetensors interop with Python's
#    `safetensors`, the independent NumPy implementation, the .pth converter
#    (PyTorch installed into the venv; HXA079_PTH_CHECK=0 skips it), the notebooks;
# 3. the example consumer package (depends on this one by path);
# 4. `swift test` last, so its summary closes the output (the fast-path tests
#    run there at every kernel level this CPU supports, FastKernels.withLevel).
set -euo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
bash scripts/setup.sh
FLAGS=(-c release -Xswiftc -enable-testing)
echo "== swift build ${FLAGS[*]} --build-tests"
swift build "${FLAGS[@]}" --build-tests
export HXA079_BIN="$(swift build "${FLAGS[@]}" --show-bin-path)/hxa079"

echo "== safetensors interop with Python"
SWIFT_TEST_FLAGS="${FLAGS[*]} --skip-build" bash scripts/interop-check.sh
echo "== independent NumPy implementation"
bash scripts/independent-check.sh
echo "== independent bf16/f16 engine against compare --profile (issue 19 acceptance)"
bash scripts/lowp-check.sh
# The .pth converter round trip with PyTorch in the venv (a CPU wheel from /opt/wheels when the
# machine has one, else PyPI's; HXA079_PTH_CHECK=0 skips it, e.g. offline).
if [[ "${HXA079_PTH_CHECK:-1}" != 0 ]]; then
    echo "== .pth converter round trip"; bash scripts/pth-check.sh
else
    echo "== .pth converter round trip skipped (HXA079_PTH_CHECK=0)"
fi
for script in notebooks.sh example-consumer.sh; do
    if [[ -f scripts/$script ]]; then echo "== $script"; bash scripts/$script; fi
done
echo "== python and example checks done in $(( $(date +%s) - START ))s"
swift test "${FLAGS[@]}" --skip-build
