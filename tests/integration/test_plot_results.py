#!/usr/bin/python3
"""scripts/plot_results.py on a small llmserve-loadgen sweep: every plot the sweep allows is a
non-empty PNG, and input that is not a sweep is refused with a message.

    test_plot_results.py PLOT_SCRIPT SWEEP_JSON
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT, SWEEP = sys.argv[1], sys.argv[2]


class PlotResults(unittest.TestCase):
    def run_script(self, *args):
        return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)

    def test_every_plot_is_a_png(self):
        with tempfile.TemporaryDirectory() as out:
            result = self.run_script(SWEEP, "--out-dir", out)
            self.assertEqual(result.returncode, 0, result.stderr)
            expected = {"throughput_vs_concurrency.png", "latency_vs_concurrency.png",
                        "ttft_vs_prompt_length.png", "kv_cache_usage.png"}
            self.assertEqual(set(os.listdir(out)), expected)
            for name in expected:
                with open(os.path.join(out, name), "rb") as f:
                    data = f.read()
                self.assertTrue(data.startswith(b"\x89PNG\r\n\x1a\n"), name)
                self.assertGreater(len(data), 10_000, name)  # axes, labels and lines drawn

    def test_two_sweeps_and_poisson_runs(self):
        with open(SWEEP) as f:
            sweep = json.load(f)
        for i, run in enumerate(sweep["runs"]):
            run["mode"], run["request_rate"], run["concurrency"] = "poisson", i % 3 + 1.0, None
        with tempfile.TemporaryDirectory() as out:
            poisson = os.path.join(out, "poisson.json")
            with open(poisson, "w") as f:
                json.dump(sweep, f)
            result = self.run_script(SWEEP, poisson, "--out-dir", out, "--label", "a")
            self.assertEqual(result.returncode, 0, result.stderr)
            for name in ("throughput_vs_request_rate.png", "latency_vs_request_rate.png",
                         "throughput_vs_concurrency.png"):
                self.assertGreater(os.path.getsize(os.path.join(out, name)), 10_000, name)

    def test_refuses_other_json(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump({"runs": "no"}, f)
            f.flush()
            result = self.run_script(f.name, "--out-dir", tempfile.gettempdir())
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("not an llmserve-loadgen result", result.stderr)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
