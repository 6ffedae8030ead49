import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TFC_PATH = Path(os.environ.get("CANDLE_HW_TFC", SHARED / "data" / "qonnx_zoo" / "TFC_1W1A.onnx"))
REPO_TFC = Path(__file__).resolve().parent / "data" / "TFC_1W1A.onnx"


@pytest.fixture(scope="session")
def tfc_path() -> Path:
    """The third-party QONNX model TFC_1W1A (a copy ships in tests/data for CI)."""
    return REPO_TFC if REPO_TFC.is_file() else TFC_PATH
