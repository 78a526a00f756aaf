# Shared by the scripts (sourced, not run): the Python venv and the CLI.
#
#   hxa079_venv     sets VENV to $HXA079_VENV or <repo>/.venv, creating it with ${PYTHON:-python3} if missing
#   hxa079_binary   sets BIN to $HXA079_BIN if given, else builds `hxa079` (debug, default
#                   scratch path) and uses that; exits 2 if there is no executable

hxa079_venv() {
    VENV="${HXA079_VENV:-$ROOT/.venv}"
    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "== creating venv $VENV"
        "${PYTHON:-python3}" -m venv "$VENV"
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
