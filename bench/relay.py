#!/usr/bin/env python3
"""Case 10: the dispatch relay under load.

`fleetform relay serve` (the static release binary) against the fake GitHub
and a fake OIDC issuer on loopback (the harness `bench_relay_load` in
tests/relay.rs, run with `--ignored`): N dispatches sent at once, each a
fresh OIDC token, each timed from connect to answer; the relay's peak
memory (VmHWM) and what the fake GitHub counted. Repeated; medians.

    relay.py --fleetform BIN --results FILE [--quick]

Writes its section into FILE between `<!-- case 10 -->` markers.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
from providers import write_section  # noqa: E402

MARK = "<!-- case 10 -->"
P99_GOAL_MS = 1000.0
RSS_GOAL_MB = 64.0


def once(a, n):
    env = dict(os.environ, FLEETFORM_BENCH_BIN=a.fleetform, FLEETFORM_BENCH_N=str(n))
    out = subprocess.run(
        ["cargo", "test", "--quiet", "--test", "integration", "relay::bench_relay_load",
         "--", "--ignored", "--nocapture", "--test-threads=1"],
        env=env, capture_output=True, text=True, check=True,
    )
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit(f"the harness printed no result:\n{out.stdout}\n{out.stderr}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fleetform", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    a.fleetform = os.path.abspath(a.fleetform)
    t0 = time.time()
    load0 = os.getloadavg()[0]
    reps = 1 if a.quick else 3
    rows = []
    for n in ([200] if a.quick else [200, 1000]):
        runs = []
        for _ in range(reps):
            bench.log(f"case 10: {n} dispatches at once")
            runs.append(once(a, n))
        med = lambda k: statistics.median(r[k] for r in runs)  # noqa: E731
        lost = max(r["n"] - r["dispatches_at_fake"] for r in runs)
        doubled = max(r["dispatches_at_fake"] - r["n"] for r in runs)
        rows.append((n, med("p50_ms"), med("p99_ms"), med("max_ms"), med("wall_ms"),
                     med("peak_rss_kb") / 1024, med("github_requests"), lost, doubled))
    out = [MARK, "", "## Case 10: the dispatch relay under load", "",
           "`fleetform relay serve` (static release binary, `--concurrency 64`) on loopback, "
           "against the fake GitHub and a fake OIDC issuer (tests/support); N dispatches sent at "
           "once by N threads, each with its own OIDC token (a push to the default branch), after "
           "one warm-up dispatch (the issuer's keys, the registry, the App's installation tokens). "
           "Latency from connect to answer; peak memory is the relay's VmHWM. "
           f"Median of {reps} run(s). Every dispatch is counted at the fake: none may be lost or doubled.",
           "",
           "| dispatches at once | p50 | p99 | max | wall | relay peak RSS | GitHub requests | lost | doubled |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n, p50, p99, mx, wall, rss, req, lost, doubled in rows:
        out.append(f"| {n} | {p50:.0f} ms | {p99:.0f} ms | {mx:.0f} ms | {wall:.0f} ms | "
                   f"{rss:.0f} MB | {req:.0f} | {lost} | {doubled} |")
    p99 = rows[0][2]
    rss = rows[0][5]
    out += ["", "Per push dispatch the relay makes three requests to GitHub: the repository "
            "(its id and default branch), the commit's title (the merged pull request's number) "
            "and the dispatch; installation tokens are minted once an hour per repository.",
            "", "| goal | result | met |", "|------|--------|-----|",
            f"| case 10: p99 of 200 dispatches at once ≤ {P99_GOAL_MS:.0f} ms | {p99:.0f} ms | "
            f"{'yes' if p99 <= P99_GOAL_MS else 'no'} |",
            f"| case 10: relay peak RSS at 200 at once ≤ {RSS_GOAL_MB:.0f} MB | {rss:.0f} MB | "
            f"{'yes' if rss <= RSS_GOAL_MB else 'no'} |",
            f"| case 10: none lost or doubled | {max(r[7] for r in rows)} lost, "
            f"{max(r[8] for r in rows)} doubled | "
            f"{'yes' if all(r[7] == 0 and r[8] == 0 for r in rows) else 'no'} |",
            ""]
    ended = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out += [f"Load average (1 min) at the start {load0:.2f}, at the end {os.getloadavg()[0]:.2f} "
            f"on {os.cpu_count()} cores: with other jobs running, the times are upper bounds.", ""]
    out += [f"Case 10 took {time.time() - t0:.0f} s (ended {ended}).", "", MARK]
    section = "\n".join(out) + "\n"
    write_section(a.results, section, MARK)
    print(section)


if __name__ == "__main__":
    main()
