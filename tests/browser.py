"""Render an HTML page in headless Chromium (Debian's chromium-headless-shell) at a given
window width: what a phone or a desktop mail client would lay out.

``layout`` appends a small script to a copy of the page; it measures the page after layout
and writes its findings as JSON into a ``<pre id="probe">``, which ``--dump-dom`` prints.
``screenshot`` keeps a PNG of the same page (without the probe) as a test artefact.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

from conftest import skip_or_fail

NAMES = ("chromium-headless-shell", "chromium", "chrome-headless-shell")

_PROBE = """
<script>
(function () {
  var w = window.innerWidth;
  function seen(el) {
    var r = el.getBoundingClientRect(), cs = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && r.left >= -0.5 && r.right <= w + 0.5 &&
      cs.visibility !== "hidden" && cs.display !== "none";
  }
  var rows = [];
  document.querySelectorAll("tr.srv").forEach(function (tr) {
    var name = tr.querySelector(".srv-name"), sts = tr.querySelectorAll(".srv-status .st");
    if (!name) { return; }
    rows.push({name: name.textContent.replace(/\\s+/g, " ").trim(), name_seen: seen(name),
               statuses: Array.prototype.map.call(sts, function (s) { return s.textContent; }),
               statuses_seen: Array.prototype.every.call(sts, seen) && sts.length > 0,
               card: getComputedStyle(tr).display === "block"});
  });
  var out = {innerWidth: w, scrollWidth: document.documentElement.scrollWidth, rows: rows};
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.style.display = "none";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def chromium() -> str:
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    skip_or_fail("headless Chromium is not installed (apt-get install chromium-headless-shell)")
    raise AssertionError  # unreachable: skip_or_fail raises


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--no-first-run", *args],
                          capture_output=True, text=True, timeout=120)


def layout(page: str, width: int, folder: Path, height: int = 900) -> dict:
    """The probe's findings for the page laid out in a ``width`` px window."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f"probe-{width}.html"
    probe.write_text(page.replace("</body>", _PROBE + "</body>", 1), encoding="utf-8")
    run = _run([f"--window-size={width},{height}", "--dump-dom", probe.as_uri()])
    m = re.search(r'<pre id="probe"[^>]*>(.*?)</pre>', run.stdout, re.S)
    assert m, f"no probe output from Chromium (rc {run.returncode}): {run.stderr[-2000:]}"
    return json.loads(html.unescape(m.group(1)))


def screenshot(page: str, width: int, out: Path, height: int = 2400) -> Path:
    """A PNG of the page in a ``width`` x ``height`` window."""
    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.with_suffix(".html")
    src.write_text(page, encoding="utf-8")
    run = _run([f"--window-size={width},{height}", f"--screenshot={out}", src.as_uri()])
    assert out.exists() and out.stat().st_size > 1000, run.stderr[-2000:]
    return out


_BREAKS = """
<script>
(function () {
  // the text of each visual line of an element: its characters grouped by their line box
  function lines(el) {
    var out = [], top = null, cur = "", node;
    var walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    while ((node = walker.nextNode())) {
      for (var i = 0; i < node.data.length; i++) {
        var r = document.createRange();
        r.setStart(node, i); r.setEnd(node, i + 1);
        var rects = r.getClientRects();
        if (!rects.length) { continue; }
        var t = Math.round(rects[0].top);
        if (top !== null && Math.abs(t - top) > 2) { out.push(cur); cur = ""; }
        top = t; cur += node.data[i];
      }
    }
    if (cur) { out.push(cur); }
    return out;
  }
  var paths = [];
  document.querySelectorAll(".path").forEach(function (el) {
    paths.push({text: el.textContent, lines: lines(el)});
  });
  // every date (YYYY-MM-DD) in the page: the line boxes its characters sit on
  var dates = [], node, re = /\\d{4}-\\d{2}-\\d{2}/g, m;
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while ((node = walker.nextNode())) {
    re.lastIndex = 0;
    while ((m = re.exec(node.data))) {
      var tops = {};
      for (var i = m.index; i < m.index + m[0].length; i++) {
        var r = document.createRange();
        r.setStart(node, i); r.setEnd(node, i + 1);
        var rects = r.getClientRects();
        if (rects.length) { tops[Math.round(rects[0].top)] = true; }
      }
      var n = Object.keys(tops).length;
      if (n) { dates.push({date: m[0], lines: n}); }
    }
  }
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.style.display = "none";
  pre.textContent = JSON.stringify({innerWidth: window.innerWidth, paths: paths, dates: dates});
  document.body.appendChild(pre);
})();
</script>
"""


def line_breaks(page: str, width: int, folder: Path, height: int = 900) -> dict:
    """Where the page's lines break in a ``width`` px window: for each ``.path`` element
    its text and the text of each of its visual lines; for each date (YYYY-MM-DD) shown,
    on how many lines its characters sit."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f"breaks-{width}.html"
    probe.write_text(page.replace("</body>", _BREAKS + "</body>", 1), encoding="utf-8")
    run = _run([f"--window-size={width},{height}", "--dump-dom", probe.as_uri()])
    m = re.search(r'<pre id="probe"[^>]*>(.*?)</pre>', run.stdout, re.S)
    assert m, f"no probe output from Chromium (rc {run.returncode}): {run.stderr[-2000:]}"
    return json.loads(html.unescape(m.group(1)))
