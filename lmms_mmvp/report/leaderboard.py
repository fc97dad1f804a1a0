"""``mmvp report leaderboard``: the verified entries as Markdown and a self-contained HTML page.

    mmvp report leaderboard --results results/ --out leaderboard    # leaderboard.md, .html

Rows: pair accuracy with its 95 % bootstrap confidence interval over pairs (seeded), question
accuracy, the paper's two ablations (pair accuracy with options swapped / labels (1)/(2)),
per-pattern pair accuracy (unofficial mapping), unparseable answers, failed requests and
refusals; then the paper's published numbers as marked reference rows (reference.json, cited).
Partial runs (``report add --partial``) are listed in their own table, never ranked.
The HTML page needs no network: inline CSS, JS and SVG charts, a Content-Security-Policy that
forbids loading anything and runs only the page's own style and script (by hash), and every
string from an entry escaped, also in the rows' data embedded as JSON.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lmms_mmvp.report import charts
from lmms_mmvp.report.schema import incomparable
from lmms_mmvp.report.stats import Interval, bootstrap_interval
from lmms_mmvp.report.text import html_text as escape
from lmms_mmvp.report.text import json_for_html, markdown_cell
from mmvp_tasks.patterns import PATTERNS
from mmvp_tasks.scoring import pair_outcomes

logger = logging.getLogger(__name__)
REFERENCE_FILE = Path(__file__).with_name("reference.json")
MAIN_TASK, SWAP_TASK, SYMBOL_TASK = "mmvp", "mmvp_option_swap", "mmvp_symbol_change"


class LeaderboardError(ValueError):
    """Entries that cannot share one table (different answer keys or questions)."""


@dataclass
class Row:
    name: str
    reference: bool  # a published number from the paper, not a verified run
    pair: float | None = None  # percentages from here on
    interval: Interval | None = None
    question: float | None = None
    option_swap: float | None = None
    symbol_change: float | None = None
    patterns: dict[str, float | None] = field(default_factory=dict)
    unparseable: int | None = None
    failed: int | None = None
    refusals: int | None = None
    pairs: int | None = None
    answer_key: str = ""
    date: str = ""
    partial: bool = False
    cost_usd: float | None = None
    command: str = ""  # the run's lmms-eval command, shown on hover


def load_reference() -> dict:
    return json.loads(REFERENCE_FILE.read_text())


def leaderboard_rows(entries: list[dict], reference: dict, *, seed: int = 0) -> list[Row]:
    """Complete runs (best pair accuracy first), the paper's rows, then the partial runs (not
    ranked: a run with fewer pairs is no score on MMVP)."""
    problems = incomparable(entries)
    if problems:
        raise LeaderboardError("; ".join(message for _, message in problems))
    for entry in entries:
        if MAIN_TASK not in entry["tasks"]:
            logger.warning("%s: no %s results, not on the leaderboard", entry["id"], MAIN_TASK)
    rows = [_entry_row(e, seed) for e in entries if MAIN_TASK in e["tasks"]]
    rows.sort(key=lambda r: (-1 if r.pair is None else r.pair, r.name), reverse=True)
    ranked = [r for r in rows if not r.partial]
    partial = [r for r in rows if r.partial]
    return ranked + [_reference_row(r) for r in reference["mmvp"]] + partial


def _entry_row(entry: dict, seed: int) -> Row:
    main = entry["tasks"][MAIN_TASK]
    metrics = main["metrics"]
    outcomes = pair_outcomes(main["records"])
    interval = bootstrap_interval(list(outcomes.values()), seed=seed) if outcomes else None
    return Row(
        name=entry["model"]["name"],
        reference=False,
        pair=_percent(metrics.get("mmvp_pair_accuracy")),
        interval=Interval(100 * interval.low, 100 * interval.high) if interval else None,
        question=_percent(metrics.get("mmvp_accuracy")),
        option_swap=_task_pair(entry, SWAP_TASK),
        symbol_change=_task_pair(entry, SYMBOL_TASK),
        patterns={
            p.code: _percent(metrics.get(f"mmvp_pair_accuracy_{p.slug}_unofficial"))
            for p in PATTERNS
        },
        unparseable=metrics.get("mmvp_unparseable"),
        failed=metrics.get("mmvp_failed_requests"),
        refusals=metrics.get("mmvp_refusals"),
        pairs=metrics.get("mmvp_scored_pairs"),
        answer_key=entry["answer_key"],
        date=entry["date"][:10],
        partial=entry["partial"],
        cost_usd=(entry["usage"] or {}).get("estimated_cost_usd"),
        command=entry["lmms_eval_command"],
    )


def _reference_row(published: dict) -> Row:
    return Row(
        name=published["model"],
        reference=True,
        pair=published.get("pair_accuracy"),
        option_swap=published.get("option_swap"),
        symbol_change=published.get("symbol_change"),
        answer_key="original",
    )


def _task_pair(entry: dict, task: str) -> float | None:
    body = entry["tasks"].get(task)
    return _percent(body["metrics"].get("mmvp_pair_accuracy")) if body else None


def _percent(value) -> float | None:
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        return None
    return 100.0 * value


# ----------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    title: str
    kind: str  # "num" or "text": how the page sorts it
    value: Callable[[Row], object]  # sortable value (None sorts last)
    text: Callable[[Row], str]  # display text


def _num(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def columns() -> list[Column]:
    pattern_columns = [
        Column(
            f"{p.name} (unofficial)",
            "num",
            lambda r, c=p.code: r.patterns.get(c),
            lambda r, c=p.code: _num(r.patterns.get(c)),
        )
        for p in PATTERNS
    ]
    return [
        Column("Model", "text", lambda r: r.name.lower(), _display_name),
        Column("Pair acc. (%)", "num", lambda r: r.pair, lambda r: _num(r.pair)),
        Column(
            "95% CI",
            "num",
            lambda r: r.interval.low if r.interval else None,
            lambda r: f"{r.interval.low:.1f}–{r.interval.high:.1f}" if r.interval else "–",
        ),
        Column("Question acc. (%)", "num", lambda r: r.question, lambda r: _num(r.question)),
        Column(
            "Options swapped (%)", "num", lambda r: r.option_swap, lambda r: _num(r.option_swap)
        ),
        Column(
            "Labels (1)/(2) (%)", "num", lambda r: r.symbol_change, lambda r: _num(r.symbol_change)
        ),
        *pattern_columns,
        Column("Unparseable", "num", lambda r: r.unparseable, lambda r: _num(r.unparseable, 0)),
        Column("Failed", "num", lambda r: r.failed, lambda r: _num(r.failed, 0)),
        Column("Refusals", "num", lambda r: r.refusals, lambda r: _num(r.refusals, 0)),
        Column("Pairs", "num", lambda r: r.pairs, lambda r: _num(r.pairs, 0)),
        Column("Cost (USD)", "num", lambda r: r.cost_usd, lambda r: _num(r.cost_usd, 2)),
        Column("Answer key", "text", lambda r: r.answer_key, lambda r: r.answer_key),
        Column("Date", "text", lambda r: r.date, lambda r: r.date),
    ]


def _display_name(row: Row) -> str:
    if row.reference:
        return f"{row.name} (paper)"
    return f"{row.name} (partial)" if row.partial else row.name


# ----------------------------------------------------------------------------- Markdown


def render_markdown(rows: list[Row], reference: dict) -> str:
    cols = columns()
    lines = [
        "# MMVP leaderboard",
        "",
        "Pair accuracy (the paper's MMVP score, %) with its 95 % bootstrap CI over the 150 pairs; "
        "per-pattern columns use an unofficial question-to-pattern mapping. Rows marked "
        "(paper) are published numbers, not verified runs: "
        + markdown_cell(_citation(reference))
        + ".",
        "",
        *_markdown_table([r for r in rows if not r.partial], cols),
        "",
        f"Paper protocol: {markdown_cell(reference['mmvp_protocol'])}",
        "",
    ]
    partial = [r for r in rows if r.partial]
    if partial:
        lines += ["## Partial runs (not ranked)", "", PARTIAL_NOTE, ""]
        lines += [*_markdown_table(partial, cols), ""]
    lines += _vlm_markdown(reference)
    return "\n".join(lines) + "\n"


PARTIAL_NOTE = (
    "Runs accepted with `mmvp report add --partial`: a question was not logged or a request "
    "failed, so fewer pairs were scored. Their numbers are not MMVP scores and are not ranked."
)


def _markdown_table(rows: list[Row], cols: list[Column]) -> list[str]:
    lines = [
        "| " + " | ".join(markdown_cell(c.title) for c in cols) + " |",
        "|" + "|".join(":--" if c.kind == "text" else "--:" for c in cols) + "|",
    ]
    for row in rows:
        cells = [markdown_cell(c.text(row)) for c in cols]
        if row.reference:
            cells[0] = f"*{cells[0]}*"
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _vlm_markdown(reference: dict) -> list[str]:
    codes = [p.code for p in PATTERNS]
    lines = [
        "## MMVP-VLM (image–text encoders), paper reference",
        "",
        "| Encoder | Resolution | Average | " + " | ".join(codes) + " |",
        "|:--|--:|--:|" + "--:|" * len(codes),
    ]
    for r in reference["mmvp_vlm"]:
        patterns = r.get("patterns", {})
        cells = [markdown_cell(r["model"]), _num(r.get("resolution"), 0), _num(r["average"])]
        cells += [_num(patterns.get(c)) for c in codes]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _citation(reference: dict) -> str:
    c = reference["citation"]
    return f'{c["authors"]}, "{c["title"]}", {c["venue"]}, arXiv:{c["arxiv"]}'


# ----------------------------------------------------------------------------- HTML

# Nothing may be fetched at view time, and only the page's own style and script apply: the
# Content-Security-Policy names them by hash, so no injected markup could run (no unsafe-inline).
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1b1b1b}
table{border-collapse:collapse;font-size:12px}
th,td{border:1px solid #d0d0d0;padding:3px 6px;text-align:right;white-space:nowrap}
th{background:#f2f2f2;cursor:pointer;user-select:none;vertical-align:bottom;white-space:normal;max-width:7em}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td:first-child,th:first-child{text-align:left}
tr.reference td{color:#555;font-style:italic;background:#fafafa}
.unofficial{background:#fff8e6}
figure{display:inline-block;margin:8px 16px 8px 0}figcaption{font-size:12px}
.note{color:#555;font-size:12px;max-width:60em}
"""

