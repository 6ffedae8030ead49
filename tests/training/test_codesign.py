"""candle-hw codesign: Pareto flags, config validation, and a tiny real search on digits (resume, refused compile)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from candle_hw.errors import UserError
from candle_hw.training.codesign.pareto import front, mark_fronts, write_html
from candle_hw.training.codesign.space import load_codesign_config, target_key

REPO = Path(__file__).resolve().parents[2]


def _dominated(p, q) -> bool:
    """q dominates p: no more LUTs, no less accuracy, better in one."""
    return q[0] <= p[0] and q[1] >= p[1] and (q[0] < p[0] or q[1] > p[1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=12))
def test_front_is_the_set_of_undominated_points(points):
    flags = front([(float(c), float(s)) for c, s in points])
    for i, p in enumerate(points):
        assert flags[i] == (not any(_dominated(p, q) for j, q in enumerate(points) if j != i))


def test_front_by_hand():
    # (LUT, accuracy): C costs more than B for less accuracy; D equals A; E is the most accurate
    pts = [(100, 50.0), (200, 60.0), (300, 55.0), (100, 50.0), (900, 70.0), (200, 59.0)]
    assert front(pts) == [True, True, False, True, True, False]


def _rec(name, target, lut, acc, tail, compiled=True):
    return {"name": name, "target": {"key": target}, "lut": lut if compiled else None, "accuracy": acc,
            "tail": tail, "compiled": compiled, "error": None if compiled else "FoldForThroughput: too slow"}


def test_fronts_are_per_target_and_skip_refused_compiles():
    recs = mark_fronts([
        _rec("a", "xc7z020@3000", 1000, 60.0, 20.0), _rec("b", "xc7z020@3000", 2000, 70.0, 10.0),
        _rec("c", "xc7z020@3000", 3000, 65.0, 30.0),
        # refused: best accuracy, yet on no front and dominating nothing
        _rec("d", "xc7z020@3000", 0, 99.0, 99.0, compiled=False),
        # another target: judged only against its own records
        _rec("a", "ecp5-85k@max", 5000, 60.0, 20.0), _rec("b", "ecp5-85k@max", 4000, 70.0, 10.0)])
    assert [r["pareto"] for r in recs] == [True, True, False, False, False, True]
    assert [r["pareto_tail"] for r in recs] == [True, False, True, False, True, True]
    page = write_html(recs, "t")
    assert page.count("data:image/png;base64,") == 4 and "FoldForThroughput: too slow" in page


def _write_cfg(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


BASE = """
train: {device: cpu, data: {dataset: digits, rho: 10, pad: 1}, distill: {epochs: 2, batch: 64}}
method: scratch
targets: [{device: xc7z020, fps: 10000}]
"""


@pytest.mark.parametrize("search, message", [
    ("[{base: mlp_digits, padding: [1]}]", "search[0].padding: the mlp family has no convolutions"),
    ("[{base: mlp_digits, height: [1]}]", "search[0].height: unknown dimension"),
    ("[{base: mlp_digits, width: [0]}]", "search[0].width=0"),
    ("[{base: nope}]", "search[0].base='nope'"),
    # the zoo builds binary chains only: a 2-bit student is refused before anything runs
    ("[{base: mlp_digits, weight_bits: [2]}]", "search[0] (weight_bits=2): the zoo cannot build"),
])
def test_bad_search_is_refused_naming_the_option(tmp_path, search, message):
    cfg = _write_cfg(tmp_path / "c.yaml", BASE + f"search: {search}\n")
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        load_codesign_config(cfg)


def test_cli_options_exit_2_with_one_line(tmp_path, capsys):
    from candle_hw.cli import main
    cfg = _write_cfg(tmp_path / "c.yaml", BASE + "search: [{base: mlp_digits}]\n")
    assert main(["codesign", "--config", str(cfg), "--out", str(tmp_path / "o"), "--n-workers", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "argument --n-workers: 0 is outside [1, 1024]" in err
    assert main(["codesign", "--config", str(cfg), "--out", str(tmp_path / "o"), "--scheduler", "no address"]) == 2
    assert "--scheduler 'no address'" in capsys.readouterr().err
    bad = _write_cfg(tmp_path / "b.yaml", BASE.replace("fps: 10000", "fps: -5") + "search: [{base: mlp_digits}]\n")
    assert main(["codesign", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "targets[0].fps=-5" in capsys.readouterr().err
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("someone else's")
    assert main(["codesign", "--config", str(cfg), "--out", str(foreign)]) == 2
    assert "exists and is not a candle-hw build" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"] and not (tmp_path / "o").exists()


SEARCH = """
train: {device: cpu, data: {dataset: digits, rho: 10, pad: 1}, distill: {epochs: 2, batch: 64, lr: 0.005%s}}
method: scratch
search: [{base: mlp_digits, width: [0.25, 0.5], depth: [1]}]
targets:
  - {device: xc7z020, fps: 10000}
  - {device: ice40-up5k, fps: 10000000}   # no folding of any student reaches this on an iCE40
