// @ts-check
/* The multi-memory bridge: a tiny module assembled here, whose memory.copy functions go into
   a core instance's copy-hook slots, so a syscall never leaves wasm. */

import {encodeUtf8, isSharedBuffer} from './platform.mjs';

/** @param {number} value @returns {number[]} */
function unsignedLeb(value) {
	const out = [];
	do {
		let byte = value & 0x7f;
		value >>>= 7;
		if (value) byte |= 0x80;
		out.push(byte);
	} while (value);
	return out;
}

/** @param {string} text */
function wasmName(text) {
	const bytes = [...encodeUtf8(text)];
	return [...unsignedLeb(bytes.length), ...bytes];
}

/** @param {number} id @param {number[][]} entries */
function wasmSection(id, entries) {
	const body = [...unsignedLeb(entries.length), ...entries.flat()];
	return [id, ...unsignedLeb(body.length), ...body];
}

/**
 * (module
 *   (import "bridge" "core" (memory 0 65536 shared))
 *   (import "bridge" "guest" (memory 0 [65536 shared]))
 *   (func (export "copy_in") (param $core_dst i32) (param $guest_src i32) (param $len i32)
 *     (memory.copy 0 1 ...))
 *   (func (export "copy_out") (param $guest_dst i32) (param $core_src i32) (param $len i32)
 *     (memory.copy 1 0 ...))
 *   (func (export "guest_pages") (result i32) (memory.size 1)))
 * Minimum 0 and maximum 65536 match any current size and any smaller maximum (import
 * matching is by subtyping), so one module per shared flag fits every wasm32 guest memory.
 * @param {boolean} guestShared
 */
function bridgeBytes(guestShared) {
	const sharedLimits = [0x03, 0x00, ...unsignedLeb(65536)];
	const guestLimits = guestShared ? sharedLimits : [0x00, 0x00];
	const i32 = 0x7f;
	const types = [[0x60, 3, i32, i32, i32, 0], [0x60, 0, 1, i32]];
	const imports = [
		[...wasmName('bridge'), ...wasmName('core'), 0x02, ...sharedLimits],
		[...wasmName('bridge'), ...wasmName('guest'), 0x02, ...guestLimits],
	];
	const functions = [[0], [0], [1]];
	const exports = [
		[...wasmName('copy_in'), 0x00, 0], [...wasmName('copy_out'), 0x00, 1],
		[...wasmName('guest_pages'), 0x00, 2],
	];
	/** @param {number[]} code */
	const body = code => [...unsignedLeb(code.length + 1), 0x00 /* no locals */, ...code];
	const getArgs = [0x20, 0, 0x20, 1, 0x20, 2];
	/** @param {number} dst @param {number} src */
	const memoryCopy = (dst, src) => [0xfc, 10, dst, src];
	const code = [
		body([...getArgs, ...memoryCopy(0, 1), 0x0b]),
		body([...getArgs, ...memoryCopy(1, 0), 0x0b]),
		body([0x3f, 1, 0x0b]),
	];
	return new Uint8Array([
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		...wasmSection(1, types), ...wasmSection(2, imports), ...wasmSection(3, functions),
		...wasmSection(7, exports), ...wasmSection(10, code),
	]);
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
