"""HTML for the dashboard, the compare page and the static report: pure functions, no I/O.

Everything is rendered on the server as one self-contained page: CSS inline, charts as
inline SVG, no script and no external address, so the page works offline and the static
report is a single file. Every dynamic value goes through `esc`. Links are made by a
`link(kind, key)` function the caller passes in, so the same HTML points at `/api/...`
when served and at the JSON files themselves in the static report.
"""
from __future__ import annotations

import html
import math
from typing import Any, Callable

Link = Callable[[str, str], str]
VERDICT_COLOUR = {"ok": "#1a7f37", "retrain_required": "#cf222e", "insufficient_labels": "#8c959f", "watch": "#9a6700"}
STATUS_COLOUR = {"production": "#1a7f37", "candidate": "#0969da", "archived": "#8c959f", "rejected": "#cf222e"}

CSS = """
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:10px 24px;display:flex;align-items:baseline;gap:18px}
header h1{font-size:18px;margin:0}header a{color:#c9d1d9;text-decoration:none;font-size:13px}header .at{margin-left:auto;color:#8c959f;font-size:12px}
main{padding:16px 24px;max-width:1400px;margin:0 auto}
.grid{display:grid;gap:14px;margin-bottom:14px}.g3{grid-template-columns:1.1fr 1fr 1fr}.g2{grid-template-columns:1.5fr 1fr}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 16px;min-width:0}
.card h2{font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:#57606a;margin:0 0 8px}
.big{font-size:28px;font-weight:650}.muted{color:#57606a}.small{font-size:12px}
.kv{display:grid;grid-template-columns:auto 1fr;gap:2px 12px}.kv dt{color:#57606a}
.kv dd{margin:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{padding:4px 8px;border-bottom:1px solid #eaeef2;text-align:left;white-space:nowrap}
th{color:#57606a;font-weight:600;background:#f6f8fa}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.wrap{white-space:normal;min-width:220px}td.fold{white-space:normal;min-width:110px}.note{display:block;white-space:normal}
tr.live td{background:#dafbe1}tr.bad td{background:#ffebe9}td.diff{background:#fff8c5;font-weight:600}td.best{color:#1a7f37;font-weight:700}
.scroll{overflow-x:auto}.problems{background:#ffebe9;border:1px solid #ff8182;border-radius:8px;padding:8px 16px;margin-bottom:14px}
ul.reasons{margin:4px 0 0;padding-left:18px}a{color:#0969da}svg text{font-family:inherit}
"""


def esc(value: Any) -> str:
    """Text for HTML; None shows as a dash."""
    return "–" if value is None else html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 3) -> str:
    """A number rounded for reading; anything else escaped."""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return esc(value)


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def badge(text: str, colour: str) -> str:
    return f'<span class="badge" style="background:{colour}">{esc(text)}</span>'


def a(href: str, text: str) -> str:
    """A link, or plain text where there is nothing to link to (the static report has no /compare)."""
    return f'<a href="{esc(href)}">{esc(text)}</a>' if href else esc(text)


def page(title: str, body: str, nav: str = "", generated: str = "") -> str:
    """A whole HTML document with the shared style."""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head>'
            f'<body><header><h1>{esc(title)}</h1>{nav}<span class="at">{esc(generated)}</span></header>'
            f"<main>{body}</main></body></html>")


# ---- charts ------------------------------------------------------------------------------

def scale(value: float, low: float, high: float, out_low: float, out_high: float) -> float:
    """Map value from [low, high] to [out_low, out_high]; a flat domain maps to the middle."""
    if high <= low:
        return (out_low + out_high) / 2
    return out_low + (value - low) / (high - low) * (out_high - out_low)


