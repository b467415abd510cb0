"""Reports: a notebook executed headless with parameters, rendered as one self-contained HTML file.

``nomadlab report capacity --out capacity.html`` runs ``notebooks/capacity-planning.ipynb``
(``postmortem``: ``notebooks/incident-postmortem.ipynb``) in a fresh kernel with nbclient. The
values given (``--source``, ``--since``, ``--until``) are injected in a new cell after the
notebook's cell tagged ``parameters``, as papermill does. The executed notebook is rendered with
nbconvert's ``lab`` template:

- plotly figures stay interactive, and plotly.js is embedded once, so the file opens offline;
- code is hidden (a button at the top shows it), tables keep pandas' HTML;
- a header says which source the data came from, the time of the data and when the report ran.

A cell that raises stops the run with a :class:`ReportError` naming that cell (its number, tag
and first line) and the error.

The notebooks call :func:`source_banner` in their first cell: it shows the same facts in the
notebook and hands them to the report's header.

>>> sorted(REPORTS)
['capacity', 'postmortem']
"""

from __future__ import annotations

import copy
import datetime as dt
import html
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BANNER_MIME", "REPORTS", "ReportError", "ReportSpec", "build_report", "execute_notebook",
           "kernel_environment", "notebooks_dir", "render_html", "show_data_notes", "source_banner"]

#: The MIME type of the source facts :func:`source_banner` displays (read by :func:`render_html`).
BANNER_MIME = "application/vnd.nomadlab.source+json"


@dataclass(frozen=True)
class ReportSpec:
    """One kind of report: the notebook it runs and the parameters it takes."""

    notebook: str
    title: str
    parameters: tuple[str, ...]


REPORTS: dict[str, ReportSpec] = {
    "capacity": ReportSpec("capacity-planning.ipynb", "Capacity planning", ("SOURCE",)),
    "postmortem": ReportSpec("incident-postmortem.ipynb", "Incident post-mortem", ("SOURCE", "SINCE", "UNTIL")),
}


class ReportError(RuntimeError):
    """A report could not be built; the message says which cell or input, and what to do."""


def notebooks_dir() -> Path:
    """``notebooks/`` of this checkout (an editable install), else of the working directory."""
    for candidate in (Path(__file__).resolve().parents[1] / "notebooks", Path.cwd() / "notebooks"):
        if candidate.is_dir():
            return candidate
    raise ReportError("no notebooks/ directory found beside the nomadlab package or in the working "
                      "directory: run from a nomadlab checkout, or pass notebook= explicitly")


# -- in the notebook --------------------------------------------------------------------------

def _iso(value: Any) -> str | None:
    if value is None:
        return None
    import pandas as pd

    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        return None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return str(stamp.isoformat())


