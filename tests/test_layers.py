"""Layering (docs/architecture.md, "Layers"): sim/ depends on the IR, never on the rest of compile/; compile/ reaches
sim/ only through the named interface below; neither imports torch or brevitas. Imports inside functions count."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The base both sides read: the IR, and sim/'s two definitions everything is checked against (one integer
# function per op, one bit layout); these two are leaves (checked below).
SHARED_WITH_SIM = {"candle_hw.compile.ir"}
SHARED_WITH_COMPILE = {"candle_hw.sim.golden", "candle_hw.sim.packing"}
# The one interface from compile/ into the simulators: module -> what it may use, and who uses it.
COMPILE_TO_SIM = {
    "candle_hw.sim.cycle": {"simulate_cycle", "SimulationError"},  # passes/fifo_sizing.py, report.py: timing
    "candle_hw.sim.functional": {"run_dataflow"},                  # verify.py: values against QONNX
    "candle_hw.sim.host": {"run_prologue", "run_epilogue"},        # verify.py
    # estimate.py: a sliding window's cycles per frame, one formula with the cycle model it must agree with;
    # mvu_map.py: whether mvu.sv's ternary heap fits the latency the cycle model gives the unit (same formula);
    # estimate.py: the k-bit MVU's pipeline (POP_LAT and its dot product's registers), from the same heap levels
    "candle_hw.sim.cycle_models": {"swg_frame_cycles", "mvu_ternary_fits", "mvu_dot_pipeline"},
}


def _imports(path: Path) -> list[tuple[str, set[str]]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, {a.name for a in node.names}))
        elif isinstance(node, ast.Import):
            out += [(a.name, set()) for a in node.names]
    return out


def _modules(folder: str) -> list[Path]:
    # *_cli.py modules are the command's entry points (candle_hw/cli.py loads them): they sit above both layers
    return [p for p in sorted((ROOT / folder).rglob("*.py")) if not p.name.endswith("_cli.py")]


def test_sim_depends_only_on_the_ir_of_compile() -> None:
    bad = [f"{p.relative_to(ROOT)}: {m}" for p in _modules("sim") for m, _ in _imports(p)
           if m.startswith("candle_hw.compile") and m not in SHARED_WITH_SIM]
    assert bad == []


def test_compile_reaches_sim_through_one_interface() -> None:
    bad = []
    for p in _modules("compile"):
        for m, names in _imports(p):
            if m.startswith("candle_hw.sim") and m not in SHARED_WITH_COMPILE and not (
                    m in COMPILE_TO_SIM and names <= COMPILE_TO_SIM[m]):
                bad.append(f"{p.relative_to(ROOT)}: {m} {sorted(names)}")
    assert bad == []


# The emitter is the last layer: within compile/ only the pipeline (and the *_cli.py entry points) call it; what
# the estimates, passes and reports share with it (which MVU datapath, which memory) is compile/mvu_map.py.
EMITTER = "candle_hw.compile.emit"
EMITTER_USERS = {"compile/pipeline.py"}


def test_only_the_pipeline_imports_the_emitter() -> None:
    bad = [f"{p.relative_to(ROOT)}: {m} {sorted(names)}" for p in _modules("compile")
           for m, names in _imports(p) if str(p.relative_to(ROOT)) not in EMITTER_USERS | {"compile/emit.py"}
           and (m == EMITTER or (m == "candle_hw.compile" and "emit" in names))]
    assert bad == []


def _module_name(p: Path) -> str:
    return "candle_hw." + ".".join(p.relative_to(ROOT).with_suffix("").parts)


def test_no_import_cycles_in_compile_or_sim() -> None:
    """Imports go one way between the modules of compile/ and sim/: a part that builds on another's helpers (the
    frontend's input table, residual joins and pools on compile/lowering.py) imports them at the top, never its
    importer back from inside a function."""
    import networkx as nx

    g = nx.DiGraph()
    for folder in ("compile", "sim"):
        for p in sorted((ROOT / folder).rglob("*.py")):
            for m, names in _imports(p):
                for target in ([f"{m}.{n}" for n in names] if m in ("candle_hw.compile", "candle_hw.sim") else [m]):
                    if target.startswith(("candle_hw.compile", "candle_hw.sim")):
                        g.add_edge(_module_name(p), target)
    assert sorted(sorted(c) for c in nx.simple_cycles(g)) == []


def test_golden_and_packing_are_leaves() -> None:
    for m in SHARED_WITH_COMPILE:
        p = ROOT / "sim" / (m.rsplit(".", 1)[1] + ".py")
        assert [i for i, _ in _imports(p) if i.startswith("candle_hw.") and i not in ("candle_hw.types",)] == []


def test_no_torch_in_compile_or_sim() -> None:
    allowed = {ROOT / "compile" / "export.py", ROOT / "compile" / "export_cli.py"}
    bad = [f"{p.relative_to(ROOT)}: {m}" for folder in ("compile", "sim") for p in sorted((ROOT / folder).rglob("*.py"))
           if p not in allowed for m, _ in _imports(p) if m.split(".")[0] in ("torch", "brevitas")]
    assert bad == []