def nice_step(raw: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is at least raw: tidy axis ticks."""
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * 0.999)


def error_rate_chart(points: list[dict], width: int = 720, height: int = 240) -> str:
    """Production error rate per monitor run (dots coloured by verdict) against the baseline (dashed)."""
    if not points:
        return '<p class="muted">No monitor runs yet: <code>make monitor</code> writes the first point.</p>'
    left, right, top, bottom = 48, 12, 12, 36
    values = [p["error_rate"] for p in points if p["error_rate"] is not None] + \
             [p["baseline"] for p in points if p["baseline"] is not None]
    step = nice_step(max(values + [0.01]) * 1.1 / 4)
    high = step * math.ceil(max(values + [0.01]) * 1.1 / step)
    n = len(points)

    def x(i: int) -> float:
        return scale(i, 0, max(n - 1, 1), left + 10, width - right - 10) if n > 1 else (left + width - right) / 2

    def y(v: float) -> float:
        return scale(v, 0, high, height - bottom, top)
    parts = [f'<svg class="chart" role="img" aria-label="error rate against baseline" viewBox="0 0 {width} {height}" '
             f'width="100%" preserveAspectRatio="xMidYMid meet">']
    for k in range(round(high / step) + 1):
        v = step * k
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eaeef2"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end" fill="#57606a">{v:.1%}</text>')
    base = [(x(i), y(p["baseline"])) for i, p in enumerate(points) if p["baseline"] is not None]
    if base:
        steps = " ".join(f"{px:.1f},{py:.1f}" for px, py in base)
        parts.append(f'<polyline class="baseline" points="{steps}" fill="none" stroke="#8250df" stroke-width="2" stroke-dasharray="6 4"/>')
    seen = [(x(i), y(p["error_rate"])) for i, p in enumerate(points) if p["error_rate"] is not None]
    if len(seen) > 1:
        parts.append(f'<polyline points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in seen)}" fill="none" stroke="#57606a" stroke-width="1.5"/>')
    for i, p in enumerate(points):
        if p["error_rate"] is None:
            continue
        colour = VERDICT_COLOUR.get(p["verdict"], "#57606a")
        parts.append(f'<circle class="point" cx="{x(i):.1f}" cy="{y(p["error_rate"]):.1f}" r="5" fill="{colour}" '
                     f'data-error-rate="{p["error_rate"]}" data-verdict="{esc(p["verdict"])}">'
                     f'<title>{esc(p["time"])} {esc(p["model_version"])}: error {p["error_rate"]:.2%}, '
                     f'baseline {fmt(p["baseline"], 4)}, {esc(p["verdict"])}</title></circle>')
    ticks = sorted({0, n - 1, *range(0, n, max(1, n // 6))})
    for i in ticks:
        anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
        parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" font-size="11" text-anchor="{anchor}" fill="#57606a">'
                     f'{esc(points[i]["time"][5:19].replace("T", " "))}</text>')
    parts.append(f'<text x="{left}" y="{height - 4}" font-size="11" fill="#57606a">'
                 f'— error rate per monitor run (dot colour = verdict)   - - baseline</text></svg>')
    return "".join(parts)


def chunks_chart(chunks: list[dict], limit: float | None, width: int = 720, height: int = 240) -> str:
    """F1 per chunk of the live model's history: estimated before labels (line, its interval shaded dark
    and its band light), realized where labelled enough (dots), and the limit an alert starts under
    (dashed): an estimated alert is an interval wholly under the limit."""
    measured = [c for c in chunks if c["judged"]]
    if not measured:
        return '<p class="muted">No chunk measured yet: a chunk needs <code>monitor.min_drift_rows</code> predictions.</p>'
    left, right, top, bottom = 48, 12, 12, 36
    n = len(measured)

    def x(i: int) -> float:
        return scale(i, 0, max(n - 1, 1), left + 10, width - right - 10) if n > 1 else (left + width - right) / 2

    def y(v: float) -> float:
        return scale(v, 0, 1, height - bottom, top)
    parts = [f'<svg class="chunks" role="img" aria-label="F1 per chunk, estimated and realized" viewBox="0 0 {width} {height}" '
             'width="100%" preserveAspectRatio="xMidYMid meet">']
    for v in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eaeef2"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end" fill="#57606a">{v:g}</text>')
    estimated = [(i, (c["estimated"] or {}).get("f1")) for i, c in enumerate(measured)]
    estimated = [(i, f1) for i, f1 in estimated if f1]
    if estimated:
        def area(which: str) -> str:  # the upper edge left to right, the lower back
            return " ".join([*(f"{x(i):.1f},{y(f1[which][1]):.1f}" for i, f1 in estimated),
                             *(f"{x(i):.1f},{y(f1[which][0]):.1f}" for i, f1 in reversed(estimated))])
        line = " ".join(f"{x(i):.1f},{y(f1['value']):.1f}" for i, f1 in estimated)
        parts.append(f'<polygon class="band" points="{area("band")}" fill="#54aeff" fill-opacity="0.2" stroke="none"/>'
                     f'<polygon class="interval" points="{area("interval")}" fill="#0969da" fill-opacity="0.35" stroke="none"/>'
                     f'<polyline class="estimated" points="{line}" fill="none" stroke="#0969da" stroke-width="2"/>')
    if limit is not None:
        parts.append(f'<line class="limit" x1="{left}" x2="{width - right}" y1="{y(limit):.1f}" y2="{y(limit):.1f}" '
                     f'stroke="#cf222e" stroke-dasharray="6 4"/>')
    for i, c in enumerate(measured):
        alerts = ", ".join(c["alerts"]) or "no alert"
        realized = (c.get("realized") or {}).get("f1")
        if realized is not None:
            parts.append(f'<circle class="realized" cx="{x(i):.1f}" cy="{y(realized):.1f}" r="4.5" fill="#1f2328" '
                         f'data-f1="{realized}"><title>chunk {c["index"]}: realized F1 {realized:.3f} on {c["labelled"]} '
                         f'labels; {esc(alerts)}</title></circle>')
    parts.append(_chunk_ticks(measured, x, height - bottom + 16))
    parts.append(f'<text x="{left}" y="{height - 4}" font-size="11" fill="#57606a">chunk —  estimated F1 (dark: its interval, '
                 'light: its band)   ● realized F1   - - limit</text></svg>')
    return "".join(parts)


def _chunk_ticks(measured: list[dict], x: Callable[[int], float], baseline: float) -> str:
    """Chunk numbers under a chart of chunks, about eight, none crowding the last."""
    n = len(measured)
    every = max(1, n // 8)
    ticks = sorted({0, n - 1, *(i for i in range(0, n, every) if n - 1 - i >= every / 2)})
    return "".join(f'<text x="{x(i):.1f}" y="{baseline}" font-size="11" text-anchor="middle" fill="#57606a">'
                   f'{measured[i]["index"]}</text>' for i in ticks)


def multivariate_chart(chunks: list[dict], width: int = 720, height: int = 200) -> str:
    """The multivariate measure per chunk (the mean PCA reconstruction error of its rows): the line, a
    red dot where it drifted, the range it is accepted in (shaded: the training rows' value, dashed, give
    or take what chance or monitor.multivariate.min_change allow for a chunk of its size)."""
    measured = [c for c in chunks if c["judged"] and c.get("multivariate")]
    if not measured:
        return '<p class="muted">No chunk measured yet.</p>'
    left, right, top, bottom = 56, 12, 12, 36
    n, records = len(measured), [c["multivariate"] for c in measured]
    high = max(max(max(m["value"], m["range"][1], m["reference"]) for m in records) * 1.1, 1e-9)

    def x(i: int) -> float:
        return scale(i, 0, max(n - 1, 1), left + 10, width - right - 10) if n > 1 else (left + width - right) / 2

    def y(v: float) -> float:
        return scale(v, 0, high, height - bottom, top)
    parts = [f'<svg class="multivariate" role="img" aria-label="multivariate drift per chunk" viewBox="0 0 {width} {height}" '
             'width="100%" preserveAspectRatio="xMidYMid meet">']
    for v in (0, high / 2, high):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eaeef2"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end" fill="#57606a">{v:.3g}</text>')
    accepted = " ".join([*(f"{x(i):.1f},{y(m['range'][1]):.1f}" for i, m in enumerate(records)),
                         *(f"{x(i):.1f},{y(m['range'][0]):.1f}" for i, m in reversed(list(enumerate(records))))])
    reference = " ".join(f"{x(i):.1f},{y(m['reference']):.1f}" for i, m in enumerate(records))
    line = " ".join(f"{x(i):.1f},{y(m['value']):.1f}" for i, m in enumerate(records))
    parts.append(f'<polygon class="accepted" points="{accepted}" fill="#8c959f" fill-opacity="0.2" stroke="none"/>'
                 f'<polyline class="reference" points="{reference}" fill="none" stroke="#8250df" stroke-dasharray="6 4"/>'
                 f'<polyline class="measure" points="{line}" fill="none" stroke="#0969da" stroke-width="2"/>')
    parts += [_measure_dot(c, x(i), y(c["multivariate"]["value"])) for i, c in enumerate(measured)]
    parts.append(_chunk_ticks(measured, x, height - bottom + 16))
    parts.append(f'<text x="{left}" y="{height - 4}" font-size="11" fill="#57606a">chunk —  mean reconstruction error '
                 '(red: drifted)   shaded: accepted range   - - training rows</text></svg>')
    return "".join(parts)


def _measure_dot(chunk: dict, cx: float, cy: float) -> str:
    """One chunk's multivariate measure as a dot, red where it drifted, its figures in its title."""
    m = chunk["multivariate"]
    low, high = m["range"]
    return (f'<circle class="measure{" drifted" if m["drifted"] else ""}" cx="{cx:.1f}" cy="{cy:.1f}" '
            f'r="{4.5 if m["drifted"] else 3}" fill="{"#cf222e" if m["drifted"] else "#0969da"}" data-value="{m["value"]}" '
            f'data-drifted="{str(m["drifted"]).lower()}"><title>chunk {chunk["index"]}: reconstruction error {m["value"]:.4g} '
            f'(training rows {m["reference"]:.4g}, accepted {low:.4g} to {high:.4g}; p={m["p_value"]:.2g})'
            f'{", drifted" if m["drifted"] else ""}</title></circle>')


