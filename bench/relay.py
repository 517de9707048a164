#!/usr/bin/env python3
"""Case 10: the dispatch relay at fleet scale and under hostile load.

`fleetform relay serve` (the static release binary) against the fake GitHub
and a fake OIDC issuer on loopback, with GitHub's default limits on both
sides (the relay's own budget and the fake's enforcement: 80 content
writes a minute, 500 an hour, 900 points a minute per endpoint, per
account). Two harnesses, run with `--ignored`:

- `relay::scale::bench_relay_fleet`: N customers (1,000; 200 with --quick)
  push at once, each caller honouring Retry-After as the trigger does; on a
  cold relay (only the manager App's token minted now: a push costs the
  relay no customer token), then again warm.
- `relay::hostile::bench_relay_hostile`: the relay's peak memory with 100
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
# The full run's size: the fleet goals are set at it (--quick: "not run").
FULL_CUSTOMERS = 1000
# A burst of 1,000 customers spends at most 40 % of the App's hourly writes.
HOURLY_WRITES = 500
DISPATCH_GOAL = 200
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
    n = 200 if a.quick else FULL_CUSTOMERS
    bench.log(f"case 10: {n} customers at once, cold then warm")
    fleet = harness(a, "relay::scale::bench_relay_fleet", {"FLEETFORM_BENCH_N": str(n)})
    bench.log("case 10: hostile load")
    hostile = harness(a, "relay::hostile::bench_relay_hostile", {})[0]
    out = [MARK, "", "## Case 10: the dispatch relay at fleet scale and under hostile load", "",
           "Method: `fleetform relay serve` (defaults) on loopback against the fake GitHub and a fake OIDC "
           f"issuer, both at GitHub's default limits, {n} customers at once, each caller honouring "
           "`Retry-After`; events counted at the fake.", "",
           "| relay | customers at once | answered 202 | dispatches | events received | doubled | "
           "GitHub requests | limit answers | p50 | p99 | until the last answer | relay peak RSS |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in fleet:
        out.append(f"| {r['round']} | {r['n']} | {r['answered_202']} | {r['dispatches_at_fake']} | "
                   f"{r['events_at_fake']} | {r['events_doubled']} | {r['github_requests']} | "
                   f"{r['limit_answers']} | {r['p50_ms'] / 1000:.1f} s | {r['p99_ms'] / 1000:.1f} s | "
                   f"{r['max_ms'] / 1000:.1f} s | {r['peak_rss_kb'] / 1024:.0f} MB |")
    out += ["", "Method: hostile load on the same relay (64 handling slots): 100 unsigned 24 MB webhook bodies "
            "at once, then 200 connections from 200 addresses trickling their bodies while valid callers "
            "dispatch.", "",
            "| hostile load | result |", "|--------------|-------:|",
            f"| relay peak RSS before | {hostile['rss_before_kb'] / 1024:.0f} MB |",
            f"| relay peak RSS after 100 unsigned 24 MB bodies | {hostile['rss_after_flood_kb'] / 1024:.0f} MB |",
            f"| a valid dispatch under 200 slow bodies, p50 | {hostile['valid_p50_ms']:.0f} ms |",
            f"| a valid dispatch under 200 slow bodies, max of 20 | {hostile['valid_p99_ms']:.0f} ms |",
            f"| `/healthz` under 200 slow bodies, max | {hostile['healthz_max_ms']:.1f} ms |", ""]
    warm = fleet[-1]
    cold = fleet[0]
    at, want = bench.size(n, "customers"), bench.size(FULL_CUSTOMERS, "customers")

    def fleet_goal(goal, value, ok):
        return bench.goal_row(f"case 10: {goal}", want, at, value, ok)

    rows = [
        fleet_goal(f"cold relay, last answer ≤ {FLEET_GOAL_S:.0f} s",
                   f"{cold['max_ms'] / 1000:.1f} s", cold["max_ms"] / 1000 <= FLEET_GOAL_S),
        fleet_goal("no limit answer from GitHub (cold)", f"{cold['limit_answers']}",
                   cold["limit_answers"] == 0),
        fleet_goal("cold relay, all dispatched once",
                   f"{cold['events_at_fake']} received, {cold['events_doubled']} doubled",
                   cold["events_at_fake"] == n and cold["events_doubled"] == 0),
        fleet_goal(f"cold relay, ≤ {DISPATCH_GOAL} dispatches "
                   f"({DISPATCH_GOAL * 100 // HOURLY_WRITES} % of the hour's {HOURLY_WRITES} writes)",
                   f"{cold['dispatches_at_fake']}", cold["dispatches_at_fake"] <= DISPATCH_GOAL),
        fleet_goal("no caller answered after one that first asked > 10 s later (cold, warm)",
                   f"{cold['overtaken_by_10s_later']}, {warm['overtaken_by_10s_later']}",
                   cold["overtaken_by_10s_later"] == 0 and warm["overtaken_by_10s_later"] == 0),
        fleet_goal("warm relay, all dispatched once",
                   f"{warm['events_at_fake']} received, {warm['events_doubled']} doubled",
                   warm["events_at_fake"] == n and warm["events_doubled"] == 0),
        fleet_goal(f"warm relay, last answer ≤ {FLEET_GOAL_S:.0f} s",
                   f"{warm['max_ms'] / 1000:.1f} s", warm["max_ms"] / 1000 <= FLEET_GOAL_S),
        fleet_goal("no limit answer from GitHub (warm)", f"{warm['limit_answers']}",
                   warm["limit_answers"] == 0),
        # The hostile load is the same at every run's size.
        bench.goal_row(f"case 10: relay peak RSS ≤ {RSS_GOAL_MB:.0f} MB", "100 unsigned 24 MB bodies",
                       "100 unsigned 24 MB bodies", f"{hostile['rss_after_flood_kb'] / 1024:.0f} MB",
                       hostile["rss_after_flood_kb"] / 1024 <= RSS_GOAL_MB),
        bench.goal_row(f"case 10: valid caller ≤ {VALID_P99_GOAL_MS:.0f} ms (max of 20)", "200 slow bodies",
                       "200 slow bodies", f"{hostile['valid_p99_ms']:.0f} ms",
                       hostile["valid_p99_ms"] <= VALID_P99_GOAL_MS),
    ]
    out += bench.goal_table(rows)
    bench.log(f"case 10 took {time.time() - t0:.0f} s")
    out += ["", MARK]
    section = "\n".join(out) + "\n"
    write_section(a.results, section, MARK)
    print(section)


if __name__ == "__main__":
    main()
