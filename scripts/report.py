#!/usr/bin/env python3
"""Execute the dotattn workbook with the tslab kernel and write HTML reports.

Every notebook in notebooks/ (or the ones given) runs headlessly with nbclient
and the `tslab` kernel, top to bottom, in its own kernel. Each gets a
self-contained HTML page (no request leaves the page: MathJax 3 and plotly.js
are inlined, require.js is dropped) and its executed copy; an index page links
them. A cell that fails makes the command exit with status 1 after naming the
notebook, the cell and the cell's error output.

Run it through `npm run report`, which also builds the module and creates the
Python environment when it is missing.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = ROOT / "scripts" / "report-template"
MATHJAX_FILE = ROOT / "node_modules" / "mathjax" / "es5" / "tex-svg-full.js"
KERNEL_NAME = "tslab"
PLOTLY_MIME_TYPE = "application/vnd.plotly.v1+json"


@dataclass
class NotebookResult:
    """Outcome of executing and exporting one notebook."""

    source: Path
    title: str
    html_name: str
    seconds: float = 0.0
    error: str | None = None
    figures: int = 0
    code_cells: int = 0
    failed_cell: int | None = None


def kernel_path_env() -> None:
    """Put node_modules/.bin first on PATH: the tslab kernel spec starts `tslab` by name."""
    bin_dir = str(ROOT / "node_modules" / ".bin")
    if not (ROOT / "node_modules" / ".bin" / "tslab").exists():
        raise SystemExit(
            f"report: {bin_dir}/tslab not found; run `npm ci` in {ROOT} first"
        )
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if not parts or parts[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *parts])


def notebook_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """Return the text of the first markdown heading, or the file name."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            stripped = line.strip()
            if stripped.startswith("#"):
                return stripped.lstrip("#").strip()
    return fallback


def plain_title(title: str) -> str:
    """Return a heading's text with simple inline LaTeX made readable, for the
    index page, which loads no MathJax: $\\sqrt{d_k}$ becomes √d_k and
    $O(n^2 d)$ becomes O(n²d)."""
    text = re.sub(r"\\sqrt\{([^}]*)\}", r"√\1", title)
    text = text.replace("^2", "²").replace("^3", "³")
    text = re.sub(r"\$([^$]*)\$", lambda m: m.group(1).replace(" ", ""), text)
    return text.replace("\\", "")


def heading_before(nb: nbformat.NotebookNode, index: int) -> str | None:
    """Return the last markdown heading above cell `index`, to locate a failing cell."""
    for cell in reversed(nb.cells[:index]):
        if cell.cell_type != "markdown":
            continue
        headings = [line.strip() for line in cell.source.splitlines() if line.strip().startswith("#")]
        if headings:
            return headings[-1].lstrip("#").strip()
    return None


def output_text(cell: nbformat.NotebookNode) -> str:
    """Join a cell's stream and error outputs (tslab reports errors on stderr)."""
    pieces: list[str] = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            pieces.append(f"[{output.name}]\n{output.text}")
        elif output.output_type == "error":
            pieces.append("\n".join(output.get("traceback", [])) or f"{output.ename}: {output.evalue}")
    return "\n".join(pieces).rstrip()


def describe_failure(path: Path, nb: nbformat.NotebookNode, index: int, reason: str) -> str:
    """Build the failure message: notebook, cell number, nearest heading, source, output."""
    cell = nb.cells[index]
    code_number = sum(1 for c in nb.cells[: index + 1] if c.cell_type == "code")
    heading = heading_before(nb, index)
    where = f"cell {index + 1} (code cell {code_number}"
    where += f", under the heading '{heading}')" if heading else ")"
    try:
        shown_path = path.relative_to(ROOT)
    except ValueError:
        shown_path = path
    return "\n".join(
        [
            f"{shown_path}: {where} failed: {reason}",
            "--- cell source ---",
            cell.source.rstrip(),
            "--- cell output ---",
            output_text(cell) or "(no output)",
        ]
    )


def execute_notebook(path: Path, nb: nbformat.NotebookNode, timeout: int) -> tuple[str | None, int | None]:
    """Execute `nb` in place in a fresh tslab kernel; return (failure message, cell index)."""
    current = {"index": -1}

    def remember_cell(cell: nbformat.NotebookNode, cell_index: int) -> None:
        current["index"] = cell_index

    client = NotebookClient(
        nb,
        kernel_name=KERNEL_NAME,
        timeout=timeout,
        startup_timeout=120,
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_execute=remember_cell,
    )
    try:
        client.execute()
    except CellTimeoutError:
        index = current["index"]
        return describe_failure(path, nb, index, f"timed out after {timeout} s"), index
    except CellExecutionError:
        index = current["index"]
        return describe_failure(path, nb, index, "the cell raised an error"), index
    except DeadKernelError as error:
        index = current["index"]
        if index < 0:
            return f"{path}: the tslab kernel died before the first cell: {error}", None
        return describe_failure(path, nb, index, f"the kernel died: {error}"), index
    return None, None