_SCRIPT = """
Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
  var headers = table.tHead.rows[0].cells;
  function compare(a, b, numeric) {
    if (numeric) { return parseFloat(a) - parseFloat(b); }
    return a < b ? -1 : a > b ? 1 : 0;
  }
  Array.prototype.forEach.call(headers, function (th, column) {
    th.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var numeric = th.getAttribute("data-type") === "num";
      rows.sort(function (x, y) {
        var a = x.cells[column].getAttribute("data-sort");
        var b = y.cells[column].getAttribute("data-sort");
        if (a === "" || b === "") { return (a === "") - (b === ""); }  // missing values last
        return (ascending ? 1 : -1) * compare(a, b, numeric);
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def content_security_policy() -> str:
    return (
        f"default-src 'none'; style-src {_hash_source(_STYLE)}; "
        f"script-src {_hash_source(_SCRIPT)}; img-src data:"
    )


def _hash_source(content: str) -> str:
    digest = base64.b64encode(hashlib.sha256(content.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def render_html(rows: list[Row], reference: dict) -> str:
    cols = columns()
    ranked = [r for r in rows if not r.partial]
    partial = [r for r in rows if r.partial]
    entries = [r for r in ranked if not r.reference]
    per_pattern = "\n".join(
        f"<figure>{charts.pattern_bars(r.name, r.patterns)}"
        f"<figcaption>{escape(r.name)}: pair accuracy per pattern (unofficial mapping)"
        f"</figcaption></figure>"
        for r in entries
    )
    overview = charts.accuracy_with_intervals(
        [(_display_name(r), r.pair, r.interval, r.reference) for r in ranked if r.pair is not None]
    )
    partial_section = ""
    if partial:
        partial_section = (
            f'<h2>Partial runs (not ranked)</h2>\n<p class="note">{escape(PARTIAL_NOTE)}</p>\n'
            f"{_html_table('partial-runs', partial, cols)}\n"
        )
    data = [asdict(r) for r in rows if not r.reference]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{content_security_policy()}">
<link rel="icon" href="data:,">
<title>MMVP leaderboard</title><style>{_STYLE}</style></head>
<body>
<h1>MMVP leaderboard</h1>
<p class="note">Pair accuracy is the paper's MMVP score: a pair counts only when both of its
questions are right (150 pairs, random guessing 25 %). The 95 % interval is a seeded bootstrap over
pairs: with 150 pairs, gaps of a few points are often noise. Per-pattern columns (shaded) use an
unofficial question-to-pattern mapping. Click a column header to sort. Italic rows are
published numbers, not verified runs: {escape(_citation(reference))};
{escape(reference["mmvp_protocol"])}</p>
{_html_table("leaderboard", ranked, cols)}
{partial_section}<h2>Pair accuracy with 95 % interval</h2>
<figure id="overview-chart">{overview}</figure>
<h2>Per-pattern pair accuracy (unofficial)</h2>
<div id="pattern-charts">{per_pattern}</div>
<h2>MMVP-VLM (image–text encoders), paper reference</h2>
{_vlm_html(reference)}
<script type="application/json" id="leaderboard-data">{json_for_html(data)}</script>
<script>{_SCRIPT}</script>
</body></html>
"""