def drift_map(chunks: list[dict], width: int = 720) -> str:
    """Which columns drifted in which chunk (red), with the multivariate measure as the last row."""
    measured = [c for c in chunks if c["judged"] and c["drift"]]
    if not measured:
        return '<p class="muted">No chunk measured yet.</p>'
    columns = sorted(measured[-1]["drift"])
    rows = [*columns, "all inputs together"]
    left, top, cell_h = 170, 6, 20
    cell_w = max(2.0, (width - left - 10) / len(measured))
    height = top + cell_h * len(rows) + 22
    parts = [f'<svg class="drift-map" role="img" aria-label="drift per column and chunk" viewBox="0 0 {width} {height}" width="100%">']
    for r, name in enumerate(rows):
        parts.append(f'<text x="{left - 6}" y="{top + r * cell_h + 14}" font-size="12" text-anchor="end">{esc(name)}</text>')
    for k, c in enumerate(measured):
        for r, name in enumerate(rows):
            record = c["multivariate"] if r == len(columns) else (c["drift"] or {}).get(name)
            drifted = bool(record and record["drifted"])
            parts.append(f'<rect class="cell" x="{left + k * cell_w:.1f}" y="{top + r * cell_h}" width="{cell_w - 1:.1f}" '
                         f'height="{cell_h - 2}" fill="{"#cf222e" if drifted else "#dafbe1"}" data-drifted="{str(drifted).lower()}">'
                         f'<title>chunk {c["index"]}, {esc(name)}: {"drifted" if drifted else "held"}</title></rect>')
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="11" fill="#57606a">chunks {measured[0]["index"]} to '
                 f'{measured[-1]["index"]}, oldest left; red = drifted</text></svg>')
    return "".join(parts)


def drift_bars(features: dict[str, dict], psi_threshold: float, width: int = 460) -> str:
    """PSI of each feature on a log scale, the threshold marked; red = the drift test flagged it."""
    if not features:
        return '<p class="muted">No drift report yet.</p>'
    row, left, right, top = 24, 150, 70, 18
    height = top + row * len(features) + 22
    low, high = 1e-3, max(10.0, max((f["psi"] or 0) for f in features.values()))

    def x(v: float) -> float:
        return scale(math.log10(min(max(v, low), high)), math.log10(low), math.log10(high), left, width - right)
    parts = [f'<svg class="drift" role="img" aria-label="drift per feature" viewBox="0 0 {width} {height}" width="100%">']
    decade = low
    while decade <= high * 1.0001:
        parts.append(f'<line x1="{x(decade):.1f}" x2="{x(decade):.1f}" y1="{top - 4}" y2="{height - 20}" stroke="#eaeef2"/>'
                     f'<text x="{x(decade):.1f}" y="{height - 6}" font-size="10" text-anchor="middle" fill="#57606a">{decade:g}</text>')
        decade *= 10
    for i, (name, f) in enumerate(sorted(features.items(), key=lambda kv: -(kv[1]["psi"] or 0))):
        cy = top + i * row
        colour = "#cf222e" if f["drifted"] else "#54aeff"
        psi = f["psi"] or 0.0
        parts.append(f'<text x="{left - 6}" y="{cy + 14}" font-size="12" text-anchor="end">{esc(name)}</text>'
                     f'<rect class="bar" x="{left}" y="{cy + 3}" width="{max(1.0, x(psi) - left):.1f}" height="{row - 8}" '
                     f'fill="{colour}" rx="2" data-psi="{psi}" data-drifted="{str(f["drifted"]).lower()}">'
                     f'<title>{esc(name)}: PSI {psi:.3f}, {esc(f["test"])} p={f["p_value"]:.2g}</title></rect>'
                     f'<text x="{x(psi) + 4:.1f}" y="{cy + 14}" font-size="11" fill="#57606a">{psi:.3f}</text>')
    tx = x(psi_threshold)
    parts.append(f'<line class="threshold" x1="{tx:.1f}" x2="{tx:.1f}" y1="{top - 6}" y2="{height - 20}" stroke="#1f2328" '
                 f'stroke-dasharray="3 3"/><text x="{tx + 3:.1f}" y="{top - 8 + 6}" font-size="10">PSI {psi_threshold:g}</text></svg>')
    return "".join(parts)


