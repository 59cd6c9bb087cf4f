"""Readers for the file formats UN documents come in, registered by file suffix.

Each reader takes a path and returns the document's text in the Markdown
dialect of :mod:`assistant.parsing` (with YAML front matter for what the file
says about itself). :mod:`assistant.corpus` merges ``READERS`` into its own table.
"""

from assistant.formats.docx import read_docx
from assistant.formats.pdf import read_pdf

READERS = {".docx": read_docx, ".pdf": read_pdf}

__all__ = ["READERS", "read_docx", "read_pdf"]
