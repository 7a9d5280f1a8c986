#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn a kds_bench guest run into a table, a CSV file and a chart.

The guest's kernel log carries one "kds_bench: csv,..." line per row:

    csv,OP,PEER,UNIT,KDS_MED,KDS_MIN,KDS_MAX,PEER_MED,PEER_MIN,PEER_MAX,GOAL,KDS_ALLOCS,PEER_ALLOCS

UNIT "ns": the six numbers are per-operation times in picoseconds
(ns * 1000); the row's ratio is kds/peer. UNIT "speedup": they are
speed-ups on 2 CPUs over 1, in thousandths; the ratio is peer/kds (so
that, in every row, lower is better and below 1 kds wins). GOAL is the
target ratio in thousandths, 0 for none. KDS_ALLOCS and PEER_ALLOCS are
slab allocations per operation in thousandths, -1 when not counted.

Writes OUT/results.csv and, with python3-matplotlib, OUT/ratios.svg: one
bar per row, the goal marked. Benchmarks never fail: the exit status
only says whether the run itself worked (every row present, kds loaded
and unloaded, nothing left, no kernel splat). With --smoke it also prints
`N passed, N failed` for make check.
"""

import argparse
import csv
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "qemu-test"))
from collect import SPLATS  # noqa: E402  (one list of what a splat is)

ROWS = ["lifecycle", "create_put", "signal", "join64", "join64_link", "fanout1000", "res4_uncontended", "async_noop",
        "chain4096_per_link", "xcpu_wake", "res4_abba_2threads", "pairs_1cpu",
        "pairs_scaling_2cpu", "sets_1cpu", "sets_scaling_2cpu", "await_tail_100k"]


def parse(console):
    rows = {}
    for line in console:
        m = re.search(r"kds_bench: csv,(.*)$", line)
        if not m:
            continue
        f = m.group(1).strip().split(",")
        if len(f) != 12:
            continue
        op, peer, unit = f[0], f[1], f[2]
        nums = [int(x) for x in f[3:]]
        rows[op] = dict(op=op, peer=peer, unit=unit, kds_med=nums[0], kds_min=nums[1],
                        kds_max=nums[2], peer_med=nums[3], peer_min=nums[4],
                        peer_max=nums[5], goal=nums[6] / 1000 if nums[6] else None,
                        kds_allocs=nums[7] / 1000 if nums[7] >= 0 else None,
                        peer_allocs=nums[8] / 1000 if nums[8] >= 0 else None)
    for r in rows.values():
        # A median of 0 means the row measured nothing: no ratio.
        if not r["kds_med"] or not r["peer_med"]:
            r["ratio"] = None
        elif r["unit"] == "ns":
            r["ratio"] = r["kds_med"] / r["peer_med"]
        else:
            r["ratio"] = r["peer_med"] / r["kds_med"]
    return rows


def parse_units(console):
    """The "csvunit,NAME,MED,MIN,MAX" lines (ps per operation)."""
    units = {}
    for line in console:
        m = re.search(r"kds_bench: csvunit,(\w+),(\d+),(\d+),(\d+)\s*$", line)
        if m:
            units[m.group(1)] = [int(x) / 1000 for x in m.groups()[1:]]
    return units


def fmt(r, which):
    med, lo, hi = (r[f"{which}_{k}"] / 1000 for k in ("med", "min", "max"))
    if r["unit"] == "ns":
        return f"{med:10.1f} ns ({lo:.1f}-{hi:.1f})"
    return f"{med:10.2f} x  ({lo:.2f}-{hi:.2f})"


def allocs(r, which):
    a = r[f"{which}_allocs"]
    return "-" if a is None else f"{a:.2f}"


def table(rows):
    print(f"{'op':22} {'kds':>30} {'allocs':>7} {'peer':>30} {'allocs':>7}  {'ratio':>6} "
          f"{'goal':>6}  peer")
    for op in ROWS:
        r = rows.get(op)
        if not r:
            print(f"{op:22} (missing)")
            continue
        goal = f"{r['goal']:.2f}" if r["goal"] else "-"
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
        met = "" if not r["goal"] or r["ratio"] is None else \
            ("  met" if r["ratio"] <= r["goal"] else "  not met")
        print(f"{op:22} {fmt(r, 'kds'):>30} {allocs(r, 'kds'):>7} {fmt(r, 'peer'):>30} "
              f"{allocs(r, 'peer'):>7}  {ratio:>6} {goal:>6}  {r['peer']}{met}")
    print("ratio: kds/peer time (speed-up rows: peer/kds speed-up); lower is better, "
          "below 1 kds wins")
    print("allocs: slab allocations per operation (kmalloc and kmem_cache_alloc "
          "tracepoints, all CPUs, one untimed run)")


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        # unit ns: times per operation in ns, ratio kds/peer; unit speedup:
        # speed-ups on 2 CPUs over 1, ratio peer/kds. Lower is better.
        w.writerow(["op", "peer", "unit", "kds_median", "kds_min", "kds_max",
                    "peer_median", "peer_min", "peer_max", "ratio", "goal", "kds_allocs",
                    "peer_allocs"])
        for op in ROWS:
            r = rows.get(op)
            if not r:
                continue
            scale = 1000
            w.writerow([op, r["peer"], "ns" if r["unit"] == "ns" else "speedup"] +
                       [r[k] / scale for k in ("kds_med", "kds_min", "kds_max", "peer_med",
                                               "peer_min", "peer_max")] +
                       [f"{r['ratio']:.4f}" if r["ratio"] is not None else "",
                        r["goal"] if r["goal"] else ""] +
                       ["" if r[k] is None else r[k] for k in ("kds_allocs", "peer_allocs")])


def chart(rows, path, label):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no chart: python3-matplotlib is not installed (scripts/setup.sh installs it)")
        return False
    ops = [op for op in ROWS if op in rows and rows[op]["ratio"] is not None]
    ratios = [rows[op]["ratio"] for op in ops]
    fig, ax = plt.subplots(figsize=(10, 5))
    colours = ["#4a7" if rows[op]["goal"] and rows[op]["ratio"] <= rows[op]["goal"]
               else "#c54" if rows[op]["goal"] else "#888" for op in ops]
    ax.bar(range(len(ops)), ratios, color=colours)
    for i, op in enumerate(ops):
        g = rows[op]["goal"]
        if g:
            ax.plot([i - 0.4, i + 0.4], [g, g], color="black", linewidth=2)
    ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    ax.set_xticks(range(len(ops)))
    ax.set_xticklabels(ops, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("ratio: kds/peer time; scaling rows: peer/kds speed-up\n"
                  "(lower is better, below 1 kds wins)", fontsize=8)
    ax.set_yscale("log")
    ax.set_title(f"kds against the kernel's primitives ({label} kernel, same boot); "
                 "black bar: goal")
    fig.tight_layout()
    fig.savefig(path)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--console", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--qemu-rc", type=int, default=0)
    ap.add_argument("--label", default="prod")
    ap.add_argument("--out", required=True)
    ap.add_argument("--smoke", action="store_true",
                    help="make check: print `N passed, N failed` for the run")
    args = ap.parse_args()

    def lines(p):
        try:
            with open(p, errors="replace") as f:
                return [l.rstrip("\r\n") for l in f]
        except FileNotFoundError:
            return []

    console, results = lines(args.console), lines(args.results)
    rows = parse(console)
    os.makedirs(args.out, exist_ok=True)
    table(rows)
    units = parse_units(console)
    if units:
        print("unit costs in this boot (ns per operation, median [min-max]): " +
              "; ".join(f"{k} {v[0]:.1f} [{v[1]:.1f}-{v[2]:.1f}]" for k, v in units.items()))
    csv_path = os.path.join(args.out, "results.csv")
    write_csv(rows, csv_path)
    print(f"[kds] csv:   {csv_path}")
    if not args.smoke and chart(rows, os.path.join(args.out, "ratios.svg"), args.label):
        print(f"[kds] chart: {os.path.join(args.out, 'ratios.svg')}")

    checks = [
        ("kds_bench ran every row", all(op in rows for op in ROWS),
         ", ".join(op for op in ROWS if op not in rows)),
        ("allocations counted on every timed row",
         all(r["kds_allocs"] is not None and r["peer_allocs"] is not None
             for r in rows.values() if r["unit"] == "ns"),
         "a kernel without tracepoints? (the prod flavour has them)"),
        ("insmod kds and kds_bench", "@@insmod kds 0" in results and
         "@@insmod kds_bench 0" in results, "see the console log"),
        ("kds_bench and kds unloaded", "@@rmmod kds_bench 0" in results and
         "@@rmmod kds 0" in results, "see the console log"),
        ("nothing of kds left", any(l.startswith("@@live") and
                                    "fences=0 graph_nodes=0 graph_edges=0" in l
                                    for l in results), "see @@live"),
        ("no kernel splat", not [l for l in console if SPLATS.search(l)],
         "see the console log"),
        ("guest finished", "@@done" in results, f"qemu exit {args.qemu_rc}"),
    ]
    passed = failed = 0
    for name, ok, why in checks:
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"[FAILED] bench: {name}: {why}")
    if args.smoke:
        print(f"{passed} passed, {failed} failed")
        with open(os.path.join(args.out, "counts"), "w") as f:
            f.write(f"{passed} {failed} 0\n")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
