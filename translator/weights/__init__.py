"""Weights: the canonical layout (``canonical``), the declarative maps machinery every layer
family uses (``maps``, ``transforms``) and the weights files ``port`` and ``export`` read
(``files``); what any model file holds, for ``audit`` (``inventory``, ``onnx_graph``).
numpy is imported only inside the functions that move arrays."""
