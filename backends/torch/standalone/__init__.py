"""The standalone PyTorch layers an exported ``model.py`` is made of, and its assembly.

``layers``, ``spatial``, ``resampling``, ``normalization``, ``attention`` and ``recurrent``
are the runtime: one class per spec layer type, built from plain arguments instead of an IR
node. The PyTorch backend (``backends/torch/<family>.py``) builds these same classes, deriving
their arguments from the IR (BatchNormalization, the tied Dense and ``Input`` stay backend
classes; the recurrent ones subclass these to take an IR node), so both hold the same tensors
under the same names. The backend may import this package, never the reverse.
``assemble`` copies the definitions a network needs, verbatim, into the ``model.py`` it
writes, so the runtime modules import nothing but torch and the standard library's ``math``
and ``typing``, and refer to each other by name only (once copied they share one namespace,
so no two define the same name). ``network`` writes the network class itself, and
``emitters`` (with ``backends/torch/export.py``) the constructor call of each layer's module.
Those three are not copied.
"""
