#!/usr/bin/env python3
"""Runs one command and measures it (used by scripts/bench-big.sh; not run in CI).

usage: bench_big_run.py OUT.json -- COMMAND ARGS...
Samples /proc/PID/status (RssAnon, RssFile) and /proc/PID/io (rchar: bytes through read()/pread(),
page cache hits included; read_bytes: bytes fetched from storage, page faults of mapped files
included) every 50 ms while the command runs; writes {"wall_s", "peak_anon_b", "peak_file_b",
"read_b", "storage_b", "exit"} to OUT.json and exits with the command's status. The command's
stdout/stderr pass through.
"""
import json, os, subprocess, sys, time

def sample(pid):
    anon = file_ = rchar = storage = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"): anon = int(line.split()[1]) * 1024
                elif line.startswith("RssFile:"): file_ = int(line.split()[1]) * 1024
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("rchar:"): rchar = int(line.split()[1])
                elif line.startswith("read_bytes:"): storage = int(line.split()[1])
    except OSError:
        pass
    return anon, file_, rchar, storage

def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print("usage: bench_big_run.py OUT.json -- COMMAND ARGS...", file=sys.stderr); sys.exit(2)
    out, cmd = sys.argv[1], sys.argv[3:]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd)
    peak_anon = peak_file = read = storage = 0
    while p.poll() is None:
        a, f, r, d = sample(p.pid)
        if a is not None: peak_anon = max(peak_anon, a)
        if f is not None: peak_file = max(peak_file, f)
        if r is not None: read = max(read, r)
        if d is not None: storage = max(storage, d)
        time.sleep(0.05)
    wall = time.monotonic() - t0
    json.dump({"wall_s": wall, "peak_anon_b": peak_anon, "peak_file_b": peak_file, "read_b": read, "storage_b": storage,
               "exit": p.returncode}, open(out, "w"))
    sys.exit(p.returncode)

main()
