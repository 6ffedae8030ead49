"""Every option of every subcommand is validated while parsing: absurd values end in one line, exit 2."""
import argparse
import sys

import numpy as np
import pytest

from candle_hw import cli_types as T
from candle_hw.cli import SUBCOMMANDS, build_parser, main

# options whose value is free text or a path, checked where it is used (a missing file, an unknown method, ...)
FREE_FORM = {
    ("train", "--config"), ("train", "--out"), ("train", "--student"), ("train", "--dataset"),
    ("train", "--cifar-archive"), ("train", "--teacher"), ("train", "--methods"),
    ("train", "--set"),  # KEY=VALUE items, each checked after parsing (training/cli.py parse_settings names it)
    ("train", "--ensemble"),  # a comma list of encoders, checked with the config (teacher.ensemble=... named)
    ("export", "--output"), ("compile", "--output"), ("compile", "--folding"),
    ("simulate", "--input"), ("simulate", "--output"), ("synth", "--synth-args"), ("demo", "--out"),
    ("run", "--port"), ("run", "--input"), ("run", "--output"),
    ("codesign", "--config"), ("codesign", "--out"), ("codesign", "--scheduler"),
    ("adjust", "--config"), ("adjust", "--set"), ("adjust", "--output"),  # suffix and existence checked in run
}
# values that must satisfy what the parser checks before the option under test is reached
REQUIRED = {"compile": ["m.onnx", "-o", "b"], "simulate": ["b", "--input", "x.npy", "--output", "y.npy"],
            "synth": ["b"], "bitstream": ["b", "--target", "ice40-up5k"], "report": ["b"], "export": ["c.pt"],
            "run": ["b", "--port", "sim", "--input", "x.npy", "--output", "y.npy"],
            "codesign": ["--config", "c.yaml", "--out", "o"], "adjust": ["s.pt", "--config", "c.yaml", "-o", "a.npz"]}
ALWAYS_BAD = ["nan", "inf", "-inf", "abc", "", "1e400", "0x10"]


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _value_options():
    for cmd, sp in _subparsers().items():
        for a in sp._actions:
            if a.option_strings and a.nargs != 0 and a.help != argparse.SUPPRESS:
                yield cmd, a


def _bad_values(cmd: str, a: argparse.Action) -> list[str]:
    if a.choices is not None:
        return ["nope", "", "-1"]
    t = a.type
    bounds = getattr(t, "bounds", None)
    if bounds is not None:
        lo, hi = bounds
        return [str(lo - 1), str(hi * 10 + 1), str(-abs(hi) - 5), "99999999999999999999999", *ALWAYS_BAD,
                *(["1.5"] if isinstance(lo, int) else [])]
    if t is T.device:
        return ["nosuchfpga", "", "-1", "xc7z020/../x"]
    if t is T.torch_device:
        return ["gpu7", "cuda:-1", "", "nan"]
    if t is T.run_name:
        return ["..", ".", "a/b", "", "x" * 300]
    if getattr(t, "__name__", "").startswith("comma list"):
        return ["0", "a,b", "", "-5,224", "1e9"]
    assert (cmd, a.option_strings[-1]) in FREE_FORM, (
        f"candle-hw {cmd} {a.option_strings[-1]}: no validating type= (use candle_hw.cli_types) "
        f"and not listed as free-form")
    return []


CASES = [(cmd, a.option_strings[-1], v) for cmd, a in _value_options() for v in _bad_values(cmd, a)]


def test_every_subcommand_is_walked():
    walked = {c for c, _, _ in CASES}
    assert walked >= set(SUBCOMMANDS) - {"report"}  # report has no valued option
    assert len(CASES) > 150


