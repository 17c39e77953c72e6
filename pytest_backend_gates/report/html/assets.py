"""The HTML report's only style sheet and script, inlined in the page: system fonts, no images,
nothing fetched. The page's Content-Security-Policy allows exactly these two by their hashes
(page.py), so nothing else can run or load, whatever a violation message holds."""

from __future__ import annotations

STYLE = """
:root { --ok: #1b7f3b; --bad: #c62828; --warn: #a66a00; --muted: #5f6b76; --line: #d8dee4; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1f2328; background: #fff; }
main { max-width: 1180px; margin: 0 auto; padding: 0 20px 40px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
pre { white-space: pre-wrap; word-break: break-word; background: var(--bg); border: 1px solid var(--line);
      border-radius: 4px; padding: 8px 10px; margin: 6px 0; max-height: 480px; overflow: auto; }
header.verdict { padding: 18px 20px; color: #fff; }
header.verdict h1 { margin: 0 0 4px; font-size: 26px; }
header.verdict p { margin: 0; opacity: .92; }
.verdict-passed { background: var(--ok); }
.verdict-failed, .verdict-interrupted { background: var(--bad); }
.verdict-nothing { background: var(--warn); }
.toolbar { margin: 14px 0; display: flex; gap: 8px; flex-wrap: wrap; }
button { font: inherit; font-size: 12.5px; padding: 3px 10px; border: 1px solid var(--line); border-radius: 4px;
         background: #fff; cursor: pointer; }
button:hover { background: var(--bg); }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.overview { width: 100%; }
table.overview td.summary { max-width: 640px; }
tr.under td { color: var(--bad); }
.badge { display: inline-block; min-width: 70px; text-align: center; border-radius: 3px; padding: 1px 6px; color: #fff;
         font-size: 12px; font-weight: 600; vertical-align: middle; }
.badge-passed { background: var(--ok); }
.badge-failed, .badge-error { background: var(--bad); }
.badge-skipped { background: var(--warn); }
section.gate { border: 1px solid var(--line); border-left: 6px solid var(--muted); border-radius: 6px;
               padding: 4px 18px 12px; margin: 18px 0; }
section.status-passed { border-left-color: var(--ok); }
section.status-failed, section.status-error { border-left-color: var(--bad); }
section.status-skipped { border-left-color: var(--warn); }
section.gate h2 { font-size: 19px; margin: 12px 0 4px; }
section.gate h3 { font-size: 15px; margin: 16px 0 6px; }
.summary { margin: 4px 0; font-weight: 500; }
.meta, .more, figcaption, .fingerprint, .location { color: var(--muted); font-size: 12.5px; }
.run-notes { background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: 6px 14px; margin: 14px 0; }
details.violation { border: 1px solid var(--line); border-radius: 4px; margin: 5px 0; background: #fff; }
details.violation.new { border-left: 4px solid var(--bad); }
details.violation.accepted { border-left: 4px solid var(--muted); background: #fbfbfc; }
details.violation > summary { cursor: pointer; padding: 5px 10px; list-style-position: outside; }
details.violation > .body { padding: 0 12px 8px; }
.check { display: inline-block; font-size: 12px; border-radius: 3px; padding: 0 5px; background: #eaeef2; }
.has-repro { font-size: 11.5px; color: #0b5cad; border: 1px solid #b6d4f2; border-radius: 3px; padding: 0 4px; }
.reason { font-weight: 600; color: var(--muted); }
.reproduce-head { font-weight: 600; margin-top: 8px; }
.warnings li { color: var(--warn); }
.warnings li pre { color: #1f2328; }
.plot-error { color: var(--bad); }
figure { margin: 10px 0 18px; }
svg.plot { width: 100%; max-width: 900px; height: auto; display: block; font-size: 11px; }
svg .axis { stroke: #57606a; stroke-width: 1; }
svg .grid { stroke: #eaeef2; stroke-width: 1; }
svg .tick, svg .axis-label, svg .label, svg .value { fill: #424a53; }
svg .bar { fill: #6e8fb5; }
svg .mark line { stroke-width: 2; }
svg .mark text { font-size: 11px; font-weight: 600; }
svg .mark-ok line { stroke: var(--ok); } svg .mark-ok text { fill: var(--ok); }
svg .mark-failed line { stroke: var(--bad); } svg .mark-failed text { fill: var(--bad); }
svg .mark-neutral line { stroke: var(--muted); } svg .mark-neutral text { fill: var(--muted); }
svg .mark-measured line { stroke: #24292f; stroke-dasharray: 4 3; stroke-width: 1.5; }
svg .mark-measured text { fill: #24292f; font-weight: 400; }
svg .track { fill: #eef1f4; }
svg .row-met .fill { fill: #4c9a62; }
svg .row-under .fill { fill: #d0584f; }
svg .row-none .fill { fill: #8aa4c2; }
svg .minimum { stroke: #24292f; stroke-width: 2; }
svg .series { fill: none; stroke-width: 2; }
svg circle.series { stroke: none; }
svg .s0 polyline, svg polyline.s0, svg .s0 line { stroke: #1f6feb; } svg circle.s0 { fill: #1f6feb; }
svg .s1 polyline, svg polyline.s1, svg .s1 line { stroke: #cf222e; } svg circle.s1 { fill: #cf222e; }
svg .legend line { stroke-width: 3; }
svg .legend text { fill: #424a53; }
@media print { details.violation { break-inside: avoid; } .toolbar { display: none; } }
"""

# Errors of any kind (a script error, a resource the policy refused) are written into the page
# (data-report-errors on <html>), where a reader and the browser test both see them; when the
# page is ready, data-report-ready="1". The buttons open or close every violation, and copy a
# reproduction (the clipboard may be refused on file:// pages: the text is then selected).
SCRIPT = """
(function () {
  "use strict";
  var root = document.documentElement, errors = [];
  function fail(text) { errors.push(String(text)); root.setAttribute("data-report-errors", errors.join(" | ")); }
  window.addEventListener("error", function (event) {
    var target = event.target;
    fail(event.message || ("could not load " + ((target && (target.src || target.href)) || "a resource")));
  }, true);
  window.addEventListener("unhandledrejection", function (event) { fail("unhandled rejection: " + event.reason); });
  document.addEventListener("securitypolicyviolation", function (event) {
    fail("refused by the page's policy: " + event.violatedDirective + " " + event.blockedURI);
  });
  function all(selector, within) { return Array.prototype.slice.call((within || document).querySelectorAll(selector)); }
  function select(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  function ready() {
    all("button[data-open]").forEach(function (button) {
      button.addEventListener("click", function () {
        var open = button.getAttribute("data-open") === "true";
        all(button.getAttribute("data-scope")).forEach(function (details) { details.open = open; });
      });
    });
    all("button.copy").forEach(function (button) {
      button.addEventListener("click", function () {
        var pre = button.parentNode.parentNode.querySelector("pre");
        var done = function () { button.textContent = "copied"; };
        var refused = function () { select(pre); button.textContent = "selected: press Ctrl+C"; };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(pre.textContent).then(done, refused);
        } else {
          refused();
        }
      });
    });
    var wanted = decodeURIComponent(location.hash.slice(1));
    var target = wanted && document.getElementById(wanted);
    if (target && target.tagName === "DETAILS") { target.open = true; }
    root.setAttribute("data-report-ready", "1");
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", ready); } else { ready(); }
})();
"""
