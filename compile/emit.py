"""Emit the RTL of a dataflow graph: block sources, memory files and the stitched ``top.sv``.

``emit_rtl(graph, out_dir)`` writes out_dir/ atomically (a sibling temp dir renamed into place):
- copies of the hw_templates block sources the graph needs (read through importlib.resources);
- ``<node>_weights.mem`` / ``<node>_thresholds.mem``, written only through sim/packing.py;
- ``top.sv`` from hw_templates/top.sv.j2 (Jinja2, StrictUndefined): one instance per node, named after it;
- ``filelist.f`` (sources in dependency order, top.sv last) and ``instances.json`` (instance, kind, module,
  output stream of every block: what the RTL simulator needs to decode the debug taps).
The graph is emitted exactly as given: it must be stitched (pipeline step "stitch", compile/passes/stitch.py),
and one whose adjacent blocks exchange words of different sizes is refused.

Every IR field -> HDL parameter mapping (snake_case -> UPPER_SNAKE) is in ``hdl_params`` below, and nowhere else.
The choices behind an MVU's TERNARY, THRESH_STYLE and WEIGHT_STYLE are compile/mvu_map.py's, which the resource
model (compile/estimate.py) reads too.
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from candle_hw.compile.ir import (AccPool, AddStreams, DataflowGraph, DuplicateStreams, GlobalAccPool, IRError, LabelSelect,
                                  MatrixVectorUnit, MaxPool, Node, SlidingWindow, StreamFIFO, StreamType, Thresholding,
                                  WidthConverter, require_stitched)
from candle_hw.compile.mvu_map import ternary_spec, threshold_style, weight_style
from candle_hw.hw_templates import block_folders
from candle_hw.outdir import replace_dir
from candle_hw.sim.golden import padded_rows_cols
from candle_hw.sim.packing import encode, pad_pattern_words, threshold_words, weight_words, write_memh
from candle_hw.types import IntType

MODULES: dict[type[Node], str] = {
    MatrixVectorUnit: "mvu", Thresholding: "thresholding", SlidingWindow: "swg", MaxPool: "maxpool", AccPool: "acc_pool",
    LabelSelect: "label_select", StreamFIFO: "fifo", WidthConverter: "dwc", GlobalAccPool: "global_acc_pool",
    DuplicateStreams: "duplicate_streams", AddStreams: "add_streams",
}
_HDL_SUFFIXES = (".sv", ".v", ".svh", ".vh")


@dataclass
class Instance:
    name: str
    module: str
    params: dict[str, int | str]
    mems: dict[str, tuple[list[int], int]] = field(default_factory=dict)  # file -> (words, width)


def _signed(t: IntType) -> int:
    """BIPOLAR elements travel as unsigned bits (1 = +1 > 0 = -1), so they compare as unsigned."""
    return int(t.signed and not t.bipolar)


def threshold_spec(node: MatrixVectorUnit | Thresholding, t: np.ndarray) -> tuple[np.ndarray, IntType]:
    """Thresholds clipped to [lo, hi + 1] of the compared value, and the type that holds them.

    Clipping is exact: acc >= T for T <= lo (resp. T > hi) is as always true (false) as for T = lo (hi + 1).
    """
    if isinstance(node, MatrixVectorUnit):
        lo, hi = node.acc_range
        ttype = node.threshold_type
    else:
        if node.in_type.bipolar:
            raise IRError(f"{node.name}: Thresholding of a BIPOLAR stream is not supported")
        lo, hi = node.in_type.min, node.in_type.max
        ttype = IntType.for_range(lo, hi + 1)
    return np.clip(np.asarray(t, dtype=np.int64), lo, hi + 1), ttype


def _param(graph: DataflowGraph, node: Node, kind: str) -> np.ndarray:
    key = f"{node.name}.{kind}"
    if key not in graph.params:
        raise IRError(f"{node.name}: graph.params has no {key!r}")
    return graph.params[key]


def _border_mems(n: MatrixVectorUnit, inst: Instance) -> dict[str, tuple[list[int], int]]:
    """A zero-padded ±1 window: mvu.sv's padded-row/column pattern ROMs and its tap-walk parameters."""
    rows, cols = padded_rows_cols(*n.border_window)
    k = n.border[2]
    inst.params.update(BORDER=1, KERNEL=k, CF=n.simd_base // n.simd, OFM_W=n.num_vectors[1],
                       PAD_ROW_FILE=f"{n.name}_pad_rows.mem", PAD_COL_FILE=f"{n.name}_pad_cols.mem")
    return {f"{n.name}_pad_rows.mem": (pad_pattern_words(rows), k), f"{n.name}_pad_cols.mem": (pad_pattern_words(cols), k)}


