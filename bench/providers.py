#!/usr/bin/env python3
"""Case 7: a fleet plan with a heavy provider.

The test cloud provider (`crates/fakecloud`, release build) padded to about
150 MB is served from a *packed* filesystem mirror (a zip archive), so a
cold `terraform init` unpacks it as it would after a download. fleetform
`plan --all` (four plans per core; providers installed once, every pair linking them
from the plugin cache) runs against the serial shell loop (a fresh copy and
a cold `init` per pair), alternating, at two fleet sizes. Besides the wall
times: the cost of one pair's `init` from the cache against a cold `init`,
and the disk each leaves behind.

    providers.py --fleetform BIN --provider BIN --work DIR --results FILE [--quick]

Writes its section into FILE between `<!-- case 7 -->` markers (the rest of
the file is kept).
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (run_timed, alternate, fleet, rm, log)

ADDRESS = "registry.terraform.io/fleetform/fakecloud"
VERSION = "0.1.0"
PAD_MB = 150
MARK = "<!-- case 7 -->"
# The full run's sizes (customers; 2 pairs each): the goals are set at the
# largest (a --quick run marks them "not run").
FULL_SIZES = [10, 50]

PROVIDERS_TF = """
terraform {
  required_providers {
    fakecloud = { source = "fleetform/fakecloud" }
  }
}

provider "fakecloud" {
  cloud_file = "%s"
}

resource "fakecloud_bucket" "logs" {
  name       = "${var.customer}-${var.environment}-logs"
  versioning = true
}
"""


def packed_mirror(provider, dest):
    """The padded provider as a zip in a packed mirror; returns the CLI config."""
    mirror = os.path.join(dest, "mirror")
    archive_dir = os.path.join(mirror, ADDRESS)
    os.makedirs(archive_dir, exist_ok=True)
    archive = os.path.join(archive_dir, f"terraform-provider-fakecloud_{VERSION}_linux_amd64.zip")
    if not os.path.exists(archive):
        padded = os.path.join(dest, f"terraform-provider-fakecloud_v{VERSION}")
        shutil.copy(provider, padded)
        with open(padded, "ab") as f:
            for _ in range(PAD_MB):
                f.write(os.urandom(1024 * 1024))  # incompressible, like a real binary's bulk
        info = zipfile.ZipInfo(os.path.basename(padded), date_time=(2026, 1, 1, 0, 0, 0))
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        tmp = archive + ".tmp"
        with zipfile.ZipFile(tmp, "w") as z, open(padded, "rb") as src:
            with z.open(info, "w", force_zip64=True) as out:
                shutil.copyfileobj(src, out, 1024 * 1024)
        os.replace(tmp, archive)
        os.remove(padded)
    tfrc = os.path.join(dest, "heavy.tfrc")
    with open(tfrc, "w") as f:
        f.write(
            "provider_installation {\n"
            f"  filesystem_mirror {{\n    path    = {json.dumps(mirror)}\n    include = [\"{ADDRESS}\"]\n  }}\n"
            f"  direct {{\n    exclude = [\"{ADDRESS}\"]\n  }}\n}}\n"
        )
    return tfrc, os.path.getsize(archive)


def disk_used(path):
    """Bytes of the files under `path`, links counted as links."""
    total = 0
    for root, dirs, files in os.walk(path):
        for name in files + dirs:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if not os.path.isdir(os.path.join(root, name)) or os.path.islink(os.path.join(root, name)):
                total += st.st_blocks * 512
    return total


COPIED = re.compile(r"\(init: the run's prepared data dir, copied in ([0-9.]+) ms\)")


def copy_times(out_dir):
    """Seconds each pair of a fleetform run spent on its `init`: the copy of
    the run's prepared data dir, as its terraform.log says."""
    times = []
    for root, _dirs, files in os.walk(out_dir):
        if "terraform.log" in files:
            with open(os.path.join(root, "terraform.log"), errors="replace") as f:
                m = COPIED.search(f.read())
            if m:
                times.append(float(m.group(1)) / 1000)
    return times


