"""Rendering the Quarto documents in reports/: parameters, one execution, every format.

``engine`` renders with the project's own pipeline (a Jupyter kernel, pandoc, typst) or with
the Quarto CLI where it is installed; ``report`` and ``data`` are what the documents import.
"""
