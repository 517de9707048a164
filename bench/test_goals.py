#!/usr/bin/env python3
"""Unit tests of the bench's goal rows (Python standard library only):
a goal is judged only at the size it is set at, and a run at another size
(--quick, --smoke) writes it "not run". `bash bench/run.sh --smoke` (which
tests/check.sh runs) runs them:

    python3 bench/test_goals.py
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import impact  # noqa: E402
import providers  # noqa: E402
import records  # noqa: E402


def rows_1(n, ff, aj, cj):
    """Case 1's rows as bench.case_validate makes them, at `n` files."""
    return [{"n": n, "files": n, "invalid": n // 100,
             "results": {"fleetform": [(ff, 30e6, n // 100)], "check-jsonschema": [(cj, 40e6, n // 100)],
                         "ajv-cli": [(aj, 80e6, n // 100)]}}]


C5 = {"size": 12_000_000, "startup": {"fleetform --version": {"median": 0.002}}}


class GoalRow(unittest.TestCase):
    def test_judged_at_its_own_size(self):
        self.assertEqual(bench.goal_row("validate ≤ 0.3 s", "10,000 files", "10,000 files", "0.25 s", True),
                         ("validate ≤ 0.3 s, at 10,000 files", "0.25 s at 10,000 files", "yes"))
        self.assertEqual(bench.goal_row("validate ≤ 0.3 s", "10,000 files", "10,000 files", "0.5 s", False)[2],
                         "**no**")

    def test_another_size_is_not_run(self):
        goal, result, met = bench.goal_row("validate ≤ 0.3 s", "10,000 files", "1,000 files", "0.05 s", True)
        self.assertEqual(met, bench.NOT_RUN)
        self.assertIn("1,000 files", result)
        self.assertIn("unjudged", result)
        self.assertIn("10,000 files", goal)
        # A failing value at another size is not a "no" either.
        self.assertEqual(bench.goal_row("g", "100 customers", "10 customers", "9 s", False)[2], bench.NOT_RUN)

    def test_nothing_measured_is_not_run(self):
        self.assertEqual(bench.goal_row("g", "10 pairs", None, None, False)[1:], (bench.NOT_RUN, bench.NOT_RUN))

    def test_a_goal_of_no_size_is_judged(self):
        self.assertEqual(bench.goal_row("static binary ≤ 16 MB", None, None, "12.00 MB", True)[2], "yes")


class QuickRunClaimsNoFullSizeGoal(unittest.TestCase):
    def test_case_1_quick_run(self):
        # --quick's largest case 1 run: 1,000 files, fast enough for any goal.
        rows = bench.goals(rows_1(1000, 0.05, 1.0, 5.0), [], [], [], C5)
        case1 = [r for r in rows if r[0].startswith("case 1")]
        self.assertTrue(case1)
        for goal, result, met in case1:
            self.assertEqual(met, bench.NOT_RUN, (goal, result))
            self.assertIn("1,000 files", result)
        # Size-free goals are still judged.
        self.assertIn(("static binary ≤ 16 MB", "12.00 MB", "yes"), rows)

    def test_case_1_full_run(self):
        rows = bench.goals(rows_1(10000, 0.2, 2.0, 80.0), [], [], [], C5)
        case1 = {g: m for g, _, m in rows if g.startswith("case 1")}
        self.assertEqual(set(case1.values()), {"yes"}, case1)

    def test_case_2_and_3_not_run_at_other_sizes(self):
        c2 = [{"n": 1000, "pairs": 1860, "results": {"fleetform": [0.2], "yq/jq shell": [70.0]}}]
        c3 = [{"n": 25, "pairs": 50, "results": {"fleetform": [(2.0, 0.05, 4.0)], "serial shell loop": [5.0]}}]
        rows = bench.goals([], c2, c3, [], C5)
        met = {g: m for g, _, m in rows}
        self.assertEqual(met["case 2: ≥ 20× faster than the yq/jq way, at 1,000 customers"], "yes")
        self.assertEqual(met["case 2: ≥ 20× faster than the yq/jq way, at 10,000 customers"], bench.NOT_RUN)
        self.assertEqual(met["case 2: ≥ 20× faster than the yq/jq way, at 100 customers"], bench.NOT_RUN)
        for g, m in met.items():
            if g.startswith("case 3"):
                self.assertEqual(m, bench.NOT_RUN, g)

    def test_case_8_quick_run(self):
        # --quick: 1,000 customers (1,860 pairs) and 10 for the groups.
        c = {"customers": 1000, "pairs": 1860, "results": {"impact": [0.19], "render twice + diff": [0.6]},
             "changed": 980, "files_differ": 980,
             "groups": {"customers": 10, "pairs": 20, "planned": 20, "groups": 1, "failed": 0, "seconds": 3}}
        text = impact.report(c)
        goals = [line for line in text.splitlines() if line.startswith("| case 8")]
        self.assertEqual(len(goals), 2, text)
        for line in goals:
            self.assertTrue(line.endswith(f"| {bench.NOT_RUN} |"), line)
        self.assertIn("0.19 s (1,860 pairs) at 1,000 customers, unjudged", text)

    def test_case_7_quick_run(self):
        # --quick: 10 customers (20 pairs) only.
        c = {"archive_bytes": 159e6, "init_cold": 0.27, "init_cached": 0.37, "init_copied": 0.0005,
             "rows": [{"customers": 10, "pairs": 20, "reps": 1, "disk": {},
                       "results": {"fleetform": [3.0], "serial shell loop": [16.0]}}]}
        goals = [line for line in providers.report(c).splitlines() if line.startswith("| case 7")]
        self.assertEqual(len(goals), 2)
        for line in goals:
            self.assertTrue(line.endswith(f"| {bench.NOT_RUN} |"), line)


def direct_9(n, seconds, requests):
    """A size of case 9 as bench/records.py's case returns it (the goals
    read the compacted dashboard's times and its counted requests)."""
    return {"n": n, "results": {"dashboard · compacted": [seconds] * 3},
            "requests": {"dashboard · compacted": requests}}


class Case9(unittest.TestCase):
    G10K = "case 9: the dashboard, compacted, ≤ 2 s, at 10,000 records"
    G1M = "case 9: the dashboard, compacted, ≤ 20 s and ≤ 2,000 requests, at 1,000,000 records"

    def test_a_million_is_judged_on_time_and_requests(self):
        for seconds, requests, met in ((12.0, 47, "yes"), (25.0, 47, "**no**"), (12.0, 3000, "**no**")):
            rows = {g: (r, m) for g, r, m in records.goals([direct_9(10_000, 0.3, 47),
                                                            direct_9(1_000_000, seconds, requests)])}
            self.assertEqual(rows[self.G1M][1], met, (seconds, requests))
            self.assertIn(f"{requests:,} requests at 1,000,000 records", rows[self.G1M][0])
            self.assertEqual(rows[self.G10K][1], "yes")

    def test_without_a_million_it_is_not_run(self):
        rows = {g: m for g, _, m in records.goals([direct_9(10_000, 3.0, 47), direct_9(100_000, 1.0, 47)])}
        self.assertEqual(rows[self.G1M], bench.NOT_RUN)
        self.assertEqual(rows[self.G10K], "**no**")


class ValidateOnly(unittest.TestCase):
    """--validate-only rewrites case 1's section and goal rows alone."""

    def test_case_1_alone_is_rewritten(self):
        import tempfile
        old_rows = bench.goal_table(bench.case1_goals(rows_1(10_000, 0.6, 2.3, 87.0)))
        text = "\n".join(["# Benchmarks", "", "## 1. Schema validation of N variables files", "", "old table", "",
                          "## 2. Layering", "", "case 2 table", "", "## Goals", ""] + old_rows[:2] +
                         [old_rows[2], "| case 2: kept | 1 | yes |"] + old_rows[3:] + [""])
        with tempfile.TemporaryDirectory() as d:
            results = os.path.join(d, "results.md")
            with open(results, "w") as f:
                f.write(text)
            a = type("A", (), {"results": results})()
            real = bench.case_validate
            bench.case_validate = lambda a, sizes, reps: rows_1(10_000, 0.25, 1.9, 80.0)
            try:
                bench.run_validate_only(a)
            finally:
                bench.case_validate = real
            with open(results) as f:
                out = f.read()
        self.assertNotIn("old table", out)
        self.assertIn("case 2 table", out)
        self.assertIn("| case 2: kept | 1 | yes |", out)
        self.assertIn("| case 1: ≥ 7× faster than ajv-cli, at 10,000 files | 7.6× at 10,000 files | yes |", out)
        self.assertNotIn("**no**", out)
        self.assertEqual(out.count("| case 1: "), 4)


if __name__ == "__main__":
    unittest.main()