def _window_pool_params(n: MaxPool | AccPool, what: str) -> dict[str, int]:
    """The map and window parameters maxpool.sv and acc_pool.sv pass on to window_pool.sv, whose windows do not
    overlap."""
    if n.stride < n.kernel:  # the pipeline lowers overlapping windows before emission
        raise IRError(f"{n.name}: {what} stride={n.stride} < kernel={n.kernel} reaches the emitter unlowered; "
                      "run the pipeline's pool_windows step (compile/passes/pool_windows.py) first")
    return {"IFM_H": n.ifm_dim[0], "IFM_W": n.ifm_dim[1], "CHANNELS": n.channels, "PE": n.pe, "KERNEL": n.kernel,
            "STRIDE": n.stride}


def hdl_params(node: Node, graph: DataflowGraph) -> Instance:
    """The one mapping from IR node fields to the block's HDL parameters (and its memory files)."""
    module = MODULES.get(type(node))
    if module is None:
        raise IRError(f"{node.name}: no RTL block for node kind {node.kind}")
    if isinstance(node, MatrixVectorUnit):
        n = node
        w = _param(graph, n, "weights")
        inst = Instance(n.name, module, {
            "MW": n.mw, "MH": n.mh, "PE": n.pe, "SIMD": n.simd, "IN_BITS": n.in_type.bits,
            "IN_SIGNED": _signed(n.in_type), "BINARY_XNOR": int(n.binary_xnor), "ACC_BITS": n.acc_type.bits,
            "N_THRESH": n.n_thresholds, "THRESH_BITS": 1, "THRESH_SIGNED": 0, "OUT_BITS": n.out_type.bits,
            "NUM_VECTORS": n.vectors, "WEIGHT_FILE": f"{n.name}_weights.mem", "THRESH_FILE": "",
            "WEIGHT_STYLE": weight_style(n), "WEIGHT_BITS": n.weight_type.bits,
            "WEIGHT_SIGNED": int(n.weight_type.signed), "IN_BIPOLAR": int(n.in_type.bipolar)})
        inst.mems[f"{n.name}_weights.mem"] = (weight_words(w, n.pe, n.simd, n.weight_type),
                                              n.pe * n.simd * n.weight_type.bits)
        if n.border:
            inst.mems.update(_border_mems(n, inst))
        if n.n_thresholds:
            tern = ternary_spec(n, w, _param(graph, n, "thresholds"))
            if tern is not None:
                t, ttype, acc_type = tern
                inst.params.update(TERNARY=1, ACC_BITS=acc_type.bits, THRESH_STYLE=threshold_style(n, True))
            else:
                t, ttype = threshold_spec(n, _param(graph, n, "thresholds"))
            inst.params.update(THRESH_BITS=ttype.bits, THRESH_SIGNED=int(ttype.signed),
                               THRESH_FILE=f"{n.name}_thresholds.mem")
            width = n.pe * n.n_thresholds * ttype.bits
            inst.mems[f"{n.name}_thresholds.mem"] = (threshold_words(t, n.pe, ttype), width)
        return inst
    if isinstance(node, Thresholding):
        n = node
        t, ttype = threshold_spec(n, _param(graph, n, "thresholds"))
        return Instance(n.name, module, {
            "CHANNELS": n.channels, "PE": n.pe, "IN_BITS": n.in_type.bits, "IN_SIGNED": _signed(n.in_type),
            "N_THRESH": n.n_thresholds, "THRESH_BITS": ttype.bits, "THRESH_SIGNED": int(ttype.signed),
            "OUT_BITS": n.out_type.bits, "NUM_VECTORS": int(np.prod(n.num_vectors)),
            "THRESH_FILE": f"{n.name}_thresholds.mem"},
            {f"{n.name}_thresholds.mem": (threshold_words(t, n.pe, ttype), n.pe * n.n_thresholds * ttype.bits)})
    if isinstance(node, SlidingWindow):
        n = node
        pad_bits = int(encode(np.array([n.pad_value]), n.elem_type)[0]) if n.pad else 0
        return Instance(n.name, module, {
            "IFM_H": n.ifm_dim[0], "IFM_W": n.ifm_dim[1], "CHANNELS": n.channels, "SIMD": n.simd,
            "KERNEL": n.kernel, "STRIDE": n.stride, "PAD": n.pad, "PAD_BITS": pad_bits,
            "ELEM_BITS": n.elem_type.bits})
    if isinstance(node, MaxPool):
        n = node
        return Instance(n.name, module, {**_window_pool_params(n, "max-pool"), "ELEM_BITS": n.elem_type.bits,
                                         "SIGNED": _signed(n.elem_type)})
    if isinstance(node, AccPool):
        n = node
        return Instance(n.name, module, {
            **_window_pool_params(n, "window-sum"), "IN_BITS": n.in_type.bits, "IN_SIGNED": _signed(n.in_type),
            "BIPOLAR": int(n.in_type.bipolar), "OUT_BITS": n.out_type.bits})
    if isinstance(node, GlobalAccPool):
        n = node
        return Instance(n.name, module, {
            "IFM_H": n.ifm_dim[0], "IFM_W": n.ifm_dim[1], "CHANNELS": n.channels, "PE": n.pe,
            "IN_BITS": n.in_type.bits, "IN_SIGNED": _signed(n.in_type), "BIPOLAR": int(n.in_type.bipolar),
            "OUT_BITS": n.out_type.bits})
    if isinstance(node, LabelSelect):
        n = node
        return Instance(n.name, module, {
            "LABELS": n.labels, "K": n.k, "PE": n.pe, "IN_BITS": n.in_type.bits, "IN_SIGNED": _signed(n.in_type),
            "OUT_BITS": n.out_type.bits})
    if isinstance(node, StreamFIFO):
        return Instance(node.name, module, {"WIDTH": node.stream.width_bits, "DEPTH": node.depth, "RAM_STYLE": "auto"})
    if isinstance(node, DuplicateStreams):
        return Instance(node.name, module, {"WIDTH": node.in_stream().width_bits, "N_OUT": node.n_out})
    if isinstance(node, AddStreams):
        n = node
        p: dict[str, int | str] = {"PE": n.pe}
        for k, t in enumerate(n.in_types):
            p.update({f"IN{k}_BITS": t.bits, f"IN{k}_SIGNED": _signed(t), f"IN{k}_BIPOLAR": int(t.bipolar)})
        return Instance(n.name, module, p | {"OUT_BITS": n.out_type.bits})
    assert isinstance(node, WidthConverter)
    return Instance(node.name, module, {"IN_ELEMS": node.in_elems, "OUT_ELEMS": node.out_elems,
                                        "ELEM_BITS": node.elem_type.bits})


