"""First map and panning in a real browser, on the national synthetic data set.

    python -m bench.frontend_bench [--database-url URL] [--loads 5]

Starts the server (2 processes) on `riskatlas_bench` and drives Debian's Chromium (headless).

First map: the page's `ra-first-map` performance mark over several loads. Target (issue 5):
< 2 s on localhost.

Panning: six 500-px drags with the default layers, at the national view and over Jiangsu
(the densest province), each path twice: "cold" (the server renders every new tile) and
"warm" (the same path again). A Chrome trace gives every main-thread task while dragging,
with its wall time and the CPU time the page's main thread itself spent in it. A task that
takes 50 ms of wall time blocks input for a frame or more ("long task"); its CPU time says
how much of that was the page's own work, the rest being the thread waiting for a core (the
server, PostgreSQL and Chromium's compositor share this machine's two cores). The baseline
in the same run is the same drags with the choropleth alone (no tile layers).
"""

import argparse
import json
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from bench.harness import start_server
from bench.national import bench_database_url

CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
VIEWPORT = {"width": 1400, "height": 900}
DRAGS = (500, 500, -500, -500, -500, 500)
LONG_TASK_MS = 50
FIRST_MAP_DRAWN = "() => performance.getEntriesByName('ra-first-map').length > 0"


@dataclass
class PanFigures:
    tasks: int  # main-thread tasks seen while dragging
    long_tasks: int  # of which ≥ 50 ms wall time
    longest_wall: float
    longest_cpu: float  # the most main-thread CPU time any one task took
    cpu_in_long: float  # main-thread CPU time of the longest (wall) task

    def row(self, name: str) -> str:
        return (
            f"{name:<34} {self.tasks:>6} {self.long_tasks:>6} {self.longest_wall:>9.0f} "
            f"{self.cpu_in_long:>11.0f} {self.longest_cpu:>10.0f}"
        )


def main_thread_tasks(trace_path: Path) -> list[tuple[float, float]]:
    """(wall ms, CPU ms) of every top-level task of the page's main thread in a trace."""
    events = json.loads(trace_path.read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    main = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M"
        and e.get("name") == "thread_name"
        and e["args"].get("name") == "CrRendererMain"
    }
    return [
        (e["dur"] / 1000, e.get("tdur", 0) / 1000)
        for e in events
        if e.get("ph") == "X"
        and e.get("name") == "ThreadControllerImpl::RunTask"
        and (e.get("pid"), e.get("tid")) in main
    ]


def drag_around(page: Page) -> None:
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx in DRAGS:
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + dx, cy + dx / 3, steps=15)
        page.mouse.up()
        page.wait_for_timeout(400)


def measure_pan(browser: Browser, page: Page) -> PanFigures:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "trace.json"
        browser.start_tracing(page=page, path=str(path), categories=["toplevel"])
        drag_around(page)
        browser.stop_tracing()
        tasks = main_thread_tasks(path)
    longest = max(tasks, default=(0.0, 0.0))
    return PanFigures(
        len(tasks),
        sum(wall >= LONG_TASK_MS for wall, _ in tasks),
        longest[0],
        max((cpu for _, cpu in tasks), default=0.0),
        longest[1],
    )


def pan_scenario(browser: Browser, base: str, hash_: str) -> tuple[PanFigures, PanFigures]:
    """The same drags on two pages of one browser context: cold, then warm (cached tiles)."""
    context = browser.new_context(viewport=VIEWPORT)
    figures = []
    for _ in ("cold", "warm"):
        page = context.new_page()
        page.goto(f"{base}/{hash_}")
        page.wait_for_function(FIRST_MAP_DRAWN, timeout=60_000)
        page.wait_for_load_state("networkidle")
        figures.append(measure_pan(browser, page))
        page.wait_for_load_state("networkidle")
        page.close()
    context.close()
    return figures[0], figures[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    process, port = start_server(bench_database_url(args.database_url), 2)
    base = f"http://127.0.0.1:{port}"
    firsts: list[float] = []
    pans: list[tuple[str, PanFigures]] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
            )
            for _ in range(args.loads):
                page = browser.new_page(viewport=VIEWPORT)
                page.goto(f"{base}/")
                page.wait_for_function(FIRST_MAP_DRAWN, timeout=60_000)
                firsts.append(
                    page.evaluate("() => performance.getEntriesByName('ra-first-map')[0].startTime")
                )
                page.close()
            for name, hash_ in (
                ("baseline: Jiangsu, choropleth only", "#/320000?l=choropleth"),
                ("national view, default layers", "#/"),
                ("Jiangsu, default layers", "#/320000"),
            ):
                cold, warm = pan_scenario(browser, base, hash_)
                pans += [(f"{name} (cold)", cold), (f"{name} (warm)", warm)]
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(
        f"first map drawn (ms) over {len(firsts)} loads: first (cold server) {firsts[0]:.0f}, "
        f"median {statistics.median(firsts):.0f}, max {max(firsts):.0f} "
        f"→ {'OK' if max(firsts) < 2000 else 'MISSED'} (< 2000)"
    )
    print("\npanning, main-thread tasks while dragging (ms):")
    print(
        f"{'scenario':<34} {'tasks':>6} {'≥50ms':>6} {'max wall':>9} {'its CPU':>11} "
        f"{'max CPU':>10}"
    )
    for name, figures in pans:
        print(figures.row(name))
    baseline = max(figures.longest_cpu for name, figures in pans if name.startswith("baseline"))
    worst = max(figures.longest_cpu for name, figures in pans if not name.startswith("baseline"))
    print(
        f"\nlongest main-thread CPU in one task with tile layers: {worst:.0f} ms "
        f"= {worst / max(baseline, 1):.1f}× the choropleth-only baseline ({baseline:.0f} ms)"
    )


if __name__ == "__main__":
    main()
