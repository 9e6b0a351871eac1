"""The standalone PyTorch layers an exported ``model.py`` is made of, and its assembly.

``layers``, ``spatial``, ``resampling``, ``normalization``, ``attention`` and ``recurrent``
are the runtime: one class per spec layer type, built from plain arguments instead of an IR
node. Each layer type's description (``@describes`` in ``backends/torch/<family>.py``) is the
``Call`` of its runtime class with arguments derived from the IR: the PyTorch backend builds
that call (``describe.instantiate``) and export writes it, so both hold the same tensors under
the same names. The backend may import this package, never the reverse; nothing here names a
spec layer type. ``assemble`` copies the definitions a network needs, verbatim, into the
``model.py`` it writes, so the runtime modules import nothing but torch and the standard
library's ``math`` and ``typing``, and refer to each other by name only (once copied they
share one namespace, so no two define the same name). ``network`` writes the network class
itself, and ``describe`` resolves a description in that namespace and holds the helpers the
descriptions share. Those three are not copied.
"""
