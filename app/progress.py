"""Progress of long command-line work: a bar with rate and ETA on a terminal, plain lines
(one per stage and every tenth) when the output is a file or a pipe; work made of a few
steps announces each step on its own line."""

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 30

# What long work reports to: (stage, done, total), e.g. ("check", 5000, 120000); a total
# of 0 announces a stage that is one step, not rows.
Progress = Callable[[str, int, int], None]


def silent(stage: str, done: int, total: int) -> None:
    """Progress reported to no one (work called from the API or a test)."""


class ProgressBar:
    """Report (stage, done, total) updates; call `finish` at the end."""

    def __init__(self, stream: TextIO | None = None, *, unit: str = "rows") -> None:
        self.stream = stream or sys.stderr
        self.unit = f" {unit}/s" if unit else "/s"
        self.tty = self.stream.isatty()
        self.stage = ""
        self.started = time.monotonic()
        self.last_tenth = -1

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self.stage:
            if self.tty and self.stage:
                self.stream.write("\n")
            self.stage, self.started, self.last_tenth = stage, now, -1
            if not self.tty:
                self.stream.write(f"{stage} …\n")
            elif total <= 0:
                self.stream.write(f"\r{stage} …")
                self.stream.flush()
        if total <= 0:
            return
        elapsed = max(now - self.started, 1e-6)
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 else 0.0
        if self.tty:
            filled = int(BAR_WIDTH * done / total)
            self.stream.write(
                f"\r{stage:<6} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}"
                f"  {rate:,.1f}{self.unit}  ETA {eta:4.0f} s"
            )
        else:
            tenth = 10 * done // total
            if tenth == self.last_tenth:
                return
            self.last_tenth = tenth
            self.stream.write(f"{stage} {done}/{total} ({rate:,.1f}{self.unit}, ETA {eta:.0f} s)\n")
        self.stream.flush()

    def finish(self) -> None:
        """End the bar's line."""
        if self.tty and self.stage:
            self.stream.write("\n")
            self.stream.flush()

    def step(self, name: str, number: int, steps: int) -> None:
        """Announce step `number` of `steps` (one line, terminal or not)."""
        self.finish()
        self.stage = ""
        self.stream.write(f"[{number}/{steps}] {name} …\n")
        self.stream.flush()
