// @ts-check
/* Loading and compiling wasi.wasm: the init objects that getWasi() makes and initObj() passes
   to other threads, and the shared memory a fresh filesystem lives in. */

import {decodeUtf8, toBytes} from './platform.mjs';

/** @import {InitObject, MemoryPages} from './types.mjs' */

// The bundled wasi.mjs sits next to wasi.wasm, so the URL below is relative to it, not to
// this file; tools/bundle.py replaces the marked block in wasi-bundled.mjs.
// BEGIN load wasi.wasm
/** The core's bytes: read from the file next to this module in Node, fetched in browsers. */
async function loadCoreBytes() {
	const url = new URL('./wasi.wasm', import.meta.url);
	if (url.protocol === 'file:') {
		const {readFile} = await import('node:fs/promises');
		return new Uint8Array(await readFile(url));
	}
	const response = await fetch(url);
	if (!response.ok) throw new Error(`could not fetch ${url}: HTTP ${response.status}`);
	return new Uint8Array(await response.arrayBuffer());
}
// END load wasi.wasm

/** The limits (in pages) the module declares for its imported env.memory: the shared memory
    must be created with them, and a compiled Module cannot tell them in every engine.
    @param {Uint8Array} bytes @returns {MemoryPages} */
function importedMemoryPages(bytes) {
	let position = 8; // magic and version
	const readU32 = () => {
		let result = 0, shift = 0, byte;
		do {
			byte = bytes[position++];
			result |= (byte & 0x7f) << shift;
			shift += 7;
		} while (byte & 0x80);
		return result >>> 0;
	};
	const readName = () => {
		const length = readU32();
		const name = decodeUtf8(bytes.subarray(position, position + length));
		position += length;
		return name;
	};
	const readLimits = () => {
		const flags = bytes[position++];
		const initial = readU32();
		const maximum = flags & 1 ? readU32() : undefined;
		return {initial, maximum};
	};
	while (position < bytes.length) {
		const section = bytes[position++];
		const size = readU32();
		const end = position + size;
		if (section === 2) { // the import section
			for (let count = readU32(); count > 0; count--) {
				const module = readName();
				const name = readName();
				const kind = bytes[position++];
				if (kind === 0) readU32(); // function: type index
				else if (kind === 1) { position++; readLimits(); } // table: reftype, limits
				else if (kind === 2) {
					const limits = readLimits();
					if (module === 'env' && name === 'memory') {
						return {initial: limits.initial, maximum: limits.maximum ?? 65536};
					}
				} else if (kind === 3) position += 2; // global: valtype, mutability
				else if (kind === 4) { position++; readU32(); } // tag
				else throw new Error(`unknown import kind ${kind}`);
			}
		}
		position = end;
	}
	throw new Error('wasi.wasm does not import env.memory');
}

/** @param {Uint8Array<ArrayBuffer>} bytes @returns {Promise<InitObject>} */
async function compileInit(bytes) {
	const memoryPages = importedMemoryPages(bytes);
	return {module: await WebAssembly.compile(bytes), memoryPages, shared: false};
}

/** @type {Promise<InitObject> | undefined} */
let defaultInit;

/** @param {unknown} value @returns {value is InitObject} */
function isInitObject(value) {
	return Boolean(/** @type {{module?: unknown} | null | undefined} */ (value)?.module);
}

/**
 * Resolves to an init object: the compiled core module (and, once a Wasi made it and it can
 * cross threads, the shared memory). `source` may be an init object (returned as it is) or
 * the bytes of wasi.wasm; by default wasi.wasm next to this module is used, compiled once.
 * @param {InitObject | BufferSource | null} [source]
 * @returns {Promise<InitObject>}
 */
export async function getWasi(source) {
	if (isInitObject(source)) return source;
	if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return compileInit(/** @type {Uint8Array<ArrayBuffer>} */ (toBytes(source)));
	if (!defaultInit) {
		defaultInit = loadCoreBytes().then(compileInit);
		defaultInit.catch(() => { defaultInit = undefined; }); // a failed fetch may be retried
	}
	return {...await defaultInit};
}

/** A new shared memory for a fresh filesystem, with the limits the core declares.
    @param {InitObject} init */
export function newCoreMemory(init) {
	const pages = init.memoryPages;
	if (!pages) {
		throw new TypeError('this init object has no memoryPages: pass one that getWasi() or wasi.initObj() returned');
	}
	return new WebAssembly.Memory({initial: pages.initial, maximum: pages.maximum, shared: true});
}
