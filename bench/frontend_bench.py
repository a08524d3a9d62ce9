"""Time to first map in a real browser, on the national synthetic data set.

    python -m bench.frontend_bench [--database-url URL] [--loads 5]

Starts the server (2 processes) on `riskatlas_bench`, opens the map in Debian's Chromium
(headless) several times and prints when the first map was drawn (the page's
`ra-first-map` performance mark), plus the longest main-thread task seen while panning
(a long task blocks panning; tasks during page load are not counted). Target (issue 5): first map < 2 s on localhost.
"""

import argparse
import statistics

from playwright.sync_api import sync_playwright

from bench.tiles_bench import default_url, start_server

CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
LONG_TASKS = """() => new Promise((resolve) => {
  const seen = [];
  new PerformanceObserver((list) => list.getEntries().forEach((e) => seen.push(e.duration)))
    .observe({type: 'longtask', buffered: false});
  window.__longTasks = seen; resolve(true);
})"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    process, port = start_server(args.database_url or default_url(), 2)
    firsts: list[float] = []
    longest_pan_task = 0.0
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 headless=True, args=CHROMIUM_ARGS)
            for load in range(args.loads):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_function(
                    "() => performance.getEntriesByName('ra-first-map').length > 0",
                    timeout=60_000)
                firsts.append(page.evaluate(
                    "() => performance.getEntriesByName('ra-first-map')[0].startTime"))
                if load == args.loads - 1:
                    page.evaluate(LONG_TASKS)
                    box = page.locator("#map").bounding_box()
                    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
                    for dx in (200, -300, 250, -150):
                        page.mouse.move(cx, cy)
                        page.mouse.down()
                        page.mouse.move(cx + dx, cy + dx / 3, steps=15)
                        page.mouse.up()
                        page.wait_for_timeout(400)
                    longest_pan_task = max(page.evaluate("() => window.__longTasks"), default=0)
                page.close()
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"first map drawn (ms) over {len(firsts)} loads: first (cold server) {firsts[0]:.0f}, "
          f"median {statistics.median(firsts):.0f}, max {max(firsts):.0f} "
          f"→ {'OK' if max(firsts) < 2000 else 'MISSED'} (< 2000)")
    print(f"longest main-thread task while panning: {longest_pan_task:.0f} ms")


if __name__ == "__main__":
    main()