def count_figures(nb: nbformat.NotebookNode) -> int:
    """Count outputs that carry a plotly figure (each becomes one drawn plot in the HTML)."""
    return sum(
        1
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") in ("display_data", "execute_result")
        and PLOTLY_MIME_TYPE in output.get("data", {})
    )


def export_html(nb: nbformat.NotebookNode, title: str, mathjax_js: str) -> str:
    """Render an executed notebook with the self-contained dotattn template."""
    exporter = HTMLExporter(template_name="dotattn", extra_template_basedirs=[str(TEMPLATE_DIR)])
    nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(
        nb, resources={"metadata": {"name": title}, "dotattn": {"mathjax_js": mathjax_js}}
    )
    return body


def write_index(out_dir: Path, results: list[NotebookResult], total_seconds: float) -> None:
    """Write index.html: one row per notebook with its status, time and figure count."""
    rows = []
    for result in results:
        status = "failed" if result.error else "ok"
        colour = "#b00020" if result.error else "#1b5e20"
        rows.append(
            "<tr>"
            f'<td><a href="{html.escape(result.html_name)}">{html.escape(plain_title(result.title))}</a></td>'
            f"<td><code>{html.escape(result.source.name)}</code></td>"
            f'<td style="color:{colour}">{status}</td>'
            f"<td>{result.seconds:.1f} s</td>"
            f"<td>{result.figures}</td>"
            "</tr>"
        )
        if result.error:
            rows.append(f'<tr><td colspan="5"><pre>{html.escape(result.error)}</pre></td></tr>')
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dotattn workbook reports</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 960px; }}
table {{ border-collapse: collapse; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 6px 12px; text-align: left; vertical-align: top; }}
pre {{ white-space: pre-wrap; font-size: 0.85em; background: #fafafa; padding: 8px; }}
</style>
</head>
<body>
<h1>dotattn workbook</h1>
<p>Each notebook was executed top to bottom with the tslab TypeScript kernel.
Total time {total_seconds:.1f} s on {html.escape(machine)}.</p>
<table>
<tr><th>Notebook</th><th>File</th><th>Status</th><th>Execution time</th><th>Figures</th></tr>
{chr(10).join(rows)}
</table>
</body>
</html>
"""
    (out_dir / "index.html").write_text(page, encoding="utf-8")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help="notebooks to run (default: every notebooks/*.ipynb, in name order)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "reports",
        help="directory for the HTML pages, executed notebooks and summary.json (default: reports/)",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=600,
        help="seconds one cell may run before it counts as failed (default: 600)",
    )
    parser.add_argument(
        "--fail-fast",
        action="store_true",
        help="stop at the first failing notebook instead of running the others",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    kernel_path_env()
    notebooks = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not notebooks:
        print("report: no notebooks found in notebooks/", file=sys.stderr)
        return 1
    mathjax_js = MATHJAX_FILE.read_text(encoding="utf-8").replace("</script", "<\\/script")
    out_dir = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)

    results: list[NotebookResult] = []
    started = time.perf_counter()
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        title = notebook_title(nb, path.stem)
        result = NotebookResult(source=path, title=title, html_name=f"{path.stem}.html")
        print(f"report: executing {path.name} ...", flush=True)
        begin = time.perf_counter()
        result.error, result.failed_cell = execute_notebook(path, nb, args.timeout)
        result.seconds = time.perf_counter() - begin
        result.figures = count_figures(nb)
        result.code_cells = sum(1 for c in nb.cells if c.cell_type == "code")
        nbformat.write(nb, out_dir / f"{path.stem}.ipynb")
        (out_dir / result.html_name).write_text(export_html(nb, title, mathjax_js), encoding="utf-8")
        results.append(result)
        status = "FAILED" if result.error else "ok"
        print(
            f"report: {path.name}: {status} in {result.seconds:.1f} s, "
            f"{result.figures} figure{'' if result.figures == 1 else 's'} -> {out_dir / result.html_name}",
            flush=True,
        )
        if result.error:
            print(result.error, file=sys.stderr, flush=True)
            if args.fail_fast:
                break
    total = time.perf_counter() - started
    write_index(out_dir, results, total)
    summary = [
        {
            "notebook": str(r.source),
            "html": r.html_name,
            "title": r.title,
            "seconds": round(r.seconds, 2),
            "figures": r.figures,
            "codeCells": r.code_cells,
            "failedCell": r.failed_cell,
            "error": r.error,
        }
        for r in results
    ]
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    failures = [r for r in results if r.error]
    print(f"report: {len(results) - len(failures)} of {len(results)} notebooks ok in {total:.1f} s; index: {out_dir / 'index.html'}")
    if failures:
        print("report: failed: " + ", ".join(r.source.name for r in failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
