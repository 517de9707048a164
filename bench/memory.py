#!/usr/bin/env python3
"""Peak memory per case: fleetform's own peak resident set, one run of
each case's fleetform command at the size its section reports.

Memory does not depend on what else the machine runs (times do), so this
table can be measured apart from the timed runs, and it is: the timed
sections keep the times of their quiet run.

How a peak is taken (`peak_rss`): the process's `VmHWM` (its high-water
mark, which starts afresh when it execs) is read from `/proc/PID/status`
every 2 ms while it runs; the last reading misses at most the growth of
its last 2 ms. The kernel's `ru_maxrss` is not used: Python starts the
process by vfork and exec, and the exec keeps the parent's high-water
mark in it (measured: `fleetform --version` read 26 MB under this
script's Python, 1,526 MB under one holding 1.5 GB), and with children
(Terraform, git) it would be the largest of them. Whether children ran
is still said.

    memory.py --fleetform BIN --work DIR --results FILE --tfrc FILE
              [--moto BIN] [--cases 2,3,4,8,9,12]

Case 11 runs inside the test harness (`bench/github.py`): its rows carry
their own peak (`peak_rss_kb`, the largest fleetform run) from the next
run of that case.

Writes its section into FILE between `<!-- memory -->` markers.
"""

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
import drift_causes  # noqa: E402
import impact  # noqa: E402
import records  # noqa: E402
from providers import write_section  # noqa: E402

MARK = "<!-- memory -->"
SAMPLE_S = 0.002


def _hwm_kb(pid):
    """VmHWM of a live process in KiB, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _has_children(pid):
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                if f.read().strip():
                    return True
    except OSError:
        return False
    return False


def peak_rss(cmd, cwd=None, env=None, ok=(0,)):
    """(bytes, how): fleetform's own peak resident set over one run."""
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = {"hwm": 0, "children": False}
    done = threading.Event()

    def sample():
        while not done.is_set():
            kb = _hwm_kb(p.pid)
            if kb:
                seen["hwm"] = max(seen["hwm"], kb)
            if not seen["children"] and _has_children(p.pid):
                seen["children"] = True
            time.sleep(SAMPLE_S)

    sampler = threading.Thread(target=sample)
    sampler.start()
    err = []
    reader = threading.Thread(target=lambda: err.append(p.stderr.read()))
    reader.start()
    _, status, _ = os.wait4(p.pid, 0)
    done.set()
    sampler.join()
    reader.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in ok:
        lines = (err[0] or b"").decode(errors="replace").strip().splitlines()
        raise bench.Failed(f"{bench.short(cmd)} exited {p.returncode}: {' / '.join(lines[-3:])}")
    if not seen["hwm"]:
        raise bench.Failed(f"{bench.short(cmd)} ended before its memory could be read")
    return seen["hwm"] * 1024, "own, sampled (children ran)" if seen["children"] else "own, sampled (no child)"


def case2(a):
    dest, meta = bench.fleet(a, "n10000", 10000)
    out = os.path.join(a.scratch, "mem-render")
    bench.rm(out)
    cmd = [a.fleetform, "-C", "manager", "-q", "render", "--all", "--out", out]
    return "2", f"`render --all`, {bench.fmt_n(meta['pairs'])} pairs", peak_rss(cmd, cwd=dest)


def case3(a):
    n = 200
    src, meta = bench.fleet(a, f"plan{n}", n, plan=True)
    dest = os.path.join(a.scratch, f"mem-plan{n}")
    bench.rm(dest)
    shutil.copytree(src, dest)
    env = dict(os.environ, TF_CLI_CONFIG_FILE=a.tfrc, TF_IN_AUTOMATION="1", TF_INPUT="0",
               CHECKPOINT_DISABLE="1")
    out = os.path.join(a.scratch, "mem-plan-out")
    cmd = [a.fleetform, "-C", "manager", "-q", "plan", "--all", "--jobs", "2", "--out", out]
    return "3", f"`plan --all --jobs 2`, {meta['pairs']} pairs with Terraform", peak_rss(cmd, cwd=dest, env=env)


