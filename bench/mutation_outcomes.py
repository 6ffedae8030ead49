"""Which mutants of tests/compile/test_mutation_fuzz.py are refused (and why) and which compile.

The test checks every compiled mutant against qonnx; this prints the split behind docs/results.md's table:

    python bench/mutation_outcomes.py [--messages]
"""
from __future__ import annotations

import argparse
import importlib.util
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _fuzz_module():
    spec = importlib.util.spec_from_file_location("mutation_fuzz", ROOT / "tests" / "compile" / "test_mutation_fuzz.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _cnv_small() -> bytes:
    import tempfile

    import torch

    from candle_hw.compile.export import export_qonnx_model
    from candle_hw.models import build_model

    torch.manual_seed(0)  # as the test's fixture
    with tempfile.TemporaryDirectory() as d:
        return export_qonnx_model(build_model("cnv_small").eval(), Path(d) / "cnv_small.onnx").read_bytes()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", action="store_true", help="print each refusal")
    args = ap.parse_args()
    from candle_hw.compile.frontend import qonnx_to_dataflow
    from candle_hw.errors import UserError

    t = _fuzz_module()
    bases = {"tfc": (ROOT / "tests" / "data" / "TFC_1W1A.onnx").read_bytes(), "cnv_small": _cnv_small()}
    counts: Counter = Counter()
    for model, name, seed in t.CASES:
        try:
            qonnx_to_dataflow(t.mutant(bases[model], name, seed).SerializeToString())
            counts[model, "compiled"] += 1
        except UserError as exc:
            counts[model, "refused"] += 1
            if args.messages:
                print(f"{model}-{name}-{seed}: {exc}"[:160])
    for model in bases:
        print(f"{model}: {counts[model, 'refused'] + counts[model, 'compiled']} mutants, "
              f"{counts[model, 'refused']} refused, {counts[model, 'compiled']} compiled "
              f"(known mismatches: {sum(1 for k in t.KNOWN if k[0] == model)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
