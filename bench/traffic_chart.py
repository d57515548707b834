#!/usr/bin/env python3
"""bench/traffic_chart.py: chart of a bench/traffic results file (its --json output).

Two panels against the adapter-cache budget (adapters it holds, log scale), one line per mix:
generated tokens/s and p99 time to first token; base-only and the one-adapter-set-per-batch
runs (serial) are drawn as horizontal reference lines; a red ring marks a run stopped at
--max-seconds (its TTFT is a lower bound).

Usage: bench/traffic_chart.py RESULTS.json [-o CHART.png]   (default: RESULTS.png)
Requires: pip install matplotlib
"""
import argparse
import json
import os


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("-o", "--out", help="PNG path (default: the results path with .png)")
    a = ap.parse_args()
    out = a.out or os.path.splitext(a.results)[0] + ".png"
    with open(a.results) as f:
        res = json.load(f)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = res["runs"]
    base = next((r for r in runs if r["mix"] is None), None)
    mixes = []
    for r in runs:
        if r["mix"] is not None and r["mix"] not in mixes:
            mixes.append(r["mix"])
    colors = {"zipf": "tab:blue", "uniform": "tab:orange"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    panels = [("gen_tok_s", "generated tokens/s"), ("ttft_p99_ms", "TTFT p99 (ms)")]
    budgets = sorted({r["budget_adapters"] for r in runs if r["mix"] and not r["serialize"]})
    for ax, (key, label) in zip(axes, panels):
        for mix in mixes:
            pts = sorted((r["budget_adapters"], r[key]) for r in runs
                         if r["mix"] == mix and not r["serialize"] and r[key] is not None)
            c = colors.get(mix)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=c, label=mix)
            for r in runs:  # runs stopped at --max-seconds: hollow marker
                if r["mix"] == mix and not r["serialize"] and r["capped"] and r[key] is not None:
                    ax.plot([r["budget_adapters"]], [r[key]], "o", ms=11, mfc="none", color="red")
            for r in runs:
                if r["mix"] == mix and r["serialize"] and r[key] is not None:
                    ax.axhline(r[key], color=c, ls=":",
                               label=f"{mix}, one set per batch (budget {r['budget_adapters']})")
        if base and base[key] is not None:
            ax.axhline(base[key], color="black", ls="--", label="base only")
        ax.set_xscale("log", base=2)
        if budgets:
            ax.set_xticks(budgets)
            ax.set_xticklabels([str(b) for b in budgets])
        ax.set_xlabel("adapter cache budget (adapters)")
        ax.set_ylabel(label)
        if key == "ttft_p99_ms":
            ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylim(bottom=0)
    axes[0].legend(fontsize=8)
    title = (f"{res['model']}, {res['n_adapters']} adapters, {res['rate_req_s']:.2f} req/s "
             f"Poisson, -t {res['threads']}, {res['n_requests']} requests")
    if res.get("quick"):
        title += " (--quick: smoke run)"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"chart: {out}")


if __name__ == "__main__":
    main()
