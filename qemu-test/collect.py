#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn a kds test guest's output into a verdict.

Reads the results channel written by qemu-test/init (ttyS1) and the kernel
console log (ttyS0). Every suite's KTAP, taken from
/sys/kernel/debug/kunit/<suite>/results, is merged into one KTAP document
(kunit.py parse reads only the first document of a log, and every module
prints its own) and parsed by the kernel's own tools/testing/kunit/kunit.py.
On top of the KUnit cases, the guest itself is checked: each module loads,
each module's suites all reported, each module unloads, each check of the
trace events passed, kmemleak found nothing, the console has no splat, and
the guest finished. Prints one final line `N passed, N failed[, N
skipped]` and exits 1 on any failure.
"""

import argparse
import json
import os
import re
import struct
import subprocess
import sys

# A kernel splat: anything here in the console log fails the run.
SPLATS = re.compile(
    r"BUG:|WARNING:|KASAN:|UBSAN:|Oops|Call Trace:|Kernel panic|"
    r"general protection fault|kernel BUG at|"
    r"possible circular locking|possible recursive locking|"
    r"inconsistent lock state|suspicious RCU usage|"
    r"blocked for more than|hung_task|detected stall|soft lockup|"
    r"suspected memory leak|unreferenced object|ODEBUG:|panicked at"
)


def read_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").replace("\r", "").split("\n")
    except FileNotFoundError:
        return []


def kunit_suite_count(ko):
    """Number of KUnit suites a module registers: the size of its
    .kunit_test_suites section divided by the size of a pointer."""
    with open(ko, "rb") as f:
        elf = f.read()
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        raise ValueError(f"{ko}: not an ELF64 file")
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * shentsize)
                for i in range(shnum)]
    stroff = sections[shstrndx][4]
    for sh in sections:
        name = elf[stroff + sh[0]:elf.index(b"\0", stroff + sh[0])]
        if name == b".kunit_test_suites":
            return sh[5] // 8
    return 0


class Verdict:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def check(self, ok, name, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"[FAILED] {name}{': ' + detail if detail else ''}")


def parse_results(lines):
    """Split the ttyS1 line protocol into its records."""
    rec = {"insmod": {}, "rmmod": {}, "suites": {}, "ktap": {},
           "kmemleak": None, "done": False, "armed": None, "torture": [],
           "live": None, "trace": [], "trace_missing": False}
    block, name = None, None
    for line in lines:
        if block is not None:
            if line == "@@end":
                if name is None:
                    rec["kmemleak"] = block
                else:
                    rec["ktap"][name] = block
                block = None
            else:
                block.append(line)
            continue
        f = line.split()
        if not f or not f[0].startswith("@@"):
            continue
        if f[0] == "@@insmod" and len(f) == 3:
            rec["insmod"][f[1]] = int(f[2])
        elif f[0] == "@@rmmod" and len(f) == 3:
            rec["rmmod"][f[1]] = int(f[2])
        elif f[0] == "@@suites" and len(f) >= 2:
            rec["suites"][f[1]] = f[2:]
        elif f[0] == "@@suite" and len(f) == 2:
            block, name = [], f[1]
        elif f[0] == "@@kmemleak":
            block, name = [], None
        elif f[0] == "@@torture" and len(f) == 3:
            rec["torture"].append((f[1], int(f[2])))
        elif f[0] == "@@trace" and len(f) == 3 and f[2] in ("ok", "fail"):
            rec["trace"].append((f[1], f[2] == "ok"))
        elif f[0] == "@@trace-missing":
            rec["trace_missing"] = True
        elif f[0] == "@@armed" and len(f) == 3:
            rec["armed"] = (int(f[1]), int(f[2]))
        elif f[0] == "@@live":
            rec["live"] = dict(kv.split("=", 1) for kv in f[1:] if "=" in kv)
        elif f[0] == "@@done":
            rec["done"] = True
    return rec


def merge_ktap(ktap):
    """One KTAP document with each suite as a numbered subtest."""
    out = ["KTAP version 1", f"1..{len(ktap)}"]
    for i, (name, lines) in enumerate(sorted(ktap.items()), 1):
        body = [l for l in lines if l.strip()]
        # Drop the per-file header ("KTAP version 1", "1..1") and renumber
        # the closing "ok 1 <suite>" line.
        if body[:2] == ["KTAP version 1", "1..1"]:
            body = body[2:]
        if body and re.match(r"^(not )?ok 1 ", body[-1]):
            body[-1] = re.sub(r"^((?:not )?ok) 1 ", rf"\g<1> {i} ", body[-1])
        else:
            body.append(f"not ok {i} {name} # the suite did not finish")
        out += body
    return "\n".join(out) + "\n"


def run_kunit_parse(ksrc, ktap, outdir, verdict):
    """kunit.py parse of the merged KTAP; keeps all.ktap and all.json."""
    kunit = os.path.join(ksrc, "tools/testing/kunit/kunit.py")
    src = os.path.join(outdir, "all.ktap")
    js = os.path.join(outdir, "all.json")
    with open(src, "w") as f:
        f.write(ktap)
    p = subprocess.run([sys.executable, kunit, "parse", src, "--json=" + js],
                       capture_output=True, text=True)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    try:
        with open(js) as f:
            counts = json.load(f)["misc"]
    except (OSError, ValueError, KeyError):
        verdict.check(False, "kunit.py parse", f"no JSON (exit {p.returncode})")
        return
    verdict.passed += counts["passed"]
    verdict.failed += counts["failed"] + counts["crashed"] + counts["errors"]
    verdict.skipped += counts["skipped"]


def check_splats(console, verdict):
    hits = [l for l in console if SPLATS.search(l)]
    for l in hits[:20]:
        print(f"  splat: {l.strip()}")
    if len(hits) > 20:
        print(f"  ... and {len(hits) - 20} more lines")
    verdict.check(not hits, "guest: no kernel splat in the console log",
                  f"{len(hits)} matching lines")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--console", required=True)
    ap.add_argument("--results")
    ap.add_argument("--ksrc")
    ap.add_argument("--qemu-rc", type=int, default=0)
    ap.add_argument("--module", action="append", default=[],
                    help="NAME=PATH of a module the guest loads")
    ap.add_argument("--filtered", action="store_true",
                    help="KUNIT_FILTER was set: suites may be missing")
    ap.add_argument("--splats-only", action="store_true")
    ap.add_argument("--label", default="",
                    help="the kernel flavour, printed before the counts")
    ap.add_argument("--counts", help="write 'passed failed skipped' here")
    ap.add_argument("--expect-kmemleak", action="store_true",
                    help="the kernel has kmemleak: a missing scan fails")
    ap.add_argument("--torture", action="store_true",
                    help="a make torture run: no KUnit, one torture run")
    args = ap.parse_args()

    console = read_lines(args.console)
    v = Verdict()
    if args.splats_only:
        check_splats(console, v)
        return 0 if v.failed == 0 else 1

    rec = parse_results(read_lines(args.results))
    modules = dict(m.split("=", 1) for m in args.module)

    ours = {s: k for s, k in rec["ktap"].items()
            if any(s in l for l in rec["suites"].values())}
    if ours:
        run_kunit_parse(args.ksrc, merge_ktap(ours),
                        os.path.dirname(os.path.abspath(args.results)), v)
    # A run in which no KUnit case ran proves nothing (a KUNIT_FILTER that
    # matches nothing, or modules that registered no suite).
    if not args.torture:
        v.check(bool(ours), "guest: KUnit ran at least one suite",
                "none reported; check KUNIT_FILTER (one glob, suite or suite.case)")
    else:
        v.check(bool(rec["torture"]), "guest: kds_torture ran", "no result")
    for name, rc in rec["torture"]:
        v.check(rc == 0, f"guest: kds_torture ({name}) kept every invariant",
                f"insmod exit {rc}; VIOLATION lines in the console log")
    for l in console:
        if "kds_torture: end:" in l:
            print("  " + l.split("] ", 1)[-1].strip())

    for name, path in modules.items():
        if name not in rec["insmod"]:
            continue
        v.check(rec["insmod"][name] == 0, f"guest: insmod {name}",
                f"exit {rec['insmod'][name]}")
        if not args.filtered and not args.torture:
            want = kunit_suite_count(path)
            got = [s for s in rec["suites"].get(name, []) if s in rec["ktap"]]
            v.check(len(got) >= want, f"guest: every suite of {name} reported",
                    f"{len(got)} of {want}")
        v.check(rec["rmmod"].get(name) == 0, f"guest: rmmod {name}",
                f"exit {rec['rmmod'].get(name, 'missing')}")
    missing = [m for m in modules if m not in rec["insmod"] and m != "kds_demo"]
    v.check(not missing, "guest: every module was loaded", ", ".join(missing))

    if not args.torture:
        # Both phases of /init must have run (their modules were built).
        v.check(bool(rec["torture"]), "guest: kds_torture ran", "no result")
        v.check(rec["armed"] is not None, "guest: the unload-with-armed-sources phase ran",
                "no result")
        # Every flavour has CONFIG_EVENT_TRACING: no events/kds is a failure.
        v.check(not rec["trace_missing"], "guest: kds's trace events are in tracefs",
                "no /sys/kernel/tracing/events/kds")
        v.check(rec["trace_missing"] or bool(rec["trace"]),
                "guest: the trace events phase ran", "no result")
    # Each check of the trace events phase is one case.
    for name, ok in rec["trace"]:
        v.check(ok, f"guest: trace events: {name}")
    if rec["trace"]:
        ok = sum(1 for _, good in rec["trace"] if good)
        print(f"  trace events: {ok} of {len(rec['trace'])} checks passed")
    # kds's live-object counters (/sys/module/kds/parameters/live), read
    # once every module using kds is gone: nothing may be left.
    live = rec["live"]
    v.check(live is not None and live and all(n == "0" for n in live.values()),
            "guest: every kds object was freed before kds was unloaded",
            "no reading" if live is None else
            " ".join(f"{k}={n}" for k, n in live.items()))
    if rec["armed"] is not None:
        rc, tries = rec["armed"]
        v.check(rc == 0, "guest: a module armed an hrtimer chain in kds and unloaded",
                f"insmod kds_unload_test: exit {rc}")
        # The armed timer holds kds.ko: the first rmmod must be refused.
        v.check(tries > 0, "guest: rmmod kds refused while a timer was armed",
                "kds unloaded at once")
        print(f"  unload with armed sources: rmmod kds refused {tries} times "
              f"(0.1 s apart) while the timer was armed")

    leak = [l for l in (rec["kmemleak"] or []) if l.strip()]
    if args.torture:
        pass
    elif rec["kmemleak"] is None and not args.expect_kmemleak:
        v.skipped += 1
        print("[SKIPPED] guest: kmemleak (this kernel has no CONFIG_DEBUG_KMEMLEAK)")
    else:
        v.check(rec["kmemleak"] is not None and not leak,
                "guest: kmemleak found no leak",
                "not scanned" if rec["kmemleak"] is None else f"{len(leak)} lines")
    for l in leak[:30]:
        print(f"  kmemleak: {l}")

    check_splats(console, v)
    v.check(rec["done"], "guest: finished",
            f"no @@done (qemu exit {args.qemu_rc}: "
            f"{'timed out' if args.qemu_rc == 124 else 'crashed or hung'})")

    line = f"{v.passed} passed, {v.failed} failed"
    if v.skipped:
        line += f", {v.skipped} skipped"
    # scripts/check.sh prints the total line; this one names its flavour.
    print(f"flavour {args.label}: {line}" if args.label else line)
    if args.counts:
        with open(args.counts, "w") as f:
            f.write(f"{v.passed} {v.failed} {v.skipped}\n")
    return 0 if v.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
