"""File times come from the file clock (src/wasi_wasm/_file_clock.py, dev/base/file_clock.h):
while a program runs, one thread keeps its filesystem's clock word at the realtime clock and
every write, create and unlink reads the word instead of calling the clock hook; when no
program of the filesystem runs, the word is 0 and stamps call the hook."""

from __future__ import annotations

import ctypes
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from wasi_wasm import _file_clock, start_wasi

FAKE_TIME_NS = 1_234_567_890_123_456_789  # 2009: no real clock reads this now


@pytest.fixture(scope="module")
def writer(wasm_program: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The docs' stand-in named tool.wasm: `tool -o OUT` writes OUT."""
    path = tmp_path_factory.mktemp("programs") / "tool.wasm"
    shutil.copyfile(wasm_program("doc_stand_in"), path)
    return path


def word(wasi: object) -> int:
    return ctypes.c_uint64.from_address(wasi._process.file_clock_address).value  # type: ignore[attr-defined]


def test_a_run_stamps_its_files_from_the_file_clock(
    writer: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_file_clock, "realtime_ns", lambda: FAKE_TIME_NS)
    wasi = start_wasi()
    wasi.mkdir("/out")
    result = wasi.run(writer, ["-o", "/out/made.txt"], preopens={"/out": "/out"})
    assert result.exit_code == 0, result.stderr
    made = wasi.stat("/out/made.txt")
    assert (made.mtime_ns, made.ctime_ns) == (FAKE_TIME_NS, FAKE_TIME_NS)
    wasi.close()


def test_outside_runs_the_word_is_zero_and_stamps_read_the_clock(writer: Path) -> None:
    wasi = start_wasi()
    wasi.mkdir("/out")
    assert word(wasi) == 0
    assert wasi.run(writer, ["-o", "/out/a.txt"], preopens={"/out": "/out"}).exit_code == 0
    assert word(wasi) == 0, "a finished run left its time in the word"
    before = time.time_ns()
    wasi.write_file("/out/b.txt", b"host")
    assert before <= wasi.stat("/out/b.txt").mtime_ns <= time.time_ns()
    wasi.close()


def test_the_word_ticks_until_its_last_user_releases_it_and_then_stays_zero() -> None:
    """Reference-counted per word: a second run of the filesystem keeps it ticking after the
    first ended, and once released it is 0 and no tick writes it again."""
    cell = ctypes.c_uint64(0)
    address = ctypes.addressof(cell)
    clocks = _file_clock._Clocks()
    clocks.acquire(address)
    clocks.acquire(address)
    clocks.release(address)
    first = cell.value
    assert first > 0
    time.sleep(20 * _file_clock.TICK_SECONDS)
    assert cell.value > first, "the word stopped following the clock with a user left"
    clocks.release(address)
    assert cell.value == 0
    time.sleep(20 * _file_clock.TICK_SECONDS)
    assert cell.value == 0, "a tick wrote a released word"


def test_runs_in_threads_stamp_real_times(writer: Path) -> None:
    """Two runs on one filesystem at once: each one's file time is within the run's span
    (less one tick: the word may be that old, as a kernel's coarse clock) and the word is 0
    once both ended."""
    wasi = start_wasi()
    wasi.mkdir("/out")
    init = wasi.init_obj()
    stamps: list[tuple[int, int, int]] = []

    def write(index: int) -> None:
        other = start_wasi(init)
        before = time.time_ns()
        result = other.run(writer, ["-o", f"/out/t{index}.txt"], preopens={"/out": "/out"})
        after = time.time_ns()
        assert result.exit_code == 0
        stamps.append((before, other.stat(f"/out/t{index}.txt").mtime_ns, after))
        other.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(stamps) == 2
    slack = int(5 * _file_clock.TICK_SECONDS * 1e9)
    assert all(before - slack <= stamp <= after for before, stamp, after in stamps), stamps
    assert word(wasi) == 0
    wasi.close()
