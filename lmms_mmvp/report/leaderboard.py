"""``mmvp report leaderboard``: the verified entries as Markdown and a self-contained HTML page.

    mmvp report leaderboard --results results/ --out leaderboard    # leaderboard.md, .html

Rows: pair accuracy with its 95 % bootstrap confidence interval over pairs (seeded), question
accuracy, the paper's two ablations (pair accuracy with options swapped / labels (1)/(2)),
per-pattern pair accuracy (unofficial mapping), unparseable answers, failed requests and
refusals; then the paper's published numbers as marked reference rows (reference.json, cited).
The HTML page needs no network: inline CSS, JS and SVG charts, a Content-Security-Policy that
forbids loading anything, and every string from an entry escaped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from lmms_mmvp.report import charts
from lmms_mmvp.report.stats import Interval, bootstrap_interval
from lmms_mmvp.report.tasks import pair_outcomes
from mmvp_tasks.patterns import PATTERNS

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


def load_reference() -> dict:
    return json.loads(REFERENCE_FILE.read_text())


def leaderboard_rows(entries: list[dict], reference: dict, *, seed: int = 0) -> list[Row]:
    """Entry rows (best pair accuracy first), then the paper's rows."""
    _check_one_table(entries)
    for entry in entries:
        if MAIN_TASK not in entry["tasks"]:
            logger.warning("%s: no %s results, not on the leaderboard", entry["id"], MAIN_TASK)
    rows = [_entry_row(e, seed) for e in entries if MAIN_TASK in e["tasks"]]
    rows.sort(key=lambda r: -1 if r.pair is None else r.pair, reverse=True)
    return rows + [_reference_row(r) for r in reference["mmvp"]]


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
        cost_usd=(entry.get("usage") or {}).get("estimated_cost_usd"),
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


def _check_one_table(entries: list[dict]) -> None:
    for what, key in (
        ("answer keys", lambda e: e["answer_key"]),
        ("question sets (Questions.csv sha256)", lambda e: e["data"]["questions_sha256"]),
    ):
        if len({key(e) for e in entries}) > 1:
            raise LeaderboardError(
                f"entries with different {what} cannot share one table: "
                + ", ".join(sorted(f"{e['id']}={key(e)}" for e in entries))
            )


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
        "(paper) are published numbers, not verified runs: " + _citation(reference) + ".",
        "",
        "| " + " | ".join(_md(c.title) for c in cols) + " |",
        "|" + "|".join(":--" if c.kind == "text" else "--:" for c in cols) + "|",
    ]
    for row in rows:
        cells = [_md(c.text(row)) for c in cols]
        if row.reference:
            cells[0] = f"*{cells[0]}*"
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Paper protocol: {_md(reference['mmvp_protocol'])}", ""]
    lines += _vlm_markdown(reference)
    return "\n".join(lines) + "\n"


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
        cells = [_md(r["model"]), _num(r.get("resolution"), 0), _num(r["average"])]
        cells += [_num(patterns.get(c)) for c in codes]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _md(text: str) -> str:
    """Table-cell text that Markdown renders literally: HTML escaped, pipes and marks escaped."""
    text = escape(str(text)).replace("\n", " ")
    for mark in "\\|*_[]`":
        text = text.replace(mark, "\\" + mark)
    return text


def _citation(reference: dict) -> str:
    c = reference["citation"]
    return f'{c["authors"]}, "{c["title"]}", {c["venue"]}, arXiv:{c["arxiv"]}'


# ----------------------------------------------------------------------------- HTML

# Nothing may be fetched at view time: only the inline style, script and SVG run.
_NO_NETWORK = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
)
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
(function () {
  var table = document.getElementById("leaderboard");
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
})();
"""


def render_html(rows: list[Row], reference: dict) -> str:
    cols = columns()
    head = "".join(
        f'<th data-type="{c.kind}"{_unofficial(c)} title="{escape(c.title)}">{escape(c.title)}</th>'
        for c in cols
    )
    body = "\n".join(_html_row(row, cols) for row in rows)
    entries = [r for r in rows if not r.reference]
    per_pattern = "\n".join(
        f"<figure>{charts.pattern_bars(r.name, r.patterns)}"
        f"<figcaption>{escape(r.name)}: pair accuracy per pattern (unofficial mapping)"
        f"</figcaption></figure>"
        for r in entries
    )
    overview = charts.accuracy_with_intervals(
        [(_display_name(r), r.pair, r.interval, r.reference) for r in rows if r.pair is not None]
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_NO_NETWORK}">
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
<table id="leaderboard"><thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody></table>
<h2>Pair accuracy with 95 % interval</h2>
<figure id="overview-chart">{overview}</figure>
<h2>Per-pattern pair accuracy (unofficial)</h2>
<div id="pattern-charts">{per_pattern}</div>
<h2>MMVP-VLM (image–text encoders), paper reference</h2>
{_vlm_html(reference)}
<script>{_SCRIPT}</script>
</body></html>
"""


def _unofficial(column: Column) -> str:
    return ' class="unofficial"' if "unofficial" in column.title else ""


def _html_row(row: Row, cols: list[Column]) -> str:
    cells = []
    for c in cols:
        value = c.value(row)
        sort = "" if value is None else escape(str(value), quote=True)
        cells.append(f'<td data-sort="{sort}"{_unofficial(c)}>{escape(c.text(row))}</td>')
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