def _html_table(table_id: str, rows: list[Row], cols: list[Column]) -> str:
    head = "".join(
        f'<th data-type="{c.kind}"{_unofficial(c)} title="{escape(c.title)}">{escape(c.title)}</th>'
        for c in cols
    )
    body = "\n".join(_html_row(row, cols) for row in rows)
    return (
        f'<table id="{table_id}" class="sortable"><thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody></table>"
    )


def _unofficial(column: Column) -> str:
    return ' class="unofficial"' if "unofficial" in column.title else ""


def _html_row(row: Row, cols: list[Column]) -> str:
    cells = []
    for c in cols:
        value = c.value(row)
        sort = "" if value is None else escape(str(value))
        title = f' title="{escape(row.command)}"' if c.title == "Model" and row.command else ""
        cells.append(f'<td data-sort="{sort}"{title}{_unofficial(c)}>{escape(c.text(row))}</td>')
    kind = "reference" if row.reference else "entry"
    return f'<tr class="{kind}">{"".join(cells)}</tr>'


def _vlm_html(reference: dict) -> str:
    codes = [p.code for p in PATTERNS]
    head = "<th>Encoder</th><th>Resolution</th><th>Average</th>" + "".join(
        f'<th title="{escape(p.name)}">{escape(p.code)}</th>' for p in PATTERNS
    )
    rows = []
    for r in reference["mmvp_vlm"]:
        patterns = r.get("patterns", {})
        cells = [escape(r["model"]), _num(r.get("resolution"), 0), _num(r["average"])]
        cells += [_num(patterns.get(c)) for c in codes]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<table id="vlm-reference"><tr>{head}</tr>{"".join(rows)}</table>'


def write_leaderboard(entries: list[dict], out: Path, *, seed: int = 0) -> tuple[Path, Path]:
    """``<out>.md`` and ``<out>.html``."""
    reference = load_reference()
    rows = leaderboard_rows(entries, reference, seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    markdown, html = out.with_suffix(".md"), out.with_suffix(".html")
    markdown.write_text(render_markdown(rows, reference))
    html.write_text(render_html(rows, reference))
    return markdown, html
