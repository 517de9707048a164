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
  customer repos, run again until every repo has its pull request;
- `bench_github_rollout::rollout_wave_deployments`: `fleetform rollout tick`
  over one wave of W customers, each apply a deployment on its repo.

Plans are made by a stand-in for Terraform (tests/support/stand_in_terraform.rs).

    github.py --results FILE [--customers N] [--repos R] [--wave W]
              [--writes-per-hour B] [--time-scale K] [--smoke]
              [--logs DRIFT SYNC ROLLOUT]

--logs reads the `BENCH` lines of earlier runs of the three harnesses (their
`cargo test ... --nocapture` output, in that order; each a file or
comma-separated files, e.g. one per `FLEETFORM_BENCH_MODE`) instead of
running them.

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
ROLLOUT = "bench_github_rollout::rollout_wave_deployments"


def from_log(paths):
    rows = []
    for path in paths.split(","):
        with open(path) as f:
            rows += [json.loads(l.split("BENCH ", 1)[1]) for l in f if l.startswith("BENCH ")]
    rows.sort(key=lambda r: not r["scheduler"])
    if len(rows) != 2:
        raise SystemExit(f"error: {paths}: expected 2 BENCH lines (on, off), found {len(rows)}")
    return rows


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


def answers(r):
    """Secondary-limit answers, and the primary limit's when there were any."""
    primary = r.get("primary_limit_answers", 0)
    return f"{r['limit_answers']}" + (f" + {primary} primary" if primary else "")


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
            f"{r['not_modified']} | {answers(r)} | {r['deferred']} | {r['duplicated']} | "
            f"{r['wall_secs']:.1f} s | {wpm:.1f} |"
        )
    return out


ROLLOUT_HEAD = "### A rollout wave's deployments"


