"""`compile` of a residual QONNX network with a throughput target: FoldForThroughput, stitch, FIFO sizing, reports
on the frontend's DAG, verified layer by layer against qonnx after every step."""
import json

from candle_hw.compile.estimate import estimate_network_performance, node_cycles
from candle_hw.compile.frontend import qonnx_to_dataflow
from candle_hw.compile.ir import AddStreams
from candle_hw.compile.pipeline import CompileOptions, compile_model, run_passes
from candle_hw.compile.report import write_report
from candle_hw.sim.cycle import simulate_cycle
from candle_hw.sim.host import run_prologue
from fixtures.random_nets import build_net, random_residual_spec
from fixtures.reference import export_reference


def test_residual_net_compiles_for_a_target(tmp_path):
    spec = random_residual_spec(9)  # two residual blocks, one with a 1x1 downsampling shortcut
    export_reference(build_net(spec), tmp_path / "res.onnx", 9, 4)
    log: list[str] = []
    clock, fps = 100.0, 50_000
    g = compile_model(tmp_path / "res.onnx", tmp_path / "build",
                      CompileOptions(target="xc7z020", fps=fps, clock_mhz=clock, verify=True, verify_samples=4),
                      log=log.append)
    assert not g.is_chain and len(g.of_kind(AddStreams)) == 2
    assert sum("bit-exact" in m for m in log) == 5  # after lower, pool_windows, fold, stitch, size_fifos
    assert max(node_cycles(n) for n in g.nodes) <= clock * 1e6 / fps
    r = write_report(tmp_path / "build")
    perf = json.loads((tmp_path / "build" / "reports" / "estimate_network_performance.json").read_text())
    assert r["critical_path_nodes"][0] == g.source.name and r["critical_path_nodes"][-1] == g.sink.name
    assert perf["critical_path_cycles"] < sum(node_cycles(n) for n in g.nodes)
    assert r["cycle_simulation"]["interval_cycles"] >= perf["max_cycles"]


def test_estimate_equals_cycle_interval_at_fastest_folding(tmp_path):
    """Residual fuzz seed 6 at the fastest folding: the first sliding window (7x7, k3 s1 p0) bounds the
    throughput with its 225 output words plus 14 cycles of waiting for the next frame's first rows each frame;
    the estimate counted only the words (225) while the cycle simulator (and Verilator) take 239."""
    x, _, _, _ = export_reference(build_net(random_residual_spec(6)), tmp_path / "res.onnx", 6, 6)
    g = run_passes(qonnx_to_dataflow(tmp_path / "res.onnx"), CompileOptions(fps="max", target="xczu7ev"))
    perf = estimate_network_performance(g)
    sim = simulate_cycle(g, run_prologue(g, x))
    assert perf["max_cycles_node_name"] == "swg0"
    assert perf["max_cycles"] == sim.interval_cycles == 239
