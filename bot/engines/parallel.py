"""Per-file work spread over worker processes, for runs big enough to pay for them.

Loading YAML and yamllint's rules are CPU-bound Python, so threads cannot help; a pool of
forked workers uses every core. Small runs (a pull request, one file) stay in-process: a pool
costs tens of milliseconds to start, more than they take.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MIN_ITEMS = 200


class ProcessMapper:
    """A ``Mapper`` (see ``bot.core.pipeline``) backed by a lazily started process pool.

    Uses the ``fork`` start method, so it is for single-threaded callers such as the CLI;
    a threaded server should keep the in-process mapper.
    """

    def __init__(self, workers: int | None = None, min_items: int = DEFAULT_MIN_ITEMS) -> None:
        self.workers = workers or len(os.sched_getaffinity(0))
        self.min_items = min_items
        self._pool: ProcessPoolExecutor | None = None

    def __call__(self, fn: Callable[[T], R], items: Sequence[T], /) -> list[R]:
        if self.workers < 2 or len(items) < self.min_items:
            return [fn(item) for item in items]
        chunksize = max(1, len(items) // (self.workers * 4))
        try:
            return list(self._executor().map(fn, items, chunksize=chunksize))
        except BrokenProcessPool:
            # A worker died (killed from outside, out of memory): finish in-process rather
            # than lose the run; the limits keep a single file from doing this.
            self.close()
            return [fn(item) for item in items]

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("fork")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
            atexit.register(self.close)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