synth: false
"""


def test_search_on_digits_resumes_and_records_refused_compiles(tmp_path):
    from candle_hw.training.codesign.run import format_summary, run_codesign
    from candle_hw.training.codesign.tasks import compile_task, train_task
    from candle_hw.outdir import claim_dir
    out = claim_dir(tmp_path / "out", "codesign")
    # a time-boxed call (here: one epoch of two) leaves the candidate unfinished, recorded as such
    boxed = load_codesign_config(_write_cfg(tmp_path / "boxed.yaml", SEARCH % ", stop_after: 1"))
    cand = boxed.candidates[0].as_dict()
    half = train_task(cand, boxed.train, "scratch", str(out))
    assert half["unfinished"].startswith("training stopped after 1 of 2 epochs")
    assert not (out / "candidates" / cand["train_hash"] / "candidate.json").exists()
    metrics = out / "candidates" / cand["train_hash"] / "scratch" / "metrics.json"
    epoch1 = json.loads(metrics.read_text())["history"]
    rec = compile_task(half, {"device": "xc7z020", "fps": 10000.0, "synth": False}, str(out))
    assert not rec["compiled"] and rec["error"] == half["unfinished"]

    cfg = load_codesign_config(_write_cfg(tmp_path / "c.yaml", SEARCH % ""))
    assert [c.train_hash for c in cfg.candidates] == [c.train_hash for c in boxed.candidates]
    # --stage train (a GPU machine without the compiler): trains, exports and compiles nothing
    trained = run_codesign(cfg, out, n_workers=1, log=lambda s: None, stage="train", minutes=30)
    # epoch 2 continued from the checkpoint of epoch 1 (whose record, wall time included, is kept as it was)
    assert json.loads(metrics.read_text())["history"][:1] == epoch1 and len(epoch1) == 1
    assert sorted(trained["trained"]) == sorted(c.name for c in cfg.candidates) and trained["reused"] == []
    assert all(r["epochs"] == r["epochs_requested"] == 2 for r in trained["candidates"])
    # --minutes reached the workers' training runs (a box far longer than two epochs shortens nothing)
    assert all(0 < json.loads(p.read_text())["config"]["distill"]["fit_minutes"] < 30
               for p in out.glob("candidates/*/scratch/metrics.json"))
    assert not (out / "pareto.json").exists() and not list(out.glob("candidates/*/model.onnx"))
    assert not list(out.glob("candidates/*/targets"))
    assert "trained" in format_summary(trained)
    # the same search without --stage finishes it: exports, compiles, marks the fronts
    first = run_codesign(cfg, out, n_workers=1, log=lambda s: None)
    assert first["trained"] == [] and sorted(first["reused"]) == sorted(trained["trained"])
    assert len(list(out.glob("candidates/*/model.onnx"))) == 2
    records = json.loads((out / "pareto.json").read_text())
    assert all(r["epochs"] == 2 for r in records)
    assert len(records) == 4
    ok = [r for r in records if r["target"]["key"] == target_key("xc7z020", 10000)]
    refused = [r for r in records if r["target"]["key"] == target_key("ice40-up5k", 1e7)]
    assert all(r["compiled"] and r["fps"] >= 10000 and r["lut"] > 0 for r in ok)
    assert all(not r["compiled"] and not r["pareto"] and r["error"].startswith("FoldForThroughput: 10000000 FPS")
               and "\n" not in r["error"] for r in refused)
    assert any(r["pareto"] for r in ok)
    assert {r["values"]["width"] for r in ok} == {0.25, 0.5}
    students = sorted(out.glob("candidates/*/scratch/student.pt"))
    stamps = [p.stat().st_mtime_ns for p in students]

    # the rerun goes to an existing cluster by its address (what --scheduler does)
    from distributed import LocalCluster
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        second = run_codesign(cfg, out, scheduler=cluster.scheduler_address, log=lambda s: None)
    assert second["trained"] == [] and sorted(second["reused"]) == sorted(trained["trained"])
    assert [p.stat().st_mtime_ns for p in students] == stamps
    again = json.loads((out / "pareto.json").read_text())
    assert [(r["name"], r["accuracy"], r["lut"], r["pareto"]) for r in again] == \
        [(r["name"], r["accuracy"], r["lut"], r["pareto"]) for r in records]
    page = (out / "pareto.html").read_text()
    assert "data:image/png;base64," in page and "<td>2 of 2</td>" in page


def test_time_boxed_candidate_fits_its_schedule_to_the_call(tmp_path, monkeypatch):
    """A time-boxed candidate asked for far more epochs than fit shortens its schedule (so that it still ends at
    zero) and finishes, recording the epochs it got; the box is the deadline less the task's margins (here set so
    that the schedule is fitted to 30 s and the hard stop is far away, which keeps the outcome independent of the
    machine's load); time boxing is not part of the hash."""
    from candle_hw.training.codesign import tasks
    text = SEARCH.replace("width: [0.25, 0.5]", "width: [0.25]") % ""
    cfg = load_codesign_config(_write_cfg(tmp_path / "long.yaml", text.replace("epochs: 2,", "epochs: 100000,")))
    boxed = load_codesign_config(_write_cfg(tmp_path / "boxed.yaml", text.replace(
        "epochs: 2,", "epochs: 100000, fit_minutes: 3, max_minutes: 4,")))
    assert [c.train_hash for c in boxed.candidates] == [c.train_hash for c in cfg.candidates]
    monkeypatch.setattr(tasks, "FIT_MARGIN_S", 1800.0 - 30.0)
    monkeypatch.setattr(tasks, "STOP_MARGIN_S", 0.0)
    (cand,) = [c.as_dict() for c in cfg.candidates]
    rec = tasks.train_task(cand, cfg.train, "scratch", str(tmp_path / "out"), deadline=time.time() + 1800.0)
    assert not rec.get("unfinished") and 2 <= rec["epochs"] < rec["epochs_requested"] == 100000
    metrics = json.loads((tmp_path / "out" / "candidates" / rec["train_hash"] / "scratch" / "metrics.json")
                         .read_text())
    assert metrics["epochs_done"] == metrics["epochs"] == rec["epochs"]
    distill = metrics["config"]["distill"]
    assert distill["fit_minutes"] == 0.5 and 29.0 < distill["max_minutes"] <= 30.0