def hdl_name(name: str) -> str:
    """A node name as a SystemVerilog identifier (instance names = node names where legal)."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return s if re.match(r"[A-Za-z_]", s) else f"n_{s}"


def _literal(v: int | str) -> str:
    if isinstance(v, str):
        return json.dumps(v)  # a plain double-quoted string: SV escapes are a subset of JSON's
    return str(int(v))


def _desc(s: StreamType) -> str:
    return f"{s.elem_type.name}{list(s.shape)}, {s.elems_per_word} per word ({s.width_bits} bits)"


def _template() -> jinja2.Template:
    text = resources.files("candle_hw.hw_templates").joinpath("top.sv.j2").read_text()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    return env.from_string(text)


def _wires(graph: DataflowGraph, names: list[str]) -> dict[tuple[str, int], dict[str, Any]]:
    """One stream wire per output port of every node, keyed by (node, port), in stored node order: node k's
    port p is ``st{k+1}_{name}`` (``_o{p}`` appended on a node with several outputs). The sink's wire is the
    top's output; the source reads ``st0_in``, the top's input."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for k, n in enumerate(graph.nodes):
        for p in range(n.n_out):
            suffix = f"_o{p}" if n.n_out > 1 else ""
            out[(n.name, p)] = {"name": f"st{k + 1}_{names[k]}{suffix}", "width": n.out_stream(p).width_bits}
    return out


