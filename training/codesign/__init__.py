"""``candle-hw codesign``: hardware-aware co-design search over student variants for a target device and FPS.

``space`` (config, candidates, hashes), ``tasks`` (what a Dask worker does for one candidate: train, export,
compile, synthesise; results cached under the candidate's hash), ``pareto`` (fronts, pareto.html), ``run``
(the Dask task graph), ``cli``.
"""