def test_candidate_is_not_started_with_too_little_time_left(tmp_path):
    """A candidate reached near the end of a time box is left for the next run instead of being fitted to a few
    epochs and recorded as a finished student."""
    from candle_hw.training.codesign import tasks
    cfg = load_codesign_config(_write_cfg(tmp_path / "c.yaml", SEARCH % ""))
    cand = cfg.candidates[0].as_dict()
    rec = tasks.train_task(cand, cfg.train, "scratch", str(tmp_path / "out"),
                           deadline=time.time() + tasks.MIN_START_S - 5)
    assert rec["unfinished"].startswith("not started:") and not rec["trained_now"]
    assert not (tmp_path / "out" / "candidates" / cand["train_hash"] / "candidate.json").exists()
    assert not (tmp_path / "out" / "candidates" / cand["train_hash"] / "scratch").exists()


@pytest.mark.parametrize("name, n", [("codesign_digits.yaml", 7), ("codesign_digits_bits.yaml", 8),
                                     ("codesign_cifar10_lt100.yaml", 5), ("codesign_cifar10_lt100_bits.yaml", 8)])
def test_shipped_configs_load_with_every_candidate_buildable(name, n):
    cfg = load_codesign_config(REPO / "configs" / name)
    assert len(cfg.candidates) == n
    assert len({c.train_hash for c in cfg.candidates}) == n