def init_costs(module, tfrc, env, scratch, reps=3):
    """Median seconds of a cold `init` and of an `init` from a filled cache."""
    cache = os.path.join(scratch, "init-cache")
    bench.rm(cache)
    os.makedirs(cache)

    def one(cached):
        d = os.path.join(scratch, "init-probe")
        bench.rm(d)
        shutil.copytree(module, d)
        e = dict(env, TF_CLI_CONFIG_FILE=tfrc, TF_DATA_DIR=os.path.join(d, ".terraform"))
        if cached:
            e["TF_PLUGIN_CACHE_DIR"] = cache
            shutil.copy(os.path.join(scratch, "init-lock.hcl"), os.path.join(d, ".terraform.lock.hcl"))
        return bench.run_timed(["terraform", "init", "-backend=false", "-input=false", "-no-color"], cwd=d, env=e)

    # Fill the cache (and keep the lock file it writes) once.
    d = os.path.join(scratch, "init-fill")
    bench.rm(d)
    shutil.copytree(module, d)
    e = dict(env, TF_CLI_CONFIG_FILE=tfrc, TF_PLUGIN_CACHE_DIR=cache, TF_DATA_DIR=os.path.join(d, ".terraform"))
    bench.run_timed(["terraform", "init", "-backend=false", "-input=false", "-no-color"], cwd=d, env=e)
    shutil.copy(os.path.join(d, ".terraform.lock.hcl"), os.path.join(scratch, "init-lock.hcl"))
    cold = statistics.median(one(False) for _ in range(reps))
    warm = statistics.median(one(True) for _ in range(reps))
    return cold, warm


