"""Every compilation step, in order, in one place.

    lower         QONNX -> DataflowGraph (compile/frontend.py)
    pool_windows  an overlapping max-pool as a sliding window + the max-pool block reducing each window
                  (PoolWindows, compile/passes/pool_windows.py)
    fold          PE/SIMD: a user folding (ApplyFolding) or a throughput target on a device (FoldForThroughput)
    stitch        width converters and FIFOs between nodes (Stitch: InsertWidthConverters, InsertFIFOs); the only
                  place they are inserted: emit and the simulators refuse an unstitched graph
    size_fifos    minimal FIFO depths from the cycle-level simulator (SizeFIFOs)
then outputs: dataflow.json + params.npz, folding.json, rtl/, reports/.

A build is written into a temporary sibling directory and renamed at the end, so a failed compile leaves
nothing behind; an existing BUILD is replaced only if it is a candle-hw build (candle_hw/outdir.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from candle_hw.compile.estimate import check_estimated_fit, estimate_capacity, estimated_overflow, fit_message
from candle_hw.compile.frontend import qonnx_to_dataflow
from candle_hw.compile.ir import DataflowGraph
from candle_hw.compile.passes.folding import ApplyFolding, folding_of, parse_folding
from candle_hw.compile.passes.pool_windows import PoolWindows
from candle_hw.compile.passes.stitch import Stitch
from candle_hw.errors import UserError
from candle_hw.outdir import check_output_dir, output_dir

STEPS = ("lower", "pool_windows", "fold", "stitch", "size_fifos")
FIT_ROUNDS = 3  # foldings tried for --fps: the first, then up to two keeping the sized design's excess free


@dataclass
class CompileOptions:
    target: str | None = None
    fps: float | str | None = None
    folding: Any = None
    clock_mhz: float | None = None
    verify: bool = False
    verify_samples: int = 8
    dump_after: tuple[str, ...] = ()
    emit_rtl: bool = True
    progress: Callable[[str], None] | None = None  # long steps (FIFO sizing) report here; run_passes sets its log
    fold_reserve: tuple[int, int] = (0, 0)  # (LUT, BRAM_18K) an --fps folding keeps free; run_passes sets it


def apply_folding(graph: DataflowGraph, folding: Any) -> DataflowGraph:
    """Apply a folding spec (list in matrix-unit order, dict by node name, or a JSON path)."""
    return ApplyFolding(parse_folding(graph, folding))(graph)


def _fold_step(graph: DataflowGraph, opts: CompileOptions) -> DataflowGraph:
    if opts.folding is not None and opts.fps is not None:
        raise UserError("--fps and --folding are mutually exclusive")
    if opts.folding is not None:
        return apply_folding(graph, opts.folding)
    if opts.fps is not None:
        from candle_hw.compile.passes.fold import FoldForThroughput

        if opts.target is None:
            raise UserError("--fps needs --target DEVICE (the folding is chosen within the device's resources)")
        return FoldForThroughput(target_fps=opts.fps, device=opts.target, clock_mhz=opts.clock_mhz,
                                 reserve_lut=opts.fold_reserve[0], reserve_bram=opts.fold_reserve[1])(graph)
    return graph


def _stitch_step(graph: DataflowGraph, opts: CompileOptions) -> DataflowGraph:
    return Stitch()(graph)


def _size_fifos_step(graph: DataflowGraph, opts: CompileOptions) -> DataflowGraph:
    from candle_hw.compile.passes.fifo_sizing import SizeFIFOs

    return SizeFIFOs(log=opts.progress)(graph)


STEP_FUNCS: dict[str, Callable[[DataflowGraph, CompileOptions], DataflowGraph]] = {
    "pool_windows": lambda graph, opts: PoolWindows()(graph),
    "fold": _fold_step,
    "stitch": _stitch_step,
    "size_fifos": _size_fifos_step,
}


def run_steps(model: str | Path, opts: CompileOptions, log: Callable[[str], None] = lambda s: None,
              on_step: Callable[[str, DataflowGraph], None] | None = None) -> DataflowGraph:
    """Lower and transform; ``on_step(step, graph)`` sees the graph after every step."""
    from candle_hw.compile.verify import oracle_model, random_inputs, compare_layers

    oracle = oracle_model(model) if opts.verify else None
    graph = qonnx_to_dataflow(model)
    branches = "" if graph.is_chain else f", {len(graph.edges)} edges (branching)"
    log(f"lower: {len(graph.nodes)} nodes ({', '.join(n.name for n in graph.nodes)}){branches}")

    def check(step: str, g: DataflowGraph) -> None:
        if oracle is not None:
            bad = compare_layers(g, oracle, random_inputs(g, opts.verify_samples, seed=len(step)))
            if bad:
                raise UserError(f"verify after {step}: {bad[0]}")
            log(f"verify after {step}: bit-exact against QONNX on {opts.verify_samples} random inputs")
        if on_step is not None:
            on_step(step, g)

    check("lower", graph)
    return run_passes(graph, opts, log, check)


def run_passes(graph: DataflowGraph, opts: CompileOptions, log: Callable[[str], None] = lambda s: None,
               on_step: Callable[[str, DataflowGraph], None] | None = None,
               steps: tuple[str, ...] = STEPS[1:]) -> DataflowGraph:
    """The steps after "lower" (or those named in ``steps``, in pipeline order) on a graph, chain or DAG;
    ``on_step(step, graph)`` sees the graph after every step.

    A folding chosen for --fps must fit the device as built, FIFOs included, but the FIFOs' depths come from
    simulating the folded design: where the sized design exceeds the device, the folding and what follows it
    are run again with the excess kept free (FoldForThroughput reserve_lut / reserve_bram, growing by each
    round's excess), at most FIT_ROUNDS foldings; a design still over the device is refused (UserError) with
    the estimate and the device's count, as synth and bitstream refuse one."""
    opts = opts if opts.progress else replace(opts, progress=log)
    todo = [s for s in STEPS[1:] if s in steps]

    def run(g: DataflowGraph, names: list[str]) -> DataflowGraph:
        for step in names:
            new = STEP_FUNCS[step](g, opts)
            log(f"{step}: {'changed' if new != g else 'unchanged'}")
            g = new
            if on_step is not None:
                on_step(step, g)
        return g

    if opts.fps is None or "fold" not in todo:
        return run(graph, todo)
    start = run(graph, todo[:todo.index("fold")])
    for attempt in range(1, FIT_ROUNDS + 1):
        graph = run(start, todo[todo.index("fold"):])
        over = estimated_overflow(graph, opts.target)
        if not over or attempt == FIT_ROUNDS:
            break
        lut, bram = opts.fold_reserve
        lut += over["LUT"][0] - over["LUT"][1] if "LUT" in over else 0
        bram += over["BRAM_18K"][0] - over["BRAM_18K"][1] if "BRAM_18K" in over else 0
        cap = estimate_capacity(opts.target)
        if lut > cap["LUT"] or bram > cap["BRAM_18K"]:
            break  # nothing would be left for the folding
        log(f"fit: {fit_message(graph, opts.target)} (FIFOs after the folding); folding again with "
            f"{lut} LUT, {bram} BRAM_18K kept free")
        opts = replace(opts, fold_reserve=(lut, bram))
    fps = opts.fps if isinstance(opts.fps, str) else f"{opts.fps:g}"
    check_estimated_fit(graph, opts.target, f" with the FIFOs that FIFO sizing keeps (--fps {fps}, after "
                        f"{attempt} folding{'s' if attempt > 1 else ''}, the last keeping {opts.fold_reserve[0]} LUT, "
                        f"{opts.fold_reserve[1]} BRAM_18K free for them)")
    return graph


def load_graph(path: str | Path) -> DataflowGraph:
    """A build directory's graph, or a QONNX model lowered and stitched (steps "lower", "pool_windows" and
    "stitch", no folding or FIFO sizing): the graph `candle-hw simulate` runs at every level."""
    p = Path(path)
    if p.is_dir():
        return DataflowGraph.load(p)
    return Stitch()(PoolWindows()(qonnx_to_dataflow(p)))


def compile_model(model: str | Path, out_dir: str | Path, opts: CompileOptions | None = None,
                  log: Callable[[str], None] = lambda s: None, force: bool = False) -> DataflowGraph:
    """The whole compile, written atomically to out_dir (refused if out_dir holds something not ours)."""
    opts = opts or CompileOptions()
    for s in opts.dump_after:
        if s not in STEPS:
            raise UserError(f"--dump-after {s}: unknown step (steps: {', '.join(STEPS)})")
    check_output_dir(out_dir, force)  # before the work, so a refusal costs nothing
    with output_dir(out_dir, "compile", force) as tmp:
        def dump(step: str, g: DataflowGraph) -> None:
            if step in opts.dump_after:
                g.save(tmp / "dump" / step)

        graph = run_steps(model, opts, log, dump)
        write_build(graph, tmp, opts, log)
    return graph


def write_build(graph: DataflowGraph, build: Path, opts: CompileOptions, log: Callable[[str], None]) -> None:
    graph.save(build)
    (build / "folding.json").write_text(json.dumps(folding_of(graph), indent=1) + "\n")
    (build / "reports").mkdir(exist_ok=True)
    if opts.emit_rtl:
        from candle_hw.compile.emit import emit_rtl

        emit_rtl(graph, build / "rtl")
        log(f"rtl: {len(list((build / 'rtl').iterdir()))} files (top.sv, blocks, memory images)")
    from candle_hw.compile.report import write_estimate_reports

    write_estimate_reports(graph, build, target=opts.target, clock_mhz=opts.clock_mhz)
