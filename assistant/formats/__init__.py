"""Readers for the file formats UN documents come in, registered by file suffix.

Each reader takes a path and returns the document's text in the Markdown
dialect of :mod:`assistant.parsing` (with YAML front matter for what the file
says about itself). :mod:`assistant.corpus` merges ``READERS`` into its own
table; a reader whose library is missing is simply not registered.
"""

from collections.abc import Callable
from pathlib import Path

READERS: dict[str, Callable[[Path], str]] = {}

try:
    from assistant.formats.docx import read_docx
except ImportError:  # python-docx or lxml not installed
    pass
else:
    READERS[".docx"] = read_docx

try:
    from assistant.formats.pdf import read_pdf
except ImportError:  # pdfplumber not installed
    pass
else:
    READERS[".pdf"] = read_pdf

__all__ = ["READERS"]
