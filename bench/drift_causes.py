#!/usr/bin/env python3
"""Case 12: drift by cause at scale (issue #56 point 4).

A generated fleet's registry (bench/gen.py) and one shard's drift report
holding 2,000 drifted pairs whose cloud changed in 5 ways (5 causes, 400
pairs each; the other pairs reported clean). `fleetform drift
--from-reports` merges it: reads the report, groups the drift by cause,
classifies every pair by its repair policy, keeps the causes in the
records and writes both reports. No Terraform runs: the time is
fleetform's own. The goal: under a second for the whole run.

The GitHub half (unless --no-github): the same merge with `--issues`, one
pair per customer, against the fake GitHub at GitHub's limits on a 5x
clock (the harness `bench::causes::drift_cause_issues_across_runs`
in tests/bench/causes.rs, run through cargo's debug build), run
again until every customer's issue and every cause's issue exists: the
writes it costs under the scheduler and the runs GitHub's 500 writes an
hour take.

    drift_causes.py --fleetform BIN --work DIR --results FILE [--pairs N] [--runs R] [--no-github]

Writes its section into FILE between `<!-- case 12 -->` markers.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
from providers import write_section  # noqa: E402

MARK = "<!-- case 12 -->"
GOAL_S = 1.0
# The default run's size: the goals are set at it (--pairs N: "not run").
FULL_PAIRS = 2000

# (type, attribute, before, after): one cause each.
CAUSES = [
    ("aws_s3_bucket", "versioning", True, False),
    ("aws_security_group", "ingress", [1], [1, 2]),
    ("aws_instance", "instance_type", "t3.micro", "t3.large"),
    ("aws_db_instance", "backup_retention_period", 7, 1),
    ("aws_lb", "deletion_protection", True, False),
]


def kinds(before, after):
    """What the summary of a `resource_drift` entry keeps (no values but
    booleans), as fleetform's own `drift_change` computes it."""
    if isinstance(after, bool):
        return {"change": "set", "to": after}
    if isinstance(before, list) and all(x in after for x in before):
        return {"change": "element-added"}
    return {"change": "changed"}


def pair(slug, env, i):
    ty, attr, before, after = CAUSES[i % len(CAUSES)]
    address = f"module.site.{ty}.main"
    change = {"attribute": f"/{attr}", **kinds(before, after)}
    resource = {"address": address, "action": "update", "type": ty, "changed": [f"/{attr}"]}
    return {
        "customer": slug,
        "environment": env,
        "summary": {
            "customer": slug, "environment": env,
            "create": 0, "update": 1, "delete": 0, "replace": 0,
            "resources": [resource], "outputs": [], "has_changes": True,
            "plan_sha256": f"{i:064x}", "state_key": f"{slug}/{env}.tfstate",
            "cloud_drift": [dict(resource, kinds=[change])],
        },
        "dir": f"/tmp/{slug}-{env}",
    }


def shard_report(pairs_file, n):
    with open(pairs_file) as f:
        pairs = [tuple(line.split()) for line in f if line.strip()]
    if len(pairs) < n:
        raise SystemExit(f"the fleet has {len(pairs)} pairs, fewer than {n}")
    drifted = [pair(s, e, i) for i, (s, e) in enumerate(pairs[:n])]
    return {
        "checked": len(pairs),
        "drifted": drifted,
        "clean": len(pairs) - n,
        "skipped": 0,
        "requests": 0,
        "planned_customers": sorted({s for s, _ in pairs}),
        "reported_pairs": sorted(f"{s}/{e}" for s, e in pairs),
    }


def setup(a, pairs):
    """The fleet and one shard's report of `pairs` drifted pairs: the
    merge command, where it runs, its environment, and the pairs."""
    # Enough customers for the pairs (about 1.8 active pairs each).
    fleet, _meta = bench.fleet(a, "causes", pairs * 10 // 17 + 50)
    manager = os.path.join(fleet, "manager")
    reports = os.path.join(a.work, "causes-reports", "shard-1")
    os.makedirs(reports, exist_ok=True)
    with open(os.path.join(reports, "drift-report.json"), "w") as f:
        json.dump(shard_report(os.path.join(fleet, "pairs.txt"), pairs), f)
    out = os.path.join(a.work, "causes-out")
    cmd = [a.fleetform, "drift", "--from-reports", os.path.dirname(reports), "--out", out, "--json"]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "")}
    return cmd, manager, env, pairs


HARNESS = "bench::causes::drift_cause_issues_across_runs"