def rollout_part(rollout, wave):
    """The rollout subsection of case 11: its table and what it shows."""
    out = [f"{ROLLOUT_HEAD}: `fleetform rollout tick --terraform STAND-IN` over one wave of {wave} customers, "
           "then `fleetform rollout deployments` until none is owed", ""]
    out.append(
        "| scheduler | customers in the wave | ticks | deployment runs | rollout done | requests sent | writes sent | "
        "most writes in a run (hour's limit) | busiest real minute's writes (limit) | limit answers | "
        "deployments sent late | still owed | pairs with a deployment | deployments without a final status | "
        "deployments duplicated | wall time |"
    )
    out.append("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rollout:
        out.append(
            f"| {'on' if r['scheduler'] else 'off'} | {r['customers']} | {r['ticks']} | {r['runs'] - r['ticks']} | "
            f"{'yes' if r['done'] else 'no'} | {r['requests']} | {r['writes_sent']} | "
            f"{r['most_writes_in_a_run']} ({r['writes_per_hour']}) | {r['busiest_minute']} ({r['writes_per_minute']}) | "
            f"{answers(r)} | {r['sent_late']} | {r['owed_left'] if r['owed_left'] is not None else '?'} | "
            f"{r['deployed']} | {r['unfinished']} | {r['duplicated']} | {r['wall_secs']:.1f} s |"
        )
    out.append("")
    out.append(
        "Each customer has a last deployment record naming its repo and commit (what a rollout's deployment is made "
        "on); each apply is a deployment (1 write) and its `in_progress` and `success` statuses (2 writes), 4 applies at "
        "a time are planned (`max_parallel: 4`), the applies made one after the other. A deployment whose writes do not "
        "fit the hour's budget is **owed**: recorded in the rollout's events (`deployment-owed`) while the tick applies "
        "on, and sent by the next runs (`rollout deployments`, each run standing for the next hour): the deployment "
        "(unless it was made) and its final status (2 writes, or 1), saying when the apply was, nothing made twice. "
        "*Pairs with a deployment* counts the wave's customers whose repo shows the apply; *without a final status* "
        "those whose deployment has no `success`, `failure` or `inactive` status."
    )
    out.append("")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--repos", type=int, default=1000)
    ap.add_argument("--wave", type=int, default=1000)
    ap.add_argument("--writes-per-hour", type=int, default=500)
    ap.add_argument("--logs", nargs=3, metavar=("DRIFT", "SYNC", "ROLLOUT"))
    ap.add_argument("--note", help="with --logs: a paragraph on how the logs were made")
    ap.add_argument("--time-scale", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="3 customers and 3 repos, a budget of 2 writes")
    ap.add_argument("--rollout-only", action="store_true", help="measure the rollout wave alone and replace its part of case 11")
    a = ap.parse_args()
    if a.smoke:
        a.customers, a.repos, a.wave, a.writes_per_hour = 3, 3, 3, 2
    k, w = a.time_scale, a.writes_per_hour
    scale = {"FLEETFORM_BENCH_TIME_SCALE": k, "FLEETFORM_BENCH_WRITES_PER_HOUR": w}
    load_start = os.getloadavg()
    started = time.time()
    if a.rollout_only:
        return replace_rollout(a.results, measure(ROLLOUT, {**scale, "FLEETFORM_BENCH_WAVE": a.wave}), a.wave, load_start, started)
    if a.logs:
        drift, sync, rollout = (from_log(p) for p in a.logs)
        a.customers, a.repos, a.wave = drift[0]["customers"], sync[0]["repos"], rollout[0]["customers"]
        k, w = drift[0]["time_scale"], drift[0]["writes_per_hour"]
    else:
        drift = measure(DRIFT, {**scale, "FLEETFORM_BENCH_CUSTOMERS": a.customers})
        sync = measure(SYNC, {**scale, "FLEETFORM_BENCH_REPOS": a.repos})
        rollout = measure(ROLLOUT, {**scale, "FLEETFORM_BENCH_WAVE": a.wave})
    load_end = os.getloadavg()
    ended = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [MARK, "", "## Case 11: GitHub traffic under GitHub's limits", ""]
    out.append(
        "Fleet commands run again until done against the fake GitHub of the tests (tests/support/fake_github), which "
        "enforces GitHub's secondary limits (403 with `retry-after` when exceeded, every such answer counted), once with "
        "the request scheduler (its limits set to the same numbers through `FLEETFORM_GITHUB_WRITES_PER_MINUTE`, "
        "`_WRITES_PER_HOUR`, `_POINTS_PER_MINUTE`) and once with `FLEETFORM_GITHUB_SCHEDULER=off` (requests are sent, "
        "only the limit answers are reacted to); `FLEETFORM_RETRY_MAX_WAIT_SECS=90` (the default) in both. Harnesses: "
        "tests/bench_github.rs, tests/bench_github_fleet.rs and tests/bench_github_rollout.rs (ignored by default), run "
        "by bench/github.py; debug build."
    )
    out.append("")
    out.append(
        f"**The scaled clock** (factor {k}): time runs {k}× faster, a real minute standing for {k} minutes. The per-minute "
        f"limits are {k}× GitHub's per real minute: {80 * k} content writes and {900 * k} points (a write 5) per real "
        f"minute, counted over real 60 s windows by the fake (the scheduler counts 62 s: its 2 s margin, README). The hour's write limit is "
        f"{w} per run{' (GitHub' + chr(39) + 's)' if w == 500 else ' (GitHub' + chr(39) + 's is 500)'}, each run standing for the next hour: a run is shorter than a scaled "
        f"hour ({60 // k} real minutes), and between runs the fake's counts start over (the hour has passed). Writes per "
        "minute are measured on the real clock: the busiest real 60 s of admitted writes over all runs; where it equals "
        "the limit, the per-minute limit was reached (the scheduler waited for it, or the fake answered past it), as "
        "the hour's was in every run with more writes to make than the hour's limit."
    )
    out.append("")
    out.append(
        "**Plans are stood in**: real Terraform for thousands of customers per run is too slow on this machine, and what "
        "plans the drift does not change the GitHub traffic. `drift --terraform` runs a stand-in "
        "(tests/support/stand_in_terraform.rs, a shell script the harness writes) that answers `init`, `plan "
        "-detailed-exitcode` (exit 2, the plan file written), `show -json` (one managed resource updated) and `apply` "
        "as Terraform does for a plan with one change (the rollout's applies too). Everything else is fleetform's own: the registry, validation, rendering, "
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
        "Before the scheduler took each window 2 s longer than GitHub's (README, *Request scheduler*: a request is "
        "booked when it gets its slot, GitHub counts it when it arrives), the scheduled drift of 2,000 met 3 limit "
        "answers over its 5 runs, at the per-minute write limit (2,003 writes sent for 2,000 issues; 2026-11-23)."
    )
    out.append("")
    out.append(
        "Requests and writes sent are what the fake received (limit answers included); writes left for a later run "
        "are what `drift --json` reported as `deferred` (summed over runs: what did not fit one run's budget and was "
        "written by the next); 304s are `not_modified` from `drift --json`: the issue list changes between runs here "
        "(new issues), so none is expected; writes per real minute (whole run) is writes sent over the whole wall time, "
        "the plans included."
    )
    out.append("")
    out.append(
        f"### Template propagation: `fleetform sync --manager-repo R --json --write-log FILE --etag-cache FILE` to "
        f"{a.repos} customer repos"
    )
    out.append("")
    out += table(sync, "customer repos", "synced", "pull requests")
    out.append("")
    out.append(
        "Every repo starts out of sync (the example template's two files are missing): its pull request takes 4 "
        "writes (the branch, the two files, the pull request). Each run keeps `--write-log FILE` and `--etag-cache "
        "FILE` for the next (`sync --manager-repo R --json --write-log FILE --etag-cache FILE`; the log's times are "
        "moved an hour back between runs, as the fake's counts start over). Every run reads every repo first: the "
        "repo, the two files on the default branch and the sync branch; then it writes, repos with no sync branch yet "
        "first, and reads a branched repo's two files and its open pull requests. With the cache, a read answered 200 "
        "before is a 304 when nothing changed, which does not count against GitHub's primary limit for a user token "
        "(5,000 requests an hour, enforced per run as well: the fake's `x-ratelimit-*` headers; answers over it are "
        "counted as *primary*); the two files missing on each default branch are 404s, which carry no ETag and so "
        "count every run. With the scheduler, a request that does not fit (the hour's writes, or the primary limit's "
        "reset) is not sent, the customer is listed as deferred (`\"deferred\": true`, not failed: sync exits 0) and "
        "no later customer writes in that run; the next run finds the branch and the pull request where they are and "
        "writes only what is missing, so nothing is written twice. *Writes left for a later run* counts the deferred "
        "customers, summed over runs. Without the scheduler, requests over a limit are answered 403 and those "
        "customers fail (exit 1); the next run goes on the same way."
    )
    out.append("")
    for r in sync:
        mode = "on" if r["scheduler"] else "off"
        if r["done"]:
            out.append(f"With the scheduler {mode}, sync to {r['repos']} repos completed in {r['runs']} runs.")
        else:
            out.append(
                f"With the scheduler {mode}, sync stopped after {r['runs']} runs (the harness's most) with "
                f"{r['synced']} of {r['repos']} repos synced."
            )
    out.append("")
    out += rollout_part(rollout, a.wave)
    out.append(
        "**Concurrency at command level: no fleet command sends GitHub requests concurrently**, so there is nothing to "
        "show against the fake's concurrency limit at command level. `drift` and `sync` send theirs one after the other; "
        "`rollout tick` plans `max_parallel` pairs at once (Terraform only) and applies, and so makes deployments, one "
        "pair at a time. The scheduler's concurrency cap (`FLEETFORM_GITHUB_CONCURRENCY`, 100 per client) is shown for "
        "requests sent together through one client in tests/schedule.rs, and parallel matrix jobs sharing a token each "
        "keep their own cap (the README's note)."
    )
    out.append("")
    if a.logs and a.note:
        out.append(a.note)
        out.append("")
    if a.logs:
        took = sum(r["wall_secs"] for r in drift + sync + rollout)
        out.append(
            f"The three harnesses ran at the same time as each other and as other jobs (load average (1 min) "
            f"{load_end[0]:.2f} on {os.cpu_count()} cores when this section was written): the times are upper bounds. "
            f"Their runs took {took:.0f} s in all (section written {ended})."
        )
    else:
        out.append(
            f"Load average (1 min) at the start {load_start[0]:.2f}, at the end {load_end[0]:.2f} on {os.cpu_count()} "
            "cores: with other jobs running, the times are upper bounds."
        )
        out.append("")
        out.append(f"Case 11 took {time.time() - started:.0f} s (ended {ended}).")
    out.append("")
    out.append(MARK)
    section = "\n".join(out) + "\n"
    write_section(a.results, section, MARK)
    print(section)


def replace_rollout(results, rollout, wave, load_start, started):
    """Replaces the rollout part of case 11 in `results` (measured alone)."""
    with open(results) as f:
        text = f.read()
    begin = text.index(ROLLOUT_HEAD)
    end = text.index("**Concurrency at command level", begin)
    load_end = os.getloadavg()
    ended = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    part = rollout_part(rollout, wave)
    part.append(
        f"This part was measured alone (`bench/github.py --rollout-only`) in {time.time() - started:.0f} s, ended {ended}; "
        f"load average (1 min) {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end on {os.cpu_count()} cores."
    )
    part.append("")
    text = text[:begin] + "\n".join(part) + "\n" + text[end:]
    tmp = results + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, results)
    print("\n".join(part))


if __name__ == "__main__":
    main()
