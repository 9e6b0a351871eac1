"""Rendering reports: rich tables, Markdown and JSON (``table``), HTML pages and PNG charts
(``html``), the generated layer reference and JSON Schema (``docs``), and the progress bar
(``progress``)."""