def lineage_svg(lineage: dict, link: Link, width: int = 1300) -> str:
    """Inputs → data versions → model versions, as three columns of linked boxes."""
    columns = [("Inputs", lineage["inputs"]), ("Data versions", lineage["data"]), ("Models", lineage["models"])]
    rows = max(len(nodes) for _, nodes in columns) or 1
    box_w, box_h, gap = 360, 34, 10
    height = 30 + rows * (box_h + gap)
    xs = [10, (width - box_w) / 2, width - box_w - 10]
    where: dict[str, tuple[float, float]] = {}
    boxes = []
    for col, (title, nodes) in enumerate(columns):
        boxes.append(f'<text x="{xs[col]}" y="14" font-size="12" font-weight="600" fill="#57606a">{title}</text>')
        for i, node in enumerate(nodes):
            y = 24 + i * (box_h + gap)
            where[node["id"]] = (xs[col], y)
            stroke = STATUS_COLOUR.get(node.get("status", ""), "#d0d7de")
            label = f'<text x="{xs[col] + 8}" y="{y + 14}" font-size="12" font-weight="600">{esc(node["label"])}</text>' \
                    f'<text x="{xs[col] + 8}" y="{y + 28}" font-size="10.5" fill="#57606a">{esc(node["detail"])}</text>'
            rect = f'<rect class="node" x="{xs[col]}" y="{y}" width="{box_w}" height="{box_h}" rx="5" fill="#fff" ' \
                   f'stroke="{stroke}" stroke-width="{2 if node.get("status") == "production" else 1}"/>'
            href = link(node["kind"], node["key"]) if node.get("kind") else ""
            boxes.append(f'<a href="{esc(href)}">{rect}{label}</a>' if href else rect + label)
    edges = []
    for source, target in lineage["edges"]:
        if source in where and target in where:
            (x1, y1), (x2, y2) = where[source], where[target]
            sx, sy, tx, ty = x1 + box_w, y1 + box_h / 2, x2, y2 + box_h / 2
            edges.append(f'<path d="M{sx:.0f},{sy:.0f} C{sx + 60:.0f},{sy:.0f} {tx - 60:.0f},{ty:.0f} {tx:.0f},{ty:.0f}" '
                         f'fill="none" stroke="#afb8c1" stroke-width="1.3"/>')
    return (f'<svg class="lineage" role="img" aria-label="lineage" viewBox="0 0 {width} {height}" width="100%">'
            + "".join(edges) + "".join(boxes) + "</svg>")


# ---- page sections -----------------------------------------------------------------------

def live_card(view: dict, link: Link) -> str:
    live = view["live"]
    if live is None:
        return '<div class="card"><h2>Live model</h2><p class="muted">Nothing in production yet: <code>make train</code>.</p></div>'
    m = live["metrics"]
    commit = live["git"]["commit"]
    return (f'<div class="card" id="live"><h2>Live model</h2>'
            f'<div class="big" id="live-version">{a(link("model", live["version"]), live["version"])} '
            f'{badge("production", STATUS_COLOUR["production"])}</div>'
            f'<dl class="kv"><dt>live since</dt><dd>{esc(live["since"])}</dd>'
            f'<dt>algorithm</dt><dd>{esc(live["algorithm"])}</dd>'
            f'<dt>data version</dt><dd>{a(link("data", live["data_version"]), live["data_version"])}</dd>'
            f'<dt>git commit</dt><dd>{esc((commit or "none")[:12])}{" (dirty)" if live["git"]["dirty"] else ""}</dd>'
            f'<dt>its test set</dt><dd>F1 {fmt(m["f1"])} · recall {fmt(m["recall"])} · precision {fmt(m["precision"])}</dd>'
            f'<dt>sha256</dt><dd class="small">{esc(live["sha256"][:24])}…</dd>'
            + (f'<dt>challenger</dt><dd id="challenger">{a(link("model", view["challenger"]), view["challenger"])} '
               '(scored in shadow; <code>make challenger</code>)</dd>' if view.get("challenger") else "")
            + '</dl></div>')


def verdict_card(view: dict, link: Link) -> str:
    report, runs = view["monitor"], view["series"]
    if report is None and runs:  # the report file is unreadable (listed under problems); the log row still says a lot
        last = runs[-1]
        return (f'<div class="card" id="verdict"><h2>Latest monitor verdict</h2>'
                f'<div class="big">{badge(last["verdict"], VERDICT_COLOUR.get(last["verdict"], "#57606a"))}</div>'
                f'<div>error rate {pct(last["error_rate"])} vs baseline {pct(last["baseline"])} (model '
                f'{esc(last["model_version"])}, {esc(last["time"])})</div>'
                f'<p class="small muted">The report itself could not be read; see the problems above.</p></div>')
    if report is None:
        return '<div class="card"><h2>Latest monitor verdict</h2><p class="muted">No report yet: <code>make monitor</code>.</p></div>'
    q = report["quality"]["overall"] if report.get("quality") else {}
    reasons = "".join(f"<li>{esc(r)}</li>" for r in report["reasons"])
    live = (view.get("live") or {}).get("version")
    stale = live is not None and live != report["model_version"]
    colour = "#8c959f" if stale else VERDICT_COLOUR.get(report["verdict"], "#57606a")
    return (f'<div class="card" id="verdict"><h2>Latest monitor verdict</h2>'
            f'<div class="big">{badge(report["verdict"], colour)}</div>'
            + (f'<p class="small" id="verdict-stale"><b>For {esc(report["model_version"])}, which no longer serves:</b> '
               f'{esc(live)} is live and has no report yet (<code>make monitor</code>).</p>' if stale else "")
            + f'<div class="small muted">{a(link("monitor", report["report_id"]), report["report_id"])} · model {esc(report["model_version"])} · '
            f'{esc(report["window"]["labelled"])} labelled of {esc(report["window"]["predictions"])} predictions</div>'
            f'<div>error rate {pct(q.get("error_rate"))} vs baseline {pct(report["baseline"]["error_rate"])} · '
            f'{drift_words(report["drift"], report["window"]["predictions"])}</div>'
            f'<ul class="reasons">{reasons}</ul>{diagnosis_html(report.get("diagnosis"))}</div>')


