"""The spec: safe YAML reading (``source``), the layer schema (``schema``), blocks and their
parameters (``blocks``), and the loader that turns a file into an IR graph (``loader``)."""
