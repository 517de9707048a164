#!/usr/bin/env python3
"""Case 11: GitHub traffic under GitHub's limits (issue #36).

Runs the ignored harnesses through cargo (the debug build the integration
tests use; the GitHub traffic does not depend on the build), each once with
the request scheduler and once with `FLEETFORM_GITHUB_SCHEDULER=off`, against
the fake GitHub of the tests enforcing GitHub's secondary limits on a scaled
clock (tests/bench_github.rs says how):

- `bench_github::drift_over_a_drifted_fleet_across_runs`: `fleetform drift
  --issues` over N drifted customers, run again until every customer has its
  issue;
- `bench_github_fleet::sync_to_a_fleet_across_runs`: `fleetform sync` to R
  customer repos, run again until every repo has its pull request.

Plans are made by a stand-in for Terraform (tests/support/stand_in_terraform.rs).

    github.py --results FILE [--customers N] [--repos R] [--writes-per-hour W]
              [--time-scale K] [--smoke]

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
DRIFT = "bench_github::drift_over_a_drifted_fleet_across_runs"
SYNC = "bench_github_fleet::sync_to_a_fleet_across_runs"


def measure(test, settings):
    env = dict(os.environ)
    env.update({k: str(v) for k, v in settings.items()})
    cmd = ["cargo", "test", "--test", "integration", test, "--", "--ignored", "--exact", "--nocapture"]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    rows = [json.loads(l.split("BENCH ", 1)[1]) for l in run.stdout.splitlines() if l.startswith("BENCH ")]
    if run.returncode != 0 or len(rows) != 2:
        sys.stderr.write(run.stdout[-4000:] + run.stderr[-4000:])
        raise SystemExit(f"error: {test} failed (exit {run.returncode})")
    return rows


def table(rows, unit, done_word, dup_word):
    out = [
        f"| scheduler | {unit} | runs needed | all {done_word} | requests sent | writes sent | most writes in a run (hour's limit) "
        "| busiest real minute's writes (limit) | 304s | limit answers | writes left for a later run | "
        f"{dup_word} duplicated | wall time | writes per real minute (whole run) |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        wpm = r["writes_sent"] / (r["wall_secs"] / 60) if r["wall_secs"] else 0
        out.append(
            f"| {'on' if r['scheduler'] else 'off'} | {r.get('customers', r.get('repos'))} | {r['runs']} | "
            f"{'yes' if r['done'] else 'no'} | {r['requests']} | {r['writes_sent']} | "
            f"{r['most_writes_in_a_run']} ({r['writes_per_hour']}) | {r['busiest_minute']} ({r['writes_per_minute']}) | "
            f"{r['not_modified']} | {r['limit_answers']} | {r['deferred']} | {r['duplicated']} | "
            f"{r['wall_secs']:.1f} s | {wpm:.1f} |"
        )
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--repos", type=int, default=1000)
    ap.add_argument("--writes-per-hour", type=int, default=500)
    ap.add_argument("--time-scale", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="3 customers and 3 repos, a budget of 2 writes")
    a = ap.parse_args()
    if a.smoke:
        a.customers, a.repos, a.writes_per_hour = 3, 3, 2
    k, w = a.time_scale, a.writes_per_hour
    scale = {"FLEETFORM_BENCH_TIME_SCALE": k, "FLEETFORM_BENCH_WRITES_PER_HOUR": w}
    load_start = os.getloadavg()
    started = time.time()
    drift = measure(DRIFT, {**scale, "FLEETFORM_BENCH_CUSTOMERS": a.customers})
    sync = measure(SYNC, {**scale, "FLEETFORM_BENCH_REPOS": a.repos})
    load_end = os.getloadavg()
    ended = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [MARK, "", "## Case 11: GitHub traffic under GitHub's limits", ""]
    out.append(
        "Fleet commands run again until done against the fake GitHub of the tests (tests/support/fake_github), which "
        "enforces GitHub's secondary limits (403 with `retry-after` when exceeded, every such answer counted), once with "
        "the request scheduler (its limits set to the same numbers through `FLEETFORM_GITHUB_WRITES_PER_MINUTE`, "
        "`_WRITES_PER_HOUR`, `_POINTS_PER_MINUTE`) and once with `FLEETFORM_GITHUB_SCHEDULER=off` (requests are sent, "
        "only the limit answers are reacted to); `FLEETFORM_RETRY_MAX_WAIT_SECS=90` (the default) in both. Harnesses: "
        "tests/bench_github.rs and tests/bench_github_fleet.rs (ignored by default), run by bench/github.py; debug build."
    )
    out.append("")
    out.append(
        f"**The scaled clock** (factor {k}): time runs {k}× faster, a real minute standing for {k} minutes. The per-minute "
        f"limits are {k}× GitHub's per real minute: {80 * k} content writes and {900 * k} points (a write 5) per real "
        f"minute, counted over real 60 s windows by the fake and by the scheduler alike. The hour's write limit is "
        f"{w} per run (GitHub's 500 when {w} = 500), each run standing for the next hour: a run is shorter than a scaled "
        f"hour ({60 // k} real minutes), and between runs the fake's counts start over (the hour has passed). Writes per "
        "minute are measured on the real clock: the busiest real 60 s of admitted writes over all runs."
    )
    out.append("")
    out.append(
        "**Plans are stood in**: real Terraform for thousands of customers per run is too slow on this machine, and what "
        "plans the drift does not change the GitHub traffic. `drift --terraform` runs a stand-in "
        "(tests/support/stand_in_terraform.rs, a shell script the harness writes) that answers `init`, `plan "
        "-detailed-exitcode` (exit 2, the plan file written) and `show -json` (one managed resource updated) as "
        "Terraform does for a drifted plan. Everything else is fleetform's own: the registry, validation, rendering, "
        "the drift report, the issues and the scheduler."
    )
    out.append("")
    out.append(
        f"### Drift: `fleetform drift --env staging --issues --json --etag-cache FILE --terraform STAND-IN` over "
        f"{a.customers} drifted customers"
    )
    out.append("")
    out += table(drift, "customers drifted", "issues written", "issues")
    out.append("")
    out.append(
        "Requests and writes sent are what the fake received (limit answers included); writes left for a later run "
        "are what `drift --json` reported as `deferred` (summed over runs: what did not fit one run's budget and was "
        "written by the next); 304s are `not_modified` from `drift --json`: the issue list changes between runs here "
        "(new issues), so none is expected; writes per real minute (whole run) is writes sent over the whole wall time, "
        "the plans included."
    )
    out.append("")
    out.append(f"### Template propagation: `fleetform sync --manager-repo R --json` to {a.repos} customer repos")
    out.append("")
    out += table(sync, "customer repos", "synced", "pull requests")
    out.append("")
    out.append(
        "Every repo starts out of sync (the example template's two files are missing): its pull request takes 4 "
        "writes (the branch, the two files, the pull request), and a run reads each repo (repo, the files, the "
        "branch, its open pull requests). **Sync cannot carry writes over**: it has no `--write-log` or "
        "`--deadline`. With the scheduler, a write that does not fit the hour is not sent (deferred: the wait is "
        "longer than the longest wait), the customer is reported failed (`failed: ... deferred`), sync goes on to "
        "the next customer and exits 1; the next run finds the branch and the pull request where they are and "
        "writes only what is missing, so nothing is written twice. *Writes left for a later run* counts those "
        "failed customers, summed over runs."
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