def drift_words(drift: dict, predictions: int) -> str:
    """How many features drifted, or that drift was not judged on so few predictions."""
    if drift.get("judged") is False:
        return f'drift not judged: {esc(predictions)} predictions, {esc(drift["needed"])} needed'
    return f'drifted {esc(len(drift["drifted"]))} of {esc(len(drift["features"]))} features'


def diagnosis_html(diagnosis: dict | None) -> str:
    """The report's diagnosis: its kind, the action, and each suspect sensor with its estimate."""
    if not diagnosis:  # a report written before the monitor diagnosed
        return ""
    suspects = "".join(
        f'<li class="suspect" data-sensor="{esc(s["sensor"])}"><b>{esc(s["sensor"])}</b>: {esc(s["fault"])} '
        f'{esc(s["estimate"])} {esc(s["unit"])} [{esc(s["interval"][0])}, {esc(s["interval"][1])}] since prediction '
        f'<code>{esc(s["starts_at"]["prediction_id"])}</code> ({esc(s["starts_at"]["time"])})</li>'
        for s in diagnosis["suspect_sensors"])
    return (f'<div id="diagnosis" data-kind="{esc(diagnosis["kind"])}">diagnosis: <b>{esc(diagnosis["kind"])}</b> · '
            f'{esc(diagnosis["action"])}<ul class="reasons">{suspects}</ul></div>')


def deployment_card(view: dict, link: Link) -> str:
    rows = view["deployments"]
    last = rows[0] if rows else None
    body = ('<p class="muted">The server has not run yet: <code>make serve</code>.</p>' if last is None else
            f'<dl class="kv"><dt>last event</dt><dd>{esc(last["event"])} of {esc(last["model_version"])}</dd>'
            f'<dt>at</dt><dd>{esc(last["time"])}</dd><dt>where</dt><dd>{esc(last["host_port"])} (pid {esc(last["pid"])})</dd>'
            f'<dt>detail</dt><dd>{esc(last["detail"])}</dd></dl>')
    flag = view["retrain_flag"]
    raised = "retrain flag raised" + (" on an estimate, before labels" if (flag or {}).get("basis") == "estimated" else "")
    flag_html = (f'<p>{badge(raised, VERDICT_COLOUR["retrain_required"])} <code>make retrain</code></p>'
                 if flag is not None else '<p class="small muted">No retrain flag raised.</p>')
    return (f'<div class="card"><h2>Serving</h2>{body}{flag_html}'
            f'<p class="small">{a(link("deployments", ""), "deployment log as JSON")} · '
            f'{a(link("registry", ""), "registry as JSON")}</p></div>')


def _epoch_note(reference: dict) -> str:
    """After a concept drift the figure is on a new reference epoch's rows: say so, with the old rows' figure."""
    rows = reference.get("rows") or {}
    if not rows.get("epoch"):
        return ""
    return (f'<span class="small muted note">new reference: {esc(rows["data_version"])} test, {rows["rows"]} rows '
            f'(on the first model\'s rows {fmt(reference["original_after"])})</span>')


def scenarios_table(run: dict | None) -> str:
    """The newest make scenarios run: each scenario's truth, diagnosis, action and F1, then the targets."""
    if not run:
        return '<p class="muted">No run yet: <code>make scenarios</code>.</p>'
    rows = "".join(
        f'<tr data-scenario="{esc(r["scenario"])}"><td>{esc(r["scenario"])}</td><td>{esc(r["truth"])}</td>'
        f'<td>{esc(r["diagnosis"])}</td><td class="fold">{esc(", ".join(r["suspect_sensors"]) or "-")}</td>'
        f'<td>{badge("right", "#1a7f37") if r["correct"] else badge("wrong", "#cf222e")}</td><td class="small wrap">{esc(r["action"])}</td>'
        f'<td class="num">{fmt(r["f1"]["before"])}</td><td class="num">{fmt(r["f1"]["during"])}</td><td class="num">{fmt(r["f1"]["after"])}</td>'
        f'<td class="num fold">{fmt(r["reference_f1"]["after"])}{_epoch_note(r["reference_f1"])}</td></tr>' for r in run["scenarios"])
    targets = "".join(f'<li>{"held" if t["held"] else "<b>broken</b>"}: {esc(t["target"])}'
                      f'{esc(" (" + ", ".join(t["broken_by"]) + ")") if t["broken_by"] else ""}</li>' for t in run["targets"])
    return (f'<p class="small muted">{esc(run["created_at"])}, each from {esc(run["first_model"])}</p>'
            '<div class="scroll"><table id="scenarios"><tr><th>scenario</th><th>truth</th><th>diagnosis</th><th>sensors named</th>'
            '<th></th><th>action</th><th class="num">F1 before</th><th class="num">during</th><th class="num">after</th>'
            f'<th class="num">reference F1 after</th></tr>{rows}</table></div><ul class="reasons">{targets}</ul>')


