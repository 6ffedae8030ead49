"""Target devices: a typed view of the data table in devices.json (numbers and their sources live there).

``get_device("pynq-z1")`` resolves names and aliases case-insensitively; an unknown name is a UserError that
lists the known ones. Families: ``xc7`` (7-series), ``xcup`` (UltraScale+), ``ice40``, ``ecp5``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from candle_hw.errors import UserError

FAMILIES = ("xc7", "xcup", "ice40", "ecp5")


@dataclass(frozen=True)
class Device:
    """One target: resource counts, default clock and the open-tool commands that target it."""

    name: str
    family: str
    part: str
    package: str
    luts: int
    ffs: int
    bram18k: int
    uram: int
    dsp: int
    lut_inputs: int
    io: int
    clock_mhz: float
    yosys_synth: str
    ebr: int = 0
    ebr_kbit: int = 0
    spram: int = 0
    spram_kbit: int = 0
    aliases: tuple[str, ...] = ()
    nextpnr: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    board: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    sources: tuple[str, ...] = ()
    status: str = ""

    @property
    def is_xilinx(self) -> bool:
        return self.family in ("xc7", "xcup")

    @property
    def can_place(self) -> bool:
        """True where an open place-and-route flow (nextpnr) exists for the device."""
        return self.nextpnr is not None

    def synth_command(self, top: str) -> str:
        return self.yosys_synth.format(top=top)

    def capacity(self) -> dict[str, int]:
        """Available resources under the report keys that synth.py uses for this family."""
        if self.is_xilinx:
            return {"LUT": self.luts, "FF": self.ffs, "BRAM_18K": self.bram18k, "URAM": self.uram, "DSP": self.dsp}
        cap = {"LUT": self.luts, "FF": self.ffs, "EBR": self.ebr, "DSP": self.dsp}
        if self.family == "ice40":
            cap["SPRAM"] = self.spram
        return cap


def _from_dict(d: dict[str, Any]) -> Device:
    if d["family"] not in FAMILIES:
        raise ValueError(f"devices.json: {d['name']}: family={d['family']!r} not in {FAMILIES}")
    return Device(
        name=d["name"], family=d["family"], part=d["part"], package=d["package"],
        luts=int(d["luts"]), ffs=int(d["ffs"]), bram18k=int(d["bram18k"]), uram=int(d["uram"]), dsp=int(d["dsp"]),
        lut_inputs=int(d["lut_inputs"]), io=int(d["io"]), clock_mhz=float(d["clock_mhz"]),
        yosys_synth=d["yosys_synth"], ebr=int(d.get("ebr", 0)), ebr_kbit=int(d.get("ebr_kbit", 0)),
        spram=int(d.get("spram", 0)), spram_kbit=int(d.get("spram_kbit", 0)),
        aliases=tuple(d.get("aliases", ())), nextpnr=d.get("nextpnr"), board=d.get("board"),
        sources=tuple(d.get("sources", ())), status=d.get("status", ""),
    )


@lru_cache(maxsize=1)
def all_devices() -> tuple[Device, ...]:
    text = resources.files("candle_hw").joinpath("devices.json").read_text()
    return tuple(_from_dict(d) for d in json.loads(text)["devices"])


def device_names() -> list[str]:
    return [d.name for d in all_devices()]


def get_device(name: str | Device) -> Device:
    """The device called ``name`` (or one of its aliases, any case)."""
    if isinstance(name, Device):
        return name
    key = str(name).strip().lower()
    for d in all_devices():
        if key == d.name.lower() or key in (a.lower() for a in d.aliases):
            return d
    known = ", ".join(f"{d.name} ({', '.join(d.aliases)})" if d.aliases else d.name for d in all_devices())
    raise UserError(f"unknown device {name!r}; known devices: {known}")


__all__ = ["Device", "FAMILIES", "all_devices", "device_names", "get_device"]
