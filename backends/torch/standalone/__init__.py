"""The standalone PyTorch layers an exported ``model.py`` is made of, and its assembly.

``layers``, ``spatial``, ``resampling``, ``normalization``, ``attention`` and ``recurrent``
are the runtime: one class per spec layer type, computing exactly what the PyTorch backend
(``backends/torch/<family>.py``) computes and holding its tensors under the same names, but
built from plain arguments instead of an IR node. ``assemble`` copies the definitions a
network needs, verbatim, into the ``model.py`` it writes, so the runtime modules import
nothing but torch and the standard library's ``math`` and ``typing``, and refer to each other
by name only (once copied they share one namespace, so no two define the same name).
``network`` writes the network class itself, and ``emitters`` (with
``backends/torch/export.py``) the constructor call of each layer's module. Those three are
not copied.
"""