@pytest.mark.parametrize("cmd,option,value", CASES)
def test_absurd_value_is_refused_at_parse_time(cmd, option, value, capsys):
    argv = [cmd, *REQUIRED.get(cmd, []), f"{option}={value}"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert f"candle-hw {cmd}: error: argument {option}" in err[0] or option in err[0], err


@pytest.mark.parametrize("cmd,option", sorted({(c, a.option_strings[-1]) for c, a in _value_options()
                                               if getattr(a.type, "bounds", None) is not None}))
def test_in_range_values_are_accepted(cmd, option):
    sp = _subparsers()[cmd]
    a = next(x for x in sp._actions if option in x.option_strings)
    lo, hi = a.type.bounds
    mid = (lo + hi) // 2 if isinstance(lo, int) else (lo + hi) / 2
    assert a.type(str(mid)) == mid
    if isinstance(hi, int):
        assert a.type(str(hi)) == hi and a.type(str(lo)) == lo


def test_types_reject_with_ranges():
    with pytest.raises(argparse.ArgumentTypeError, match=r"0 is outside \(0, 2000\]"):
        T.clock_mhz("0")
    assert T.fps("MAX") == "max" and T.fps("1e4") == 1e4
    assert T.stall_probability("0.5") == 0.5
    with pytest.raises(argparse.ArgumentTypeError):
        T.stall_probability("1")
    assert T.int_list(8, 4096)("128,224,480") == [128, 224, 480]


def test_version_and_help_show_defaults(capsys):
    assert main(["--version"]) == 0 and capsys.readouterr().out.startswith("candle-hw ")
    for cmd, sp in _subparsers().items():
        text = sp.format_help()
        for a in sp._actions:
            if (a.option_strings and a.nargs != 0 and a.default not in (None, [], "", argparse.SUPPRESS)
                    and a.help != argparse.SUPPRESS):
                assert "default" in (a.help or "").lower() or f"(default: {a.default})" in " ".join(text.split()), \
                    f"{cmd} {a.option_strings[-1]}: help does not show its default"


@pytest.mark.parametrize("argv,extra", [
    (["train", "--config", "C.yaml", "--epochs", "3"], "train"),
    (["demo", "--epochs", "3", "--out", "{tmp}/demo"], "train"),
    (["export", "ckpt.pt", "-o", "{tmp}/m.onnx"], "train"),
])
def test_missing_optional_dependency_names_the_extra(argv, extra, monkeypatch, tmp_path, capsys):
    """torch not importable: the options still parse, and the command names the extra to install."""
    for name in list(sys.modules):
        if name.split(".")[0] in ("torch", "brevitas") or name.startswith(("candle_hw.training", "candle_hw.models",
                                                                          "candle_hw.compile.export")):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ModuleNotFoundError
    (tmp_path / "ckpt.pt").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"candle-hw {argv[0]} needs the '{extra}' extra: pip install 'candle-hw[{extra}]' "
                   f"(missing module: torch)"]
    assert not (tmp_path / "demo").exists()


def test_simulate_refuses_non_finite_input(tfc_path, tmp_path, capsys):
    x = np.zeros((3, 1, 28, 28), np.float32)
    x[1, 0, 4, 7] = np.nan
    x[2, 0, 0, 0] = np.inf
    np.save(tmp_path / "x.npy", x)
    rc = main(["simulate", str(tfc_path), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "non-finite value nan at index [1, 0, 4, 7]" in err[0]
    assert not (tmp_path / "y.npy").exists()


@pytest.mark.parametrize("level", ["functional", "cycle"])
def test_simulate_says_what_it_wrote(level, tfc_path, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32))
    out = tmp_path / "y.npy"
    assert main(["simulate", str(tfc_path), "--input", str(tmp_path / "x.npy"), "--output", str(out),
                 "--level", level]) == 0
    printed = capsys.readouterr().out
    assert f"[{level}] wrote {out}: float32 array of shape [2, 10] (2 frames)" in printed
    assert np.load(out).shape == (2, 10)


@pytest.mark.parametrize("cmd", ["simulate", "report", "synth"])
def test_a_folder_that_is_not_a_build_is_refused(cmd, tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep")
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 28, 28), np.float32))
    argv = {"simulate": ["simulate", str(folder), "--input", str(tmp_path / "x.npy"), "--output",
                         str(tmp_path / "y.npy")], "report": ["report", str(folder)], "synth": ["synth", str(folder)]}
    rc = main(argv[cmd])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith(f"error: {folder}: "), err
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"] and not (tmp_path / "y.npy").exists()


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_simulate_never_writes_over_its_input(force, tfc_path, tmp_path, capsys):
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32))
    before = x.read_bytes()
    rc = main(["simulate", str(tfc_path), "--input", str(x), "--output", str(tmp_path / "." / "x.npy"), *force])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err == [f"error: --output {tmp_path / '.' / 'x.npy'}: is the --input file; give the output "
                               "another name"], err
    assert x.read_bytes() == before
