"""The device table: numbers from the brief's sources, aliases, and the refusal of unknown names."""
from __future__ import annotations

import pytest

from candle_hw.devices import FAMILIES, all_devices, get_device
from candle_hw.errors import UserError


@pytest.mark.parametrize(
    "name, luts, ffs, bram18k, uram, dsp",
    [
        ("xc7z020", 53200, 106400, 280, 0, 220),
        ("xczu7ev", 230400, 460800, 624, 96, 1728),
        ("xczu3eg", 70560, 141120, 432, 0, 360),
        ("ice40-up5k", 5280, 5280, 0, 0, 8),
        ("ecp5-25k", 24288, 24288, 0, 0, 28),
        ("ecp5-85k", 83640, 83640, 0, 0, 156),
    ],
)
def test_device_numbers(name, luts, ffs, bram18k, uram, dsp):
    d = get_device(name)
    assert (d.luts, d.ffs, d.bram18k, d.uram, d.dsp) == (luts, ffs, bram18k, uram, dsp)
    assert d.sources, f"{name} cites no source"


def test_lattice_memories_and_packages():
    up5k = get_device("ice40-up5k")
    assert (up5k.ebr, up5k.ebr_kbit, up5k.spram, up5k.spram_kbit, up5k.package, up5k.io) == (30, 4, 4, 256, "sg48", 39)
    assert up5k.lut_inputs == 4
    assert get_device("ecp5-25k").ebr == 56 and get_device("ecp5-85k").ebr == 208
    assert get_device("ecp5-85k").nextpnr["args"][:3] == ["--85k", "--package", "CABGA381"]
    assert get_device("xc7z020").lut_inputs == 6 and get_device("xc7z020").clock_mhz == 100


@pytest.mark.parametrize("alias, name", [("pynq-z1", "xc7z020"), ("PYNQ-Z1", "xc7z020"), ("zcu104", "xczu7ev"),
                                         ("ultra96", "xczu3eg"), ("up5k", "ice40-up5k"), ("lfe5u-85f", "ecp5-85k")])
def test_aliases(alias, name):
    assert get_device(alias).name == name


def test_unknown_device_lists_known_ones():
    with pytest.raises(UserError) as exc:
        get_device("xc7a35t")
    msg = str(exc.value)
    assert "xc7a35t" in msg
    for d in all_devices():
        assert d.name in msg


def test_table_is_consistent():
    names = [d.name for d in all_devices()]
    aliases = [a.lower() for d in all_devices() for a in d.aliases]
    assert len(set(names + aliases)) == len(names) + len(aliases), "a name or alias is used twice"
    for d in all_devices():
        assert d.family in FAMILIES
        assert "{top}" in d.yosys_synth
        assert d.can_place == (d.family in ("ice40", "ecp5"))
        if d.board:
            assert set(d.board["pins"]) == {"rx_bit", "rx_shift", "rx_push", "rx_busy", "tx_bit", "tx_valid"}
            assert len(set(d.board["pins"].values()) | {d.board["clock_pin"], d.board["reset_pin"]}) == 8


def test_capacity_keys_follow_the_family():
    assert set(get_device("xc7z020").capacity()) == {"LUT", "FF", "BRAM_18K", "URAM", "DSP"}
    assert set(get_device("ice40-up5k").capacity()) == {"LUT", "FF", "EBR", "SPRAM", "DSP"}
    assert get_device("ecp5-25k").capacity()["EBR"] == 56
