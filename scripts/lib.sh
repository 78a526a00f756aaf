# Shared by the scripts (sourced, not run): the Python venv and the CLI.
#
#   hxa079_venv     sets VENV to $HXA079_VENV or <repo>/.venv, creating it with ${PYTHON:-python3} if missing
#   hxa079_numpy    hxa079_venv, then installs numpy and safetensors into it if missing
#   hxa079_torch    hxa079_venv with PyTorch (the /opt/wheels CPU wheel when present), safetensors, numpy; sets PY
#   hxa079_binary   sets BIN to $HXA079_BIN if given, else builds `hxa079` (debug, default
#                   scratch path) and uses that; exits 2 if there is no executable

hxa079_venv() {
    VENV="${HXA079_VENV:-$ROOT/.venv}"
    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "== creating venv $VENV"
        "${PYTHON:-python3}" -m venv "$VENV"
    fi
}

# hxa079_numpy: hxa079_venv, with numpy and safetensors installed into it if missing.
hxa079_numpy() {
    hxa079_venv
    if ! "$VENV/bin/python" -c "import numpy, safetensors" 2>/dev/null; then
        echo "== installing numpy safetensors"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check numpy safetensors
    fi
}

# hxa079_torch: hxa079_venv, then PyTorch installed into it unless it imports already:
# $HXA079_TORCH if set, else the CPU wheel for this Python in ${HXA079_WHEELS:-/opt/wheels}, else
# PyPI's "torch"; then safetensors and numpy. Sets PY to the venv's python.
hxa079_torch() {
    hxa079_venv
    PY="$VENV/bin/python"
    if ! "$PY" -c 'import torch' 2>/dev/null; then
        local torch="${HXA079_TORCH:-}" tag start
        if [[ -z "$torch" ]]; then
            tag=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
            torch=$(ls "${HXA079_WHEELS:-/opt/wheels}"/torch-*+cpu-"$tag"-"$tag"-*linux*_"$(uname -m)".whl 2>/dev/null | sort -V | tail -1 || true)
            torch="${torch:-torch}"
        fi
        echo "== pip install $torch"
        start=$(date +%s)
        "$VENV/bin/pip" install --quiet --disable-pip-version-check "$torch"
        echo "   installed in $(( $(date +%s) - start ))s"
    fi
    if ! "$PY" -c 'import safetensors, numpy' 2>/dev/null; then
        "$VENV/bin/pip" install --quiet --disable-pip-version-check safetensors numpy
    fi
}

hxa079_binary() {
    if [[ -n "${HXA079_BIN:-}" ]]; then
        BIN="$HXA079_BIN"
    else
        echo "== swift build --product hxa079"
        swift build --product hxa079
        BIN="$(swift build --show-bin-path)/hxa079"
    fi
    [[ -x "$BIN" ]] || { echo "hxa079 executable not found: $BIN" >&2; exit 2; }
}

# libFuzzer drivers (scripts/fuzz-*.sh):
#   fuzz_limit ARG                      sets LIMIT to -runs=N (ARG "N") or -max_total_time=S (ARG "Ss"); exits 2 otherwise
#   fuzz_build PRODUCT CONFIG DIR       builds PRODUCT (debug|release) into .build-fuzz with
#                                       -sanitize=fuzzer,address -parse-as-library -DFUZZING, log in DIR/build.log; sets FUZZ_BIN
#   fuzz_run DIR ARGS…                  runs FUZZ_BIN with LIMIT, ARGS and DIR/{artifacts,queue,seeds}, prints
#                                       libFuzzer's final statistics; exits with libFuzzer's status when it found a problem

fuzz_limit() {
    if [[ "$1" =~ ^([0-9]+)s$ ]]; then
        LIMIT=(-max_total_time="${BASH_REMATCH[1]}")
    elif [[ "$1" =~ ^[0-9]+$ ]]; then
        LIMIT=(-runs="$1")
    else
        echo "usage: $0 [RUNS | SECONDSs]" >&2
        exit 2
    fi
}

fuzz_build() {
    local product=$1 config=$2 dir=$3
    mkdir -p "$dir/seeds" "$dir/queue" "$dir/artifacts"
    echo "== building $product ($config; fuzzer + address sanitizer; log: $dir/build.log)"
    # The linker prints hundreds of harmless "Cannot export local symbol
    # '__asan_check_*'" warnings, so the build output goes to a log.
    if ! swift build -c "$config" --product "$product" --scratch-path .build-fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING \
        >"$dir/build.log" 2>&1; then
        grep -v "Cannot export local symbol" "$dir/build.log" | tail -n 40 >&2
        echo "build failed" >&2
        exit 1
    fi
    FUZZ_BIN=.build-fuzz/$config/$product
}

fuzz_run() {
    local dir=$1; shift
    local log=$dir/last-run.log status start elapsed runs
    echo "== fuzzing (${LIMIT[*]})"
    start=$(date +%s)
    set +e
    SWIFT_BACKTRACE=enable=no "$FUZZ_BIN" "${LIMIT[@]}" "$@" \
        -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
        "$dir/queue" "$dir/seeds" >"$log" 2>&1
    status=$?
    set -e
    elapsed=$(( $(date +%s) - start ))
    echo "== libFuzzer summary (full log: $log)"
    grep -E '^(INFO: Seed|#[0-9]+ +DONE|Done [0-9]+ runs|stat::|==[0-9]+==ERROR|SUMMARY|Test unit written)' "$log" \
        | awk '!seen[$0]++' || true
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    echo "wall time: ${elapsed}s; executions: ${runs:-?}; mean exec/s: $(( ${runs:-0} / (elapsed > 0 ? elapsed : 1) )); date: $(date -u +%Y-%m-%dT%H:%MZ)"
    if [[ $status -ne 0 ]]; then
        echo "FUZZING FOUND A PROBLEM (exit $status); artifacts in $dir/artifacts/" >&2
        exit "$status"
    fi
    echo "OK: no crashes"
}
