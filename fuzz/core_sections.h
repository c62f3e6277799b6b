/* Force-included into every core source in the native build: the core's statics go into
   two named sections, so the harness can restore them between inputs (the linker gives
   __start_/__stop_ symbols for sections named like C identifiers). */
#pragma clang section bss = "core_bss" data = "core_data"
