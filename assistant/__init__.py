"""Bilingual (Arabic/English) question answering over migration-governance documents.

Data flow, one module per stage:
    corpus.py / parsing.py → chunking.py → embedding.py / index.py → retrieval.py
    → compose.py / verify.py / llm.py → pipeline.py (Assistant) → cli.py, chat.py, evaluation.py
"""

__all__ = ["Assistant", "Answer"]


def __getattr__(name: str):
    # Imported on first use: `assistant --help` should not wait for torch and Chroma.
    if name == "Assistant":
        from assistant.pipeline import Assistant

        return Assistant
    if name == "Answer":
        from assistant.domain import Answer

        return Answer
    raise AttributeError(name)
