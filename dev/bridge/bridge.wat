;; The multi-memory bridge: its functions go into a core instance's copy-hook table slots
;; (COPY_IN, COPY_OUT, GUEST_PAGES), so a syscall's copies between the core memory and the
;; program's memory never leave wasm. Assembled by tools/build.py into
;; src/wasi_wasm/bridge.wasm (the Python host) and js/bridge_wasm.mjs (the JS loader).
;;
;; A host patches only the guest memory's limits in the binary (the 5 bytes after the import's
;; name, see BRIDGE_GUEST_LIMITS in tools/build.py): the program's memory is shared (with its
;; maximum) or not (no maximum), and its current size may be anything, hence the minimum 0.
;; The core memory is always shared with 65536 pages at most.
(module
  (import "bridge" "core" (memory $core 0 65536 shared))
  (import "bridge" "guest" (memory $guest 0 65536 shared))

  ;; copy_in(core_dst, guest_src, len): from the program's memory into the core's. The core
  ;; has checked both ranges, so no copy traps.
  (func (export "copy_in") (param $dst i32) (param $src i32) (param $len i32)
    ;; Up to 64 bytes: loads and stores. memory.copy between two memories is a call into the
    ;; runtime (~13-25 ns in wasmtime), which dominated a short write (three copies: the
    ;; iovec, the data, the count written). Unaligned access is allowed in wasm.
    (if (i32.le_u (local.get $len) (i32.const 64))
      (then
        (block $words_done
          (loop $words
            (br_if $words_done (i32.lt_u (local.get $len) (i32.const 8)))
            (i64.store $core (local.get $dst) (i64.load $guest (local.get $src)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
            (local.set $src (i32.add (local.get $src) (i32.const 8)))
            (local.set $len (i32.sub (local.get $len) (i32.const 8)))
            (br $words)))
        ;; then one 4-, 2- and 1-byte step, as the low bits of $len say
        (if (i32.and (local.get $len) (i32.const 4))
          (then
            (i32.store $core (local.get $dst) (i32.load $guest (local.get $src)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
            (local.set $src (i32.add (local.get $src) (i32.const 4)))))
        (if (i32.and (local.get $len) (i32.const 2))
          (then
            (i32.store16 $core (local.get $dst) (i32.load16_u $guest (local.get $src)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 2)))
            (local.set $src (i32.add (local.get $src) (i32.const 2)))))
        (if (i32.and (local.get $len) (i32.const 1))
          (then
            (i32.store8 $core (local.get $dst) (i32.load8_u $guest (local.get $src)))))
        (return)))
    (memory.copy $core $guest (local.get $dst) (local.get $src) (local.get $len)))

  ;; copy_out(guest_dst, core_src, len): from the core memory into the program's; as copy_in.
  (func (export "copy_out") (param $dst i32) (param $src i32) (param $len i32)
    (if (i32.le_u (local.get $len) (i32.const 64))
      (then
        (block $words_done
          (loop $words
            (br_if $words_done (i32.lt_u (local.get $len) (i32.const 8)))
            (i64.store $guest (local.get $dst) (i64.load $core (local.get $src)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
            (local.set $src (i32.add (local.get $src) (i32.const 8)))
            (local.set $len (i32.sub (local.get $len) (i32.const 8)))
            (br $words)))
        (if (i32.and (local.get $len) (i32.const 4))
          (then
            (i32.store $guest (local.get $dst) (i32.load $core (local.get $src)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
            (local.set $src (i32.add (local.get $src) (i32.const 4)))))
        (if (i32.and (local.get $len) (i32.const 2))
          (then
            (i32.store16 $guest (local.get $dst) (i32.load16_u $core (local.get $src)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 2)))
            (local.set $src (i32.add (local.get $src) (i32.const 2)))))
        (if (i32.and (local.get $len) (i32.const 1))
          (then
            (i32.store8 $guest (local.get $dst) (i32.load8_u $core (local.get $src)))))
        (return)))
    (memory.copy $guest $core (local.get $dst) (local.get $src) (local.get $len)))

  ;; guest_pages(): the program memory's current size in 64 KiB pages (the core checks every
  ;; guest pointer against it).
  (func (export "guest_pages") (result i32) (memory.size $guest)))
