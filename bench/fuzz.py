"""Fuzz the compiler with random Brevitas networks: every level equal to qonnx execute_onnx, bit for bit.

Networks come from tests/fixtures/random_nets.py (seed i -> one network), each checked by
tests/fixtures/fuzzing.py: Brevitas == qonnx, compile (random folding), functional and cycle level == qonnx; every
``--rtl-every``-th network (up to ``--rtl``) also through Verilator. Stops after ``--networks`` networks or
``--max-minutes`` (the networks started by then finish), whichever comes first, and prints counts per level and
per case and every mismatch, refusal or error.

    OMP_NUM_THREADS=1 python bench/fuzz.py [--networks 1000] [--rtl 100] [--max-minutes 60] [--jobs 2]
                                           [--first-seed 0] [--json fuzz.json]
    OMP_NUM_THREADS=1 python bench/fuzz.py --seeds 8,88,304 --rtl-every 1   # re-check listed findings
    OMP_NUM_THREADS=1 python bench/fuzz.py --residual --networks 40        # residual networks instead
Exit status 1 when anything was not ok.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fixtures.fuzzing import LEVELS, Outcome, check_network  # noqa: E402


def _one(seed: int, rtl: bool, workdir: str, residual: bool = False) -> Outcome:
    import shutil

    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # qonnx's shape-annotation warnings, one per execution
    d = Path(workdir) / f"s{seed}"
    try:
        return check_network(seed, d, rtl=rtl, residual=residual)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def summary(outcomes: list[Outcome]) -> tuple[list[str], bool]:
    lines, clean = [], True
    per_level = {lv: Counter() for lv in ("export",) + LEVELS}
    per_case: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        for lv, v in o.levels.items():
            per_level[lv][v.split(":")[0]] += 1
        for f in o.features:
            per_case[f]["networks"] += 1
            for lv in ("functional", "cycle", "rtl"):
                if lv in o.levels:
                    per_case[f][f"{lv} {o.levels[lv].split(':')[0]}"] += 1
    lines.append(f"{len(outcomes)} networks (seeds {min(o.seed for o in outcomes)}..{max(o.seed for o in outcomes)})")
    for lv, c in per_level.items():
        if c:
            lines.append(f"  {lv:11s} " + ", ".join(f"{k} {n}" for k, n in sorted(c.items())))
    lines.append("per case (networks exercising it; ok per level):")
    for f, c in sorted(per_case.items()):
        lines.append(f"  {f:22s} {c['networks']:5d} networks; functional ok {c['functional ok']}, cycle ok "
                     f"{c['cycle ok']}, rtl ok {c['rtl ok']} of {sum(v for k, v in c.items() if k.startswith('rtl '))}")
    bad = [o for o in outcomes if o.failures]
    for o in bad:
        for lv, v in o.failures.items():
            clean &= lv == "rtl timing"  # a timing difference is reported, not a wrong answer
            lines.append(f"  seed {o.seed} [{o.spec}] folding {o.folding}: {lv}: {v}")
    lines.append("no mismatch, refusal or error" if not bad else f"{len(bad)} networks with findings")
    return lines, clean


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", type=int, default=1000)
    ap.add_argument("--rtl", type=int, default=100, help="at most this many networks also through Verilator")
    ap.add_argument("--rtl-every", type=int, default=10, help="every k-th network goes through Verilator")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--seeds", type=lambda v: [int(s) for s in v.split(",")],
                    help="comma-separated seeds to check instead of --first-seed/--networks (e.g. earlier findings)")
    ap.add_argument("--max-minutes", type=float, default=60.0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", help="write every outcome here")
    ap.add_argument("--residual", action="store_true",
                    help="residual networks (random_nets.random_residual_spec) instead of chains")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    deadline = t0 + 60 * args.max_minutes
    outcomes: list[Outcome] = []
    listed = args.seeds or list(range(args.first_seed, args.first_seed + args.networks))
    seeds = iter(enumerate(listed))
    rtl_left = args.rtl
    with tempfile.TemporaryDirectory(prefix="candle-fuzz-") as tmp, ProcessPoolExecutor(args.jobs) as pool:
        running = set()

        def submit() -> bool:
            nonlocal rtl_left
            i, seed = next(seeds, (None, None))
            if seed is None or time.monotonic() > deadline:
                return False
            rtl = rtl_left > 0 and i % args.rtl_every == 0
            rtl_left -= rtl
            running.add(pool.submit(_one, seed, rtl, tmp, args.residual))
            return True

        for _ in range(args.jobs):
            submit()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                running.discard(fut)
                o = fut.result()
                outcomes.append(o)
                status = "ok" if not o.failures else "; ".join(f"{k}: {v}" for k, v in o.failures.items())
                print(f"[{time.monotonic() - t0:7.1f}s] seed {o.seed:5d} {o.spec:60s} "
                      f"{'+rtl ' if 'rtl' in o.levels else ''}{status}", flush=True)
                submit()
    outcomes.sort(key=lambda o: o.seed)
    lines, clean = summary(outcomes)
    print(f"\n== fuzz: {time.monotonic() - t0:.0f} s wall, {args.jobs} job(s) ==")
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps([o.__dict__ for o in outcomes], indent=1) + "\n")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
