"""The `assistant` command: index, corpus, ask, check, eval, chat.

Heavy imports (torch, Chroma, Gradio) happen inside the commands so that
`assistant --help` stays instant.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Bilingual (Arabic/English) question answering over "
                       "migration-governance documents, with verified citations.")
corpus_app = typer.Typer(no_args_is_help=True, help="Browse the indexed documents.")
app.add_typer(corpus_app, name="corpus")
# soft_wrap: a long path or message stays on one line, so it can be copied and grepped.
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _open_index():
    from assistant.index import IndexError_, PassageIndex

    try:
        return PassageIndex()
    except IndexError_ as exc:
        _fail(str(exc))


@app.command()
def index(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Files or folders to index (default: the whole corpus folder).")] = None,
    wait: Annotated[float, typer.Option(
        help="Seconds to wait if another index run holds the lock.")] = 0,
) -> None:
    """Parse, embed and store documents; unchanged documents are skipped."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from assistant.index import IndexError_, build_index

    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=err,
                  transient=True) as progress:
        task = progress.add_task("embedding passages", total=None)
        try:
            report = build_index(paths or None, on_progress=lambda d, t: progress.update(
                task, completed=d, total=t), lock_timeout=wait)
        except IndexError_ as exc:
            _fail(str(exc))
    for error in report.errors:
        err.print(f"[red]skipped[/] {error}", highlight=False)
    console.print(
        f"indexed {len(report.indexed)}, unchanged {len(report.unchanged)}, "
        f"removed {len(report.removed)}, failed {len(report.errors)} document(s); "
        f"embedded {report.passages_embedded} passage(s) and {report.sentences_embedded} "
        f"sentence(s); {report.passages_total} passages in the index "
        f"(generation {report.generation}, {report.seconds:.1f} s)", highlight=False)
    if report.errors:
        raise typer.Exit(2)


@corpus_app.command("list")
def corpus_list(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False):
    """List the indexed documents."""
    from assistant.catalog import list_documents

    docs = list_documents(_open_index())
    if json_out:
        _print_json(docs)
        return
    table = Table("doc_id", "language", "paragraphs", "footnotes", "title")
    for d in docs:
        table.add_row(d["doc_id"], d["language"], str(d["paragraphs"]), str(d["footnotes"]),
                      escape(d["title"]))
    console.print(table)


