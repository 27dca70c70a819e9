"""The progress of a long transfer, drawn by tqdm: DVC imports it anyway, so it costs a
transfer no import time. Imported only where bytes move, never on the way to resolving."""

from __future__ import annotations

import sys
import threading

from tqdm import tqdm

MIB = 1 << 20
# The terminal's size, as tqdm is told it rather than measures it: on a terminal that
# reports no size (a new pseudo-terminal, as CI runners make), it measures -1 rows and draws
# nothing, or 0 columns and ignores `bar_format`. The line needs one row, and never nears
# the width past which tqdm would trim it.
NCOLS, NROWS = 1000, 2
LINE = "{desc}: {share}{mib:.0f}{of} MiB, {mbps:.0f} MB/s "


class Progress(tqdm):
    """One line on stderr for a transfer of `total` bytes (None: unknown), as
    `fetching churn v1.4.0:  45% 460 of 1024 MiB, 120 MB/s`: drawn only when `shown` (a
    terminal, never with --json), only after the first half second, at most four times a
    second, checked at each `update`. The rate is the average since the start; a count past
    `total` (a folder's manifest) shows as 100%."""

    monitor_interval = 0  # no watchdog thread: every update checks the clock itself

    def __init__(self, what: str, total: int | None, shown: bool):
        super().__init__(desc=what, total=total, disable=not shown, file=sys.stderr,
                         delay=0.5, mininterval=0.25, miniters=1, smoothing=0, ncols=NCOLS,
                         nrows=NROWS, bar_format=LINE)

    @property
    def format_dict(self) -> dict:
        fields = super().format_dict
        done, total = self.n, self.total
        fields.update(share=f"{min(done / total, 1):4.0%} " if total else "", mib=done / MIB,
                      of=f" of {total / MIB:.0f}" if total else "",
                      mbps=done / max(fields["elapsed"], 1e-6) / 1e6)
        return fields


# A thread lock, not tqdm's default, which adds a multiprocessing lock (and, where processes
# start by forkserver, a resource-tracker process) for bars drawn from several processes.
Progress.set_lock(threading.RLock())
