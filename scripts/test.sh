#!/usr/bin/env bash
# The README's test command: sets up what is missing and runs the whole test
# suite. The Swift tests are built in release mode with testing enabled: the
# property suite pushes 8192 tokens through the readable reference, which is
# ~30× slower in a debug build. They run last, so their summary closes the output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
SWIFT_TEST_FLAGS=(-c release -Xswiftc -enable-testing)
swift build "${SWIFT_TEST_FLAGS[@]}" --build-tests
swift test "${SWIFT_TEST_FLAGS[@]}" --skip-build
