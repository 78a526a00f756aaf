#!/usr/bin/env bash
# Executes the notebooks under Notebooks/ headless and writes their figures.
#
#   scripts/notebooks.sh                 check, then execute every Notebooks/*.ipynb
#   scripts/notebooks.sh 02 03           execute only the notebooks whose names start so
#   scripts/notebooks.sh --check         only check that the committed notebooks carry no outputs
#
# Steps: (1) fail if a committed notebook has outputs or execution counts
# (scripts/strip-notebooks.py --check; strip with scripts/strip-notebooks.py);
# (2) create/use the venv <repo>/.venv and install Notebooks/requirements.txt
# into it, registering its ipykernel as "hxa079-venv" inside the venv;
# (3) build the CLI (`swift build --product hxa079`, default scratch path)
# unless HXA079_BIN is set; (4) execute each notebook with nbclient on a copy
# (the committed .ipynb are never written), in Notebooks/ as working directory.
# Exits 1 if any cell raises (a failed assertion included), 2 on setup errors.
# The notebooks write their PNG figures to Notebooks/figures/ (byte-stable for
# a given CLI build). Notebook 02's sequence lengths depend on the build: the
# committed figures come from a release build (T ≤ 4096, as scripts/test.sh
# runs it); with the default debug build it uses T ≤ 1024 to stay near 2 min,
# and rewrites the 02 figures accordingly.
#
# Environment:
#   HXA079_BIN      hxa079 executable to use instead of building one (relative
#                   paths are taken from the caller's directory)
#   HXA079_VENV     venv directory (default <repo>/.venv)
#   PYTHON          interpreter that creates the venv (default python3)
#   HXA079_NB_OUT   keep the executed notebooks (with outputs) in this directory
#   HXA079_NB_TMAX, HXA079_NB_TCHUNK  sequence lengths of notebook 02 (its
#                   defaults depend on whether HXA079_BIN is a release build)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -n "${HXA079_BIN:-}" && "$HXA079_BIN" != /* ]]; then
    HXA079_BIN="$PWD/$HXA079_BIN"
fi
if [[ -n "${HXA079_NB_OUT:-}" && "$HXA079_NB_OUT" != /* ]]; then
    HXA079_NB_OUT="$PWD/$HXA079_NB_OUT"
fi
cd "$ROOT"
START=$(date +%s)

CHECK_ONLY=0
SELECT=()
for arg in "$@"; do
    case "$arg" in
        --check) CHECK_ONLY=1 ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        -*) echo "notebooks.sh: unknown option $arg" >&2; exit 2 ;;
        *) SELECT+=("$arg") ;;
    esac
done

echo "== committed notebooks carry no outputs"
"${PYTHON:-python3}" scripts/strip-notebooks.py --check
[[ $CHECK_ONLY == 1 ]] && exit 0

source "$ROOT/scripts/lib.sh"
hxa079_venv
# Reinstall only when requirements.txt changed since the last install into this venv.
REQ="$ROOT/Notebooks/requirements.txt"
STAMP="$VENV/.hxa079-notebooks-requirements"
if [[ ! -f "$STAMP" ]] || ! cmp -s "$REQ" "$STAMP"; then
    echo "== pip install -r Notebooks/requirements.txt"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
    cp "$REQ" "$STAMP"
fi
KERNEL=hxa079-venv
if [[ ! -f "$VENV/share/jupyter/kernels/$KERNEL/kernel.json" ]]; then
    "$VENV/bin/python" -m ipykernel install --sys-prefix --name "$KERNEL" \
        --display-name "Python (hxa079 .venv)" >/dev/null
fi

hxa079_binary

echo "== executing notebooks (CLI $BIN)"
status=0
HXA079_ROOT="$ROOT" HXA079_BIN="$BIN" MPLBACKEND=Agg NB_KERNEL="$KERNEL" \
JUPYTER_PLATFORM_DIRS=1 PYDEVD_DISABLE_FILE_VALIDATION=1 \
"$VENV/bin/python" - "${SELECT[@]}" <<'PY' || status=$?
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

root = Path(os.environ["HXA079_ROOT"])
nbdir = root / "Notebooks"
notebooks = sorted(nbdir.glob("*.ipynb"))
if sys.argv[1:]:
    notebooks = [p for p in notebooks if any(p.name.startswith(s) for s in sys.argv[1:])]
    if not notebooks:
        sys.exit(f"no notebook matches {sys.argv[1:]}")
keep = os.environ.get("HXA079_NB_OUT")
if keep:
    Path(keep).mkdir(parents=True, exist_ok=True)

failed = []
for path in notebooks:
    t0 = time.time()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name=os.environ["NB_KERNEL"], timeout=1200,
                            resources={"metadata": {"path": str(nbdir)}})
    try:
        client.execute()
        print(f"ok    {path.name}  ({time.time() - t0:.1f}s)", flush=True)
    except CellExecutionError as e:
        failed.append(path.name)
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))   # IPython's colours
        print(f"FAIL  {path.name}  ({time.time() - t0:.1f}s)\n{text}", flush=True)
    except Exception as e:  # kernel died, timeout, …
        failed.append(path.name)
        print(f"FAIL  {path.name}: {type(e).__name__}: {e}", flush=True)
    finally:
        if keep:
            nbformat.write(nb, str(Path(keep) / path.name))
print(f"{len(notebooks) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
PY
echo "== notebooks done in $(( $(date +%s) - START ))s (exit $status)"
exit $status
