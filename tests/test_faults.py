"""Faults during concurrency (issue 6, item 7): while several threads run programs on one
filesystem, one program traps, one calls proc_exit in the middle of its work and one is
interrupted by the host (wasmtime epoch interruption). The others finish correctly, the
filesystem lock is never left held, fsck passes, and every file a program wrote and closed
is there with exactly its content."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import wasmtime

import wasi_wasm
from wasi_wasm import InitObj, Wasi, _interrupt

WORK = "/work"
SIZE = 4096


def pattern(name: str, round_number: int) -> bytes:
    """The content harden_worker writes into WORK/NAME-ROUND."""
    h = 2166136261
    for byte in name.encode():
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    h ^= (round_number * 2654435761) & 0xFFFFFFFF
    out = bytearray()
    for _ in range(SIZE):
        h = (h * 1103515245 + 12345) & 0xFFFFFFFF
        out.append((h >> 16) & 0xFF)
    return bytes(out)


@dataclass
class Worker:
    """One thread running harden_worker on the shared filesystem."""

    name: str
    mode: str
    rounds: int = 0
    lines: list[str] = field(default_factory=list)
    exit_code: int | None = None
    error: BaseException | None = None
    running: threading.Event = field(default_factory=threading.Event)
    wasi: Wasi | None = None

    def output(self, data: bytes) -> None:
        for line in data.decode().splitlines():
            self.lines.append(line)
            if (line.startswith("closed ") and self.mode == "spin") or line == "computing":
                self.running.set()

    def run(self, init: InitObj, program: Path, interruptible: bool) -> None:
        try:
            with wasi_wasm.start_wasi(init, preopens={}) as wasi:
                self.wasi = wasi
                if interruptible:
                    wasi.store.set_epoch_deadline(1)  # the next epoch tick stops it
                args = [WORK, self.name, self.mode] + ([str(self.rounds)] if self.rounds else [])
                result = wasi.run(program, args, preopens={WORK: WORK}, stdout=self.output)
                self.exit_code = result.exit_code
        except BaseException as error:
            self.error = error
        finally:
            self.running.set()

    def closed_files(self) -> list[int]:
        return [int(line.rsplit("-", 1)[1]) for line in self.lines if line.startswith("closed ")]


@pytest.fixture(scope="module")
def worker_program(wasm_program: Callable[..., Path]) -> Path:
    return wasm_program("harden_worker")


def fsck_within(wasi: Wasi, seconds: float = 30.0) -> int:
    """fsck takes the filesystem lock: if a dead program left it held, this would hang."""
    result: list[int] = []

    def check() -> None:
        with wasi_wasm.start_wasi(wasi.init_obj(), preopens={}) as other:
            result.append(other.fsck())

    thread = threading.Thread(target=check, daemon=True)
    thread.start()
    thread.join(seconds)
    assert result, "the filesystem lock was left held"
    return result[0]


def check_closed_files(wasi: Wasi, worker: Worker) -> None:
    for round_number in worker.closed_files():
        path = f"{WORK}/{worker.name}-{round_number}"
        assert wasi.read_file(path) == pattern(worker.name, round_number), path


def run_workers(program: Path, workers: list[Worker], interrupt: Worker | None = None) -> Wasi:
    fs = wasi_wasm.start_wasi(preopens={})
    fs.mkdir(WORK)
    init = fs.init_obj()
    threads = [
        threading.Thread(target=worker.run, args=(init, program, worker is interrupt))
        for worker in workers
    ]
    for thread in threads:
        thread.start()
    if interrupt is not None:
        assert interrupt.running.wait(60), "the worker to interrupt never got going"
        time.sleep(0.02)  # well inside its loop of filesystem calls
        fs.engine.increment_epoch()
    for thread in threads:
        thread.join(120)
        assert not thread.is_alive(), "a worker hung"
    return fs


def test_trap_exit_and_interrupt_while_others_work(worker_program: Path) -> None:
    normal = [Worker(f"n{i}", "normal", 25) for i in range(4)]
    trapping = Worker("trap", "trap", 10)
    exiting = Worker("exit", "exit", 10)
    spinning = Worker("spin", "compute", 10)  # interrupted in its own code, deterministically
    workers = [*normal, trapping, exiting, spinning]
    fs = run_workers(worker_program, workers, interrupt=spinning)
    with fs:
        for worker in normal:
            assert worker.error is None, worker.error
            assert worker.exit_code == 0
            assert worker.lines[-1] == f"done {worker.name}"
            assert worker.closed_files() == list(range(25))
        assert isinstance(trapping.error, wasmtime.Trap)
        assert trapping.error.trap_code == wasmtime.TrapCode.UNREACHABLE
        assert trapping.lines[-1] == "faulting trap"
        assert exiting.error is None and exiting.exit_code == 7
        assert exiting.lines[-1] == "faulting exit"
        assert isinstance(spinning.error, wasmtime.Trap), spinning.error
        assert spinning.error.trap_code == wasmtime.TrapCode.INTERRUPT
        assert spinning.closed_files() == list(range(10))
        assert spinning.lines[-1] == "computing"
        assert fsck_within(fs) == 0
        for worker in workers:
            check_closed_files(fs, worker)
        # The files left open by the faulting programs were closed when their process ended.
        assert fs.read_file(f"{WORK}/trap-open") == b"half"
        assert fs.read_file(f"{WORK}/exit-open") == b"half"
        # The filesystem stays fully usable.
        fs.write_file(f"{WORK}/after", b"after")
        assert fs.read_file(f"{WORK}/after") == b"after"


@pytest.mark.parametrize("attempt", range(6))
def test_interrupts_at_random_moments_leave_a_consistent_filesystem(
    worker_program: Path, attempt: int
) -> None:
    """The interrupt lands anywhere: in the program, or inside the core holding the lock."""
    workers = [Worker("spin", "spin"), Worker("busy", "normal", 40)]
    started = time.monotonic()
    fs = run_workers(worker_program, workers, interrupt=workers[0])
    del started, attempt
    with fs:
        spin, busy = workers
        assert isinstance(spin.error, wasmtime.Trap), spin.error
        assert busy.exit_code == 0, busy.error
        assert fsck_within(fs) == 0
        check_closed_files(fs, spin)
        check_closed_files(fs, busy)
        fs.write_file(f"{WORK}/after", b"still works")


def test_interrupted_store_is_usable_again(worker_program: Path) -> None:
    """After an interrupt the Wasi can run the next program (its deadline is lifted)."""
    with wasi_wasm.start_wasi(preopens={}) as wasi:
        wasi.mkdir(WORK)
        wasi.store.set_epoch_deadline(1)
        timer = threading.Timer(0.3, wasi.engine.increment_epoch)
        timer.start()
        with pytest.raises(wasmtime.Trap) as trap:
            wasi.run(worker_program, [WORK, "s", "compute", "1"], preopens={WORK: WORK})
        timer.join()
        assert trap.value.trap_code == wasmtime.TrapCode.INTERRUPT
        again = wasi.run(worker_program, [WORK, "again", "normal", "2"], preopens={WORK: WORK})
        assert again.exit_code == 0
        assert wasi.fsck() == 0


# -- an interrupt at every point --------------------------------------------------------------
# Epoch interrupts land wherever the program happens to be: at any function entry or loop
# header, in the program or in the core. The sweep below tries every such point of a short
# run deterministically: the store's deadline is always passed, so wasmtime calls the host's
# deadline callback at every check, and a counting callback lets the first N checks go by
# before it acts as the real one. It runs in a subprocess, so a left-held lock shows up as a
# timeout instead of a hung test run.
SWEEP_OPS = (
    "mkdir . d|open 0 . d/f 1 536870911 0 0|write 0 6162|close 0|mkdir . m|rename . d . m/d|"
    "unlink . m/d/f"
)
SWEEP_STEP = 1  # checks between two interrupts: every point


def test_an_interrupt_anywhere_never_leaves_the_lock_held_or_the_filesystem_broken(
    wasm_program: Callable[..., Path],
) -> None:
    driver = wasm_program("fuzz_driver")
    script = Path(__file__)
    command = [sys.executable, str(script), "sweep", str(driver), SWEEP_OPS, str(SWEEP_STEP)]
    env = dict(os.environ)
    package_root = Path(wasi_wasm.__file__).resolve().parent.parent  # the one under test
    env["PYTHONPATH"] = os.pathsep.join(
        [str(script.parent), str(package_root), env.get("PYTHONPATH", "")]
    )
    try:
        done = subprocess.run(command, capture_output=True, env=env, timeout=240, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("the sweep took too long")
    lines = done.stdout.decode().splitlines()
    assert done.returncode == 0, done.stdout.decode()[-2000:] + done.stderr.decode()[-2000:]
    report = json.loads(lines[-1])
    assert report["hang"] is None, f"lock left held after an interrupt at check {report['hang']}"
    assert report["attempts"] > 2000
    # All but the two full runs, and points in the host's own calls after the program ended
    assert report["interrupted"] > 0.9 * report["attempts"]
    assert report["deferred"] > 0  # some checks came while the core held the lock
    assert report["broken"] == [], (
        f"fsck failed after interrupts at checks {report['broken'][:10]} "
        f"(of {report['attempts']})"
    )


class CountingGuard(_interrupt.StoreGuard):
    """The real deadline callback, acting only from the (countdown+1)-th check on."""

    countdown = 0
    deferred = 0  # checks the real callback let pass because the lock was held

    def _deadline_reached(self, context: Any, data: Any, delta: Any, kind: Any) -> int:
        if CountingGuard.countdown > 0:
            CountingGuard.countdown -= 1
            delta[0] = 0
            kind[0] = 0
            return 0
        outcome = super()._deadline_reached(context, data, delta, kind)
        if outcome == 0:
            CountingGuard.deferred += 1
        return outcome


class InterruptSweep:
    """Runs the driver with ``ops`` once per interrupt point; after each interrupt the
    process is closed and fsck runs."""

    BIG = 10**12

    def __init__(self, driver_path: str, ops_text: str) -> None:
        _interrupt.StoreGuard = CountingGuard  # type: ignore[misc]
        self.driver = wasmtime.Module(wasi_wasm.get_wasi().engine, Path(driver_path).read_bytes())
        self.ops = ops_text.replace("|", "\n").encode()
        self.fs = self.fresh_filesystem()
        self.attempts = 0
        self.interrupted = 0

    def fresh_filesystem(self) -> Wasi:
        fs = wasi_wasm.start_wasi(preopens={}, bridge=False)
        fs.mkdir("/s")
        return fs

    def attempt(self, checks: int) -> tuple[int, int]:
        """(checks passed, fsck problems) for one run interrupted after ``checks`` checks."""
        self.attempts += 1
        options = wasi_wasm.Options(stdin=self.ops, preopens={"/sandbox": "/s"})
        with self.fs.spawn_run(["driver"], options) as process:  # a Store of its own, dropped after
            instance = wasmtime.Instance(
                process.store, self.driver, process.imports_for(self.driver)
            )
            CountingGuard.countdown = checks
            process.store.set_epoch_deadline(0)  # every check calls the deadline callback
            try:
                process.start_run(instance)
            except wasi_wasm.Interrupted:
                self.interrupted += 1
            passed = checks - CountingGuard.countdown
            CountingGuard.countdown = 0
        problems = self.fs.fsck()
        if problems:
            self.fs.close()  # start over on a fresh filesystem
            self.fs = self.fresh_filesystem()
        else:
            self.fs.rmtree("/s")
            self.fs.mkdir("/s")
        return passed, problems

    def within(self, checks: int, seconds: float) -> tuple[int, int] | None:
        """``attempt`` in a thread: None if it blocks (a lock left held)."""
        result: list[tuple[int, int]] = []
        worker = threading.Thread(target=lambda: result.append(self.attempt(checks)), daemon=True)
        worker.start()
        worker.join(seconds)
        return result[0] if result else None

    def run(self, step: int) -> dict[str, object]:
        warm_up = self.within(self.BIG, 60)  # the first run does one-time work in the core
        full = self.within(self.BIG, 60)
        assert warm_up is not None and full is not None and warm_up[1] == full[1] == 0
        total = full[0]
        broken: list[int] = []
        summary: dict[str, object] = {"total_checks": total, "hang": None, "broken": broken}
        for checks in range(0, total, step):
            outcome = self.within(checks, 10)
            if outcome is None:
                summary["hang"] = checks
                break
            if outcome[1]:
                broken.append(checks)
        summary.update(
            attempts=self.attempts, interrupted=self.interrupted, deferred=CountingGuard.deferred
        )
        return summary


if __name__ == "__main__" and sys.argv[1:2] == ["sweep"]:
    summary = InterruptSweep(sys.argv[2], sys.argv[3]).run(int(sys.argv[4]))
    print(json.dumps(summary), flush=True)
    os._exit(0)  # a thread may still be blocked inside wasm