def registry_table(view: dict, link: Link) -> str:
    rows = []
    live = next((v["test_rows"] for v in view["versions"] if v["status"] == "production"), None)
    elsewhere = [v["version"] for v in view["versions"] if live and v.get("test_rows") != live]
    for v in view["versions"]:
        m, gates = v["metrics"], v["gates"]
        verdict = "pass" if gates["passed"] else "fail: " + ", ".join(gates["failed"])
        params = ", ".join(f"{k}={val}" for k, val in sorted(v["hyperparameters"].items()) if val is not None)
        rows.append(f'<tr class="{"live" if v["status"] == "production" else ""}" data-version="{esc(v["version"])}">'
                    f'<td>{a(link("model", v["version"]), v["version"])}</td><td>{badge(v["status"], STATUS_COLOUR.get(v["status"], "#57606a"))}</td>'
                    f'<td>{esc(v["created_at"])}</td><td>{a(link("data", v["data_version"]), v["data_version"])}</td>'
                    f'<td>{esc(v["algorithm"])}</td><td class="small wrap">{esc(params)}</td>'
                    f'<td class="num">{fmt(m["f1"])}{"*" if v["version"] in elsewhere else ""}</td>'
                    f'<td class="num">{fmt(m["recall"])}</td><td class="num">{fmt(m["precision"])}</td>'
                    f'<td class="small wrap">{esc(gates.get("gate_set", ""))}: {esc(verdict)}</td></tr>')
    if not rows:
        return '<p class="muted">No registered versions yet.</p>'
    note = (f'<p class="small" id="other-rows">* measured on other test rows than the production model\'s '
            f'({esc(", ".join(elsewhere))}): not comparable with it; <code>/compare</code> scores them on the same rows.</p>'
            if elsewhere else "")
    return ('<div class="scroll"><table id="registry"><tr><th>version</th><th>status</th><th>created</th><th>data</th><th>algorithm</th>'
            '<th>key params</th><th class="num">F1</th><th class="num">recall</th><th class="num">precision</th><th>gates</th></tr>'
            + "".join(rows) + "</table></div>" + note)


def experiments_table(view: dict, link: Link) -> str:
    exps = view["experiments"]
    if not exps and view.get("experiment_grid"):
        return (f'<p class="muted">{esc(len(view["experiment_grid"]))} declared in params.yaml '
                f'(<code>experiments.grid</code>: {esc(", ".join(view["experiment_grid"]))}), none run yet: '
                '<code>make experiments</code>.</p>')
    if not exps:
        return ('<p class="muted">No experiments declared: add a grid to <code>experiments.grid</code> in params.yaml, '
                'then <code>make experiments</code>.</p>')
    metric = view["experiment_metric"]
    rows = "".join(
        f'<tr><td>{esc(e["name"])}</td><td>{a(link("model", e["version"]), e["version"]) if e["version"] else "–"}</td>'
        f'<td>{esc(e["status"])}</td>'
        f'<td>{esc(e["algorithm"])}</td><td class="small">{esc(e["overrides_text"])}</td>'
        + "".join(f'<td class="num{" best" if k == metric and i == 0 else ""}">{fmt(e["metrics"][k])}</td>'
                  for k in ("f1", "recall", "precision", "roc_auc"))
        + f'<td>{"pass" if e["gates"]["passed"] else "fail" if e["version"] else esc("error: " + e["error"])}</td></tr>'
        for i, e in enumerate(exps))
    versions = ",".join(list(dict.fromkeys(e["version"] for e in exps if e["version"]))[:4])
    return (f'<div class="scroll"><table id="experiments"><tr><th>experiment</th><th>version</th><th>status</th><th>algorithm</th>'
            f'<th>overrides</th><th class="num">F1</th><th class="num">recall</th><th class="num">precision</th>'
            f'<th class="num">ROC AUC</th><th>gates</th></tr>{rows}</table></div>'
            f'<p class="small">Sorted by {esc(metric)}. {a(link("compare", versions), "compare the top four") + " · " if versions else ""}'
            f'{a(link("experiments", ""), "as JSON")}</p>')


def runs_table(view: dict, link: Link) -> str:
    runs = view["runs"]
    if not runs:
        return '<p class="muted">No pipeline runs recorded yet: <code>make train</code> records each run that does something.</p>'
    body = "".join(
        f'<tr class="{"" if r["outcome"] == "completed" else "bad"}"><td>{esc(r["time"])}</td><td>{esc(r["outcome"])}</td>'
        f'<td class="num">{fmt(r["duration_s"], 2)}</td><td>{esc(", ".join(r["stages"]))}</td>'
        f'<td>{a(link("data", r["data_version"]), r["data_version"]) if r["data_version"] else "–"}</td>'
        f'<td>{a(link("model", r["model_version"]), r["model_version"]) if r["model_version"] else "–"}</td>'
        f'<td>{esc(r["params_file"])}</td><td>{esc((r["git"]["commit"] or "none")[:12])}</td>'
        f'<td class="small">{esc(r["error"] or "")}</td></tr>' for r in runs)
    more = view["runs_recorded"] - len(runs)
    return ('<div class="scroll"><table id="runs"><tr><th>started</th><th>outcome</th><th class="num">seconds</th><th>stages</th>'
            f'<th>data</th><th>model</th><th>params</th><th>commit</th><th>error</th></tr>{body}</table></div>'
            f'<p class="small">{a(link("runs", ""), "every run as JSON")}'
            + (f' · {more} older runs (<code>make runs ALL=1</code>)' if more > 0 else "") + '</p>')


