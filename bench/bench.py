#!/usr/bin/env python3
"""The benchmark driver behind bench/run.sh (Python standard library only).

Runs fleetform and the tools users would use instead on the same generated
files in the same run, alternating the tools within every repetition (the
order rotates), and reports medians and ratios: a table on stdout and
bench/results.md with the machine description and every tool's version.

Called by run.sh, which builds fleetform and installs the peers:

    bench.py --fleetform BIN --venv DIR --node-modules DIR --work DIR
             --results FILE [--quick] [--budgets FILE]
    bench.py --smoke --fleetform BIN --work DIR --results FILE [--budgets FILE]

--smoke (run.sh --smoke, which tests/check.sh runs) checks that the bench
still runs: case 1 on 50 generated files for fleetform alone and case 6's
table, into FILE; no peers, no venv, nothing installed.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")

# ---------------------------------------------------------------------------
# Running and timing


class Failed(Exception):
    pass


def run_timed(cmd, cwd=None, env=None, ok=(0,), stdout=None):
    """Wall time of one run; fails unless the exit code is in `ok`."""
    t0 = time.perf_counter()
    p = subprocess.run(
        cmd, cwd=cwd, env=env, stdout=stdout or subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    dt = time.perf_counter() - t0
    if p.returncode not in ok:
        err = p.stderr.decode(errors="replace").strip().splitlines()
        raise Failed(f"{short(cmd)} exited {p.returncode}: {' / '.join(err[-3:])}")
    return dt


def run_cpu_split(cmd, cwd=None, env=None, ok=(0,)):
    """Wall time, the process's own CPU time and its children's CPU time.

    The child is waited for with WNOWAIT, so it stays a zombie whose
    /proc/PID/stat still holds its final utime+stime (its own threads) and
    cutime+cstime (every child it waited for: here the terraform runs).
    """
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Drain stderr while waiting so a chatty child never blocks on the pipe.
    import threading

    chunks = []
    reader = threading.Thread(target=lambda: chunks.append(p.stderr.read()))
    reader.start()
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
    dt = time.perf_counter() - t0
    with open(f"/proc/{p.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime..cstime are fields 14..17.
    utime, stime, cutime, cstime = (int(x) / CLK_TCK for x in fields[11:15])
    p.wait()
    reader.join()
    if p.returncode not in ok:
        err = b"".join(c or b"" for c in chunks).decode(errors="replace").strip().splitlines()
        raise Failed(f"{short(cmd)} exited {p.returncode}: {' / '.join(err[-3:])}")
    return dt, utime + stime, cutime + cstime


def short(cmd):
    parts = [os.path.basename(cmd[0])] + [str(c) for c in cmd[1:6]]
    return " ".join(parts) + (" …" if len(cmd) > 6 else "")


def alternate(tools, reps, prepare=None, warmup=None, rewarm=()):
    """Runs each tool `reps` times, alternating (the order rotates every
    repetition), after one untimed warm-up run each. `tools` is a list of
    (name, fn) where fn() returns seconds (or a tuple whose first item is
    seconds). `warmup` limits the warm-up runs to these tools; the tools in
    `rewarm` also get an untimed run right before every timed one (the
    machine drops from its page cache what a minute-long peer left unread:
    the binary, its libraries, the files). Returns {name: [results]} or
    {name: Failed} for a tool that failed."""
    results = {name: [] for name, _ in tools}
    failed = {}
    for name, fn in tools:
        if warmup is not None and name not in warmup:
            continue
        try:
            if prepare:
                prepare(name)
            fn()
        except Failed as e:
            failed[name] = e
    for rep in range(reps):
        order = tools[rep % len(tools):] + tools[: rep % len(tools)]
        for name, fn in order:
            if name in failed:
                continue
            if prepare:
                prepare(name)
            try:
                if name in rewarm:
                    fn()
                    if prepare:
                        prepare(name)
                results[name].append(fn())
            except Failed as e:
                failed[name] = e
    return {n: failed.get(n, results[n]) for n, _ in tools}


def median(xs):
    return statistics.median(x[0] if isinstance(x, tuple) else x for x in xs)


def fmt_s(s):
    if s is None:
        return "–"
    if s < 0.001:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1000:.1f} ms"
    if s < 100:
        return f"{s:.2f} s"
    return f"{s:.0f} s"


def fmt_n(n):
    return f"{n:,}"


def size(n, unit):
    """A size a goal is set at, or a case ran at: `size(10000, "files")` is
    "10,000 files". Two sizes are the same size when their texts are equal."""
    return f"{fmt_n(n)} {unit}"


NOT_RUN = "not run"


def goal_row(goal, goal_size, measured_size, value, ok):
    """One row of a goals table, (goal, result, met), judged only at the
    size the goal is set at.

    `goal` says what is asked ("case 1: validate ≤ 0.3 s"); `goal_size` the
    size it is set at ("10,000 files"), or None for a goal that holds at any
    size (the binary's size); `measured_size` the size this run measured
    (None: nothing measured); `value` what it measured there (text) and `ok`
    whether that meets the goal. A run at another size (--quick, --smoke)
    claims nothing: the row says "not run", with what it did measure shown
    at its own size, unjudged."""
    name = f"{goal}, at {goal_size}" if goal_size else goal
    if value is None or (goal_size is not None and measured_size is None):
        return (name, NOT_RUN, NOT_RUN)
    if goal_size is None or measured_size == goal_size:
        where = f" at {measured_size}" if measured_size else ""
        return (name, f"{value}{where}", "yes" if ok else "**no**")
    return (name, f"{NOT_RUN} (this run: {value} at {measured_size}, unjudged)", NOT_RUN)


def goal_table(rows):
    """The markdown lines of a goals table of `goal_row` rows."""
    out = ["| goal | result | met |", "|------|--------|-----|"]
    out += [f"| {g} | {r} | {m} |" for g, r, m in rows]
    return out


def rm(path):
    if os.path.lexists(path):
        shutil.rmtree(path)


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# The machine and the tools


def capture(cmd, **kw):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)
        return (p.stdout + p.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"


def first_line(s):
    return s.splitlines()[0] if s else s


def npm_version(node_modules, pkg):
    try:
        with open(os.path.join(node_modules, pkg, "package.json")) as f:
            return json.load(f)["version"]
    except OSError:
        return "missing"


def machine(a):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    os_name = platform.platform()
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    py = os.path.join(a.venv, "bin", "python")
    nm = a.node_modules
    tf = capture(["terraform", "version", "-json"])
    try:
        tf = "Terraform " + json.loads(tf)["terraform_version"]
    except (ValueError, KeyError):
        tf = first_line(tf)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "os": f"{os_name}, Linux {platform.release()}",
        "load": open("/proc/loadavg").read().split()[:3],
        "tools": [
            ("fleetform", first_line(capture([a.fleetform, "--version"])) + " (static release build)"),
            ("rustc", capture(["rustc", "--version"])),
            ("terraform", tf),
            ("check-jsonschema", first_line(capture([os.path.join(a.venv, "bin", "check-jsonschema"), "--version"]))),
            ("python (venv)", capture([py, "--version"])),
            ("jsonschema (PyPI, under check-jsonschema)", capture([py, "-c", "import importlib.metadata as m; print(m.version('jsonschema'))"])),
            ("ajv-cli", npm_version(nm, "ajv-cli")),
            ("ajv", npm_version(nm, "ajv")),
            ("ajv-formats", npm_version(nm, "ajv-formats")),
            ("js-yaml (ajv-cli's YAML reader)", npm_version(nm, "js-yaml")),
            ("node", capture(["node", "--version"])),
            ("yq", first_line(capture(["yq", "--version"])) + " (" + yq_kind() + ")"),
            ("jq", capture(["jq", "--version"])),
            ("bash", first_line(capture(["bash", "--version"]))),
            ("GNU time", "GNU time " + capture(["dpkg-query", "-W", "-f", "${Version}", "time"])),
            ("hyperfine", capture(["hyperfine", "--version"])),
        ],
    }


def yq_kind():
    path = shutil.which("yq") or ""
    try:
        with open(path, "rb") as f:
            head = f.read(200)
    except OSError:
        return "not found"
    if head.startswith(b"#!") and b"python" in head:
        return "python-yq, a jq wrapper"
    return "mikefarah yq"


# ---------------------------------------------------------------------------
# Fleets


def fleet(a, name, n, plan=False):
    dest = os.path.join(a.work, name)
    meta = os.path.join(dest, "fleet.json")
    want = {"customers": n, "plan": plan, "generator": generator_digest()}
    if os.path.exists(meta) and os.path.exists(os.path.join(dest, "want.json")):
        with open(os.path.join(dest, "want.json")) as f:
            if json.load(f) == want:
                with open(meta) as f:
                    return dest, json.load(f)
    log(f"generating {name}: {fmt_n(n)} customers")
    args = [sys.executable, os.path.join(HERE, "gen.py"), "fleet", dest, str(n)]
    if plan:
        args.append("--plan")
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(dest, "want.json"), "w") as f:
        json.dump(want, f)
    with open(meta) as f:
        return dest, json.load(f)


def generator_digest():
    """Fleets are regenerated when the generator or the schema changes."""
    import hashlib

    h = hashlib.sha256()
    for p in ("gen.py", os.path.join("schema", "variables.schema.json")):
        with open(os.path.join(HERE, p), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def files_of(dest):
    return sorted(os.path.join("files", f) for f in os.listdir(os.path.join(dest, "files")))


# ---------------------------------------------------------------------------
# Cases


def case_validate(a, sizes, reps):
    """Case 1: schema validation of N variables files."""
    rows = []
    schema = "manager/schema/variables.schema.json"
    cj = os.path.join(a.venv, "bin", "check-jsonschema")
    ajv = os.path.join(a.node_modules, ".bin", "ajv")
    for n in sizes:
        dest, meta = fleet(a, f"n{n}", n)
        files = files_of(dest)
        cmds = {
            "fleetform": [a.fleetform, "validate", "--schema", schema] + files,
            "check-jsonschema": [cj, "--schemafile", schema] + files,
            # ajv-cli expands the glob itself (same files).
            "ajv-cli": [ajv, "validate", "--spec=draft2020", "--all-errors", "--allow-union-types",
                        "-c", "ajv-formats", "-s", schema, "-d", "files/*.yml"],
        }
        # Every tool exits 1 when a file is invalid, 0 when none is.
        code = (1,) if meta["invalid_files"] else (0,)
        tools = [(t, (lambda t=t, c=c: run_validator(t, c, dest, code))) for t, c in cmds.items()]
        # Each timed run is also checked: how many files it found invalid,
        # and its peak RSS (GNU time). fleetform and ajv-cli each get an
        # untimed run right before every timed one: a run of
        # check-jsonschema takes minutes at 10,000 files, and the machine
        # evicts from its page cache what is left unread for tens of seconds
        # (a cold first run of fleetform at 10,000 files took 0.63 s, the
        # next 0.27 s). check-jsonschema, minutes per run, gets none.
        res = alternate(tools, reps, warmup=set(), rewarm={"fleetform", "ajv-cli"})
        rows.append({"n": n, "files": len(files), "invalid": meta["invalid_files"], "results": res})
        log(f"case 1, N={fmt_n(n)}: " + ", ".join(
            f"{t} {cell(r)}" for t, r in res.items()))
    return rows


def run_validator(tool, cmd, cwd, ok):
    """One timed validation run under GNU time: (seconds, peak RSS bytes,
    invalid files reported)."""
    rss_file = os.path.join(cwd, ".rss")
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, cwd=cwd,
                       capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode not in ok:
        err = p.stderr.strip().splitlines()
        raise Failed(f"{short(cmd)} exited {p.returncode}: {' / '.join(err[-3:])}")
    with open(rss_file) as f:
        rss = int(f.read().strip().splitlines()[-1]) * 1024
    os.remove(rss_file)
    if tool == "fleetform":
        invalid = sum(1 for line in p.stdout.splitlines() if line.startswith("invalid "))
    elif tool == "check-jsonschema":
        invalid = len({line.strip().split("::", 1)[0] for line in p.stdout.splitlines()
                       if line.startswith("  ") and "::" in line})
    else:
        invalid = sum(1 for line in p.stderr.splitlines() if line.endswith(" invalid"))
    return dt, rss, invalid


def case_render(a, sizes, reps, sample):
    """Case 2: layering + rendering N customers × environments to var files."""
    rows = []
    shell = os.path.join(HERE, "peers", "render-shell.sh")
    jobs = str(os.cpu_count())
    for n in sizes:
        dest, meta = fleet(a, f"n{n}", n)
        out_ff = os.path.join(a.scratch, f"render-ff-{n}")
        out_sh = os.path.join(a.scratch, f"render-sh-{n}")
        pairs = os.path.join(dest, "pairs.txt")
        with open(pairs) as f:
            all_pairs = f.read().splitlines()
        # The shell way takes ~0.1 s of CPU per pair; past `sample`
        # customers it runs on the first `sample` customers' pairs and its
        # time is scaled by pairs(N) / pairs(sample).
        if n > sample:
            slugs = []
            for line in all_pairs:
                s = line.split()[0]
                if s not in slugs:
                    slugs.append(s)
                if len(slugs) > sample:
                    break
            keep = set(slugs[:sample])
            sample_pairs = [p for p in all_pairs if p.split()[0] in keep]
            pairs = os.path.join(a.scratch, f"pairs-sample-{n}.txt")
            with open(pairs, "w") as f:
                f.write("\n".join(sample_pairs) + "\n")
        else:
            sample_pairs = all_pairs
        scale = len(all_pairs) / len(sample_pairs)

        def prepare(name):
            rm(out_ff if name == "fleetform" else out_sh)

        tools = [
            ("fleetform", lambda: run_timed([a.fleetform, "-C", "manager", "render", "--all", "--out", out_ff],
                                            cwd=dest)),
            ("yq/jq shell", lambda: run_timed(["bash", shell, dest, pairs, out_sh, jobs]) * scale),
        ]
        res = alternate(tools, reps, prepare)
        same, differ = compare_outputs(out_ff, out_sh, sample_pairs)
        log(f"case 2, N={fmt_n(n)}: outputs identical for {same} pairs, different for {differ}")
        rows.append({"n": n, "pairs": len(all_pairs), "sampled": len(sample_pairs) if n > sample else None,
                     "identical": same, "different": differ, "results": res})
    return rows


def compare_outputs(ff, sh, pairs):
    same = differ = 0
    for line in pairs:
        c, e = line.split()
        try:
            with open(os.path.join(ff, c, f"{e}.tfvars.json")) as f:
                x = json.load(f)
            with open(os.path.join(sh, c, f"{e}.tfvars.json")) as f:
                y = json.load(f)
        except (OSError, ValueError):
            differ += 1
            continue
        if x == y:
            same += 1
        else:
            differ += 1
    return same, differ


def case_plan(a, sizes, reps):
    """Case 3: a fleet plan with real terraform."""
    rows = []
    shell_render = os.path.join(HERE, "peers", "render-shell.sh")
    loop = os.path.join(HERE, "peers", "plan-loop.sh")
    env = dict(os.environ, TF_CLI_CONFIG_FILE=a.tfrc, TF_IN_AUTOMATION="1", TF_INPUT="0",
               CHECKPOINT_DISABLE="1")
    for n in sizes:
        src, meta = fleet(a, f"plan{n}", n, plan=True)
        # Terraform writes state, plans and .terraform dirs: both sides work
        # on the same kind of file system (the scratch one).
        dest = os.path.join(a.scratch, f"plan{n}-fleet")
        rm(dest)
        shutil.copytree(src, dest)
        pairs = os.path.join(dest, "pairs.txt")
        varsdir = os.path.join(a.scratch, f"plan-vars-{n}")
        rm(varsdir)
        subprocess.run(["bash", shell_render, dest, pairs, varsdir, str(os.cpu_count())], check=True)
        out_ff = os.path.join(a.scratch, f"plan-ff-{n}")
        work_sh = os.path.join(a.scratch, f"plan-sh-{n}")

        def prepare(name):
            if name == "fleetform":
                rm(out_ff)
                rm(os.path.join(dest, "manager", ".fleetform"))
            else:
                rm(work_sh)

        tools = [
            ("fleetform", lambda: run_cpu_split(
                [a.fleetform, "-C", "manager", "-q", "plan", "--all", "--jobs", "2", "--out", out_ff],
                cwd=dest, env=env)),
            ("serial shell loop", lambda: run_timed(["bash", loop, dest, pairs, varsdir, work_sh], env=env)),
        ]
        log(f"case 3: planning {meta['pairs']} customer × environment pairs per run")
        res = alternate(tools, reps, prepare, warmup=set())
        rows.append({"n": n, "pairs": meta["pairs"], "reps": reps, "results": res})
    return rows


def matrix_fleet(a, n):
    """The registry of N customers × 3 environments (generated once)."""
    dest = os.path.join(a.work, f"matrix{n}")
    want = {"customers": n, "generator": generator_digest()}
    try:
        with open(os.path.join(dest, "want.json")) as f:
            fresh = json.load(f) == want
    except (OSError, ValueError):
        fresh = False
    if not fresh:
        log(f"generating matrix{n}")
        subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), "matrix", dest, str(n)],
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(dest, "want.json"), "w") as f:
            json.dump(want, f)
    return dest


def case_matrix(a, n, reps):
    """Case 4: `fleetform matrix` for N customers × 3 environments."""
    mgr = os.path.join(matrix_fleet(a, n), "manager")
    yq_filter = (
        '[.customers[] | select(.status != "revoked") | .slug as $s | .environments[] | "\\($s)/\\(.)"]'
        ' | if length <= 256 then {include: map({id: sub("/"; "-"), shard: [.]})}'
        ' else {include: [range(0; length; (length / 256 | ceil)) as $i'
        ' | .[$i:$i + (length / 256 | ceil)] | {id: "shard", shard: .}]} end'
    )
    tools = [
        ("fleetform", lambda: run_timed([a.fleetform, "matrix"], cwd=mgr)),
        ("yq one-liner", lambda: run_timed(["yq", "-c", yq_filter, "customers.yml"], cwd=mgr)),
    ]
    res = alternate(tools, reps)
    jobs = None
    p = subprocess.run([a.fleetform, "matrix"], cwd=mgr, capture_output=True, text=True)
    if p.returncode == 0:
        jobs = len(json.loads(p.stdout)["include"])
        hf = hyperfine([a.fleetform, "matrix"], mgr, runs=30, warmup=3)
        if hf:
            res["fleetform"] = hf["times"]
    return {"n": n, "pairs": n * 3, "jobs": jobs, "results": res,
            "error": None if p.returncode == 0 else first_line(p.stderr.strip())}


def hyperfine(cmd, cwd, runs, warmup):
    out = os.path.join(cwd, ".hyperfine.json")
    p = subprocess.run(["hyperfine", "-N", "--warmup", str(warmup), "--runs", str(runs),
                        "--export-json", out, " ".join(cmd)],
                       cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        log(f"hyperfine failed: {p.stderr.strip()[-300:]}")
        return None
    with open(out) as f:
        r = json.load(f)["results"][0]
    os.remove(out)
    return r


def case_startup(a):
    """Case 5: binary size and start-up."""
    size = os.path.getsize(a.fleetform)
    linkage = capture(["ldd", a.fleetform])
    static = "statically linked" in linkage or "not a dynamic executable" in linkage
    res = {}
    for name, cmd in [
        ("fleetform --version", [a.fleetform, "--version"]),
        ("check-jsonschema --version", [os.path.join(a.venv, "bin", "check-jsonschema"), "--version"]),
        ("yq --version", ["yq", "--version"]),
        ("node -e 0 (ajv-cli's runtime)", ["node", "-e", "0"]),
    ]:
        runs = 200 if name.startswith("fleetform") else 10
        r = hyperfine(cmd, a.work, runs=runs, warmup=5 if runs > 10 else 2)
        res[name] = r
    return {"size": size, "static": static, "startup": res}


# ---------------------------------------------------------------------------
# Report


def ratio(peer, ff):
    if not peer or not ff:
        return "–"
    r = peer / ff
    return f"{r:,.0f}×" if r >= 10 else f"{r:.1f}×"


def med_of(res):
    return None if isinstance(res, Failed) or not res else median(res)


def case1_section(c1):
    """Case 1's section of results.md: its heading, method and table."""
    L = []
    add = L.append
    add("## 1. Schema validation of N variables files\n")
    add("Method: one process per tool over all files, every error reported (`fleetform validate --schema`, "
        "`check-jsonschema`, `ajv validate --all-errors`); fleetform and ajv-cli each run once untimed right before every timed run "
        "(warm page cache), check-jsonschema (minutes per run) not; peak RSS from GNU time.\n")
    add("| N files | fleetform | check-jsonschema | ajv-cli | vs check-jsonschema | vs ajv-cli | peak RSS (ff / cj / ajv) | invalid files found (ff / cj / ajv) |")
    add("|--------:|----------:|-----------------:|--------:|------:|------:|------|------|")
    for r in c1:
        res = r["results"]
        ff, cj, aj = (med_of(res[t]) for t in ("fleetform", "check-jsonschema", "ajv-cli"))
        rss = " / ".join(f"{v / 1024 / 1024:.0f} MB" if v else "–" for v in (
            med_field(res[t], 1) for t in ("fleetform", "check-jsonschema", "ajv-cli")))
        found = " / ".join(str(int(v)) if v is not None else "–" for v in (
            med_field(res[t], 2) for t in ("fleetform", "check-jsonschema", "ajv-cli")))
        add(f"| {fmt_n(r['files'])} | {cell(res['fleetform'])} | {cell(res['check-jsonschema'])} | "
            f"{cell(res['ajv-cli'])} | {ratio(cj, ff)} | {ratio(aj, ff)} | {rss} | {found} of {r['invalid']} |")
    L.extend([""] + failures(c1) if failures(c1) else [])
    add("")
    return L


def report(a, m, c1, c2, c3, c4, c5, budgets, reps, started, quick):
    L = []
    add = L.append
    add("# Benchmarks\n")
    add("`bash bench/run.sh` writes this file (one section per case; `--providers-only`, `--impact-only`, "
        "`--records-only`, `--relay-only` and `bench/github.py` rewrite their own). Every time is the **median** "
        "of alternating runs of the tools on the same generated files (3 unless a table says otherwise); ratios "
        "are peer time / fleetform time (higher = fleetform faster).\n")
    add("## Machine\n")
    add(f"- run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (cases 1-6; the other cases say when they ran if not in the same run)")
    add(f"- {m['nproc']} cores (`nproc`), {m['cpu']}, {m['memory']} memory")
    add(f"- {m['os']}")
    add("")
    add("| tool | version |")
    add("|------|---------|")
    for name, v in m["tools"]:
        add(f"| {name} | {v} |")
    add("")
    add("## The fleets\n")
    add("`bench/gen.py`: fleets laid out like `examples/`, a ~300-line schema (`bench/schema/`), ~2.5 KB of "
        "values per customer, a quarter with a production override; for case 1 the files copied flat, 1 % invalid.\n")

    # Case 1
    L.extend(case1_section(c1))

    # Case 2
    add("## 2. Layering + rendering every customer × environment to tfvars JSON\n")
    add("Method: `fleetform render --all --out DIR` vs a `yq -s` deep merge per pair (`bench/peers/render-one.sh`, "
        "`xargs -P` over the cores, no validation), outputs compared as JSON; one warm-up run each.\n")
    add("| N customers | pairs | fleetform | yq/jq shell | ratio | outputs compared |")
    add("|------------:|------:|----------:|------------:|------:|------|")
    for r in c2:
        ff = med_of(r["results"]["fleetform"])
        sh = med_of(r["results"]["yq/jq shell"])
        note = f"identical: {r['identical']}, different: {r['different']}"
        shc = cell(r["results"]["yq/jq shell"])
        if r["sampled"]:
            shc = f"≈ {shc}"
            note += f" (shell run on a sample of {fmt_n(r['sampled'])} pairs, time scaled ×{r['pairs'] / r['sampled']:.1f})"
        add(f"| {fmt_n(r['n'])} | {fmt_n(r['pairs'])} | {cell(r['results']['fleetform'])} | {shc} | {ratio(sh, ff)} | {note} |")
    L.extend([""] + failures(c2) if failures(c2) else [])
    add("")

    # Case 3
    add("## 3. Fleet plan with real Terraform\n")
    add(f"Method: `fleetform plan --all --jobs 2` vs a serial `terraform init && plan` loop (`bench/peers/plan-loop.sh`), "
        f"state removed before every run, {c3[0]['reps'] if c3 else 0} alternating runs; overhead = fleetform's own CPU "
        "over its Terraform children's (`/proc/PID/stat`).\n")
    add("| pairs | fleetform (--jobs 2) | serial loop | ratio | fleetform CPU | terraform CPU (fleetform's children) | overhead |")
    add("|------:|---------------------:|------------:|------:|--------------:|------------------:|---------:|")
    for r in c3:
        ffr = r["results"]["fleetform"]
        ff = med_of(ffr)
        sh = med_of(r["results"]["serial shell loop"])
        if isinstance(ffr, Failed) or not ffr:
            own = kids = None
        else:
            own = statistics.median(x[1] for x in ffr)
            kids = statistics.median(x[2] for x in ffr)
        ov = f"{own / kids * 100:.1f} %" if own is not None and kids else "–"
        add(f"| {fmt_n(r['pairs'])} | {cell(ffr)} | {cell(r['results']['serial shell loop'])} | {ratio(sh, ff)} | "
            f"{fmt_s(own)} | {fmt_s(kids)} | {ov} |")
    L.extend([""] + failures(c3, "pairs", "pairs") if failures(c3, "pairs", "pairs") else [])
    add("")

    # Case 4
    add("## 4. `fleetform matrix`\n")
    add("Method: `fleetform matrix` (at most 256 jobs) over a registry of N × 3 pairs, hyperfine's median of 30 runs, "
        "vs a `yq` one-liner (3 runs).\n")
    add("| customers × envs | fleetform matrix | yq one-liner | ratio | jobs |")
    add("|---------------:|-----------------:|------------:|------:|-----:|")
    for r in c4:
        ff = med_of(r["results"]["fleetform"])
        yq = med_of(r["results"]["yq one-liner"])
        add(f"| {fmt_n(r['n'])} × 3 | {cell(r['results']['fleetform'])} | {cell(r['results']['yq one-liner'])} | "
            f"{ratio(yq, ff)} | {r['jobs'] if r['jobs'] is not None else '–'} |")
    add("")
    for r in c4:
        if r["error"]:
            add(f"- **fleetform failed at {fmt_n(r['n'])} customers:** `{r['error']}`")
    add("")

    # Case 5
    add("## 5. Binary size and start-up\n")
    add("Method: the static release build for the release's Linux target (`cargo build --release "
        "--target x86_64-unknown-linux-musl`), its size in bytes.\n")
    add("| binary | bytes | linked |")
    add("|--------|------:|--------|")
    add(f"| fleetform (static release build) | {fmt_n(c5['size'])} | "
        f"{'statically' if c5['static'] else 'NOT statically'} |")
    add("")
    add("Method: hyperfine, no shell, mean ± σ and median.\n")
    add("| command | mean ± σ | median | runs |")
    add("|---------|---------:|-------:|-----:|")
    for name, r in c5["startup"].items():
        if r:
            add(f"| `{name}` | {fmt_s(r['mean'])} ± {fmt_s(r['stddev'])} | {fmt_s(r['median'])} | {len(r['times'])} |")
        else:
            add(f"| `{name}` | failed | | |")
    add("")

    # Case 6
    L.extend(budgets_section(budgets))

    # Goals
    add("## Goals\n")
    L.extend(goal_table(goals(c1, c2, c3, c4, c5)))
    add("")
    return "\n".join(L)


def failures(rows, key="n", label="N"):
    """Lines naming every tool that failed, with its error."""
    out = []
    for r in rows:
        for tool, res in r["results"].items():
            if isinstance(res, Failed):
                out.append(f"- **{tool} failed at {label}={fmt_n(r[key])}:** `{res}`")
    return out


def med_field(res, i):
    if isinstance(res, Failed) or not res:
        return None
    return statistics.median(x[i] for x in res)


def cell(res):
    if isinstance(res, Failed):
        return "failed"
    if not res:
        return "–"
    return fmt_s(median(res))


# The sizes of the full run (run_all): every goal is set at one of them,
# and a run at other sizes (--quick) marks it "not run".
FULL_SIZES = [100, 1000, 10000]
FULL_PLAN_SIZES = [50, 200]
FULL_MATRIX = [1000, 10000]
VALIDATE_GOAL_S = 0.3
VALIDATE_VS_AJV = 7
VALIDATE_VS_CJ = 20


def measured_at(rows, key, n):
    """The row of `rows` measured at `n` (its `key`), else the largest one
    measured (shown unjudged), else None."""
    for r in rows:
        if r[key] == n:
            return r
    return rows[-1] if rows else None


def goals(c1, c2, c3, c4, c5):
    rows = case1_goals(c1)
    out, rss = rows[:3], rows[3]
    for n in FULL_SIZES:
        r = measured_at(c2, "n", n)
        ff = med_of(r["results"]["fleetform"]) if r else None
        sh = med_of(r["results"]["yq/jq shell"]) if r else None
        out.append(goal_row("case 2: ≥ 20× faster than the yq/jq way", size(n, "customers"),
                            size(r["n"], "customers") if r else None,
                            f"{ratio(sh, ff)} ({fmt_n(r['pairs'])} pairs)" if ff and sh else None,
                            bool(ff and sh and sh / ff >= 20)))
    for n in FULL_PLAN_SIZES:
        r = measured_at(c3, "n", n)
        ffr = r["results"]["fleetform"] if r else None
        there = size(r["n"], "customers") if r else None
        if isinstance(ffr, Failed) or not ffr:
            own = kids = ff = sh = None
        else:
            own = statistics.median(x[1] for x in ffr)
            kids = statistics.median(x[2] for x in ffr)
            ff = med_of(ffr)
            sh = med_of(r["results"]["serial shell loop"])
        pairs = f" ({fmt_n(r['pairs'])} pairs)" if r else ""
        out.append(goal_row("case 3: overhead ≤ 5 % of terraform time", size(n, "customers"), there,
                            f"{own / kids * 100:.1f} %{pairs}" if own is not None and kids else None,
                            bool(own is not None and kids and own / kids <= 0.05)))
        out.append(goal_row("case 3: faster than the serial loop", size(n, "customers"), there,
                            f"{fmt_s(ff)} vs {fmt_s(sh)}{pairs}" if ff and sh else None,
                            bool(ff and sh and ff < sh)))
    r = measured_at(c4, "n", FULL_MATRIX[-1])
    ff = med_of(r["results"]["fleetform"]) if r else None
    out.append(goal_row("case 4: `fleetform matrix` ≤ 100 ms", size(FULL_MATRIX[-1], "customers × 3"),
                        size(r["n"], "customers × 3") if r else None,
                        fmt_s(ff) if ff is not None else ("failed" if r else None),
                        ff is not None and ff <= 0.1))
    out.append(goal_row("static binary ≤ 16 MB", None, None, f"{c5['size'] / 1e6:.2f} MB",
                        c5["size"] <= 16_000_000))
    st = c5["startup"].get("fleetform --version")
    out.append(goal_row("start-up ≤ 5 ms", None, None, fmt_s(st["median"]) if st else None,
                        bool(st and st["median"] <= 0.005)))
    out.append(rss)
    return out


def case1_goals(c1):
    """Case 1's goal rows: time, the two ratios, then peak RSS."""
    out = []
    big = c1[-1] if c1 else None
    at = size(big["files"], "files") if big else None
    ff = med_of(big["results"]["fleetform"]) if big else None
    cj = med_of(big["results"]["check-jsonschema"]) if big else None
    aj = med_of(big["results"]["ajv-cli"]) if big else None
    want = size(FULL_SIZES[-1], "files")
    out.append(goal_row(f"case 1: validate ≤ {VALIDATE_GOAL_S} s", want, at,
                        fmt_s(ff) if ff is not None else None, ff is not None and ff <= VALIDATE_GOAL_S))
    out.append(goal_row(f"case 1: ≥ {VALIDATE_VS_AJV}× faster than ajv-cli", want, at,
                        ratio(aj, ff) if ff and aj else None, bool(ff and aj and aj / ff >= VALIDATE_VS_AJV)))
    out.append(goal_row(f"case 1: ≥ {VALIDATE_VS_CJ}× faster than check-jsonschema", want, at,
                        ratio(cj, ff) if ff and cj else None, bool(ff and cj and cj / ff >= VALIDATE_VS_CJ)))
    ff_rss = med_field(big["results"]["fleetform"], 1) if big else None
    out.append(goal_row("case 1: peak RSS ≤ 100 MB", want, at,
                        f"{ff_rss / 1024 / 1024:.0f} MB" if ff_rss else None,
                        bool(ff_rss and ff_rss <= 100 * 1024 * 1024)))
    return out


def print_summary(text):
    """The tables of results.md on stdout."""
    for line in text.splitlines():
        if line.startswith("|") or line.startswith("#"):
            print(line)


# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fleetform", required=True)
    ap.add_argument("--venv")
    ap.add_argument("--node-modules")
    ap.add_argument("--work", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--tfrc")
    ap.add_argument("--budgets")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--validate-only", action="store_true")
    a = ap.parse_args()
    if not a.smoke and not (a.venv and a.node_modules and a.tfrc):
        ap.error("--venv, --node-modules and --tfrc are required (but with --smoke)")
    for k in ("fleetform", "venv", "node_modules", "work", "results"):
        if getattr(a, k):
            setattr(a, k, os.path.abspath(getattr(a, k)))
    os.makedirs(a.work, exist_ok=True)
    if a.validate_only:
        try:
            run_validate_only(a)
        except Failed as e:
            log(f"case 1 failed: {e}")
            sys.exit(1)
        return
    if a.smoke:
        try:
            run_smoke(a)
        except Failed as e:
            log(f"smoke run failed: {e}")
            sys.exit(1)
        return
    # Outputs (var files, plans, terraform working copies) go to tmpfs when
    # there is one: on a virtual disk shared with other jobs, creating a file
    # can take milliseconds, which would time the disk, not the tools.
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        a.scratch = os.path.join(shm, f"fleetform-bench-{os.getpid()}")
        a.scratch_kind = "tmpfs (/dev/shm)"
    else:
        a.scratch = os.path.join(os.path.abspath(a.work), "out")
        a.scratch_kind = "disk (bench/.work/out)"
    rm(a.scratch)
    os.makedirs(a.scratch)
    try:
        run_all(a)
    finally:
        rm(a.scratch)


def budgets_section(budgets):
    """Case 6's section: the request counts tests/github/budgets.rs wrote."""
    out = ["## 6. GitHub API requests per command\n",
           "Method: requests counted by the fake GitHub in `tests/github/budgets.rs` against the book's *Request budgets*, "
           "retries not counted.\n"]
    if budgets:
        out.append("| command | case | requests | budget |")
        out.append("|---------|------|---------:|-------:|")
        for b in budgets:
            out.append(f"| `{b['command']}` | {b['case']} | {b['requests']} | {b['budget']} |")
    else:
        out.append("_not run (see the bench log)_")
    out.append("")
    return out


def run_smoke(a):
    """--smoke: case 1 on a small fleet for fleetform alone, through the
    same generator, timing loop and checks as the full run, and case 6's
    table; fails when any of it no longer works."""
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    n = 50
    dest, meta = fleet(a, f"smoke-n{n}", n)
    files = files_of(dest)
    if len(files) < n:
        raise Failed(f"the generator made {len(files)} files for {n} customers")
    code = (1,) if meta["invalid_files"] else (0,)
    cmd = [a.fleetform, "validate", "--schema", "manager/schema/variables.schema.json"] + files

    def one():
        t0 = time.perf_counter()
        p = subprocess.run(cmd, cwd=dest, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if p.returncode not in code:
            raise Failed(f"fleetform validate exited {p.returncode}: {p.stderr.strip()[-300:]}")
        return dt, sum(1 for line in p.stdout.splitlines() if line.startswith("invalid "))

    res = alternate([("fleetform", one)], 3)["fleetform"]
    if isinstance(res, Failed):
        raise res
    invalid = {r[1] for r in res}
    if invalid != {meta["invalid_files"]}:
        raise Failed(f"fleetform found {sorted(invalid)} invalid files, the generator made {meta['invalid_files']}")
    budgets = None
    if a.budgets:
        with open(a.budgets) as f:
            budgets = json.load(f)
        if not budgets or any(b["requests"] > b["budget"] for b in budgets):
            raise Failed(f"case 6's table is empty or over budget: {a.budgets}")
    lines = [f"# fleetform bench: smoke run ({started})\n",
             "Not a measurement: `bash bench/run.sh --smoke` checks that the bench still runs.\n",
             "## 1. Schema validation (fleetform alone)\n",
             "| files | invalid | median |", "|------:|--------:|-------:|",
             f"| {len(files)} | {meta['invalid_files']} | {fmt_s(median(res))} |", ""]
    lines.extend(budgets_section(budgets))
    # The goal is set at the full run's size: a run of 50 files claims
    # nothing about it.
    goal = goal_row(f"case 1: validate ≤ {VALIDATE_GOAL_S} s", size(FULL_SIZES[-1], "files"),
                    size(len(files), "files"), fmt_s(median(res)), median(res) <= VALIDATE_GOAL_S)
    if goal[2] != NOT_RUN:
        raise Failed(f"the smoke run of {len(files)} files judged a goal set at {FULL_SIZES[-1]:,} files: {goal}")
    lines += ["## Goals\n"] + goal_table([goal]) + [""]
    with open(a.results, "w") as f:
        f.write("\n".join(lines))
    log(f"wrote {a.results}")


def run_validate_only(a):
    """--validate-only: case 1 at its full sizes; rewrites its section and
    its goal rows in RESULTS and keeps everything else as it was."""
    c1 = case_validate(a, FULL_SIZES, 3)
    with open(a.results) as f:
        text = f.read()
    head, rest = text.split("## 1. Schema validation", 1)
    if "\n## 2. " not in rest:
        raise Failed(f"{a.results} has no case 2 after case 1: not a full run's results")
    tail = rest.split("\n## 2. ", 1)[1]
    text = head + "\n".join(case1_section(c1)).rstrip("\n") + "\n\n## 2. " + tail
    rows = {g: (g, r, m) for g, r, m in case1_goals(c1)}
    lines, replaced = [], 0
    for line in text.split("\n"):
        goal = line[2:].split(" | ")[0] if line.startswith("| case 1: ") else None
        if goal in rows:
            line = goal_table([rows[goal]])[2]
            replaced += 1
        lines.append(line)
    if replaced != len(rows):
        raise Failed(f"{a.results} holds {replaced} of case 1's {len(rows)} goal rows")
    with open(a.results, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(case1_section(c1) + goal_table(list(rows.values()))))
    log(f"wrote case 1 into {a.results}; say when it ran in its Machine section")


KEPT_MARK = "<!-- kept: measured apart, not by this run -->"


def kept_sections(results, text):
    """Keeps the sections of RESULTS between two KEPT_MARK lines (measured
    once apart, e.g. two builds of the binary compared): this run does not
    measure them, and does not drop them."""
    if not os.path.exists(results):
        return text
    old = open(results).read()
    if old.count(KEPT_MARK) < 2:
        return text
    kept = KEPT_MARK + old.split(KEPT_MARK, 1)[1].rsplit(KEPT_MARK, 1)[0] + KEPT_MARK
    return text.rstrip("\n") + "\n\n" + kept + "\n"


def run_all(a):
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.time()
    if os.environ.get("BENCH_SMOKE"):  # a smoke test of this driver
        sizes, reps, sample, plan_sizes, plan_reps, matrix_n = [20, 60], 2, 20, [3], 1, [500]
    elif a.quick:
        sizes, reps, sample, plan_sizes, plan_reps, matrix_n = [100, 1000], 3, 100, [10, 25], 2, [1000, 10000]
    else:
        sizes, reps, sample, plan_sizes, plan_reps, matrix_n = FULL_SIZES, 3, 150, FULL_PLAN_SIZES, 2, FULL_MATRIX
    m = machine(a)
    log("case 5: binary size and start-up")
    c5 = case_startup(a)
    log("case 1: schema validation")
    c1 = case_validate(a, sizes, reps)
    log("case 2: layering + rendering")
    c2 = case_render(a, sizes, 3, sample)
    log("case 4: matrix")
    c4 = [case_matrix(a, n, 3) for n in matrix_n]
    log("case 3: fleet plan with terraform")
    c3 = case_plan(a, plan_sizes, plan_reps)
    budgets = None
    if a.budgets and os.path.exists(a.budgets):
        with open(a.budgets) as f:
            budgets = json.load(f)
    text = report(a, m, c1, c2, c3, c4, c5, budgets, reps, started, a.quick)
    text = kept_sections(a.results, text)
    log(f"the whole bench took {time.time() - t0:.0f} s (plus building and installing)")
    with open(a.results, "w") as f:
        f.write(text)
    print_summary(text)
    log(f"wrote {a.results}")


if __name__ == "__main__":
    main()
