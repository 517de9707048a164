#!/usr/bin/env python3
"""Case 11: GitHub traffic under GitHub's limits (issue #36).

Runs the ignored harnesses through cargo (the debug build the integration
tests use; the GitHub traffic does not depend on the build), each once with
the request scheduler and once with `FLEETFORM_GITHUB_SCHEDULER=off`, against
the fake GitHub of the tests enforcing GitHub's secondary limits on a scaled
clock (tests/bench/github.rs says how):

- `bench::github::drift_over_a_drifted_fleet_across_runs`: `fleetform drift
  --issues` over N drifted customers, run again until every customer has its
  issue;
- `bench::fleet::sync_to_a_fleet_across_runs`: `fleetform sync` to R
  customer repos, run again until every repo has its pull request;
- `bench::rollout::rollout_wave_deployments`: `fleetform rollout tick`
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
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from providers import write_section  # noqa: E402

MARK = "<!-- case 11 -->"
DRIFT = "bench::github::drift_over_a_drifted_fleet_across_runs"
SYNC = "bench::fleet::sync_to_a_fleet_across_runs"
ROLLOUT = "bench::rollout::rollout_wave_deployments"


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
    cmd = ["cargo", "test", "--workspace", "--test", "integration", test, "--", "--ignored", "--exact", "--nocapture"]
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


def rss(r):
    """The largest fleetform run's peak resident set (the test build)."""
    kb = r.get("peak_rss_kb")
    return f"{kb / 1024:.0f} MB" if kb else "–"


def table(rows, unit, done_word, dup_word):
    out = [
        f"| scheduler | {unit} | runs needed | all {done_word} | requests sent | writes sent | most writes in a run (hour's limit) "
        "| busiest real minute's writes (limit) | 304s | limit answers | writes left for a later run | "
        f"{dup_word} duplicated | wall time | writes per real minute (whole run) | peak RSS of a run |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        wpm = r["writes_sent"] / (r["wall_secs"] / 60) if r["wall_secs"] else 0
        out.append(
            f"| {'on' if r['scheduler'] else 'off'} | {r.get('customers', r.get('repos'))} | {r['runs']} | "
            f"{'yes' if r['done'] else 'no'} | {r['requests']} | {r['writes_sent']} | "
            f"{r['most_writes_in_a_run']} ({r['writes_per_hour']}) | {r['busiest_minute']} ({r['writes_per_minute']}) | "
            f"{r['not_modified']} | {answers(r)} | {r['deferred']} | {r['duplicated']} | "
            f"{r['wall_secs']:.1f} s | {wpm:.1f} | {rss(r)} |"
        )
    return out


ROLLOUT_HEAD = "### A rollout wave's deployments"


def rollout_part(rollout, wave):
    """The rollout subsection of case 11: its table and what it shows."""
    out = [f"{ROLLOUT_HEAD}: `fleetform rollout tick --terraform STAND-IN` over one wave of {wave} customers, "
           "then `fleetform rollout deployments` until none is owed", "",
           f"Method: as for drift; one wave of {wave} customers, 4 applies planned at a time; an apply is a deployment "
           "and two statuses (3 writes); what does not fit the hour is owed and sent by the next `rollout deployments` "
           "runs.", ""]
    out.append(
        "| scheduler | customers in the wave | ticks | deployment runs | rollout done | requests sent | writes sent | "
        "most writes in a run (hour's limit) | busiest real minute's writes (limit) | limit answers | "
        "deployments sent late | still owed | pairs with a deployment | deployments without a final status | "
        "deployments duplicated | wall time | peak RSS of a run |"
    )
    out.append("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rollout:
        out.append(
            f"| {'on' if r['scheduler'] else 'off'} | {r['customers']} | {r['ticks']} | {r['runs'] - r['ticks']} | "
            f"{'yes' if r['done'] else 'no'} | {r['requests']} | {r['writes_sent']} | "
            f"{r['most_writes_in_a_run']} ({r['writes_per_hour']}) | {r['busiest_minute']} ({r['writes_per_minute']}) | "
            f"{answers(r)} | {r['sent_late']} | {r['owed_left'] if r['owed_left'] is not None else '?'} | "
            f"{r['deployed']} | {r['unfinished']} | {r['duplicated']} | {r['wall_secs']:.1f} s | {rss(r)} |"
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
    out = [MARK, "", "## Case 11: GitHub traffic under GitHub's limits", ""]
    out.append(
        f"### Drift: `fleetform drift --env staging --issues --json --etag-cache FILE --terraform STAND-IN` over "
        f"{a.customers} drifted customers"
    )
    out.append("")
    out.append(
        f"Method: each fleet command run again until done against the fake GitHub at GitHub's secondary limits on a "
        f"clock {k}× faster (per-minute limits {k}× per real minute, the hour's {w} writes per run), once with the "
        "request scheduler and once with `FLEETFORM_GITHUB_SCHEDULER=off`; Terraform stood in "
        "(`tests/support/stand_in_terraform.rs`); harnesses `tests/bench/*.rs` run by `bench/github.py`; "
        "requests and writes as the fake received them, writes left for a later run are `drift --json`'s `deferred`, "
        "summed over runs; peak RSS is the largest fleetform run's (the test build, the stand-in terraform folded in "
        "by the kernel; a row's figure covers the runs of the rows above it in the same harness)."
    )
    out.append("")
    out += table(drift, "customers drifted", "issues written", "issues")
    out.append("")
    out.append(
        f"### Template propagation: `fleetform sync --manager-repo R --json --write-log FILE --etag-cache FILE` to "
        f"{a.repos} customer repos"
    )
    out.append("")
    out.append(
        "Method: as for drift; every repo starts without the template's two files (4 writes each); each run keeps "
        "`--write-log` and `--etag-cache` for the next; writes left for a later run count deferred customers, summed "
        "over runs. Without the scheduler a run still stops near the hour's limit: a limit answer whose wait is "
        "longer than the run may wait (`FLEETFORM_RETRY_MAX_WAIT_SECS`, 90 s here) is not sent again but deferred "
        "to a later run, as the client's retry order requires (retry-after, then the reset, then at least a minute "
        "doubling)."
    )
    out.append("")
    out += table(sync, "customer repos", "synced", "pull requests")
    out.append("")
    out += rollout_part(rollout, a.wave)
    print(f"case 11 took {time.time() - started:.0f} s", file=sys.stderr)
    out.append(MARK)
    section = "\n".join(out) + "\n"
    write_section(a.results, section, MARK)
    print(section)


def replace_rollout(results, rollout, wave, load_start, started):
    """Replaces the rollout part of case 11 in `results` (measured alone)."""
    with open(results) as f:
        text = f.read()
    begin = text.index(ROLLOUT_HEAD)
    end = text.index(MARK, begin)
    part = rollout_part(rollout, wave)
    text = text[:begin] + "\n".join(part) + "\n" + text[end:]
    tmp = results + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, results)
    print("\n".join(part))


if __name__ == "__main__":
    main()