@corpus_app.command("show")
def corpus_show(
    doc_id: str,
    paragraph: Annotated[str | None, typer.Option(help="Only this paragraph number.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
):
    """Print a document as the assistant cites it: sections, paragraph numbers, footnotes."""
    from assistant.catalog import document_outline

    try:
        outline = document_outline(_open_index(), doc_id, paragraph)
    except KeyError as exc:
        _fail(exc.args[0])
    if json_out:
        _print_json(outline)
        return
    console.print(f"[bold]{escape(outline['title'])}[/] "
                  f"({outline['doc_id']}, {outline['language']})", highlight=False)
    section = None
    for p in outline["paragraphs"]:
        if p["section"] != section:
            section = p["section"]
            console.print(f"\n[bold cyan]§ {escape(' › '.join(section))}[/]", highlight=False)
        notes = f"  [dim]footnotes: {', '.join(p['footnotes'])}[/]" if p["footnotes"] else ""
        page = f" [dim](page {p['page']})[/]" if p.get("page") else ""
        console.print(f"[bold]¶{p['number']}[/]{page} {escape(p['text'])}{notes}", highlight=False)
    if outline["footnotes"]:
        console.print("\n[bold]Footnotes[/]")
        for f in outline["footnotes"]:
            cited = ", ".join(f["cited_by"]) or "—"
            console.print(f"[bold]{f['number']}[/] {escape(f['text'])} [dim](cited by ¶{cited})[/]",
                          highlight=False)


def _load_assistant():
    from assistant.index import IndexError_

    try:
        from assistant import Assistant

        return Assistant()
    except IndexError_ as exc:
        _fail(str(exc))


def _render_answer(answer) -> None:
    from rich.panel import Panel

    style = "yellow" if answer.abstained else "green"
    console.print(Panel(escape(answer.text), border_style=style,
                        title="not in the documents" if answer.abstained else "answer"))
    if answer.notice:
        err.print(f"[yellow]{escape(answer.notice)}[/]")
    for c in answer.citations:
        where = f"footnote {c.footnote}" if c.footnote else f"paragraph {c.paragraph}"
        page = f", page {c.page}" if c.page else ""
        console.print(f"[bold][{c.number}][/] {escape(c.title)} — {escape(' › '.join(c.section))}"
                      f" — {where}{page}\n    «{escape(c.quote)}»", highlight=False)


@app.command()
def ask(
    question: Annotated[str | None, typer.Argument(help="The question, in Arabic or English.")]
    = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    k: Annotated[int, typer.Option("--k", min=1, max=50,
                                   help="Passages to retrieve.")] = 5,
    batch: Annotated[Path | None, typer.Option(
        help="JSONL file, one {\"question\": ...} per line (or '-' for stdin); "
             "writes one JSON answer per line.")] = None,
) -> None:
    """Answer a question with verified paragraph and footnote citations."""
    from assistant.index import IndexError_
    from assistant.pipeline import QuestionError

    if question is None and batch is None:
        _fail("give a QUESTION or --batch FILE")
    bot = _load_assistant()
    if batch is not None:
        lines = sys.stdin if str(batch) == "-" else batch.open(encoding="utf-8")
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            item = None
            try:
                item = json.loads(line)
                text = item["question"] if isinstance(item, dict) else str(item)
                out = bot.ask(text, history=(item.get("history") if isinstance(item, dict)
                                             else None), k=k).to_dict()
            except (ValueError, KeyError, TypeError, IndexError_) as exc:
                out = {"error": f"line {lineno}: {exc}"}
            if isinstance(item, dict) and "id" in item:
                out["id"] = item["id"]
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        return
    try:
        answer = bot.ask(question, k=k)
    except (QuestionError, IndexError_) as exc:
        _fail(str(exc))
    if json_out:
        _print_json(answer.to_dict())
    else:
        _render_answer(answer)


@app.command("eval")
def eval_(
    sets: Annotated[list[Path], typer.Option("--set", help="Reference set (JSONL); repeatable.")],
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the full run here.")]
    = None,
    report: Annotated[Path | None, typer.Option(help="Write a Markdown report (+ PNG chart).")]
    = None,
    baseline: Annotated[Path | None, typer.Option(help="Compare against this stored run.")]
    = None,
    max_drop: Annotated[float, typer.Option(help="Allowed drop of a headline metric.")] = 0.02,
    k: Annotated[int, typer.Option("--k", min=1, help="Passages retrieved per question.")] = 5,
) -> None:
    """Score the assistant on reference sets; exit 1 on a regression against --baseline."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    from assistant.evaluation import (
        EvalSetError,
        compare,
        load_set,
        run_eval,
        summary_table,
        write_report,
    )
    from assistant.index import IndexError_

    try:
        items = [item for path in sets for item in load_set(path)]
    except (EvalSetError, OSError) as exc:
        _fail(str(exc))
    bot = _load_assistant()
    with Progress("evaluating", BarColumn(), MofNCompleteColumn(), console=err,
                  transient=True) as progress:
        task = progress.add_task("eval", total=len(items))
        try:
            run = run_eval(items, lambda q: bot.ask(q, k=k).to_dict(), k=k,
                           on_item=lambda i: progress.update(task, completed=i))
        except IndexError_ as exc:
            _fail(str(exc))
    run["sets"] = [str(p) for p in sets]
    regressions = None
    if baseline is not None:
        try:
            regressions = compare(run, json.loads(baseline.read_text("utf-8")), max_drop)
        except (OSError, ValueError, KeyError) as exc:
            _fail(f"cannot read baseline {baseline}: {exc}")
    console.print(summary_table(run), highlight=False)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(run, ensure_ascii=False, indent=1), "utf-8")
    if report:
        report.parent.mkdir(parents=True, exist_ok=True)
        write_report(run, report, regressions)
    if regressions:
        for problem in regressions:
            err.print(f"[red]regression:[/] {escape(problem)}", highlight=False)
        raise typer.Exit(1)
    if regressions is not None:
        console.print("no regressions against the baseline")


@app.command()
def check(
    source: Annotated[str, typer.Argument(help="A draft file, or '-' to read standard input.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Fact-check a draft: each sentence is supported, not found, or conflicts."""
    from assistant.factcheck import check_draft

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {source}: {exc}")
    verdicts = check_draft(_load_assistant(), text)
    if json_out:
        _print_json([v.to_dict() for v in verdicts])
        return
    colours = {"supported": "green", "not_found": "yellow", "conflicts": "red"}
    for v in verdicts:
        console.print(f"[{colours[v.status]}]{v.status.upper():>10}[/] {escape(v.sentence)}",
                      highlight=False)
        for line in v.explain():
            console.print(f"           {escape(line)}", highlight=False)


@app.command()
def chat(
    host: Annotated[str, typer.Option(help="Interface to bind; 127.0.0.1 keeps it local.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 7860,
    share: Annotated[bool, typer.Option(help="Ask Gradio for a public share link.")] = False,
) -> None:
    """Start the chat (participants), fact-check (staff) and corpus pages in a browser.

    Builds the index first if there is none. Basic auth: set ASSISTANT_AUTH_USER and
    ASSISTANT_AUTH_PASSWORD.
    """
    from assistant.config import get_settings
    from assistant.index import read_state

    if not (read_state(get_settings()) or {}).get("collection"):
        console.print("no index yet: building it from the corpus folder first")
        try:
            index(paths=None, wait=60)
        except typer.Exit as exc:
            if exc.exit_code != 2:  # 2 = some documents failed; the rest are indexed
                raise
    from assistant.chat import launch

    launch(_load_assistant(), host=host, port=port, share=share)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
