// @ts-check
/* The multi-memory bridge: a tiny module (dev/bridge/bridge.wat, assembled by tools/build.py
   into js/bridge_wasm.mjs) whose copy functions go into a core instance's copy-hook slots, so
   a syscall never leaves wasm. */

import {BRIDGE_WASM, GUEST_LIMITS_AT} from './bridge_wasm.mjs';
import {isSharedBuffer} from './platform.mjs';

/** The bridge (dev/bridge/bridge.wat) for a guest memory that is shared or not: only its guest
    memory import's limits are patched, minimum 0 and, for a shared memory, maximum 65536
    pages, which match any current size and any smaller maximum (import matching is by
    subtyping), so one module per shared flag fits every wasm32 guest memory. A memory that is
    not shared has no maximum: its minimum takes the maximum's bytes as a padded LEB.
    @param {boolean} guestShared */
function bridgeBytes(guestShared) {
	const bytes = new Uint8Array(BRIDGE_WASM);
	if (!guestShared) bytes.set([0x00, 0x80, 0x80, 0x80, 0x00], GUEST_LIMITS_AT);
	return bytes;
}

/** @type {Map<boolean, WebAssembly.Module>} */
const bridgeModules = new Map(); // guest shared flag -> compiled bridge
/** @type {boolean | undefined} */
let multiMemoryCache;

/** Whether this engine has multi-memory (Node 24, Chrome 120+; not Node 20). */
export function multiMemorySupported() {
	multiMemoryCache ??= WebAssembly.validate(bridgeBytes(false));
	return multiMemoryCache;
}

/** @param {boolean} guestShared */
function bridgeModule(guestShared) {
	let module = bridgeModules.get(guestShared);
	if (!module) {
		// Synchronous compilation is allowed even on a browser main thread for modules this small.
		module = new WebAssembly.Module(bridgeBytes(guestShared));
		bridgeModules.set(guestShared, module);
	}
	return module;
}

/** A new bridge between `core` and `guest`: its functions for the hooks COPY_IN, COPY_OUT and
    GUEST_PAGES, in that order. Throws where `guest` cannot be imported (a wasm64 memory).
    @param {WebAssembly.Memory} core @param {WebAssembly.Memory} guest
    @returns {Function[]} */
export function bridgeFunctions(core, guest) {
	const bridge = new WebAssembly.Instance(bridgeModule(isSharedBuffer(guest.buffer)), {bridge: {core, guest}});
	const {copy_in: copyIn, copy_out: copyOut, guest_pages: guestPages} = bridge.exports;
	return [/** @type {Function} */ (copyIn), /** @type {Function} */ (copyOut), /** @type {Function} */ (guestPages)];
}
