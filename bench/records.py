#!/usr/bin/env python3
"""Case 9: reading 10,000, 100,000 and 1,000,000 records from an S3 bucket.

moto's S3 server (the one the tests use: `bash tests/install-moto.sh`
installs it into .venv) on a loopback port; a bucket with the audit
records as fleetform writes them (one JSON object each, under
`fleet/records/audit/YYYY/MM/DD/`), put into moto's S3 backend in moto's
own process before it serves (bench/moto_seeded.py: a million in about a
minute, where puts over HTTP ran about 100 a second); the example manager
with `records:` in that bucket. Timed: `fleetform audit report --records
--json` (every record read, digested and listed) and `fleetform report
--html OUT --records` (the dashboard: the same records, plus one listing
per kind of record and a read per customer × environment), raw (one GET per record), then after
`records compact` (segments and a manifest; a reader reads the segments
and only the raw events after the manifest's bound), each compacted read
with an empty segment cache and then with it, its requests counted over
one more run through a proxy, and fleetform's peak memory over one more
run of the dashboard. With `--baseline BIN` an older build runs the raw
reads too, alternating with this one, and the section gives both; both
must report every record.

moto answers on loopback in a few ms of Python per request (measured: its
CPU time during this build's audit reports over their requests), all of it
under one interpreter lock, so against moto itself the reads are bound by
moto's CPU whatever the client does; and it answers every page of a
listing by sorting every key in the bucket, unless bench/moto_seeded.py
answers from its index of the keys (the default, checked against moto's
own answers). Above `--raw-max` records
(100,000) the raw reads, and a compaction through moto (a GET per record
too), would take hours: they are not run, and the table says so. The
compacted reads still are: the records are also written as the files of a
local store (`records: kind: local`, the same keys and bytes) and
compacted there by `records compact` (a local store and a bucket are one
`Store` to it), and what it wrote (segments and a manifest) is put into
the bucket beside the raw records. At the sizes both run, the run checks
that a compaction through S3 and one of a local store write the same
objects, key for key and byte for byte.

A second round puts a proxy in front of moto that holds every request for
`--latency-ms` (20 ms, of the order of a small GET to S3 within a region),
on 1,000 records: what reading several at once changes when every request
waits on the network.

    records.py --fleetform BIN [--label TEXT] [--baseline BIN]
               [--baseline-label TEXT] [--moto PATH] --work DIR
               --results FILE [--quick] [--latency-ms N]
               [--sizes N,N...] [--reps N] [--raw-reps N] [--raw-max N]
               [--machine TEXT]

`--sizes`: the record counts (default 10,000, 100,000 and 1,000,000;
--quick: 1,000), each in a moto of its own; `--reps`: alternating runs of
each compacted read (default 3; --quick: 1); `--raw-reps`: of each raw
read per binary (default `--reps` below 100,000 records, 1 from there).

Writes its section into FILE between `<!-- case 9 -->` markers, after
each size (so a run stopped part way keeps the sizes it finished).
"""

import argparse
import asyncio
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
from providers import write_section  # noqa: E402

MARK = "<!-- case 9 -->"
# 2026-12-01T00:00:00Z: every seeded record (November 2026) lies in a
# closed day, so `records compact` puts them all in segments.
AFTER_THE_RECORDS = 1796083200
BUCKET = "fleetform-records-bench"
PREFIX = "fleet/records"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(p, port):
    """Waits until the moto at `port` answers (or `p` has ended)."""
    for _ in range(300):
        if p.poll() is not None:
            raise bench.Failed(f"moto ended (exit {p.returncode}) before answering on port {port}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/")
            c.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    p.kill()
    raise bench.Failed(f"moto did not answer on port {port}")