def render_top(graph: DataflowGraph, instances: list[Instance]) -> str:
    names = [hdl_name(i.name) for i in instances]
    if len(set(names)) != len(names):
        raise IRError(f"node names collide as HDL identifiers: {names}")
    wires = _wires(graph, names)
    streams = [{"name": "st0_in", "width": graph.input_stream.width_bits}, *wires.values()]
    source = graph.source.name

    def inputs(n: Node) -> list[str]:
        if n.name == source:
            return ["st0_in"]
        return [wires[(e.src, e.src_port)]["name"] for e in graph.in_edges(n.name)]

    ctx = {
        "banner": "Generated by candle-hw (compile/emit.py from hw_templates/top.sv.j2); do not edit.",
        "chain": graph.is_chain,
        "in_desc": _desc(graph.input_stream), "out_desc": _desc(graph.output_stream),
        "in_width": graph.input_stream.width_bits, "out_width": graph.output_stream.width_bits,
        "tap_width": sum(s["width"] for s in streams[1:]), "streams": streams,
        "out_stream": wires[(graph.sink.name, 0)]["name"],
        "instances": [{"name": names[k], "module": inst.module, "out_desc": _desc(n.out_stream()),
                       "preds": [e.src for e in graph.in_edges(n.name)],
                       "src": inputs(n), "dst": [wires[(n.name, p)]["name"] for p in range(n.n_out)],
                       "params": [{"name": p, "value": _literal(v)} for p, v in inst.params.items()]}
                      for k, (n, inst) in enumerate(zip(graph.nodes, instances))],
    }
    return _template().render(**ctx)


def instances_json(graph: DataflowGraph, instances: list[Instance]) -> list[dict[str, Any]]:
    """Per node: instance, module and its output stream; ``out_ports`` taps (one per output port) follow one
    another in the top's tap vector in this order."""
    out = []
    for node, inst in zip(graph.nodes, instances):
        s = node.out_stream()
        out.append({"name": node.name, "instance": hdl_name(node.name), "kind": node.kind, "module": inst.module,
                    "out_ports": node.n_out,
                    "out_stream": {"elem_type": s.elem_type.name, "shape": list(s.shape),
                                   "elems_per_word": s.elems_per_word, "width_bits": s.width_bits}})
    return out


def _copy_sources(modules: list[str], dst: Path) -> list[str]:
    folders: list[str] = []
    for m in modules:
        folders += [b for b in block_folders(m) if b not in folders]
    names: list[str] = []
    root = resources.files("candle_hw.hw_templates")
    for b in folders:
        files = sorted((f for f in root.joinpath(b).iterdir() if f.name.endswith(_HDL_SUFFIXES)
                        and not f.name.startswith("test_")), key=lambda f: f.name)
        if not any(f.name.endswith((".sv", ".v")) for f in files):
            raise IRError(f"hw_templates/{b} has no block sources (is the package installed completely?)")
        for f in files:
            if (dst / f.name).exists():
                raise IRError(f"two blocks ship a file named {f.name}")
            (dst / f.name).write_bytes(f.read_bytes())
            if f.name.endswith((".sv", ".v")):  # headers (.svh/.vh) are `included, not compiled on their own
                names.append(f.name)
    return names


def emit_rtl(graph: DataflowGraph, out_dir: Path) -> Path:
    """Write out_dir/ (see the module docstring) for ``graph``; returns out_dir."""
    out_dir = Path(out_dir)
    require_stitched(graph, "emit")
    g = graph
    instances = [hdl_params(n, g) for n in g.nodes]
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        sources = _copy_sources(sorted({i.module for i in instances}), tmp)
        for inst in instances:
            for fname, (words, width) in inst.mems.items():
                write_memh(tmp / fname, words, width)
        (tmp / "top.sv").write_text(render_top(g, instances))
        (tmp / "filelist.f").write_text("\n".join(sources + ["top.sv"]) + "\n")
        (tmp / "instances.json").write_text(json.dumps(instances_json(g, instances), indent=1) + "\n")
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
