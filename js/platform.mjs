// @ts-check
/* What the loader needs from the JS environment it runs in (browser page, Worker, Worklet or
   Node), with a fallback wherever an environment lacks a global: UTF-8, clocks, randomness,
   and whether this thread may block. */

// ------------------------------------------------------------------------------------------
// The environment we run in

// `process` is declared in js/node.d.ts, as far as this module uses it.
export const nodeProcess = typeof process === 'object' && typeof process.versions?.node === 'string' ? process : null;

/** @param {unknown} buffer @returns {buffer is SharedArrayBuffer} */
export function isSharedBuffer(buffer) {
	// Not `instanceof SharedArrayBuffer`: a page that is not cross-origin isolated has shared
	// wasm memories but no SharedArrayBuffer global.
	return Object.prototype.toString.call(buffer) === '[object SharedArrayBuffer]';
}

/** Whether a shared memory can be sent to another thread here (Node; an isolated page). */
export function memoryCrossesThreads() {
	if (typeof globalThis.crossOriginIsolated === 'boolean') return globalThis.crossOriginIsolated;
	return typeof SharedArrayBuffer === 'function';
}

/** @type {boolean | undefined} */
let threadMayBlockCache;
/** False on a browser's main thread, where Atomics.wait throws and memory.atomic.wait32 traps:
    the core must spin there instead of sleeping when it waits for its lock. */
export function threadMayBlock() {
	if (threadMayBlockCache === undefined) {
		try {
			const probe = new Int32Array(new WebAssembly.Memory({initial: 1, maximum: 1, shared: true}).buffer);
			Atomics.wait(probe, 0, 0, 0); // timeout 0: returns at once where waiting is allowed
			threadMayBlockCache = true;
		} catch {
			threadMayBlockCache = false;
		}
	}
	return threadMayBlockCache;
}

// ------------------------------------------------------------------------------------------
// UTF-8. An AudioWorklet has no TextEncoder, TextDecoder, crypto or atob: every global this
// module needs after loading has a fallback, so a Worklet can run programs from an initObj().

const nativeEncoder = typeof TextEncoder === 'function' ? new TextEncoder() : null;
const nativeDecoder = typeof TextDecoder === 'function' ? new TextDecoder() : null;

/** @param {string} text */
export function encodeUtf8(text) {
	return nativeEncoder ? nativeEncoder.encode(text) : encodeUtf8Fallback(text);
}

/** Text of UTF-8 bytes; invalid sequences become U+FFFD, as with TextDecoder.
    @param {Uint8Array} bytes */
export function decodeUtf8(bytes) {
	// TextDecoder refuses views of shared memory (the core's), so those are copied first.
	if (isSharedBuffer(bytes.buffer)) bytes = bytes.slice();
	return nativeDecoder ? nativeDecoder.decode(bytes) : decodeUtf8Fallback(bytes);
}

/** @param {string} text */
function encodeUtf8Fallback(text) {
	/** @type {number[]} */
	const bytes = [];
	for (const character of text) {
		let point = /** @type {number} */ (character.codePointAt(0));
		if (point >= 0xd800 && point <= 0xdfff) point = 0xfffd; // a lone surrogate
		if (point < 0x80) bytes.push(point);
		else if (point < 0x800) bytes.push(0xc0 | point >> 6, 0x80 | point & 0x3f);
		else if (point < 0x10000) bytes.push(0xe0 | point >> 12, 0x80 | point >> 6 & 0x3f, 0x80 | point & 0x3f);
		else bytes.push(0xf0 | point >> 18, 0x80 | point >> 12 & 0x3f, 0x80 | point >> 6 & 0x3f, 0x80 | point & 0x3f);
	}
	return new Uint8Array(bytes);
}

/** The WHATWG UTF-8 decoder: each maximal invalid subsequence becomes one U+FFFD.
    @param {Uint8Array} bytes */
function decodeUtf8Fallback(bytes) {
	/** @type {number[]} */
	const points = [];
	let point = 0, needed = 0, seen = 0, lower = 0x80, upper = 0xbf;
	for (let i = 0; i < bytes.length; i++) {
		const byte = bytes[i];
		if (needed === 0) {
			if (byte < 0x80) points.push(byte);
			else if (byte >= 0xc2 && byte <= 0xdf) { needed = 1; point = byte & 0x1f; }
			else if (byte >= 0xe0 && byte <= 0xef) {
				if (byte === 0xe0) lower = 0xa0; // no overlong forms
				if (byte === 0xed) upper = 0x9f; // no surrogates
				needed = 2;
				point = byte & 0x0f;
			} else if (byte >= 0xf0 && byte <= 0xf4) {
				if (byte === 0xf0) lower = 0x90;
				if (byte === 0xf4) upper = 0x8f; // nothing above U+10FFFF
				needed = 3;
				point = byte & 0x07;
			} else points.push(0xfffd);
			continue;
		}
		if (byte < lower || byte > upper) {
			points.push(0xfffd); // the sequence so far; this byte starts afresh
			needed = seen = 0;
			lower = 0x80;
			upper = 0xbf;
			i--;
			continue;
		}
		lower = 0x80;
		upper = 0xbf;
		point = point << 6 | byte & 0x3f;
		if (++seen === needed) {
			points.push(point);
			needed = seen = 0;
		}
	}
	if (needed) points.push(0xfffd);
	let text = '';
	for (let i = 0; i < points.length; i += 4096) text += String.fromCodePoint(...points.slice(i, i + 4096));
	return text;
}