def start_seeded(moto, log, n, load=None, own_listing=False):
    """moto's S3 server (bench/moto_seeded.py, under the Python of
    `moto`'s moto_server) with the bucket, the records 0..n and the files
    under `load` put into its backend before it serves, its listings
    answered from a sorted index of the keys (checked against moto's own),
    or as moto answers them with `own_listing`: (process, port,
    {"objects", "seconds", "rss_bytes", "listing"} of the seeding)."""
    python = os.path.join(os.path.dirname(moto), "python")
    port = free_port()
    cmd = [python, os.path.join(HERE, "moto_seeded.py"), "--port", str(port), "--bucket", BUCKET,
           "--prefix", PREFIX, "--records", str(n)] + (["--load", load] if load else []) + (
           ["--moto-listing"] if own_listing else [])
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
    line = p.stdout.readline()
    if not line:
        p.wait()
        raise bench.Failed(f"bench/moto_seeded.py ended (exit {p.returncode}) before seeding {n:,} records")
    wait_for(p, port)
    return p, port, json.loads(line)


class LatencyProxy:
    """A loopback HTTP proxy to `port` that holds every request for
    `delay` seconds, on an event loop in a thread of its own. One request
    per connection, both ways (the clients connect again)."""

    def __init__(self, port, delay):
        self.upstream, self.delay = port, delay
        self.requests = 0
        self.loop = asyncio.new_event_loop()
        self.port = free_port()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait(10)

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port, backlog=256))
        ready.set()
        self.loop.run_forever()
        server.close()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)

    @staticmethod
    def _close_after(head):
        lines = [ln for ln in head.split(b"\r\n")
                 if ln and not ln.lower().startswith(b"connection:")]
        return b"\r\n".join(lines + [b"connection: close", b"", b""])

    async def _serve(self, reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            self.requests += 1
            await asyncio.sleep(self.delay)
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream)
            up_w.write(self._close_after(head[:-4]) + body)
            await up_w.drain()
            answer = await up_r.read()
            up_w.close()
            split = answer.index(b"\r\n\r\n")
            writer.write(self._close_after(answer[:split]) + answer[split + 4:])
            await writer.drain()
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def cpu_seconds(pid):
    """User + system CPU time of a running process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / bench.CLK_TCK


def record(i):
    """The i-th audit record: its key (under the prefix) and bytes."""
    day = 1 + i % 28
    sec = i // 28
    t = f"2026-11-{day:02}T{sec // 3600 % 24:02}:{sec // 60 % 60:02}:{sec % 60:02}Z"
    stamp = t.replace("-", "").replace(":", "").replace("Z", ".000Z")
    key = f"audit/2026/11/{day:02}/{stamp}-{i:012x}.json"
    body = {
        "time": t, "action": "apply", "actor": "ops-dana",
        "customer": f"c{i % 1000:04}", "environment": "staging" if i % 2 else "production",
        "sha": f"{i:040x}", "plan_sha256": f"{i:064x}", "result": "ok",
        "run_url": f"https://github.com/provider/manager/actions/runs/{1000 + i}",
        "detail": "bench record",
    }
    return key, json.dumps(body, separators=(",", ":")).encode()


def manager(a, port, name="examples"):
    """The example manager (copied to `name` in the scratch folder) with
    its records in the bucket at `port`; with `port` None, in its own
    folder, `.fleetform/records`, as the example keeps them."""
    dest = os.path.join(a.scratch, name)
    bench.rm(dest)
    shutil.copytree(os.path.join(bench.ROOT, "examples"), dest)
    cfg_path = os.path.join(dest, "manager", "fleetform.yml")
    with open(cfg_path) as f:
        cfg = f.read()
    local = "records:\n  kind: local\n  dir: .fleetform/records\n"
    if local not in cfg:
        raise bench.Failed("examples/manager/fleetform.yml has no local records section to replace")
    if port is None:
        return os.path.join(dest, "manager")
    cfg = cfg.replace(local, (
        f"records:\n  kind: s3\n  bucket: {BUCKET}\n  region: us-east-1\n  prefix: {PREFIX}\n"
        f"  endpoint: http://127.0.0.1:{port}\n  use_path_style: true\n"))
    with open(cfg_path, "w") as f:
        f.write(cfg)
    return os.path.join(dest, "manager")


ENV = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
       "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
       "AWS_EC2_METADATA_DISABLED": "true", "NO_COLOR": "1"}


def compact_locally(a, n):
    """The records 0..n written as the files of a local store (the same
    keys and bytes as in the bucket) and `records compact` run there:
    (the store's folder, seconds writing, seconds compacting)."""
    store = os.path.join(manager(a, None, "examples-local"), ".fleetform", "records")
    bench.rm(store)
    t0, made = time.perf_counter(), set()
    for i in range(n):
        key, body = record(i)
        path = os.path.join(store, key)
        folder = os.path.dirname(path)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        with open(path, "wb") as f:
            f.write(body)
    written = time.perf_counter() - t0
    t0 = time.perf_counter()
    bench.run_timed([a.fleetform, "-q", "records", "compact"], cwd=os.path.dirname(os.path.dirname(store)),
                    env=dict(ENV, FLEETFORM_NOW=str(AFTER_THE_RECORDS)))
    return store, written, time.perf_counter() - t0


def beside_audit(store):
    """{key: MD5} of the store's files outside `audit/` (what a compaction
    wrote: segments and manifests)."""
    out = {}
    for top, _, files in os.walk(store):
        for name in files:
            rel = os.path.relpath(os.path.join(top, name), store).replace(os.sep, "/")
            if not rel.startswith("audit/"):
                with open(os.path.join(top, name), "rb") as f:
                    out[rel] = hashlib.md5(f.read()).hexdigest()
    return out


# Run by moto's own Python (boto3 comes with moto): a listing through
# boto3's paginator, printed as JSON.
LIST_WITH_BOTO3 = """
import json, sys
import boto3
port, bucket, prefix, delimiter = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
more = {"Delimiter": delimiter} if delimiter else {}
keys, folders = {}, []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, **more):
    keys.update({o["Key"]: o["ETag"].strip('"') for o in page.get("Contents", [])})
    folders += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
json.dump({"keys": keys, "folders": folders}, sys.stdout)
"""


def listed(moto, port, prefix, delimiter=None):
    """(keys with their ETags, common prefixes) of a listing of the bench's
    bucket, through boto3 in the Python `moto` (moto_server) runs under."""
    python = os.path.join(os.path.dirname(moto), "python")
    p = subprocess.run([python, "-c", LIST_WITH_BOTO3, str(port), BUCKET, prefix, delimiter or ""],
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise bench.Failed(f"listing {prefix}: {p.stderr.strip()[-500:]}")
    out = json.loads(p.stdout)
    return out["keys"], out["folders"]


def same_as_local(moto, port, store):
    """Checks that the bucket's objects outside `audit/` (what `records
    compact` wrote through S3) are the files of the local store outside
    `audit/`, key for key, byte for byte (S3's ETag of a single put is its
    MD5); returns how many."""
    local = beside_audit(store)
    _, tops = listed(moto, port, f"{PREFIX}/", "/")
    remote = {}
    for top in tops:
        if top != f"{PREFIX}/audit/":
            keys, _ = listed(moto, port, top)
            remote.update({k[len(PREFIX) + 1:]: e for k, e in keys.items()})
    if not local or remote != local:
        only = sorted(set(remote) ^ set(local))[:3]
        raise bench.Failed(f"the compaction through S3 and the local one differ ({len(remote)} objects "
                           f"against {len(local)}; first keys in one only: {only})")
    return len(local)


def case(a, n, reps, latency_ms=0):
    raw = n <= a.raw_max or latency_ms > 0
    raw_reps = a.raw_reps or (reps if n < 100_000 else 1)
    loads = [os.getloadavg()[0]]
    log = open(os.path.join(a.scratch, "moto.log"), "w")
    load, local = None, None
    if not raw:
        store, written, compacted_in = compact_locally(a, n)
        load = os.path.join(a.scratch, "load")
        bench.rm(load)
        for top in os.listdir(store):
            if top != "audit":
                shutil.copytree(os.path.join(store, top), os.path.join(load, top))
        local = {"written": written, "objects": len(beside_audit(load))}
        bench.rm(os.path.join(a.scratch, "examples-local"))
    moto, port, seeding = start_seeded(a.moto, log, n, load)
    # With 0 ms added the proxy only counts requests: the timed runs go
    # to moto directly, one more run of each compacted read through it.
    proxy = LatencyProxy(port, latency_ms / 1000)
    try:
        mdir = manager(a, proxy.port if latency_ms else port)
        counted_dir = mdir if latency_ms else manager(a, proxy.port, "examples-counted")
        res, requests, moto_cpu, same = {}, {}, [], None
        if raw:
            binaries = [("this build", a.fleetform)] + ([("baseline", a.baseline)] if a.baseline else [])
            tools = []
            for name, binary in binaries:
                cpu = moto_cpu if name == "this build" else None
                tools.append((f"audit report · {name}", report_run(a, binary, mdir, ENV, n, moto.pid, cpu)))
                tools.append((f"dashboard · {name}", dashboard_run(a, binary, mdir, ENV)))
            if latency_ms:
                requests["raw"] = counted(proxy, report_run(a, a.fleetform, mdir, ENV, n, moto.pid, None))
            res = bench.alternate(tools, raw_reps, warmup=[])
            # Compacted (`records compact`, as the drift workflow runs it).
            t0 = time.perf_counter()
            bench.run_timed([a.fleetform, "-q", "records", "compact"], cwd=mdir,
                            env=dict(ENV, FLEETFORM_NOW=str(AFTER_THE_RECORDS)))
            compacted_in = time.perf_counter() - t0
            store, _, _ = compact_locally(a, n)
            same = same_as_local(a.moto, port, store)
            bench.rm(os.path.join(a.scratch, "examples-local"))
        # Each compacted read with an empty segment cache (a fresh runner),
        # then warm.
        cache = os.path.join(mdir, ".fleetform", "cache")
        cold = lambda fn: (lambda: (bench.rm(cache), fn())[1])
        compacted = [
            ("audit report · compacted", cold(report_run(a, a.fleetform, mdir, ENV, n, moto.pid, None))),
            ("dashboard · compacted", cold(dashboard_run(a, a.fleetform, mdir, ENV))),
            ("audit report · compacted, cached", report_run(a, a.fleetform, mdir, ENV, n, moto.pid, None)),
        ]
        res.update(bench.alternate(compacted, reps, warmup=["audit report · compacted, cached"]))
        requests.update(count_compacted(a, proxy, counted_dir, n, moto.pid))
        bench.rm(cache)
        peak = peak_memory([a.fleetform, "-q", "report", "--html", os.path.join(a.scratch, "dashboard.html"),
                            "--records"], mdir)
        if not raw:
            res.update(own_listing(a, log, n, load))
        loads.append(os.getloadavg()[0])
    finally:
        proxy.stop()
        moto.kill()
        moto.wait()
        log.close()
        if load:
            bench.rm(load)
    return {"n": n, "reps": reps, "raw_reps": raw_reps, "raw": raw, "seeding": seeding, "results": res,
            "latency_ms": latency_ms, "requests": requests, "compacted_in": compacted_in, "local": local,
            "same": same, "peak": peak, "loads": loads,
            "moto_ms": bench.median(moto_cpu) * 1000 if moto_cpu else None}


def own_listing(a, log, n, load):
    """The compacted dashboard once more, with an empty cache, against a
    moto seeded alike that answers listings as moto does (walking the
    whole bucket for each): what the index saves."""
    moto, port, _ = start_seeded(a.moto, log, n, load, own_listing=True)
    try:
        mdir = manager(a, port, "examples-own-listing")
        bench.rm(os.path.join(mdir, ".fleetform", "cache"))
        return bench.alternate([("dashboard · compacted, moto's own listing", dashboard_run(a, a.fleetform, mdir, ENV))],
                               1, warmup=[])
    finally:
        moto.kill()
        moto.wait()


def count_compacted(a, proxy, mdir, n, moto_pid):
    """The requests of one run of each compacted read through `proxy`."""
    cache = os.path.join(mdir, ".fleetform", "cache")
    report = report_run(a, a.fleetform, mdir, ENV, n, moto_pid, None)
    out = {}
    bench.rm(cache)
    out["audit report · compacted"] = counted(proxy, report)
    out["audit report · compacted, cached"] = counted(proxy, report)
    bench.rm(cache)
    out["dashboard · compacted"] = counted(proxy, dashboard_run(a, a.fleetform, mdir, ENV))
    return out


def peak_memory(cmd, cwd):
    """fleetform's peak resident memory over one run (bench/memory.py)."""
    import memory  # memory imports this module: not at the top
    return memory.peak_rss(cmd, cwd=cwd, env=ENV)[0]


def counted(proxy, fn):
    """The requests one run of `fn` sends through `proxy`."""
    before = proxy.requests
    fn()
    return proxy.requests - before


def report_run(a, binary, mdir, env, n, moto_pid, moto_cpu):
    """Times the audit report; appends moto's CPU seconds per request
    (n reads and a listing per 1,000 keys) to `moto_cpu` unless None."""
    out = os.path.join(a.scratch, "report.json")

    def fn():
        before = cpu_seconds(moto_pid)
        with open(out, "w") as f:
            t = bench.run_timed([binary, "-q", "audit", "report", "--records", "--json"],
                                cwd=mdir, env=env, stdout=f)
        if moto_cpu is not None:
            moto_cpu.append((cpu_seconds(moto_pid) - before) / (n + n // 1000 + 1))
        with open(out) as f:
            rows = len(json.load(f)["rows"])
        if rows != n:
            raise bench.Failed(f"{binary}: the report lists {rows} records, not {n}")
        return t
    return fn


def dashboard_run(a, binary, mdir, env):
    html = os.path.join(a.scratch, "dashboard.html")

    def fn():
        return bench.run_timed([binary, "-q", "report", "--html", html, "--records"],
                               cwd=mdir, env=env)
    return fn


def runs(k):
    return "1 run" if k == 1 else f"{k} alternating runs"


def mb(n):
    return f"{n / 1024 / 1024:,.0f} MB"


def raw_rows(c, a, directs):
    """The raw reads' rows: measured, or at a size they were not run at,
    "not run" with a lower bound labelled as an estimate."""
    res, names = c["results"], ["this build"] + (["baseline"] if a.baseline else [])
    out = []
    for cmd in ("audit report", "dashboard"):
        if not c["raw"]:
            ran = [d for d in directs if d["raw"] and not isinstance(d["results"].get(f"{cmd} · this build"), (Exception, type(None)))]
            guess = ""
            if ran:
                d = max(ran, key=lambda d: d["n"])
                low = bench.median(d["results"][f"{cmd} · this build"]) * c["n"] / d["n"]
                guess = (f"; estimate, not measured: over {bench.fmt_s(low)}, {c['n'] // d['n']}× the "
                         f"{d['n']:,}-record run, each record one GET")
            out.append(f"| {cmd}, {c['n']:,} records | not run: one GET per record{guess} |"
                       + " |" * (len(names) - 1 + bool(a.baseline)))
            continue
        cells, meds = [], []
        for name in names:
            r = res[f"{cmd} · {name}"]
            if isinstance(r, Exception):
                cells.append(f"failed: {r}")
                meds.append(None)
            else:
                meds.append(bench.median(r))
                cells.append(bench.fmt_s(meds[-1]))
        row = f"| {cmd}, {c['n']:,} records | " + " | ".join(cells)
        if a.baseline:
            row += " | " + (f"{meds[1] / meds[0]:.1f}×" if None not in meds else "–")
        if cmd == "audit report" and c["requests"].get("raw") is not None:
            row += f" ({c['requests']['raw']:,} requests)"
        out.append(row + " |")
    return out


def table(c, a, directs):
    names = ["this build"] + (["baseline"] if a.baseline else [])
    out = ["| command | " + " | ".join(names) + (" | ratio |" if a.baseline else " |"),
           "|---|" + "---:|" * len(names) + ("---:|" if a.baseline else "")]
    out += raw_rows(c, a, directs)
    rows = []
    for cmd, variant in (("audit report", "compacted"), ("audit report", "compacted, cached"),
                         ("dashboard", "compacted")):
        r = c["results"].get(f"{cmd} · {variant}")
        shown = f"failed: {r}" if isinstance(r, Exception) else bench.fmt_s(bench.median(r))
        reqs = c["requests"].get(f"{cmd} · {variant}")
        shown += f" ({reqs:,} requests)" if reqs is not None else ""
        rows.append(f"| {cmd}, {c['n']:,} records, {variant} | {shown} |")
    rows.append(f"| dashboard, {c['n']:,} records, compacted: fleetform's peak memory | {mb(c['peak'])} |")
    own = c["results"].get("dashboard · compacted, moto's own listing")
    if own is not None:
        shown = f"failed: {own}" if isinstance(own, Exception) else bench.fmt_s(bench.median(own))
        rows.append(f"| dashboard, {c['n']:,} records, compacted, moto's own listing (one run) | {shown} |")
    if c["raw"]:
        how = f"`records compact` through moto ({bench.fmt_s(c['compacted_in'])} for {c['n']:,} records)"
    else:
        how = (f"`records compact` of a local store ({bench.fmt_s(c['compacted_in'])} for {c['n']:,} records; "
               f"the {c['local']['objects']} segment and manifest objects it wrote put into the bucket)")
    latency = f", {c['latency_ms']} ms added to each" if c["latency_ms"] else ", 0 ms added"
    out += ["", f"Method: as above after {how}, {runs(c['reps'])} of each compacted read, "
            "each with an empty segment cache (a fresh runner) and then with it; requests counted over one "
            f"more run of each through the proxy{latency}; peak memory (fleetform's own `VmHWM`, sampled every 2 ms) over one more run of "
            "the dashboard with an empty cache.", "",
            "| command | this build |", "|---|---:|"] + rows
    return out


def method(d, a):
    seeding = d["seeding"]
    where = (f"put into moto's S3 backend in moto's own process before it served (bench/moto_seeded.py: "
             f"{seeding['objects']:,} objects in {bench.fmt_s(seeding['seconds'])}; moto's resident memory "
             f"then {mb(seeding['rss_bytes'])}); moto's listings answered from a sorted index of the bucket's "
             f"keys ({seeding.get('listing', 'not said')}), as S3 answers one in time with what it returns "
             "where moto walks the whole bucket for each (the last row of a table without raw reads: moto's "
             "own listing)")
    if d["raw"]:
        reads = (f"`fleetform audit report --records --json` and `report --html --records`, "
                 f"{runs(d['raw_reps'])} per binary"
                 + (f" (moto's CPU: {d['moto_ms']:.1f} ms a request)" if d["moto_ms"] else "")
                 + (f"; the baseline: {a.baseline_label or 'the binary BENCH_BASELINE names'}" if a.baseline else "")
                 + (f"; the segments and manifests `records compact` wrote through S3 are the same "
                    f"{d['same']} objects, key for key, as it writes compacting a local store (`records: kind: "
                    "local`) of the same records, each with the same MD5 (S3's ETag)" if d["same"] else ""))
    else:
        reads = (f"the records also written as the files of a local store (`records: kind: local`, the same "
                 f"keys and bytes, in {bench.fmt_s(d['local']['written'])}); the raw reads not run (one GET "
                 "per record), nor a compaction through moto (a GET per record too)")
    return (f"Method: {d['n']:,} audit records in moto's S3 on loopback, {where}; {reads}; "
            f"{os.cpu_count()} cores" + (f", {a.machine}." if a.machine else "."))


def goals(directs):
    """The issue's goals for reading records (#88), each judged only at the
    size it is set at, from the run at that size among `directs` (else the
    largest, unjudged): the dashboard over 10,000 compacted records within
    2 s, and over 1,000,000 within 20 s and 2,000 requests."""
    def at(size):
        direct = next((d for d in directs if d["n"] == size), None) or max(directs, key=lambda d: d["n"])
        r = direct["results"].get("dashboard · compacted")
        value = None if r is None or isinstance(r, Exception) else bench.median(r)
        reqs = direct["requests"].get("dashboard · compacted")
        return f"{direct['n']:,} records", value, reqs
    n, value, _ = at(10_000)
    rows = [bench.goal_row("case 9: the dashboard, compacted, ≤ 2 s", "10,000 records", n,
                           None if value is None else bench.fmt_s(value), value is not None and value <= 2.0)]
    n, value, reqs = at(1_000_000)
    shown = None if value is None or reqs is None else f"{bench.fmt_s(value)}, {reqs:,} requests"
    rows.append(bench.goal_row("case 9: the dashboard, compacted, ≤ 20 s and ≤ 2,000 requests",
                               "1,000,000 records", n, shown,
                               shown is not None and value <= 20.0 and reqs <= 2000))
    return rows


def report(directs, held, a):
    out = [MARK, "", "## Case 9: reading records from S3", ""]
    for i, direct in enumerate(directs):
        out += [method(direct, a), ""] + table(direct, a, directs) + ([""] if i + 1 < len(directs) else [])
    if held:
        out += ["", f"Method: as above with {held['n']:,} records and {held['latency_ms']} ms added to every "
                f"request by a proxy in front of moto ({runs(held['raw_reps'])} of each raw read per binary).", ""]
        out += table(held, a, directs)
    out += [""] + bench.goal_table(goals(directs))
    out += ["", MARK]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fleetform", required=True)
    ap.add_argument("--label", help="what this build is, for the table (default: its --version)")
    ap.add_argument("--baseline")
    ap.add_argument("--baseline-label", help="what the baseline is (default: its --version)")
    ap.add_argument("--moto", default=os.path.join(bench.ROOT, ".venv", "bin", "moto_server"))
    ap.add_argument("--work", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--latency-ms", type=int, default=20)
    ap.add_argument("--sizes", help="record counts, comma-separated (default 10000,100000,1000000)")
    ap.add_argument("--reps", type=int, help="alternating runs of each compacted read (default 3)")
    ap.add_argument("--raw-reps", type=int,
                    help="alternating runs of each raw read per binary (default: --reps below 100,000 records, 1 from there)")
    ap.add_argument("--machine", help="what else the machine ran, for the method lines "
                    "(\"shared with other builds\"; run.sh passes BENCH_MACHINE)")
    ap.add_argument("--raw-max", type=int, default=100_000,
                    help="the largest size the raw reads and a compaction through moto run at (default 100000)")
    a = ap.parse_args()
    for k in ("fleetform", "baseline", "moto", "work", "results"):
        if getattr(a, k):
            setattr(a, k, os.path.abspath(getattr(a, k)))
    if not os.access(a.moto, os.X_OK):
        sys.exit(f"error: {a.moto} is missing: install moto with `bash tests/install-moto.sh`")
    a.scratch = os.path.join(a.work, "records-scratch")
    bench.rm(a.scratch)
    os.makedirs(a.scratch)
    t0 = time.time()
    try:
        reps = a.reps or (1 if a.quick else 3)
        sizes = [int(n) for n in (a.sizes or ("1000" if a.quick else "10000,100000,1000000")).split(",")]
        directs = []
        for n in sizes:
            started = time.time()
            directs.append(case(a, n, reps))
            bench.log(f"case 9 at {n:,} records: {time.time() - started:.0f} s, seeded in "
                      f"{directs[-1]['seeding']['seconds']:.0f} s; 1-minute load average "
                      f"{directs[-1]['loads'][0]:.1f} at its start, {directs[-1]['loads'][-1]:.1f} at its end")
            # Each size lands in FILE as soon as it is measured.
            write_section(a.results, report(directs, None, a), MARK)
        held = case(a, 200 if a.quick else 1000, reps, a.latency_ms)
    finally:
        bench.rm(a.scratch)
    bench.log(f"case 9 took {time.time() - t0:.0f} s")
    section = report(directs, held, a)
    write_section(a.results, section, MARK)
    print(section)


if __name__ == "__main__":
    main()
