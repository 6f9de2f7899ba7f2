"""Progress lines for long work, printed at most every few seconds."""

import time

# Seconds between two progress lines.
EVERY_SECONDS = 10.0


class ThrottledProgress:
    """Call with ``(done, total)``; prints ``done/total``, elapsed and remaining time.

    A line appears at most every ``every_seconds`` and once at the end, so fast work
    stays silent and slow work never looks like a hang.
    """

    def __init__(self, label, every_seconds=None, echo=print):
        self.label = label
        self.every_seconds = EVERY_SECONDS if every_seconds is None else every_seconds
        self.echo = echo
        self.start = time.perf_counter()
        self.last = self.start

    def __call__(self, done, total):
        now = time.perf_counter()
        if now - self.last < self.every_seconds and done < total:
            return
        if done == total and now - self.start < self.every_seconds:
            return
        self.last = now
        elapsed = now - self.start
        left = elapsed / max(done, 1) * (total - done)
        self.echo(
            f"{self.label}: {done}/{total} ({100 * done / total:.0f} %), "
            f"{elapsed:.0f} s elapsed, ~{left:.0f} s left",
            flush=True,
        )