def case4(a):
    n = 10000
    mgr = os.path.join(bench.matrix_fleet(a, n), "manager")
    return "4", f"`matrix`, {bench.fmt_n(n)} customers", peak_rss([a.fleetform, "matrix"], cwd=mgr)


def case8(a):
    dest, meta = impact.repo(a, 10000)
    cmd = [a.fleetform, "-C", "manager", "-q", "impact", "--base", "HEAD", "--json"]
    return "8", f"`impact --base HEAD`, {bench.fmt_n(meta['pairs'])} pairs", peak_rss(cmd, cwd=dest)


def case9(a):
    n = 10000
    log = open(os.path.join(a.scratch, "moto.log"), "w")
    moto, port, _ = records.start_seeded(a.moto, log, n)
    try:
        mdir = records.manager(a, port)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
               "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "AWS_EC2_METADATA_DISABLED": "true", "NO_COLOR": "1"}
        cmd = [a.fleetform, "-q", "audit", "report", "--records", "--json"]
        return "9", f"`audit report --records`, {bench.fmt_n(n)} records in S3", peak_rss(cmd, cwd=mdir, env=env)
    finally:
        moto.kill()
        moto.wait()
        log.close()


def case12(a):
    cmd, manager, env, pairs = drift_causes.setup(a, 2000)
    bench.rm(os.path.join(manager, ".fleetform", "records", "drift-causes"))
    return "12", f"`drift --from-reports`, {bench.fmt_n(pairs)} drifted pairs", peak_rss(cmd, cwd=manager, env=env, ok=(4,))


CASES = {"2": case2, "3": case3, "4": case4, "8": case8, "9": case9, "12": case12}


def section(rows):
    lines = [
        MARK, "", "## Peak memory per case", "",
        "Method: `bench/memory.py` (`bash bench/run.sh --memory-only`), one run of each case's "
        "fleetform command at the size of its section, on the static release build: fleetform's own "
        "high-water mark (`VmHWM`), sampled every 2 ms (the kernel's `ru_maxrss` of a process Python starts "
        "holds the Python's own high-water mark too; with children, theirs). Cases 1, 7 and 10 report theirs in "
        "their own sections; case 11's tables have a column of their own (the largest fleetform run of the "
        "test build). Memory does not depend on the machine's "
        "load, so this table is measured apart from the timed runs.", "",
        "| case | run | fleetform's peak RSS | how |", "|---:|---|---:|---|",
    ]
    for case, what, (rss, how) in rows:
        lines.append(f"| {case} | {what} | {rss / 1024 / 1024:.0f} MB | {how} |")
    lines += ["", MARK, ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fleetform", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--tfrc", required=True)
    ap.add_argument("--moto", default=os.path.join(bench.ROOT, ".venv", "bin", "moto_server"))
    ap.add_argument("--cases", default=",".join(CASES))
    a = ap.parse_args()
    for k in ("fleetform", "work", "results", "tfrc", "moto"):
        setattr(a, k, os.path.abspath(getattr(a, k)))
    os.makedirs(a.work, exist_ok=True)
    a.scratch = os.path.join(a.work, "memory-scratch")
    bench.rm(a.scratch)
    os.makedirs(a.scratch)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    try:
        for c in a.cases.split(","):
            if c not in CASES:
                raise SystemExit(f"error: no memory run for case {c} (cases: {', '.join(CASES)})")
            bench.log(f"memory: case {c}")
            row = CASES[c](a)
            bench.log(f"memory: case {c}: {row[2][0] / 1024 / 1024:.0f} MB ({row[2][1]})")
            rows.append(row)
    except bench.Failed as e:
        raise SystemExit(f"error: {e}")
    finally:
        bench.rm(a.scratch)
    text = section(rows)
    bench.log(f"memory measured from {started}")
    write_section(a.results, text, MARK)
    print(text)


if __name__ == "__main__":
    main()