def case(a, sizes, reps):
    env = dict(os.environ, TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1")
    heavy = os.path.join(a.work, "heavy")
    os.makedirs(heavy, exist_ok=True)
    tfrc, archive_bytes = packed_mirror(a.provider, heavy)
    rows = []
    costs = None
    copies = []
    loop = os.path.join(HERE, "peers", "plan-loop.sh")
    shell_render = os.path.join(HERE, "peers", "render-shell.sh")
    for n in sizes:
        src, meta = bench.fleet(a, f"plan{n}", n, plan=True)
        dest = os.path.join(a.scratch, f"heavy{n}-fleet")
        bench.rm(dest)
        shutil.copytree(src, dest)
        cloud = os.path.join(a.scratch, f"heavy{n}-cloud.json")
        with open(os.path.join(dest, "manager", "terraform", "providers.tf"), "w") as f:
            f.write(PROVIDERS_TF % cloud)
        pairs = os.path.join(dest, "pairs.txt")
        varsdir = os.path.join(a.scratch, f"heavy-vars-{n}")
        bench.rm(varsdir)
        subprocess.run(["bash", shell_render, dest, pairs, varsdir, str(os.cpu_count())], check=True)
        if costs is None:
            costs = init_costs(os.path.join(dest, "manager", "terraform"), tfrc, env, a.scratch)
        out_ff = os.path.join(a.scratch, f"heavy-ff-{n}")
        work_sh = os.path.join(a.scratch, f"heavy-sh-{n}")
        e = dict(env, TF_CLI_CONFIG_FILE=tfrc)
        disk = {}
        cpu = []

        def prepare(name):
            if name == "fleetform":
                bench.rm(out_ff)
                bench.rm(os.path.join(dest, "manager", ".fleetform"))
            else:
                bench.rm(work_sh)

        def ff():
            t, own, children = bench.run_cpu_split(
                [a.fleetform, "-C", "manager", "-q", "plan", "--all", "--out", out_ff],
                cwd=dest, env=e)
            cpu.append(own + children)
            disk["fleetform"] = disk_used(out_ff)
            copies.extend(copy_times(out_ff))
            return t

        def sh():
            t = bench.run_timed(["bash", loop, dest, pairs, varsdir, work_sh], env=e)
            disk["serial shell loop"] = disk_used(work_sh)
            return t

        bench.log(f"case 7: {meta['pairs']} pairs with a {archive_bytes / 1e6:.0f} MB packed provider")
        res = bench.alternate([("fleetform", ff), ("serial shell loop", sh)], reps, prepare, warmup=set())
        rows.append({"customers": n, "pairs": meta["pairs"], "reps": reps, "results": res, "disk": dict(disk),
                     "cpu": statistics.median(cpu) if cpu else None})
        bench.rm(out_ff)
        bench.rm(work_sh)
    return {"archive_bytes": archive_bytes, "init_cold": costs[0], "init_cached": costs[1],
            "init_copied": statistics.median(copies) if copies else None, "rows": rows}


def report(c):
    out = [MARK, "", "## Case 7: a fleet plan with a heavy provider", ""]
    out.append(
        "Method: `fleetform plan --all` vs the serial `init && plan` loop, the test cloud's provider padded to a "
        f"{c['archive_bytes'] / 1e6:.0f} MB zip in a packed mirror (every cold `init` unpacks it); disk is what "
        "each leaves behind."
    )
    out += ["", "| pairs | fleetform | serial loop | ratio | fleetform disk | loop disk |", "|---:|---:|---:|---:|---:|---:|"]
    for r in c["rows"]:
        ff, sh = r["results"]["fleetform"], r["results"]["serial shell loop"]
        if isinstance(ff, Exception) or isinstance(sh, Exception):
            out.append(f"| {r['pairs']} | {ff if isinstance(ff, Exception) else ''} | {sh if isinstance(sh, Exception) else ''} | failed | | |")
            continue
        mf, ms = bench.median(ff), bench.median(sh)
        out.append(
            f"| {r['pairs']} | {mf:.1f} s | {ms:.1f} s | {ms / mf:.1f}× | "
            f"{r['disk'].get('fleetform', 0) / 1e6:.0f} MB | {r['disk'].get('serial shell loop', 0) / 1e6:.0f} MB |"
        )
    copied = c["init_copied"]
    share = copied / c["init_cold"] if copied is not None else float("inf")
    out += ["", "Method: one pair's `init`, the median over every pair (from the pairs' logs).", "",
            "| init | time | of a cold init |", "|------|-----:|---------------:|",
            f"| a cold `terraform init` | {c['init_cold']:.2f} s | 100 % |",
            f"| `terraform init` linking from a filled cache | {c['init_cached']:.2f} s | "
            f"{c['init_cached'] / c['init_cold'] * 100:.0f} % |",
            f"| fleetform's per-pair init (a copy of the run's prepared data dir) | "
            + (f"{copied * 1000:.1f} ms | {share * 100:.1f} % |" if copied is not None else "not reported | – |"),
            ""]
    big = max(c["rows"], key=lambda r: r["customers"])
    ff, sh = big["results"]["fleetform"], big["results"]["serial shell loop"]
    ok = not isinstance(ff, Exception) and not isinstance(sh, Exception)
    speed = bench.median(sh) / bench.median(ff) if ok else None
    want = bench.size(FULL_SIZES[-1], "customers")
    there = bench.size(big["customers"], "customers")
    out += bench.goal_table([
        bench.goal_row("case 7: ≥ 5× faster than the serial loop", want, there,
                       f"{speed:.1f}× ({big['pairs']} pairs)" if speed else None, bool(speed and speed >= 5)),
        bench.goal_row("case 7: a pair's init after the first ≤ 10 % of a cold init", want, there,
                       f"{share * 100:.1f} %" if copied is not None else None, share <= 0.10),
    ]) + [""]
    out.append(MARK)
    return "\n".join(out) + "\n"


def write_section(results, section, mark=MARK):
    """Replaces the section between two `mark` lines in FILE (or appends it)."""
    text = open(results).read() if os.path.exists(results) else ""
    if mark in text:
        head, rest = text.split(mark, 1)
        tail = rest.split(mark, 1)[1] if mark in rest else ""
        text = head + section.strip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(results, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fleetform", required=True)
    ap.add_argument("--provider", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    for k in ("fleetform", "provider", "work", "results"):
        setattr(a, k, os.path.abspath(getattr(a, k)))
    a.scratch = os.path.join(a.work, "heavy-scratch")
    bench.rm(a.scratch)
    os.makedirs(a.scratch)
    t0 = time.time()
    try:
        # 2 pairs per generated customer: 10 and 50 customers give 20 and 100 pairs.
        sizes, reps = ([10], 1) if a.quick else (FULL_SIZES, 2)
        c = case(a, sizes, reps)
    finally:
        bench.rm(a.scratch)
    bench.log(f"case 7 took {time.time() - t0:.0f} s")
    section = report(c)
    write_section(a.results, section)
    print(section)


if __name__ == "__main__":
    main()