def github_half(pairs):
    """The harness's one BENCH row (the merge with --issues across runs)."""
    env = dict(os.environ, FLEETFORM_BENCH_PAIRS=str(pairs))
    cmd = ["cargo", "test", "--workspace", "--test", "integration", HARNESS,
           "--", "--ignored", "--exact", "--nocapture"]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(HERE))
    rows = [json.loads(line.split("BENCH ", 1)[1]) for line in run.stdout.splitlines()
            if line.startswith("BENCH ")]
    if run.returncode != 0 or len(rows) != 1:
        sys.stderr.write(run.stdout[-4000:] + run.stderr[-4000:])
        raise SystemExit(f"error: {HARNESS} failed (exit {run.returncode}) or printed no result")
    return rows[0]


def github_table(r):
    runs = ", ".join(f"{t:.2f}" for t in r["run_secs"])
    return f"""Method: the same merge with `--issues`, one pair per customer, with the request scheduler against the fake GitHub at GitHub's secondary limits on a clock {r['time_scale']}× faster (the hour's {r['writes_per_hour']} writes per run), run again until every customer's issue and every cause's issue exists (`tests/bench/causes.rs`, debug build); requests and writes as the fake received them.

| pairs | causes | runs needed | all issues written | customers' issues | causes' issues | requests sent | writes sent | most writes in a run (hour's limit) | limit answers | issues duplicated | fleetform's time per run |
|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|
| {bench.fmt_n(r['pairs'])} | {r['causes']} | {r['runs']} | {'yes' if r['done'] else 'no'} | {bench.fmt_n(r['customer_issues'])} | {r['cause_issues']} | {bench.fmt_n(r['requests'])} | {bench.fmt_n(r['writes_sent'])} | {r['most_writes_in_a_run']} ({r['writes_per_hour']}) | {r['limit_answers'] + r['primary_limit_answers']} | {r['duplicated']} | {runs} s |
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fleetform", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--pairs", type=int, default=FULL_PAIRS)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-github", action="store_true")
    a = ap.parse_args()
    for k in ("fleetform", "work", "results"):
        setattr(a, k, os.path.abspath(getattr(a, k)))
    os.makedirs(a.work, exist_ok=True)
    cmd, manager, env, _ = setup(a, a.pairs)
    times = []
    for _ in range(a.runs):
        bench.rm(os.path.join(manager, ".fleetform", "records", "drift-causes"))
        times.append(bench.run_timed(cmd, cwd=manager, env=env, ok=(4,)))
    report = json.loads(subprocess.run(cmd, cwd=manager, env=env, capture_output=True).stdout)
    causes = [(c["id"], c["customers"], len(c["pairs"])) for c in report["causes"]]
    assert len(causes) == len(CAUSES), causes
    assert sum(p for _, _, p in causes) == a.pairs, causes
    median = statistics.median(times)
    gh = None if a.no_github else github_half(a.pairs)
    gh_ok = gh is not None and gh["done"] and gh["duplicated"] == 0 and \
        gh["limit_answers"] + gh["primary_limit_answers"] == 0 and \
        gh["most_writes_in_a_run"] <= gh["writes_per_hour"]
    gh_result = ("not run" if gh is None else
                 f"{gh['writes_sent']:,} writes in {gh['runs']} runs, at most "
                 f"{gh['most_writes_in_a_run']} a run, {gh['limit_answers'] + gh['primary_limit_answers']} limit answers")
    rows = "\n".join(f"| `{i}` | {c} | {p} |" for i, c, p in causes)
    want, at = bench.size(FULL_PAIRS, "drifted pairs"), bench.size(a.pairs, "drifted pairs")
    goals = "\n".join(bench.goal_table([
        bench.goal_row(f"case 12: {len(CAUSES)} causes, a whole drift merge under {GOAL_S:.0f} s", want, at,
                       f"{median:.3f} s", median < GOAL_S),
        bench.goal_row(f"case 12: the issues of {len(CAUSES)} causes within GitHub's write limits (every one "
                       "written once, no limit answer, at most the hour's writes a run)", want, at,
                       None if gh is None else gh_result, gh_ok),
    ]))
    section = f"""{MARK}

## Case 12: drift by cause at scale

Method: one shard's drift report of {bench.fmt_n(a.pairs)} drifted pairs in {len(CAUSES)} causes, merged by `fleetform drift --from-reports --json` (no Terraform: grouping by cause, repair classification, the causes record, both reports); median of {a.runs} runs.

| pairs | causes | median | runs |
|---:|---:|---:|---|
| {bench.fmt_n(a.pairs)} | {len(causes)} | {median:.3f} s | {", ".join(f"{t:.3f}" for t in times)} |

Method: the causes the run found, most customers first.

| cause | customers | pairs |
|---|---:|---:|
{rows}

{github_table(gh) if gh else ""}
{goals}

{MARK}
"""
    write_section(a.results, section, MARK)
    print(section)
    return 0 if median < GOAL_S and (gh is None or gh_ok) else 1


if __name__ == "__main__":
    sys.exit(main())
