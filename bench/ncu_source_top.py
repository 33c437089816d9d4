"""Where a kernel's warp-stall samples sit, from an ncu `--page source --print-source sass --csv` export (session 15's
lab profile; ncu's cuda view of this build carries no per-line metrics): python3 bench/ncu_source_top.py FILE.csv [W].
Prints each opcode's share of all samples (LDL / STL are register spills), then every window of W consecutive SASS
instructions holding over 1 % of the samples with its spill share and most executed opcodes, so that a region can be
told apart (HMMA / LDSM: the tile products; F2F / F2FP: plane splits; LDG then STS: the chunk load; SHFL, FFMA and
LDS: the finish)."""
import collections
import csv
import re
import sys


def opcode(text):
    ins = re.sub(r"^@!?U?P\w+\s+", "", text.strip())
    return ins.split()[0].split(".")[0] if ins else "?"


def main(path, window):
    rows = list(csv.reader(open(path, errors="replace")))
    hdr = next(i for i, r in enumerate(rows) if "Source" in r and "Address" in r)
    h = rows[hdr]
    data = [r for r in rows[hdr + 1:] if len(r) == len(h)]
    src, col, ex = h.index("Source"), h.index("Warp Stall Sampling (All Samples)"), h.index("Instructions Executed")
    num = lambda v: float(v.replace(",", "")) if v not in ("", "-") else 0.0
    total = sum(num(r[col]) for r in data) or 1.0
    samples, executed = collections.Counter(), collections.Counter()
    for r in data:
        samples[opcode(r[src])] += num(r[col])
        executed[opcode(r[src])] += num(r[ex])
    print(f"total stall samples {total:.0f}")
    for op, v in samples.most_common(16):
        print(f"  {op:12s} {v / total * 100:5.1f} %   executed {executed[op]:.3g}")
    for s0 in range(0, len(data), window):
        seg = data[s0:s0 + window]
        share = sum(num(r[col]) for r in seg) / total * 100
        if share <= 1.0:
            continue
        spill = sum(num(r[col]) for r in seg if opcode(r[src]) in ("LDL", "STL")) / total * 100
        ops = collections.Counter()
        for r in seg:
            ops[opcode(r[src])] += num(r[ex])
        print(f"  SASS {s0:5d}-{s0 + window:5d}: {share:5.1f} % of samples, spills {spill:4.1f} %; most executed: "
              + ", ".join(o for o, _ in ops.most_common(6)))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 150)