def source_facts(source: Any, spec: Any = None, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Where ``source``'s data comes from and what time it describes.

    ``source`` is what the notebook opened, ``spec`` the ``SOURCE`` parameter it came from.
    Keys: ``source`` (one line), ``live`` (a client of a running cluster), ``data_as_of`` (ISO
    8601 UTC: the end of a simulated history, the read time of a live cluster, the latest change
    an offline source holds), ``read_at`` (now).
    """
    from nomadlab.client import NomadClient
    from nomadlab.connection import sim_origin

    read_at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    origin = sim_origin(source)
    live = isinstance(source, NomadClient)
    as_of: Any
    if origin is not None:
        text = f"the simulated '{origin.scenario}' cluster built in this kernel (seed {origin.seed})"
        as_of = dt.datetime.fromtimestamp(origin.end_ns / 1e9, dt.UTC)
    elif live:
        text = f"the Nomad API at {source.config.address}"
        as_of = read_at
    else:
        text = f"{type(source).__name__} from {spec}" if isinstance(spec, str | os.PathLike) else repr(source)
        as_of = getattr(source, "as_of", None)
        if as_of is None:  # the latest change the saved data holds
            import nomadlab.frames as nf

            as_of = nf.allocations(source)["modify_time"].max()
    return {"source": text, "live": live, "data_as_of": _iso(as_of), "read_at": _iso(read_at)}


def source_banner(source: Any, spec: Any = None) -> None:
    """Display, in a notebook, where the data comes from and what time it describes
    (:func:`source_facts`), as Markdown for the reader and as :data:`BANNER_MIME` for reports."""
    from IPython.display import display

    facts = source_facts(source, spec)
    kind = "live" if facts["live"] else "saved (no logs, live view or actions)"
    text = (f"**Source:** {facts['source']} ({kind})  \n"
            f"**Data as of:** {facts['data_as_of'] or 'unknown'}  \n**Read at:** {facts['read_at']}")
    display({BANNER_MIME: facts, "text/markdown": text, "text/plain": text.replace("**", "")}, raw=True)  # type: ignore[no-untyped-call]


def _data_warning_classes() -> tuple[type[Warning], ...]:
    from nomadlab.errors import NomadAccessWarning

    classes: list[type[Warning]] = [NomadAccessWarning]
    for module, name in (("nomadlab.offline.snapshot", "OfflineDataWarning"),
                         ("nomadlab.offline.archive", "DebugArchiveWarning")):
        import importlib

        classes.append(getattr(importlib.import_module(module), name))
    return tuple(classes)


def show_data_notes() -> None:
    """Show nomadlab's warnings about the data (what a saved source lacks, what a token cannot
    read) as notes in the notebook, where the reader sees them next to the result they qualify,
    instead of as Python warnings on stderr. Other warnings are shown as before.

    Each note is shown once per cell and message; the warning is still a warning (filters,
    ``pytest.warns`` and ``warnings.catch_warnings`` see it as before).
    """
    import warnings

    from IPython.display import Markdown, display

    classes = _data_warning_classes()
    previous = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:
        if issubclass(category, classes):
            display(Markdown(f"> **Note about the data:** {html.escape(str(message))}"))  # type: ignore[no-untyped-call]
            return
        previous(message, category, filename, lineno, file, line)

    warnings.showwarning = show


# -- executing --------------------------------------------------------------------------------

def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def inject_parameters(nb: Any, values: Mapping[str, Any]) -> Any:
    """A copy of ``nb`` with a cell tagged ``injected-parameters`` setting ``values``, right after
    the cell tagged ``parameters`` (papermill's convention)."""
    import nbformat

    out = copy.deepcopy(nb)
    where = [i for i, c in enumerate(out.cells) if "parameters" in _tags(c)]
    if not where:
        raise ReportError("the notebook has no cell tagged 'parameters': tag the cell that sets SOURCE")
    source = "# Parameters given to the report\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items())
    cell = nbformat.v4.new_code_cell(source)  # type: ignore[no-untyped-call]
    cell.metadata["tags"] = ["injected-parameters"]
    out.cells.insert(where[0] + 1, cell)
    return out


def _first_line(cell: Any) -> str:
    for line in str(cell.source).splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip()
    return ""


def kernel_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's environment) with this ``nomadlab``'s directory first on
    ``PYTHONPATH``, so that the kernel imports the same package as the command that starts it."""
    out = dict(os.environ if env is None else env)
    root = str(Path(__file__).resolve().parents[1])
    rest = [p for p in out.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
    out["PYTHONPATH"] = os.pathsep.join([root, *rest])
    return out


def execute_notebook(path: Path, values: Mapping[str, Any], *, timeout_s: float = 600,
                     env: Mapping[str, str] | None = None, kernel_name: str = "python3") -> Any:
    """Execute the notebook at ``path`` with ``values`` injected; return the executed notebook.

    Raises
    ------
    ReportError
        A cell failed: the message names it (number among the code cells, tag, first line) and
        gives the error's last line.
    """
    import nbclient
    import nbformat

    nb = inject_parameters(nbformat.read(path, as_version=4), values)  # type: ignore[no-untyped-call]
    client = nbclient.NotebookClient(nb, timeout=int(timeout_s), kernel_name=kernel_name,
                                     resources={"metadata": {"path": str(path.parent)}})
    code_no = 0
    with client.setup_kernel(env=kernel_environment(env)):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            code_no += 1
            try:
                client.execute_cell(cell, index)
            except nbclient.exceptions.CellExecutionError as exc:
                tag = ", ".join(_tags(cell)) or "untagged"
                error = [o for o in cell.outputs if o.output_type == "error"]
                what = f"{error[0].ename}: {error[0].evalue}" if error else str(exc).strip().splitlines()[-1]
                raise ReportError(f"{path.name}: code cell {code_no} ({tag}: {_first_line(cell)!r}) failed: "
                                  f"{what}. Open the notebook in Jupyter with the same source to see the "
                                  "whole traceback.") from None
            except nbclient.exceptions.CellTimeoutError:
                raise ReportError(f"{path.name}: code cell {code_no} ({', '.join(_tags(cell)) or 'untagged'}) "
                                  f"ran longer than {timeout_s:g} s; is the cluster reachable?") from None
    return nb


# -- rendering --------------------------------------------------------------------------------

PLOTLY_MIME = "application/vnd.plotly.v1+json"

_STYLE = """
<style>
body.nomadlab-report .jp-InputArea, body.nomadlab-report .jp-InputPrompt,
body.nomadlab-report .jp-OutputPrompt { display: none; }
body.nomadlab-report.show-code .jp-InputArea { display: flex; }
body.nomadlab-report .jp-Cell.nomadlab-hidden { display: none; }
.nomadlab-header { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.8em 1.2em; margin: 1em 0 1.5em;
  background: #f6f8fa; font-family: system-ui, sans-serif; }
.nomadlab-header h1 { margin: 0 0 0.4em; font-size: 1.6em; }
.nomadlab-header dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; margin: 0; }
.nomadlab-header dt { font-weight: 600; }
.nomadlab-header button { margin-top: 0.6em; }
.jp-RenderedHTMLCommon table { font-size: 12px; }
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { padding: 0.25em 0.6em; }
.jp-OutputArea-output { overflow-x: auto; }
</style>
"""


# nbconvert's lab page without what it would fetch from the internet: require.js (not needed:
# plotly.js is inline and sets window.Plotly), MathJax and mermaid (no math, no diagrams), and
# the widget manager (a report shows no live widgets).
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""


def _plotly_html(figure_json: Mapping[str, Any], div_id: str) -> str:
    import plotly.io as pio

    fig = pio.from_json(json.dumps(figure_json), skip_invalid=True)
    return str(pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=div_id,
                           config={"responsive": True}))


def _header(title: str, facts: Mapping[str, Any] | None, values: Mapping[str, Any], made_at: str) -> str:
    rows = []
    if facts:
        rows.append(("Source", f"{facts.get('source')} ({'live' if facts.get('live') else 'saved'})"))
        rows.append(("Data as of", facts.get("data_as_of") or "unknown"))
    for key in ("SINCE", "UNTIL"):
        if key in values:
            rows.append((key.title(), values[key] if values[key] is not None else "chosen from the data"))
    rows.append(("Report made", made_at))
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in rows)
    return (f'<div class="nomadlab-header"><h1>{html.escape(title)}</h1><dl>{items}</dl>'
            '<button type="button" onclick="document.body.classList.toggle(\'show-code\')">'
            'Show / hide code</button></div>')


def render_html(nb: Any, *, title: str, values: Mapping[str, Any] | None = None,
                made_at: str | None = None) -> str:
    """The executed notebook ``nb`` as one self-contained HTML page (see the module docstring)."""
    import nbformat
    import plotly.offline
    from nbconvert import HTMLExporter

    values = dict(values or {})
    nb = copy.deepcopy(nb)
    facts: dict[str, Any] | None = None
    figures = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = _tags(cell)
        if "parameters" in tags or "injected-parameters" in tags:
            cell.metadata.setdefault("tags", [])
            cell.metadata["nomadlab_hidden"] = True
        for out in cell.get("outputs", []):
            data = out.get("data") if out.output_type in ("display_data", "execute_result") else None
            if not data:
                continue
            if BANNER_MIME in data and facts is None:
                facts = dict(data[BANNER_MIME])
            if PLOTLY_MIME in data:
                figures += 1
                out["data"] = {"text/html": _plotly_html(data[PLOTLY_MIME], f"nomadlab-figure-{figures}")}
    made = made_at or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    from jinja2 import DictLoader

    nb.metadata.pop("widgets", None)
    exporter = HTMLExporter(template_name="lab", template_file="nomadlab-report.html.j2",  # type: ignore[no-untyped-call]
                            extra_loaders=[DictLoader({"nomadlab-report.html.j2": _TEMPLATE})])
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nbformat.from_dict(nb))  # type: ignore[no-untyped-call]
    # One plotly.js for every figure, inline: the page opens with no network.
    plotly_js = plotly.offline.get_plotlyjs()
    head = f'{_STYLE}<script type="text/javascript">{plotly_js}</script>'
    body = body.replace("</head>", head + "\n</head>", 1)
    body = body.replace("<body", f'<body data-nomadlab-figures="{figures}"', 1)
    body = _mark_body(body)
    start = body.index(">", body.index("<body")) + 1
    body = body[:start] + _header(title, facts, values, made) + body[start:]
    body = _hide_parameter_cells(body, nb)
    if "<title>" in body:
        start, end = body.index("<title>") + 7, body.index("</title>")
        body = body[:start] + html.escape(title) + body[end:]
    return str(body)


def _mark_body(body: str) -> str:
    start = body.index("<body")
    end = body.index(">", start)
    tag = body[start:end]
    new = tag.replace('class="', 'class="nomadlab-report ', 1) if 'class="' in tag else tag + ' class="nomadlab-report"'
    return body[:start] + new + body[end:]


def _hide_parameter_cells(body: str, nb: Any) -> str:
    """The parameter cells hold only code: hide their whole cell, even with code shown."""
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nomadlab_hidden"):
            marker = f'id="cell-id={cell.id}"'
            at = body.find(marker)
            if at < 0:
                continue
            open_at = body.rfind("<div", 0, at)
            cls = body.find('class="', open_at)
            if 0 <= cls < at:
                body = body[:cls + 7] + "nomadlab-hidden " + body[cls + 7:]
    return body


def build_report(kind: str, out: str | os.PathLike[str], *, source: str | None = None, since: str | None = None,
                 until: str | None = None, notebook: str | os.PathLike[str] | None = None,
                 timeout_s: float = 600, env: Mapping[str, str] | None = None) -> Path:
    """Execute the ``kind`` report's notebook with these parameters and write its HTML to ``out``.

    Parameters
    ----------
    kind
        ``capacity`` or ``postmortem`` (:data:`REPORTS`).
    out
        The HTML file to write.
    source
        ``SOURCE``: a snapshot, recording or debug archive path; None for ``NOMAD_ADDR`` or, when
        it is unset, the simulated demo cluster.
    since, until
        ``SINCE`` / ``UNTIL`` (postmortem only): RFC 3339 times; None lets the notebook choose.
    notebook
        Another notebook to run (default: ``notebooks/`` + the report's notebook).
    timeout_s
        The longest one cell may run.
    env
        The kernel's environment (default: this process's).

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    ReportError
        Unknown kind, a parameter the report does not take, or a cell that failed (named).
    """
    if kind not in REPORTS:
        raise ReportError(f"unknown report {kind!r}; choose one of: {', '.join(sorted(REPORTS))}")
    spec = REPORTS[kind]
    values: dict[str, Any] = {"SOURCE": source}
    for name, value in (("SINCE", since), ("UNTIL", until)):
        if name in spec.parameters:
            values[name] = value
        elif value is not None:
            raise ReportError(f"the {kind} report takes no --{name.lower()} (only the postmortem report has a window)")
    if source is not None and not Path(source).exists():
        raise ReportError(f"--source {source}: no such file or directory (give a snapshot, recording or "
                          "debug archive; leave it out to read NOMAD_ADDR or the simulated demo cluster)")
    path = Path(notebook) if notebook is not None else notebooks_dir() / spec.notebook
    if not path.is_file():
        raise ReportError(f"no notebook at {path}")
    executed = execute_notebook(path, values, timeout_s=timeout_s, env=env)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(executed, title=spec.title, values=values), encoding="utf-8")
    return target
