"""No data loss: an output is replaced only if candle-hw wrote it; anything else is refused in one line, exit 2."""
import json
from pathlib import Path

import numpy as np
import pytest

from candle_hw.cli import main
from candle_hw.errors import UserError
from candle_hw.outdir import MANIFEST, check_output_dir, check_output_file, is_candle_build, output_dir

REFUSED = "exists and is not a candle-hw build; pass --force to replace it"


def _user_folder(path: Path) -> Path:
    (path / "sub").mkdir(parents=True)
    (path / "mydesign.v").write_text("module mine; endmodule\n")
    (path / "sub" / "notes.txt").write_text("keep me\n")
    return path


def _snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _compile(tfc_path, out, *extra):
    return main(["compile", str(tfc_path), "-o", str(out), "--no-rtl", "-q", *extra])


def test_compile_refuses_a_user_folder_and_leaves_it_intact(tfc_path, tmp_path, capsys):
    user = _user_folder(tmp_path / "design")
    before = _snapshot(user)
    assert _compile(tfc_path, user) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: -o {user}: {REFUSED}"]
    assert _snapshot(user) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["design"]  # no temporary sibling left


def test_force_replaces_and_a_build_of_ours_is_replaced_without_it(tfc_path, tmp_path):
    user = _user_folder(tmp_path / "design")
    assert _compile(tfc_path, user, "--force") == 0
    assert not (user / "mydesign.v").exists() and (user / "dataflow.json").is_file()
    manifest = json.loads((user / MANIFEST).read_text())
    assert manifest["tool"] == "candle-hw" and manifest["command"] == "compile" and manifest["version"]
    (user / "stale.txt").write_text("from an older build\n")
    assert _compile(tfc_path, user) == 0  # ours: replaced, atomically, without --force
    assert not (user / "stale.txt").exists() and is_candle_build(user)


def test_empty_folder_is_used(tfc_path, tmp_path):
    (tmp_path / "empty").mkdir()
    assert _compile(tfc_path, tmp_path / "empty") == 0
    assert is_candle_build(tmp_path / "empty")


def test_a_failed_compile_keeps_the_previous_build(tfc_path, tmp_path, capsys):
    out = tmp_path / "b"
    assert _compile(tfc_path, out) == 0
    before = _snapshot(out)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    assert _compile(bad, out) == 2
    assert _snapshot(out) == before


def test_cwd_and_its_parents_are_never_replaced_without_force(tfc_path, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    (work / MANIFEST).write_text(json.dumps({"tool": "candle-hw"}))  # even a folder that looks like ours
    (work / "src.py").write_text("print(1)\n")
    monkeypatch.chdir(work)
    for target in (".", str(tmp_path)):
        assert _compile(tfc_path, target) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "is or contains the current directory; pass --force" in err[0]
    assert (work / "src.py").read_text() == "print(1)\n"


def test_source_tree_is_protected(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    with pytest.raises(UserError, match="candle-hw source tree|current directory"):
        check_output_dir(repo)


def test_a_file_where_a_folder_goes_is_refused(tfc_path, tmp_path, capsys):
    f = tmp_path / "out"
    f.write_text("data\n")
    assert _compile(tfc_path, f) == 2
    assert "exists and is not a directory; pass --force" in capsys.readouterr().err
    assert f.read_text() == "data\n"


def test_output_dir_leaves_nothing_when_the_body_fails(tmp_path):
    with pytest.raises(RuntimeError):
        with output_dir(tmp_path / "x", "test") as tmp:
            (tmp / "half").write_text("written")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_simulate_refuses_to_overwrite_a_non_npy_file(tfc_path, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 28, 28), np.float32))
    victim = tmp_path / "thesis.tex"
    victim.write_text("\\section{keep}\n")
    args = ["simulate", str(tfc_path), "--input", str(tmp_path / "x.npy"), "--output", str(victim)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --output {victim}: exists and is not a .npy file; pass --force to replace it"]
    assert victim.read_text() == "\\section{keep}\n"
    assert main(args + ["--force"]) == 0
    assert np.load(victim).shape == (1, 10)


def test_export_output_checks():
    with pytest.raises(UserError, match="is a directory"):
        check_output_file(Path(__file__).parent, option="--output", suffixes=(".onnx",))
    with pytest.raises(UserError, match="exists and is not a .onnx file"):
        check_output_file(Path(__file__), option="--output", suffixes=(".onnx",))


@pytest.mark.parametrize("argv", [["demo", "--out", "{d}", "--epochs", "1"],
                                  ["train", "--dataset", "digits", "--out", "{p}", "--name", "design"]])
def test_demo_and_train_refuse_before_any_work(argv, tmp_path, capsys):
    pytest.importorskip("torch")
    user = _user_folder(tmp_path / "design")
    before = _snapshot(user)
    argv = [a.format(d=user, p=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and REFUSED in err[0]
    assert _snapshot(user) == before


def test_vivado_folder_of_the_user_is_kept(tfc_path, tmp_path):
    from candle_hw.compile.bitstream import vivado_project
    from candle_hw.devices import get_device

    build = tmp_path / "b"
    assert main(["compile", str(tfc_path), "-o", str(build), "-q"]) == 0
    mine = build / "vivado" / "my_run.log"
    mine.parent.mkdir()
    mine.write_text("four hours of place and route\n")
    with pytest.raises(UserError, match=f"bitstream: {build / 'vivado'}: {REFUSED}"):
        vivado_project(build, get_device("pynq-z1"), None, check_fit=False)
    assert mine.read_text() == "four hours of place and route\n"
    vivado_project(build, get_device("pynq-z1"), None, check_fit=False, force=True)
    assert not mine.exists() and (build / "vivado" / "create_project.tcl").is_file()
    vivado_project(build, get_device("pynq-z1"), None, check_fit=False)  # ours now: replaced without --force
    assert is_candle_build(build / "vivado")


def test_run_checks_its_input_and_output_before_the_board(tfc_path, tmp_path, capsys):
    build = tmp_path / "b"
    assert _compile(tfc_path, build) == 0
    x = np.zeros((2, 1, 28, 28), np.float32)
    np.save(tmp_path / "x.npy", x)
    victim = tmp_path / "notes.txt"
    victim.write_text("keep\n")
    run = ["run", str(build), "--port", "sim", "--input", str(tmp_path / "x.npy")]
    assert main(run + ["--output", str(victim)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: --output {victim}: exists and is not a .npy file; pass --force to replace it"]
    assert victim.read_text() == "keep\n"
    x[1, 0, 2, 3] = -np.inf
    np.save(tmp_path / "x.npy", x)
    assert main(run + ["--output", str(tmp_path / "y.npy")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "non-finite value -inf at index [1, 0, 2, 3]" in err[0]


def test_train_with_bad_input_leaves_no_run_folder(tmp_path, capsys):
    pytest.importorskip("torch")
    assert main(["train", "--dataset", "nope", "--out", str(tmp_path), "--name", "r", "--epochs", "1"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()
