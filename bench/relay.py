#!/usr/bin/env python3
"""Case 10: the dispatch relay at fleet scale and under hostile load.

`fleetform relay serve` (the static release binary) against the fake GitHub
and a fake OIDC issuer on loopback, with GitHub's default limits on both
sides (the relay's own budget and the fake's enforcement: 80 content
writes a minute, 500 an hour, 900 points a minute per endpoint, per
account). Two harnesses, run with `--ignored`:

- `relay_scale::bench_relay_fleet`: N customers (1,000; 200 with --quick)
  push at once, each caller honouring Retry-After as the trigger does; on a
  cold relay (every installation token minted now), then again warm.
- `relay_hostile::bench_relay_hostile`: the relay's peak memory with 100
  unsigned 24 MB webhook bodies at once, and a valid caller's latency and
  `/healthz`'s while 200 connections trickle their bodies.

    relay.py --fleetform BIN --results FILE [--quick]

Writes its section into FILE between `<!-- case 10 -->` markers; fails
when a harness prints no result.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
from providers import write_section  # noqa: E402

MARK = "<!-- case 10 -->"
FLEET_GOAL_S = 60.0
RSS_GOAL_MB = 256.0
VALID_P99_GOAL_MS = 1000.0


def harness(a, name, env_extra):
    env = dict(os.environ, FLEETFORM_BENCH_BIN=a.fleetform, **env_extra)
    out = subprocess.run(
        ["cargo", "test", "--quiet", "--test", "integration", name,
         "--", "--ignored", "--nocapture", "--test-threads=1", "--exact"],
        env=env, capture_output=True, text=True,
    )
    lines = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"case 10: {name} printed no result (exit {out.returncode}):\n"
                         f"{out.stdout[-4000:]}\n{out.stderr[-4000:]}")
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fleetform", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    a.fleetform = os.path.abspath(a.fleetform)
    t0 = time.time()
    load0 = os.getloadavg()[0]
    n = 200 if a.quick else 1000
    bench.log(f"case 10: {n} customers at once, cold then warm")
    fleet = harness(a, "relay_scale::bench_relay_fleet", {"FLEETFORM_BENCH_N": str(n)})
    bench.log("case 10: hostile load")
    hostile = harness(a, "relay_hostile::bench_relay_hostile", {})[0]
    out = [MARK, "", "## Case 10: the dispatch relay at fleet scale and under hostile load", "",
           "`fleetform relay serve` (static release binary, defaults: `--concurrency 64`, "
           "`--per-client 32`, batches of up to 32 events) on loopback against the fake GitHub "
           "and a fake OIDC issuer (tests/support), **at GitHub's default limits on both sides**: "
           "the relay's own budget is GitHub's (80 content writes a minute, 500 an hour, 900 "
           "points a minute) and the fake enforces the same, per account (each installation "
           "token; an App's JWTs as one), points per endpoint, an installation token not a "
           "content write. Each customer has installed the customer App on its own account. "
           "Every caller honours `Retry-After` as the trigger does (within 9 minutes). Events "
           "are counted at the fake, a batch's entries one by one.", "",
           "| relay | customers at once | answered 202 | dispatches | events received | doubled | "
           "GitHub requests | limit answers | p50 | p99 | until the last answer | relay peak RSS |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in fleet:
        out.append(f"| {r['round']} | {r['n']} | {r['answered_202']} | {r['dispatches_at_fake']} | "
                   f"{r['events_at_fake']} | {r['events_doubled']} | {r['github_requests']} | "
                   f"{r['limit_answers']} | {r['p50_ms'] / 1000:.1f} s | {r['p99_ms'] / 1000:.1f} s | "
                   f"{r['max_ms'] / 1000:.1f} s | {r['peak_rss_kb'] / 1024:.0f} MB |")
    out += ["", "A cold relay mints one installation token per customer (a POST to one endpoint "
            "for all customers: 5 of the App's 900 points a minute each, so at most 180 new "
            "customers a minute, which the relay paces itself, answering the others 503 with "
            "`Retry-After`); the token is then kept 50 minutes, and a warm relay's "
            "requests are the customers' own reads (each on its installation's budget) and "
            "one dispatch per batch on the manager's.", "",
            "**Hostile load** (default limits; 64 handling slots): "
            f"relay peak RSS {hostile['rss_before_kb'] / 1024:.0f} MB before and "
            f"{hostile['rss_after_flood_kb'] / 1024:.0f} MB after 100 unsigned 24 MB webhook "
            "bodies sent at once (the webhook budget is 64 MiB); with 200 connections from 200 "
            "addresses trickling their bodies, a valid dispatch took "
            f"{hostile['valid_p50_ms']:.0f} ms (p50) and {hostile['valid_p99_ms']:.0f} ms (max of 20), "
            f"`/healthz` at most {hostile['healthz_max_ms']:.1f} ms.", ""]
    warm = fleet[-1]
    cold = fleet[0]
    rows = [
        (f"case 10: {n} customers at once, cold relay, last answer ≤ {FLEET_GOAL_S:.0f} s",
         f"{cold['max_ms'] / 1000:.1f} s", cold["max_ms"] / 1000 <= FLEET_GOAL_S),
        ("case 10: no limit answer from GitHub (cold)", f"{cold['limit_answers']}",
         cold["limit_answers"] == 0),
        (f"case 10: {n} customers at once, warm relay, all dispatched once", 
         f"{warm['events_at_fake']} received, {warm['events_doubled']} doubled",
         warm["events_at_fake"] == n and warm["events_doubled"] == 0),
        (f"case 10: {n} customers at once, warm relay, last answer ≤ {FLEET_GOAL_S:.0f} s",
         f"{warm['max_ms'] / 1000:.1f} s", warm["max_ms"] / 1000 <= FLEET_GOAL_S),
        ("case 10: no limit answer from GitHub (warm)", f"{warm['limit_answers']}",
         warm["limit_answers"] == 0),
        (f"case 10: relay peak RSS after 100 unsigned 24 MB bodies ≤ {RSS_GOAL_MB:.0f} MB",
         f"{hostile['rss_after_flood_kb'] / 1024:.0f} MB",
         hostile["rss_after_flood_kb"] / 1024 <= RSS_GOAL_MB),
        (f"case 10: valid caller under 200 slow bodies ≤ {VALID_P99_GOAL_MS:.0f} ms (max of 20)",
         f"{hostile['valid_p99_ms']:.0f} ms", hostile["valid_p99_ms"] <= VALID_P99_GOAL_MS),
    ]
    out += ["| goal | result | met |", "|------|--------|-----|"]
    out += [f"| {g} | {r} | {'yes' if ok else 'no'} |" for g, r, ok in rows]
    ended = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out += ["", f"Load average (1 min) at the start {load0:.2f}, at the end {os.getloadavg()[0]:.2f} "
            f"on {os.cpu_count()} cores: with other jobs running, the times are upper bounds.", ""]
    out += [f"Case 10 took {time.time() - t0:.0f} s (ended {ended}).", "", MARK]
    section = "\n".join(out) + "\n"
    write_section(a.results, section, MARK)
    print(section)


if __name__ == "__main__":
    main()
