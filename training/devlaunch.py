"""Make ``candle_hw`` importable from a source checkout without installing it.

Device machines may run a Python that the package's ``requires-python`` excludes, and setuptools' package-dir
mapping (``candle_hw.training`` lives in ``training/``) only exists once installed. This script mirrors the
mapping read from pyproject.toml as a folder of symbolic links; put that folder on PYTHONPATH:

    python training/devlaunch.py .site/pkg && export PYTHONPATH=$PWD/.site/pkg

Standalone on purpose: it must run before ``candle_hw`` can be imported.
"""
from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def build(target: Path, root: Path) -> list[Path]:
    """Create target/<package path> links for every package-dir entry; returns the links made."""
    mapping = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    made = []
    for package, folder in sorted(mapping.items(), key=lambda kv: kv[0].count(".")):
        dest = target.joinpath(*package.split("."))
        src = (root / folder).resolve()
        if "." not in package:  # the top package: a real folder whose entries link to the source's
            dest.mkdir(parents=True, exist_ok=True)
            for entry in src.iterdir():
                link = dest / entry.name
                if not link.exists() and not link.is_symlink():
                    link.symlink_to(entry)
                    made.append(link)
        elif not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(src, target_is_directory=True)
            made.append(dest)
    return made


if __name__ == "__main__":
    repo = Path(__file__).resolve().parent.parent
    build(Path(sys.argv[1] if len(sys.argv) > 1 else ".site/pkg").resolve(), repo)
