#!/usr/bin/env bash
# The README's test command: sets up what is missing and runs the whole test
# suite (the Swift tests last, so their summary closes the output).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests
swift test --skip-build
