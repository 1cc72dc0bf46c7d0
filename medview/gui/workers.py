"""The one worker abstraction of the app: superqt's thread workers around plain generator functions.

A job is a generator: it yields progress or partial results (a decoded slice, a thumbnail) and returns its
result. Workers get plain data in and hand plain data back through signals, on the GUI thread; errors reach
the caller's `on_error` (shown in place), never a silent thread death. Cancel is real: the generator stops at
its next yield, and a `CancelToken` lets the I/O layer stop between files. A job belongs to a widget (its
owner): a worker that ends after its owner was closed and deleted calls nothing of it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import shiboken6
from PySide6.QtCore import QObject
from superqt.utils import GeneratorWorker, create_worker

from medview.errors import Cancelled
from medview.io import CancelToken


class Job:
    """A running generator in a worker thread, with its cancel token."""

    def __init__(self, generator_function: Callable[..., Generator], *args, owner: QObject,
                 on_yield: Callable | None = None, on_done: Callable | None = None,
                 on_error: Callable[[BaseException], None] | None = None,
                 on_finished: Callable[[], None] | None = None, **kwargs) -> None:
        self.owner = owner
        self.token = CancelToken()
        self.cancelled = False
        # _ignore_errors: an error is this job's to handle (on_error), never raised again on the GUI thread
        self.worker: GeneratorWorker = create_worker(generator_function, *args, _start_thread=False,
                                                     _ignore_errors=True, token=self.token, **kwargs)
        self.running = True
        self.worker.finished.connect(self._finished)
        if on_yield:
            self.worker.yielded.connect(self._to_owner(on_yield))
        if on_done:
            self.worker.returned.connect(self._to_owner(on_done))
        if on_finished:
            self.worker.finished.connect(self._to_owner(on_finished))
        self.worker.errored.connect(self._to_owner(lambda error: self._errored(error, on_error)))

    def _to_owner(self, callback: Callable) -> Callable:
        """The callback, called only while the owner lives (a late worker of a closed window calls nothing)."""
        def deliver(*args) -> None:
            if shiboken6.isValid(self.owner):
                callback(*args)
        return deliver

    def _finished(self) -> None:
        self.running = False

    def _errored(self, error: BaseException, on_error) -> None:
        if isinstance(error, Cancelled) or self.cancelled:
            return
        if on_error:
            on_error(error)

    def start(self) -> Job:
        self.worker.start()
        return self

    def cancel(self) -> None:
        self.cancelled = True
        self.token.cancel()
        self.worker.quit()
