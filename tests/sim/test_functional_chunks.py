"""The functional simulator bounds its working memory by running big batches in chunks; chunking changes nothing."""
from __future__ import annotations

import numpy as np

from candle_hw.sim import functional
from fixtures.handbuilt_graphs import cnv_graph, random_frames


def test_chunked_batch_equals_one_pass(monkeypatch) -> None:
    g = cnv_graph(seed=5)
    x = random_frames(g, 23, seed=4)
    whole = functional.run_dataflow(g, x)
    widest = max(max(n.in_stream().num_elems, n.out_stream().num_elems) for n in g.nodes)
    monkeypatch.setattr(functional, "MAX_BATCH_BYTES", widest * 4 * 3 * 5)  # 5 frames per chunk
    assert functional.batch_chunk(g) == 5
    calls = []
    real = functional.run_node
    monkeypatch.setattr(functional, "run_node", lambda *a: calls.append(len(a[2])) or real(*a))
    chunked = functional.run_dataflow(g, x)
    np.testing.assert_array_equal(chunked, whole)
    assert max(calls) == 5 and sum(calls) == 23 * len(g.nodes)
