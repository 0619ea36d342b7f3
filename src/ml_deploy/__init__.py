"""Shared model-bundle library of ml-deploy: bundle format, schema encoding, reference statistics,
training and sample data. Submodules are imported explicitly; this package imports nothing heavy.
"""

import os

# Before any sklearn extension loads libgomp: OpenMP threads that spin while waiting turn a 5 s
# fit into minutes when the cores are shared (a busy host, a co-located service). Passive waiting
# costs little when the cores are free. An explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
