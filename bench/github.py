#!/usr/bin/env python3
"""Case 11: GitHub traffic under GitHub's limits (issue #36).

Runs the ignored harness `bench_github::drift_over_a_drifted_fleet_across_runs`
(tests/bench_github.rs) through cargo: a fleet drift with `--issues` over N
drifted customers of the rollout test world (real Terraform and the test
cloud provider), run again until every customer has its issue, against the
fake GitHub of the tests enforcing scaled-down secondary limits, once with
the request scheduler and once with `FLEETFORM_GITHUB_SCHEDULER=off`. The
harness drives the debug build the integration tests use (assert_cmd), not
the release binary: the GitHub traffic does not depend on the build.

    github.py --results FILE [--customers N] [--writes-per-hour W] [--smoke]

Writes its section into FILE between `<!-- case 11 -->` markers.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from providers import write_section  # noqa: E402

MARK = "<!-- case 11 -->"
TEST = "bench_github::drift_over_a_drifted_fleet_across_runs"


def measure(customers, per_hour):
    env = dict(os.environ)
    env["FLEETFORM_BENCH_CUSTOMERS"] = str(customers)
    env["FLEETFORM_BENCH_WRITES_PER_HOUR"] = str(per_hour)
    cmd = ["cargo", "test", "--test", "integration", TEST, "--", "--ignored", "--exact", "--nocapture"]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    rows = [json.loads(l.split("BENCH ", 1)[1]) for l in run.stdout.splitlines() if l.startswith("BENCH ")]
    if run.returncode != 0 or len(rows) != 2:
        sys.stderr.write(run.stdout[-4000:] + run.stderr[-4000:])
        raise SystemExit(f"error: {TEST} failed (exit {run.returncode})")
    return rows


def table(rows):
    out = [
        "| scheduler | customers drifted | runs needed | all written | requests sent | writes sent | most writes in a run (budget) | 304s | limit answers | issues duplicated | wall time | writes per minute (wall) |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        wpm = r["writes_sent"] / (r["wall_secs"] / 60) if r["wall_secs"] else 0
        out.append(
            f"| {'on' if r['scheduler'] else 'off'} | {r['customers']} | {r['runs']} | "
            f"{'yes' if r['done'] else 'no'} | {r['requests']} | {r['writes_sent']} | "
            f"{r['most_writes_in_a_run']} ({r['writes_per_hour']}) | {r['not_modified']} | "
            f"{r['limit_answers']} | {r['duplicated']} | {r['wall_secs']:.1f} s | {wpm:.1f} |"
        )
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--customers", type=int, default=20)
    ap.add_argument("--writes-per-hour", type=int, default=8)
    ap.add_argument("--smoke", action="store_true", help="3 customers, a budget of 2")
    a = ap.parse_args()
    if a.smoke:
        a.customers, a.writes_per_hour = 3, 2
    load_start = os.getloadavg()
    started = time.time()
    rows = measure(a.customers, a.writes_per_hour)
    load_end = os.getloadavg()
    ended = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [MARK, "", "## Case 11: GitHub traffic under GitHub's limits", ""]
    out.append(
        f"`fleetform drift --env staging --issues --json --etag-cache FILE` over {a.customers} drifted customers "
        "(the rollout test world: applied in staging by a rollout, then the staging defaults changed; real Terraform, "
        "the test cloud provider), run again until every customer has its drift issue (at most 8 runs), against the "
        "fake GitHub of the tests (tests/support/fake_github) enforcing GitHub's secondary limits **scaled down**: "
        f"{a.writes_per_hour} content writes per hour instead of 500 (80 per minute and 900 points per minute as GitHub), "
        "each run standing for the next hour (the fake's counts start over). With the scheduler its budget is set to the "
        f"same {a.writes_per_hour} (`FLEETFORM_GITHUB_WRITES_PER_HOUR`); without it (`FLEETFORM_GITHUB_SCHEDULER=off`) "
        "requests are sent and only the limit answers are reacted to. Harness: tests/bench_github.rs (ignored by default), "
        "run by bench/github.py; debug build."
    )
    out.append("")
    out += table(rows)
    out.append("")
    out.append(
        "Requests sent and writes sent are what the fake GitHub received (limit answers included); 304s are what "
        "`drift --json` reported as `not_modified` (the issue list changes between runs here, so none is expected); "
        "writes per minute is writes sent over the whole wall time (the plans included), the per-minute limit is "
        "not reached at this scale."
    )
    out.append("")
    out.append(
        f"Load average (1 min) at the start {load_start[0]:.2f}, at the end {load_end[0]:.2f} on {os.cpu_count()} cores: "
        "with other jobs running, the times are upper bounds."
    )
    out.append("")
    out.append(f"Case 11 took {time.time() - started:.0f} s (ended {ended}).")
    out.append("")
    out.append(MARK)
    section = "\n".join(out) + "\n"
    write_section(a.results, section, MARK)
    print(section)


if __name__ == "__main__":
    main()
