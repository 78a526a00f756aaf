#!/usr/bin/env python3
"""Keeps the committed notebooks free of outputs.

    scripts/strip-notebooks.py [--check] [NOTEBOOK.ipynb ...]

Without arguments it handles every Notebooks/*.ipynb. Default mode strips in
place: removes every code cell's outputs, resets its execution_count to null,
drops per-cell execution metadata (timings, collapsed/scrolled state) and
reduces the notebook's language_info to its name.
--check changes nothing and exits 1 if a notebook still carries any of those
(run by scripts/notebooks.sh before executing anything).

Standard library only, so it runs without the notebooks' venv.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VOLATILE_META = ("execution", "collapsed", "scrolled", "ExecuteTime")


def problems(nb: dict) -> list[str]:
    out = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            out.append(f"cell {i}: {len(cell['outputs'])} output(s)")
        if cell.get("execution_count") is not None:
            out.append(f"cell {i}: execution_count {cell['execution_count']}")
        meta = [k for k in VOLATILE_META if k in cell.get("metadata", {})]
        if meta:
            out.append(f"cell {i}: metadata {meta}")
    return out


def strip(nb: dict) -> dict:
    # what executing or saving adds at notebook level (kernel version details)
    if "language_info" in nb.get("metadata", {}):
        nb["metadata"]["language_info"] = {"name": nb["metadata"]["language_info"].get("name", "python")}
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        cell["outputs"] = []
        cell["execution_count"] = None
        for k in VOLATILE_META:
            cell.get("metadata", {}).pop(k, None)
    return nb


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"] or sorted((ROOT / "Notebooks").glob("*.ipynb"))
    status = 0
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        found = problems(nb)
        if check:
            if found:
                status = 1
                print(f"{path}: has outputs ({'; '.join(found[:5])}{' …' if len(found) > 5 else ''}); "
                      f"run scripts/strip-notebooks.py", file=sys.stderr)
        elif found:
            text = json.dumps(strip(nb), indent=1, ensure_ascii=False, sort_keys=True) + "\n"
            path.write_text(text, encoding="utf-8")
            print(f"stripped {path}")
    if check and status == 0:
        print(f"notebooks clean: {len(paths)} checked")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