def deployments_table(view: dict, limit: int) -> str:
    rows = view["deployments"][:limit]
    if not rows:
        return '<p class="muted">No deployment events yet.</p>'
    body = "".join(f'<tr><td>{esc(r["time"])}</td><td>{esc(r["event"])}</td><td>{esc(r["model_version"])}</td>'
                   f'<td>{esc(r["data_version"])}</td><td>{esc((r["git_commit"] or "")[:12])}</td><td>{esc(r["host_port"])}</td>'
                   f'<td>{esc(r["pid"])}</td><td class="small">{esc(r["detail"])}</td></tr>' for r in rows)
    more = len(view["deployments"]) - len(rows)
    return ('<div class="scroll"><table id="deployments"><tr><th>time</th><th>event</th><th>model</th><th>data</th><th>commit</th>'
            f'<th>host:port</th><th>pid</th><th>detail</th></tr>{body}</table></div>'
            + (f'<p class="small muted">{more} older events in the log.</p>' if more > 0 else ""))


def dashboard_html(view: dict, link: Link, title: str, asked: tuple[str | None, str | None] | None = None,
                   form: bool | None = None) -> str:
    """The whole dashboard page (also the body of the static report). asked: the (column, chunk) chosen
    for the distribution card (a served page's query, or make report's COLUMN and CHUNK); form: whether
    the card offers a form to choose again (by default, when asked: served pages)."""
    problems = "".join(f"<li>{esc(p)}</li>" for p in view["problems"])
    report = view["monitor"]
    drift = drift_bars(report["drift"]["features"] if report else {}, view["psi_threshold"])
    body = (
        (f'<div class="problems"><b>Some records could not be read:</b><ul>{problems}</ul></div>' if problems else "")
        + f'<div class="grid g3">{live_card(view, link)}{verdict_card(view, link)}{deployment_card(view, link)}</div>'
        + f'<div class="grid g2"><div class="card"><h2>Production error rate vs baseline</h2>{error_rate_chart(view["series"])}'
        + f'<p class="small">{a(link("monitor-history", ""), "monitor history as JSON")}</p></div>'
        + f'<div class="card"><h2>Drift in the latest report (PSI, log scale)</h2>{drift}</div></div>'
        + history_cards(report, pick_distribution((report or {}).get("chunks") or [], *(asked or (None, None))),
                        form=asked is not None if form is None else form)
        + f'<div class="card" style="margin-bottom:14px"><h2>Registry</h2>{registry_table(view, link)}</div>'
        + f'<div class="card" style="margin-bottom:14px"><h2>Experiments</h2>{experiments_table(view, link)}</div>'
        + f'<div class="card" style="margin-bottom:14px"><h2>Scenarios</h2>{scenarios_table(view.get("scenarios"))}</div>'
        + f'<div class="card" style="margin-bottom:14px"><h2>Pipeline runs</h2>{runs_table(view, link)}</div>'
        + '<div class="card" style="margin-bottom:14px"><h2>Lineage: raw data → data versions → models</h2>'
        + f'{lineage_svg(view["lineage"], link)}<p class="small">{a(link("lineage", ""), "lineage as JSON")}</p></div>'
        + f'<div class="card"><h2>Deployment history</h2>{deployments_table(view, view["deployment_rows_shown"])}</div>'
    )
    recent = ",".join(v["version"] for v in view["versions"][:3])
    nav = a(link("dashboard", ""), "dashboard") + a(link("compare", recent) if recent else "", "compare") \
        + a(link("openapi", ""), "API")
    return page(title, body, nav, f"generated {view['generated_at']}")


def pick_distribution(chunks: list[dict], column: str | None, chunk: str | None) -> tuple[dict, str] | None:
    """The chunk and column whose distribution to show: the asked ones, else the latest measured chunk
    and its first drifted column (or its first). None when no chunk holds distributions; a KeyError
    (field, why) when what was asked is not there. Pure."""
    measured = [c for c in chunks if c["judged"] and c.get("distributions")]
    if not measured:
        return None
    by_index = {str(c["index"]): c for c in measured}
    if chunk is not None and chunk not in by_index:
        raise KeyError("chunk", f"{chunk[:20]!r} is not a measured chunk of the latest report ({', '.join(by_index)})")
    picked = by_index[chunk] if chunk is not None else measured[-1]
    if column is not None and column not in picked["distributions"]:
        raise KeyError("column", f"{column[:40]!r} is not one of the model's ({', '.join(sorted(picked['distributions']))})")
    return picked, column or next(iter(picked.get("drifted") or []), None) or sorted(picked["distributions"])[0]


def distribution_chart(shares: dict, label: str, width: int = 560, height: int = 270) -> str:
    """One column's share per bin in the training rows (grey) and in the chunk (blue), side by side."""
    left, right, top, bottom = 44, 8, 12, 84
    n = len(shares["bins"])
    high = max([*shares["reference"], *shares["current"], 0.01])
    step = (width - left - right) / n

    def y(v: float) -> float:
        return scale(v, 0, high, height - bottom, top)
    parts = [f'<svg class="distribution" role="img" aria-label="{esc(label)}" viewBox="0 0 {width} {height}" width="100%">']
    for v in (0, high / 2, high):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eaeef2"/>'
                     f'<text x="{left - 4}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end" fill="#57606a">{v:.0%}</text>')
    for i, name in enumerate(shares["bins"]):
        x0 = left + i * step
        for k, (side, colour) in enumerate((("reference", "#8c959f"), ("current", "#0969da"))):
            value = shares[side][i]
            parts.append(f'<rect class="share {side}" x="{x0 + 2 + k * (step - 4) / 2:.1f}" y="{y(value):.1f}" '
                         f'width="{max((step - 4) / 2 - 1, 1):.1f}" height="{y(0) - y(value):.1f}" fill="{colour}">'
                         f'<title>{esc(name)}: {value:.1%} of the {"training rows" if side == "reference" else "chunk"}</title></rect>')
        parts.append(f'<text x="{x0 + step / 2:.1f}" y="{height - bottom + 12}" font-size="9" text-anchor="end" '
                     f'transform="rotate(-35 {x0 + step / 2:.1f} {height - bottom + 12})" fill="#57606a">{esc(name)}</text>')
    parts.append(f'<text x="{left}" y="{height - 4}" font-size="11" fill="#57606a">grey: training rows   blue: the chunk</text></svg>')
    return "".join(parts)


