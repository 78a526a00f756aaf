#!/usr/bin/env bash
# Builds and tests Examples/FastEngineConsumer: a separate package that
# depends on this one by path and tests the fast path as an outside engine
# would, through Hxa079Oracle's assertion helpers, against the committed
# fixtures. CI calls it; it works from a clean clone.
#
# Debug on purpose: measured on the 2-core build machine, a clean debug build
# plus the tests costs about half the CPU time of a release build (debug:
# build ~28 s CPU, tests ~9 s; release: build ~73 s CPU, tests ~2 s).
# The example's build stays in its own folder (Examples/FastEngineConsumer/.build,
# git-ignored by `.build/`), apart from the main package's.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"          # libopenblas-dev, for Hxa079Fast
cd "$root/Examples/FastEngineConsumer"
start=$SECONDS
swift build --scratch-path .build --build-tests
built=$SECONDS
swift test --scratch-path .build --skip-build
echo "example-consumer: build $((built - start)) s, test $((SECONDS - built)) s" >&2