/** @param {Uint8Array[]} parts */
export function concatBytes(parts) {
	if (parts.length === 1) return parts[0];
	const joined = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
	let offset = 0;
	for (const part of parts) {
		joined.set(part, offset);
		offset += part.length;
	}
	return joined;
}

// ------------------------------------------------------------------------------------------
// Clocks and randomness for the core's hooks (WASI semantics, nanoseconds)

const hasPerformance = typeof performance === 'object' && typeof performance.now === 'function';
const hrtime = nodeProcess?.hrtime;
/** Node's nanosecond monotonic clock, where there is one. */
const hrtimeNanos = hrtime?.bigint ? hrtime.bigint.bind(hrtime) : null;

/** @param {number} ms */
function millisToNanos(ms) {
	return BigInt(Math.round(ms * 1e6));
}

/** Realtime: the page's or process's time origin plus the monotonic clock (microseconds,
    where Date.now() has milliseconds). */
const realtimeNanos = hasPerformance && typeof performance.timeOrigin === 'number'
	? () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n
	: () => millisToNanos(Date.now());

const monotonicNanos = hrtimeNanos
	?? (hasPerformance ? () => millisToNanos(performance.now()) : () => millisToNanos(Date.now()));

/** CPU time: Node measures it; a browser has no such clock, so elapsed time stands in. */
const processCpuNanos = cpuClock(nodeProcess?.cpuUsage, monotonicNanos);
const threadCpuNanos = cpuClock(nodeProcess?.threadCpuUsage, processCpuNanos);

/** A clock reading Node's `process.cpuUsage`-like `usage` (microseconds), else `fallback`.
    @param {(() => {user: number, system: number}) | undefined} usage
    @param {() => bigint} fallback
    @returns {() => bigint} */
function cpuClock(usage, fallback) {
	if (!usage) return fallback;
	return () => { const {user, system} = usage.call(nodeProcess); return BigInt(user + system) * 1000n; };
}

/** Readers of the WASI clocks, by clock id: realtime, monotonic, process and thread CPU time. */
export const CLOCK_READERS = [realtimeNanos, monotonicNanos, processCpuNanos, threadCpuNanos];
/** The resolutions of CLOCK_READERS' clocks, in nanoseconds. */
export function clockResolutions() {
	// performance.now() is coarsened to 5 µs in isolated pages and 100 µs otherwise.
	const timer = hrtimeNanos ? 1n : globalThis.crossOriginIsolated ? 5000n : 100000n;
	return [1000n, timer, 1000n, 1000n];
}

/** @type {(piece: Uint8Array<ArrayBuffer>) => void} */
const getRandomValues = typeof crypto === 'object' && typeof crypto.getRandomValues === 'function'
	? piece => crypto.getRandomValues(piece)
	// An AudioWorklet has no crypto: Math.random is all there is (not for secrets).
	: piece => { for (let i = 0; i < piece.length; i++) piece[i] = Math.random() * 256; };

/** @param {Uint8Array} target */
export function fillRandom(target) {
	// getRandomValues refuses views of shared memory and more than 65536 bytes per call.
	const chunk = new Uint8Array(Math.min(target.length, 65536));
	for (let offset = 0; offset < target.length; offset += chunk.length) {
		const piece = chunk.subarray(0, Math.min(chunk.length, target.length - offset));
		getRandomValues(piece);
		target.set(piece, offset);
	}
}

/** The bytes of a string (UTF-8), an ArrayBuffer or a typed array; a view, not a copy.
    @param {unknown} data
    @returns {Uint8Array} */
export function toBytes(data) {
	if (typeof data === 'string') return encodeUtf8(data);
	if (data instanceof Uint8Array) return data;
	if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
	if (data instanceof ArrayBuffer || isSharedBuffer(data)) return new Uint8Array(data);
	throw new TypeError('expected a string, an ArrayBuffer or a typed array');
}

