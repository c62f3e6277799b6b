"""The Store a Wasi and its copy_for_rebinding() copies share, and what they share with it:
the core module and memory, and the internal "host process" that serves the filesystem API,
pipes, fsck and used_bytes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import wasmtime

from . import _interrupt
from ._core_memory import CoreMemory
from ._engine import NO_DEADLINE
from ._hooks import ProcessHooks
from ._init import InitObj
from ._native import store_hooks
from ._process import CoreProcess
from ._stdio import InputSource, OutputSink


class WasiStore(wasmtime.Store):
    """The Store of a Wasi (``wasi.store``; epochs never interrupt it until asked to).

    ``wasi.run`` runs each program in a Store of its own, dropped when the program ends, so
    this Store remembers the epoch deadline asked of it (``deadline``, in ticks) and passes
    it on: a program gets it when it starts (the ticks count from there) and every deadline
    set here while it runs; a program whose deadline was lifted (the host lifts it after an
    interrupt) lifts this one too when it ends, as when programs ran in this Store. A deadline
    set here replaces a run's timeout and stop event (``_timeout``): it counts ticks."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        super().__init__(engine)
        self.deadline: int | None = None  # None: no deadline
        self.runs: list[WasiStore] = []  # the Stores of the programs running for it
        self.set_epoch_deadline(NO_DEADLINE)

    def set_epoch_deadline(self, ticks_after_current: int) -> None:
        super().set_epoch_deadline(ticks_after_current)
        _interrupt.guard(self).should_stop = None
        self.deadline = None if ticks_after_current >= NO_DEADLINE else ticks_after_current
        for run in self.runs:
            run.set_epoch_deadline(ticks_after_current)


class StoreState:
    """What a Wasi and its copy_for_rebinding() copies share: the Store, the core module and
    memory, and the internal "host process" that serves the filesystem API, pipes, fsck and
    used_bytes (created when one of them is first used).

    A ``one_run`` state belongs to one program run: its Store is closed when the program's
    process closes, with every instance and memory in it. ``run_for``: the Store of the Wasi
    the program runs for, whose epoch deadline the program follows (see ``following``).
    ``thread_group``: the core's thread group its processes join (0: the first one's own)."""

    def __init__(
        self,
        init: InitObj,
        bridge: bool | None,
        *,
        one_run: bool = False,
        run_for: WasiStore | None = None,
        thread_group: int = 0,
    ) -> None:
        assert init.memory is not None
        self.init = init
        self.store = WasiStore(init.engine)
        self.core_memory = CoreMemory(init.memory)
        self.store_hooks = store_hooks(self.store, init.engine)
        self.bridge = bridge
        self.open_processes = 0
        self._host: CoreProcess | None = None
        self._host_root = -1
        self.one_run = one_run
        self.run_for = run_for
        self.thread_group = thread_group
        self._ended = False

    def new_process(self, hooks: ProcessHooks) -> CoreProcess:
        """A process in this Store, in the core's thread group of the Store's processes (one
        Store runs on one thread; the first process's group, unless given at construction:
        a run's Store joins the group of the Wasi it runs for, on the same thread)."""
        process = CoreProcess(
            self.store, self.init.module, self.core_memory, hooks, self.store_hooks,
            thread_group=self.thread_group,
        )  # fmt: skip
        self.thread_group = process.thread_group
        return process

    def host_process(self) -> tuple[CoreProcess, int]:
        """The internal process bound to the core memory itself, with "/" preopened."""
        if self._host is None:
            silent = OutputSink(lambda _data: None)
            hooks = ProcessHooks(self.core_memory, silent, silent, InputSource(b""))
            host = self.new_process(hooks)
            # Its "guest" memory is the core memory: guest pointers are scratch buffers.
            host.bind(self.core_memory.memory, self.bridge)
            self._host_root = host.preopen("/", "/")
            self._host = host
        return self._host, self._host_root

    def release(self) -> None:
        """A process closed; the last one out detaches the host process too, and closes the
        Store of a run."""
        self.open_processes -= 1
        self.close_if_unused()

    def close_if_unused(self) -> None:
        if self.open_processes != 0:
            return
        host, self._host = self._host, None
        try:
            if host is not None:
                host.detach()
        finally:
            if self.one_run and not self._ended:
                self._ended = True
                self._end_run()

    def _end_run(self) -> None:
        # Every instance, memory and host function of the program goes with the Store.
        self.store.close()

    @contextmanager
    def following(self) -> Iterator[None]:
        """While the program runs, the epoch deadline of ``run_for`` applies to it (only
        then: the host's own setup calls are not the program's to be interrupted)."""
        parent = self.run_for
        if parent is None:
            yield
            return
        if parent.deadline is not None:
            self.store.set_epoch_deadline(parent.deadline)
        parent.runs.append(self.store)
        try:
            yield
        finally:
            parent.runs.remove(self.store)
            lifted = self.store.deadline is None
            self.store.set_epoch_deadline(NO_DEADLINE)
            if lifted and parent.deadline is not None:
                parent.set_epoch_deadline(NO_DEADLINE)
