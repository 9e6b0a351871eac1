"""The commands: ``compare`` and ``count`` (``compare``), ``explain``, ``port``, ``export``,
``import`` (``importing``) and ``audit``.
Each turns an IR graph into a report; ``translator.render`` draws it; ``translator.cli``
parses arguments. Frameworks are loaded lazily, only by the commands that build models."""
