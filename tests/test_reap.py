"""Reaping a process whose thread is gone (wasi_wasm_reap, the JS reapProcess): two reaps of
one id at once end it exactly once, and the one that loses touches nothing.

wasi_wasm_reap used to release the dead process's locks through the pointer it had looked
up, before it took the lock: two reapers could both find the process, the first free it,
a new process take its memory, and the second then release the new process's locks (two
operations in the filesystem at once) and report success too. Now a reaper first claims
the process's registry slot (dev/process/process.c, process_claim); exactly one claim of
an id succeeds. The window is a few instructions in the real core, so the race test runs a
core built with -DREAP_PAUSE_NS, which holds every reaper there (dev/host/host.c)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import wasm_build
from wasi_wasm import InitObj, Wasi, get_wasi, start_wasi
from wasi_wasm._abi import E_INVAL
from wasi_wasm._core_memory import CoreMemory
from wasi_wasm._hooks import ProcessHooks
from wasi_wasm._native import store_hooks
from wasi_wasm._process import CoreProcess
from wasi_wasm._stdio import InputSource, OutputSink
from wasi_wasm._store import WasiStore

PAUSE_S = 1.0  # how long the paused core's reaps wait between finding and ending a process


@pytest.fixture(scope="module")
def paused_core() -> Path:
    return wasm_build.compile_core("reap-pause", (f"-DREAP_PAUSE_NS={int(PAUSE_S * 1e9)}",))


def core_process(init: InitObj) -> CoreProcess:
    """A core instance with its process, in a Store of the calling thread: a Worker's
    program. One that is reaped is never called again, as a terminated Worker."""
    assert init.memory is not None  # a Wasi made it
    store = WasiStore(init.engine)
    memory = CoreMemory(init.memory)
    silent = OutputSink(lambda _data: None)
    hooks = ProcessHooks(memory, silent, silent, InputSource(b""))
    process = CoreProcess(store, init.module, memory, hooks, store_hooks(store, init.engine))
    # A terminated Worker recovers nothing: a call that stops leaves what it held as it was.
    process.recover_after_stop = False
    return process


def victim(w: Wasi) -> tuple[CoreProcess, int]:
    """A process that holds fds (its preopen and an open file) and whose thread is gone."""
    dead = core_process(w.init_obj())
    dead.bind(dead.memory.memory)  # its "guest" memory is the core memory, as the host's
    dead.preopen("/", "/")
    with dead.scratch(1) as path:
        dead.memory.write(path, b"f")
        # path_open(fd 3, no follow, "f", O_CREAT, fd_read | fd_write, 0, 0, out)
        assert dead.call("path_open", 3, 0, path, 1, 1, 1 << 1 | 1 << 6, 0, 0, path + 8) == 0
    return dead, dead.call("wasi_wasm_process_id")


class Reaper(threading.Thread):
    """A thread with a process of its own (made first) that, once start comes (a barrier
    or a time), reaps id_, and detaches its process only when ``leave`` is set, so that the
    memory the reaped process gave back is what the next new process takes."""

    def __init__(self, init: InitObj, id_: int, start: threading.Barrier | float) -> None:
        super().__init__(daemon=True)
        self.init, self.id_, self.start_at = init, id_, start
        self.result: int | None = None
        self.called_at = self.returned_at = 0.0
        self.reaped = threading.Event()
        self.leave = threading.Event()
        self.start()

    def run(self) -> None:
        reaper = core_process(self.init)
        if isinstance(self.start_at, threading.Barrier):
            self.start_at.wait()
        else:
            time.sleep(max(0.0, self.start_at - time.monotonic()))
        try:
            self.called_at = time.monotonic()
            self.result = reaper.call("wasi_wasm_reap", self.id_)
            self.returned_at = time.monotonic()
        finally:
            self.reaped.set()
            self.leave.wait(60)
            reaper.detach()


def test_two_reaps_of_one_id_end_it_once() -> None:
    """Two threads reap one dead process at the same moment, 20 times: one reap ends it (0,
    it held no lock), the other finds no such process (-EINVAL); its fds are closed (the
    file it held can go), the memory it used comes back and fsck stays clean."""
    with start_wasi() as w:
        w.write_file("/f", b"x")
        init = w.init_obj()
        for _ in range(20):
            before = w.used_bytes()
            _dead, id_ = victim(w)
            start = threading.Barrier(2)
            reapers = [Reaper(init, id_, start) for _ in range(2)]
            for reaper in reapers:
                reaper.leave.set()
                reaper.join(30)
            assert {reaper.result for reaper in reapers} == {0, -E_INVAL}
            assert w.fsck() == 0
            assert w.used_bytes() <= before
        w.remove("/f")
        assert w.fsck() == 0


def test_a_reap_of_a_reaped_or_forged_id_finds_nothing() -> None:
    with start_wasi() as w:
        init = w.init_obj()
        _dead, id_ = victim(w)
        reaper = core_process(init)
        own = reaper.call("wasi_wasm_process_id")
        assert reaper.call("wasi_wasm_reap", own) == -E_INVAL  # its own: close it instead
        for forged in (0, id_ ^ 1 << 14, id_ + 1, id_ | 1 << 31, 0xFFFFFFFF):
            assert reaper.call("wasi_wasm_reap", forged & 0xFFFFFFFF) == -E_INVAL
        assert reaper.call("wasi_wasm_reap", id_) == 0
        assert reaper.call("wasi_wasm_reap", id_) == -E_INVAL
        reaper.detach()
        assert w.fsck() == 0


def test_a_reap_that_lost_the_race_touches_nothing(paused_core: Path) -> None:
    """The race itself, with every reap held PAUSE_S between finding the process and ending
    it: reaper A finds the dead process; B finds it too, while A waits; A ends it and a new
    process, taking the memory A gave back, freezes the filesystem (holds its lock); then B
    goes on. B must report no such process and leave the freeze alone: other threads stay
    out of the filesystem until the new process thaws it. Before the claim, B released the
    new process's freeze (it had taken the dead one's place), a write went through, the
    thaw found no freeze, and B said it had ended a process that held a lock (1)."""
    with start_wasi(get_wasi(paused_core)) as w:
        init = w.init_obj()
        _dead, id_ = victim(w)
        a_at = time.monotonic() + 0.2
        b_at = a_at + PAUSE_S / 2
        a, b = Reaper(init, id_, a_at), Reaper(init, id_, b_at)
        a.reaped.wait(30)
        newcomer = core_process(init)  # in the memory the dead process left
        assert newcomer.call("wasi_wasm_freeze") == 0
        in_time = time.monotonic() < b_at + PAUSE_S
        try:
            b.reaped.wait(b_at + PAUSE_S + 1 - time.monotonic())
            b_went_on = b.result  # None if it waits for the lock the newcomer holds
            writer = threading.Thread(target=lambda: w.write_file("/g", b"while frozen"))
            writer.start()
            writer.join(0.3)
            kept_out = writer.is_alive()
        finally:
            thawed = newcomer.call("wasi_wasm_thaw")  # 0: its freeze was still its own
        for thread in (a, b):
            thread.leave.set()
            thread.join(30)
        writer.join(30)
        newcomer.detach()
        assert b.called_at < a.returned_at, "B came after A's reap: the test proves nothing"
        assert in_time, "the newcomer froze after B went on: the test proves nothing"
        assert (a.result, b_went_on) == (0, -E_INVAL)
        assert kept_out, "a write went through while another process froze the filesystem"
        assert thawed == 0
        assert w.read_file("/g") == b"while frozen"
        assert w.fsck() == 0
