"""Faults during concurrency (issue 6, item 7): while several threads run programs on one
filesystem, one program traps, one calls proc_exit in the middle of its work and one is
interrupted by the host (wasmtime epoch interruption). The others finish correctly, the
filesystem lock is never left held, fsck passes, and every file a program wrote and closed
is there with exactly its content."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import wasmtime

import wasi_wasm
from wasi_wasm import InitObj, Wasi

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


@pytest.mark.xfail(
    strict=False,
    reason="core (reported): an interrupt that lands inside the core in the middle of an "
    "operation can leave fsck problems (see the fuel sweep below); most attempts pass",
)
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
# Epoch interrupts land wherever the program happens to be. To try every point of a short run
# deterministically, the sweep below uses wasmtime's fuel instead (a trap after exactly N
# units, checked at the same places as epochs: function entries and loop headers), on an
# engine of its own, in a subprocess so that a left-held lock shows up as a timeout.
SWEEP_OPS = (
    "mkdir . d|open 0 . d/f 1 536870911 0 0|write 0 6162|close 0|mkdir . m|rename . d . m/d|"
    "unlink . m/d/f"
)
SWEEP_STEP = 17  # fuel units between two interrupts (1 tries every point, in minutes)


@pytest.mark.xfail(
    strict=True,
    reason="core (reported): an interrupt between taking the lock and recording its owner "
    "leaves it held with no owner, so wasi_wasm_recover cannot free it; an interrupt in the "
    "middle of an operation (path_open O_CREAT, rename, unlink) can leave fsck problems",
)
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
    assert report["hang"] is None, f"lock left held after an interrupt at fuel {report['hang']}"
    assert report["attempts"] > 1000
    assert report["broken"] == [], (
        f"fsck failed after interrupts at fuel {report['broken'][:10]} (of {report['attempts']})"
    )


class FuelSweep:
    """Runs the driver with ``ops`` once per fuel budget; after each out-of-fuel trap it
    refuels, recovers, closes the process and runs fsck."""

    BIG = 10**12

    def __init__(self, driver_path: str, ops_text: str) -> None:
        config = wasmtime.Config()
        config.wasm_threads = True
        config.shared_memory = True
        config.wasm_multi_memory = True
        config.consume_fuel = True
        self.engine = wasmtime.Engine(config)
        from wasi_wasm import _engine, _wasi  # noqa: PLC0415 - only in the subprocess

        _wasi.new_store = self.fueled_store  # type: ignore[attr-defined]
        self.init = InitObj(self.engine, wasmtime.Module(self.engine, _engine.core_wasm_bytes()))
        self.driver = wasmtime.Module(self.engine, Path(driver_path).read_bytes())
        self.ops = ops_text.replace("|", "\n").encode()
        self.fs = self.fresh_filesystem()
        self.attempts = 0

    def fueled_store(self, engine: wasmtime.Engine | None = None) -> wasmtime.Store:
        store = wasmtime.Store(engine)
        store.set_fuel(self.BIG)
        return store

    def fresh_filesystem(self) -> Wasi:
        fs = wasi_wasm.start_wasi(self.init, preopens={}, bridge=False)
        fs.mkdir("/s")
        return fs

    def attempt(self, fuel: int) -> tuple[int, int]:
        """(fuel used, fsck problems) for one run stopped after ``fuel`` units."""
        self.attempts += 1
        if self.attempts % 1500 == 0:  # a Store allows 10,000 instances; each run adds two
            fresh = wasi_wasm.start_wasi(self.fs.init_obj(), preopens={}, bridge=False)
            self.fs.close()
            self.fs = fresh
        process = self.fs.copy_for_rebinding(
            args=["driver"], stdin=self.ops, preopens={"/sandbox": "/s"}
        )
        with process:
            exports = wasmtime.Instance(
                process.store, self.driver, process.imports_for(self.driver)
            ).exports(process.store)
            memory, start = exports["memory"], exports["_start"]
            assert isinstance(memory, wasmtime.Memory) and isinstance(start, wasmtime.Func)
            process.bind_to_other_memory(memory)
            process.store.set_fuel(fuel)
            with contextlib.suppress(wasmtime.Trap, wasi_wasm.WasiExit):
                start(process.store)
            used = fuel - process.store.get_fuel()
            process.store.set_fuel(self.BIG)
            process._process.call("wasi_wasm_recover")
        problems = self.fs.fsck()
        if problems:
            self.fs.close()  # start over on a fresh filesystem
            self.fs = self.fresh_filesystem()
        else:
            self.fs.rmtree("/s")
            self.fs.mkdir("/s")
        return used, problems

    def within(self, fuel: int, seconds: float) -> tuple[int, int] | None:
        """``attempt`` in a thread: None if it blocks (a lock left held)."""
        result: list[tuple[int, int]] = []
        worker = threading.Thread(target=lambda: result.append(self.attempt(fuel)), daemon=True)
        worker.start()
        worker.join(seconds)
        return result[0] if result else None

    def run(self, step: int) -> dict[str, object]:
        first = self.within(self.BIG, 60)
        assert first is not None and first[1] == 0
        total = first[0]
        broken: list[int] = []
        for fuel in range(0, total, step):
            outcome = self.within(fuel, 10)
            if outcome is None:
                return {"attempts": self.attempts, "hang": fuel, "broken": broken}
            if outcome[1]:
                broken.append(fuel)
        return {"attempts": self.attempts, "hang": None, "broken": broken, "total_fuel": total}


if __name__ == "__main__" and sys.argv[1:2] == ["sweep"]:
    summary = FuelSweep(sys.argv[2], sys.argv[3]).run(int(sys.argv[4]))
    print(json.dumps(summary), flush=True)
    os._exit(0)  # a thread may still be blocked inside wasm
