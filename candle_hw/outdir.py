"""Writing outputs without losing the user's data: the one module that owns "write an output folder/file".

A folder written by candle-hw holds a manifest (``MANIFEST``: tool, version, command). An existing output folder
is replaced only if it holds that manifest; an existing non-empty folder without it, a folder that contains the
current directory or this source tree, or an existing file where a folder goes, is refused (``UserError``, exit 2)
unless the user passes ``--force``. Outputs are written into a temporary sibling and renamed into place, so a
failure leaves the old output (or nothing) behind, never half of a new one.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from candle_hw.errors import UserError

MANIFEST = ".candle-hw-build.json"
TOOL = "candle-hw"


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("candle-hw")
    except PackageNotFoundError:  # running from a source tree that was never pip-installed
        return "0+unknown"


def is_candle_build(folder: str | Path) -> bool:
    """True when ``folder`` holds a manifest written by candle-hw."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("tool") == TOOL


def write_manifest(folder: str | Path, command: str) -> None:
    data = {"tool": TOOL, "version": version(), "command": command, "argv": sys.argv[1:]}
    (Path(folder) / MANIFEST).write_text(json.dumps(data, indent=1) + "\n")


def _source_tree() -> Path:
    return Path(__file__).resolve().parent.parent


def _protected(path: Path) -> str | None:
    """Why ``path`` must never be replaced without --force (it holds the cwd or this source tree), or None."""
    for what, inner in (("the current directory", Path.cwd().resolve()), ("the candle-hw source tree", _source_tree())):
        if path == inner or path in inner.parents:
            return f"is or contains {what}"
    return None


def check_output_dir(out: str | Path, force: bool = False, option: str = "-o") -> Path:
    """Refuse (UserError) an output folder that may not be replaced; returns its resolved path."""
    path = Path(out).resolve()
    if force or not (path.exists() or path.is_symlink()):
        return path
    why = _protected(path)
    if why:
        raise UserError(f"{option} {out}: {why}; pass --force to replace it")
    if not path.is_dir():
        raise UserError(f"{option} {out}: exists and is not a directory; pass --force to replace it")
    if not is_candle_build(path) and any(path.iterdir()):
        raise UserError(f"{option} {out}: exists and is not a candle-hw build; pass --force to replace it")
    return path


def check_output_file(out: str | Path, force: bool = False, option: str = "-o",
                      suffixes: tuple[str, ...] = ()) -> Path:
    """Refuse an output file that is a directory, or an existing file of another kind (not one of ``suffixes``)."""
    path = Path(out)
    if path.is_dir():
        raise UserError(f"{option} {out}: is a directory; give a file name")
    if path.exists() and not force and suffixes and path.suffix not in suffixes:
        raise UserError(f"{option} {out}: exists and is not a {'/'.join(suffixes)} file; pass --force to replace it")
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def replace_dir(src: Path, dst: Path) -> None:
    """Move the finished folder ``src`` onto ``dst``, replacing whatever ``dst`` was (callers check first)."""
    old = None
    if dst.exists() or dst.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old.", dir=dst.parent))
        os.replace(dst, old / "x")
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def output_dir(out: str | Path, command: str, force: bool = False, option: str = "-o") -> Iterator[Path]:
    """Yield a temporary sibling of ``out`` to fill; on success it gets the manifest and replaces ``out``."""
    path = check_output_dir(out, force, option)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700 would hide the build from other users
        yield tmp
        write_manifest(tmp, command)
        check_output_dir(out, force, option)  # the folder may have appeared or changed while we worked
        replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def require_build(build: str | Path, command: str) -> Path:
    """A folder that ``command`` adds reports to must be a candle-hw build (so we never write into a user's folder)."""
    path = Path(build)
    if not path.is_dir():
        raise UserError(f"{build}: no such build directory; run `candle-hw compile MODEL.onnx -o {build}` first")
    if not is_candle_build(path):
        raise UserError(f"{build}: not a candle-hw build (no {MANIFEST}); run `candle-hw compile MODEL.onnx -o {build}` "
                        f"before `candle-hw {command}`")
    return path


def write_file_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def claim_dir(out: str | Path, command: str, force: bool = False, option: str = "--out") -> Path:
    """For outputs filled step by step (training stages that resume): check as above, then create the folder
    and mark it as ours, keeping what an earlier run of ours wrote there."""
    path = check_output_dir(out, force, option)
    path.mkdir(parents=True, exist_ok=True)
    if not is_candle_build(path):
        write_manifest(path, command)
    return path


@contextmanager
def claimed_dir(out: str | Path, command: str, force: bool = False, option: str = "--out") -> Iterator[Path]:
    """``claim_dir`` for the duration of the work: a folder this call created is removed again if the work fails
    before writing anything into it (bad input leaves nothing behind)."""
    path = Path(out).resolve()
    created = not path.exists()
    claim_dir(out, command, force, option)
    try:
        yield path
    except BaseException:
        if created and [p.name for p in path.iterdir()] == [MANIFEST]:
            shutil.rmtree(path, ignore_errors=True)
        raise


def check_npy_output(path: str | Path, force: bool = False, option: str = "--output",
                     input_file: str | Path | None = None) -> Path:
    """Before the work: an output tensor file may replace only an earlier .npy (or anything with --force), and
    never the ``--input`` file it is computed from (even with --force: the user's data, not an earlier output)."""
    out = check_output_file(path, force, option, suffixes=(".npy",))
    if input_file is not None and out.exists() and Path(input_file).exists() and os.path.samefile(out, input_file):
        raise UserError(f"{option} {path}: is the --input file; give the output another name")
    return out


def save_npy(path: str | Path, array, force: bool = False, option: str = "--output") -> Path:
    """Write ``array`` as .npy to exactly ``path`` (no suffix appended), atomically, after the same check."""
    import io

    import numpy as np

    check_npy_output(path, force, option)
    buf = io.BytesIO()
    np.save(buf, array)
    return write_file_atomic(path, buf.getvalue())