def distribution_card(report: dict | None, choice: tuple[dict, str] | None, form: bool) -> str:
    """A column's distribution in the training rows against one chunk, with a form to choose both
    (served pages only: the static report shows the default)."""
    if choice is None:
        return '<div class="card"><h2>Distribution</h2><p class="muted">No chunk measured yet.</p></div>'
    chunk, column = choice
    picker = ""
    if form:
        chunks = [c for c in (report or {}).get("chunks") or [] if c["judged"] and c.get("distributions")]
        columns = "".join(f'<option{" selected" if name == column else ""}>{esc(name)}</option>' for name in sorted(chunk["distributions"]))
        indexes = "".join(f'<option{" selected" if c is chunk else ""}>{c["index"]}</option>' for c in chunks)
        picker = (f'<form method="get" action="/" class="small">column <select name="column">{columns}</select> '
                  f'chunk <select name="chunk">{indexes}</select> <button>show</button></form>')
    label = f"{column}: training rows against chunk {chunk['index']}"
    return (f'<div class="card" id="distribution" data-column="{esc(column)}" data-chunk="{chunk["index"]}">'
            f'<h2>Distribution: {esc(label)}</h2>{picker}{distribution_chart(chunk["distributions"][column], label)}</div>')


def history_cards(report: dict | None, choice: tuple[dict, str] | None = None, form: bool = False) -> str:
    """The live model's history in chunks: F1 estimated and realized over time, the drift map, and a
    column's distribution in one chunk against the training rows."""
    chunks = (report or {}).get("chunks") or []
    limit = (report or {}).get("history", {}).get("f1_limit")
    return (f'<div class="grid g2"><div class="card"><h2>F1 per chunk: estimated before labels, and realized</h2>'
            f'{chunks_chart(chunks, limit)}<h2>All inputs together: multivariate drift per chunk</h2>'
            f'{multivariate_chart(chunks)}</div>'
            f'<div class="grid"><div class="card"><h2>Drift per chunk</h2>{drift_map(chunks, 560)}</div>'
            f'{distribution_card(report, choice, form)}</div></div>')


CURVE_COLOURS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#57606a"]


def pr_chart(curves: dict[str, list], width: int = 420, height: int = 300) -> str:
    """Precision (up) against recall (across) of each version on the same rows, one line each."""
    left, bottom, top, right = 44, height - 34, 12, width - 12

    def point(recall: float, precision: float) -> str:
        return f"{scale(recall, 0, 1, left, right):.1f},{scale(precision, 0, 1, bottom, top):.1f}"
    lines, legend = [], []
    for i, (version, curve) in enumerate(curves.items()):
        colour = CURVE_COLOURS[i % len(CURVE_COLOURS)]
        lines.append(f'<polyline class="pr" data-version="{esc(version)}" fill="none" stroke="{colour}" stroke-width="2" '
                     f'points="{" ".join(point(r, p) for r, p in curve)}"/>')
        legend.append(f'<text x="{right - 60}" y="{top + 14 + 14 * i}" fill="{colour}" font-size="12">{esc(version)}</text>')
    axes = (f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#8c959f"/>'
            f'<line x1="{left}" y1="{bottom}" x2="{left}" y2="{top}" stroke="#8c959f"/>'
            f'<text x="{left}" y="{bottom + 14}" font-size="11" text-anchor="middle">0</text>'
            f'<text x="{right}" y="{bottom + 14}" font-size="11" text-anchor="middle">1</text>'
            f'<text x="{left - 6}" y="{top + 4}" font-size="11" text-anchor="end">1</text>'
            f'<text x="{(left + right) / 2}" y="{height - 8}" font-size="12" text-anchor="middle">recall</text>'
            f'<text x="12" y="{(top + bottom) / 2}" font-size="12" transform="rotate(-90 12 {(top + bottom) / 2})" '
            f'text-anchor="middle">precision</text>')
    return (f'<svg class="pr-chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="precision-recall curves on the same rows">{axes}{"".join(lines)}{"".join(legend)}</svg>')


def compare_html(view: dict, link: Link, title: str) -> str:
    """Versions side by side: every param and metric, rows that differ highlighted, best metric in green."""
    versions = view["versions"]
    head = "".join(f"<th>{a(link('model', v), v)}</th>" for v in versions)
    rows = []
    for section, items in view["sections"]:
        rows.append(f'<tr><th colspan="{len(versions) + 1}">{esc(section)}</th></tr>')
        for key, values, best in items:
            differs = len({repr(v) for v in values}) > 1
            cells = "".join(f'<td class="num{" diff" if differs else ""}{" best" if best is not None and i == best else ""}">'
                            f"{fmt(value, 4)}</td>" for i, value in enumerate(values))
            rows.append(f'<tr class="{"differs" if differs else ""}"><td>{esc(key)}</td>{cells}</tr>')
    warning = ("" if view["same_rows"] else
               '<p id="different-rows"><b>These versions were tested on different rows</b> (see "test rows sha256"): '
               'their recorded test metrics are not compared; the section "on the same rows" is.</p>')
    body = (f'<div class="card"><h2>{esc(" vs ".join(versions))}</h2>{warning}<p class="small muted">Highlighted rows differ; '
            f'the best value of each metric measured on the same rows is green.</p>{pr_chart(view["curves"])}'
            f'<div class="scroll"><table id="compare"><tr><th>field</th>{head}</tr>'
            + "".join(rows) + "</table></div></div>")
    nav = a(link("dashboard", ""), "dashboard") + a(link("openapi", ""), "API")
    return page(title, body, nav, f"generated {view['generated_at']}")
