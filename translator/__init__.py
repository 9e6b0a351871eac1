"""Model-spec translator: one YAML spec, built and reconciled in Keras, PyTorch and ONNX.

Importing this package imports no deep-learning framework; backends are loaded lazily
(see ``backends``) only by the commands that build real models.
"""

from __future__ import annotations

__version__ = "0.1.0"
