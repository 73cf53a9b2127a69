"""How soon a planner sees the map over a slow mobile link: covgap's page against a reference.

    python benchmarks/map_load.py NEW.html [REFERENCE.html] [--kbps 1000] [--latency 150]
        [--rounds 3] [--width 412 --height 915]

Both pages are served from 127.0.0.1 (nothing leaves the machine) to
Debian's Chromium (Playwright), whose network is throttled through the
DevTools protocol to ``--kbps`` kilobits a second with ``--latency`` ms of
round trip: a 3G/poor 4G link in the field.  Web tiles are blocked.  For each
page the script records, from the start of navigation:

* ``villages``: the first village marker in the page (the first useful paint);
* ``image``: the first image overlay decoded and drawn;
* ``load``: the browser's load event (every byte received and parsed).

The reference (e.g. the map written by an older covgap, ``main``) and the new
page alternate within each round, so both meet the same load on this shared
machine; medians over the rounds and the ratio reference/new of the medians
are printed.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import statistics
import threading
from pathlib import Path
from typing import Any

from covgap.publish.screenshot import CHROMIUM_ARGS, chromium_path

RECORDER = """
(() => {
  const marks = {};
  window.__marks = marks;
  const seen = () => {
    if (!marks.villages && document.querySelector('.covgap-village')) {
      marks.villages = performance.now();
    }
    if (!marks.image) {
      for (const img of document.querySelectorAll('img.leaflet-image-layer')) {
        if (img.complete && img.naturalWidth > 0) { marks.image = performance.now(); break; }
      }
    }
  };
  new MutationObserver(seen).observe(document, {subtree: true, childList: true, attributes: true});
  const poll = () => { seen(); if (!marks.image) requestAnimationFrame(poll); };
  requestAnimationFrame(poll);
  addEventListener('load', () => { marks.load = performance.now(); });
})();
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # no access log on the terminal
        pass


def _serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def _measure(browser: Any, url: str, args: argparse.Namespace) -> dict[str, float]:
    context = browser.new_context(viewport={"width": args.width, "height": args.height})
    page = context.new_page()
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(("http://127.0.0.1", "data:"))
            else route.abort()
        ),
    )
    page.add_init_script(RECORDER)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": args.latency,
            "downloadThroughput": args.kbps * 1000 / 8,
            "uploadThroughput": args.kbps * 1000 / 8,
        },
    )
    page.goto(url, wait_until="load", timeout=600_000)
    page.wait_for_function("window.__marks && window.__marks.image", timeout=120_000)
    marks = page.evaluate("window.__marks")
    context.close()
    return {k: marks[k] / 1000.0 for k in ("villages", "image", "load")}


def main() -> None:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("new", type=Path)
    parser.add_argument("reference", type=Path, nargs="?")
    parser.add_argument("--kbps", type=float, default=1000.0, help="download kbit/s")
    parser.add_argument("--latency", type=float, default=150.0, help="round trip, ms")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--width", type=int, default=412)
    parser.add_argument("--height", type=int, default=915)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    pages = {"new": args.new.resolve()}
    if args.reference is not None:
        pages = {"reference": args.reference.resolve(), **pages}
    servers = {name: _serve(path.parent) for name, path in pages.items()}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in pages}
    print(f"link: {args.kbps:.0f} kbit/s, {args.latency:.0f} ms;", end=" ")
    print(f"screen {args.width} x {args.height}")
    for name, path in pages.items():
        print(f"{name}: {path} ({path.stat().st_size / 1e6:.2f} MB)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS))
        try:
            for rnd in range(args.rounds):
                order = list(pages) if rnd % 2 == 0 else list(reversed(pages))
                for name in order:
                    _server, port = servers[name]
                    url = f"http://127.0.0.1:{port}/{pages[name].name}"
                    marks = _measure(browser, url, args)
                    results[name].append(marks)
                    shown = ", ".join(f"{k} {v:.1f} s" for k, v in marks.items())
                    print(f"round {rnd + 1} {name:>9}: {shown}")
        finally:
            browser.close()
            for server, _port in servers.values():
                server.shutdown()
    print("\nmedians (s):")
    medians = {
        name: {k: statistics.median(r[k] for r in runs) for k in ("villages", "image", "load")}
        for name, runs in results.items()
    }
    for name, m in medians.items():
        print(f"  {name:>9}: " + ", ".join(f"{k} {v:.1f}" for k, v in m.items()))
    if "reference" in medians:
        ratios = {k: medians["reference"][k] / medians["new"][k] for k in medians["new"]}
        print("  reference / new: " + ", ".join(f"{k} {v:.1f}x" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
