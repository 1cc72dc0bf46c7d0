"""The CNN, model folders, inference, saliency, training. torch is imported lazily, inside functions."""

import os

# OpenMP threads that spin while they wait make torch several times slower when the two cores are shared
# (measured here: a 128² forward pass 15 ms on one thread, 470 ms on two spinning threads beside a training
# run). Set before torch is first imported, which happens only inside medview.ai; a user's setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
