#!/usr/bin/python3
"""Plots llmserve-loadgen sweeps (one JSON file per sweep; several files compare servers).

    scripts/plot_results.py RESULT.json [MORE.json ...] [--out-dir DIR] [--label NAME ...]

Writes, for whatever the sweeps contain:
  throughput_vs_concurrency.png  output tokens/s and requests/s per closed-loop concurrency
  latency_vs_concurrency.png     TTFT and TPOT p50 / p99 per concurrency
  ttft_vs_prompt_length.png      TTFT p50 / p99 per prompt length
  throughput_vs_request_rate.png, latency_vs_request_rate.png   the same for Poisson runs
  kv_cache_usage.png             the server's KV-cache gauge over each run's time, when sampled
One line per (file, prompt length) or (file, load level).
"""
import argparse
import json
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # files only: CI and servers have no display
import matplotlib.pyplot as plt  # noqa: E402


def load(paths, labels):
    sweeps = []
    for i, path in enumerate(paths):
        with open(path) as f:
            sweep = json.load(f)
        if sweep.get("tool") != "llmserve-loadgen" or not isinstance(sweep.get("runs"), list):
            sys.exit(f"{path}: not an llmserve-loadgen result")
        label = labels[i] if i < len(labels) else os.path.splitext(os.path.basename(path))[0]
        sweeps.append((label, sweep))
    return sweeps


def stat(run, name, which):
    value = run["metrics"][name][which]
    return float("nan") if value is None else value


def series(sweeps, mode, key, group):
    """{(label, group value): sorted [(key value, run)]} for runs of `mode`."""
    out = defaultdict(list)
    for label, sweep in sweeps:
        for run in sweep["runs"]:
            if run["mode"] == mode:
                out[(label, run[group])].append((run[key], run))
    lines = {k: sorted(v, key=lambda p: p[0]) for k, v in sorted(out.items())}
    # A sweep along another axis contributes one point per line here: leave those out when
    # some line has a real sweep to show.
    if any(len(points) > 1 for points in lines.values()):
        lines = {k: v for k, v in lines.items() if len(v) > 1}
    return lines


def name(label, multi, text):
    return f"{label}, {text}" if multi else text


def finish_axes(*axes):
    """Load levels and prompt lengths double from point to point: a log2 axis spaces them evenly."""
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)


def save(fig, out_dir, filename, written):
    fig.tight_layout()
    path = os.path.join(out_dir, filename)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)


def plot_load(sweeps, mode, key, xlabel, suffix, out_dir, written):
    lines = series(sweeps, mode, key, "prompt_tokens")
    if not lines:
        return
    multi = len({label for label, _ in lines}) > 1  # name the file only to tell files apart
    fig, (tok, req) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (label, prompt), points in lines.items():
        xs = [x for x, _ in points]
        text = name(label, multi, f"prompt {prompt} tok")
        tok.plot(xs, [r["metrics"]["output_tokens_per_s"] for _, r in points], "o-", label=text)
        req.plot(xs, [r["metrics"]["requests_per_s"] for _, r in points], "o-", label=text)
    tok.set(xlabel=xlabel, ylabel="output tokens/s", title="Output throughput")
    req.set(xlabel=xlabel, ylabel="requests/s", title="Request throughput")
    finish_axes(tok, req)
    save(fig, out_dir, f"throughput_vs_{suffix}.png", written)

    fig, (ttft, tpot) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (label, prompt), points in lines.items():
        xs = [x for x, _ in points]
        for which, style in (("p50", "o-"), ("p99", "s--")):
            text = name(label, multi, f"prompt {prompt} tok, {which}")
            ttft.plot(xs, [stat(r, "ttft_s", which) * 1e3 for _, r in points], style, label=text)
            tpot.plot(xs, [stat(r, "tpot_s", which) * 1e3 for _, r in points], style, label=text)
    ttft.set(xlabel=xlabel, ylabel="time to first token (ms)", title="TTFT")
    tpot.set(xlabel=xlabel, ylabel="time per output token (ms)", title="TPOT")
    finish_axes(ttft, tpot)
    save(fig, out_dir, f"latency_vs_{suffix}.png", written)


def plot_prompt_length(sweeps, out_dir, written):
    lines = {}
    groups = {}
    for mode, group, fmt in (("closed_loop", "concurrency", "concurrency {}"),
                             ("poisson", "request_rate", "{} req/s")):
        for (label, level), points in series(sweeps, mode, "prompt_tokens", group).items():
            if len(points) > 1:
                groups[(label, fmt.format(level))] = points
    if not groups:
        return  # no sweep over prompt lengths
    multi = len({label for label, _ in groups}) > 1
    lines = {name(label, multi, level): points for (label, level), points in groups.items()}
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for text, points in lines.items():
        xs = [x for x, _ in points]
        for which, style in (("p50", "o-"), ("p99", "s--")):
            ax.plot(xs, [stat(r, "ttft_s", which) * 1e3 for _, r in points], style,
                    label=f"{text}, {which}")
    ax.set(xlabel="prompt length (tokens)", ylabel="time to first token (ms)",
           title="TTFT vs prompt length")
    finish_axes(ax)
    save(fig, out_dir, "ttft_vs_prompt_length.png", written)


def plot_kv_usage(sweeps, out_dir, written):
    runs = [(label, run) for label, sweep in sweeps for run in sweep["runs"]
            if run.get("kv_cache_usage")]
    if not runs:
        return
    multi = len({label for label, _ in runs}) > 1
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for label, run in runs:
        load = (f"concurrency {run['concurrency']}" if run["mode"] == "closed_loop"
                else f"{run['request_rate']} req/s")
        samples = run["kv_cache_usage"]
        ax.plot([s["t_s"] for s in samples], [100 * s["value"] for s in samples],
                label=name(label, multi, f"{load}, prompt {run['prompt_tokens']}"))
    ax.set(xlabel="time since the run started (s)", ylabel="KV cache in use (%)",
           title="KV-cache usage during each run", ylim=(0, 105))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    save(fig, out_dir, "kv_cache_usage.png", written)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="+", help="llmserve-loadgen JSON files")
    parser.add_argument("--out-dir", default=".", help="where the PNG files go")
    parser.add_argument("--label", action="append", default=[],
                        help="a name per results file (default: its file name)")
    args = parser.parse_args()
    sweeps = load(args.results, args.label)
    os.makedirs(args.out_dir, exist_ok=True)
    written = []
    plot_load(sweeps, "closed_loop", "concurrency", "concurrent clients", "concurrency",
              args.out_dir, written)
    plot_load(sweeps, "poisson", "request_rate", "request rate (requests/s)", "request_rate",
              args.out_dir, written)
    plot_prompt_length(sweeps, args.out_dir, written)
    plot_kv_usage(sweeps, args.out_dir, written)
    if not written:
        sys.exit("nothing to plot: the results have no runs")
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
