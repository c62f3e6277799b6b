// The JS loader's bridge (js/bridge.mjs, from dev/bridge/bridge.wat) copies exactly the bytes
// asked, for every length around its short-copy cut-off and every alignment, into a shared and
// into a non-shared guest memory, touching nothing else. Prints one JSON line of results.
// usage: node bridge_lengths.mjs   (an engine with multi-memory: Node 22+)
import {bridgeFunctions, multiMemorySupported} from '../../js/bridge.mjs';

const PAGES = 2;
const SMALL_COPY = 64;
const LENGTHS = [...Array(2 * SMALL_COPY + 3).keys(), 4096, 70000];
const OFFSETS = [0, 1, 3, 7, 8, 13];

/** A deterministic byte pattern. @param {number} length @param {number} seed */
function pattern(length, seed) {
	const bytes = new Uint8Array(length);
	let x = seed * 2654435761 >>> 0 || 1;
	for (let i = 0; i < length; i++) {
		x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
		bytes[i] = x & 0xff;
	}
	return bytes;
}

function check(guestShared) {
	const core = new WebAssembly.Memory({initial: PAGES, maximum: 65536, shared: true});
	const guest = guestShared
		? new WebAssembly.Memory({initial: PAGES, maximum: 17, shared: true})
		: new WebAssembly.Memory({initial: PAGES});
	const [copyIn, copyOut] = bridgeFunctions(core, guest);
	const failures = [];
	for (const direction of ['copy_in', 'copy_out']) {
		for (const length of LENGTHS) {
			const span = 2000 + length + 64;
			const coreBytes = new Uint8Array(core.buffer, 0, span);
			const guestBytes = new Uint8Array(guest.buffer, 0, span);
			for (const dstOffset of OFFSETS) {
				const srcOffset = (dstOffset * 5 + length) % 16;
				const dst = 1000 + dstOffset, src = 1000 + srcOffset;
				const coreBefore = pattern(span, length * 31 + dstOffset);
				const guestBefore = pattern(span, length * 17 + dstOffset + 1);
				coreBytes.set(coreBefore);
				guestBytes.set(guestBefore);
				const [into, source, untouched, untouchedBefore, copy] = direction === 'copy_in'
					? [coreBytes, guestBefore, guestBytes, guestBefore, copyIn]
					: [guestBytes, coreBefore, coreBytes, coreBefore, copyOut];
				copy(dst, src, length);
				const expected = (direction === 'copy_in' ? coreBefore : guestBefore).slice();
				expected.set(source.subarray(src, src + length), dst);
				const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
				if (!same(into, expected) || !same(untouched, untouchedBefore)) {
					failures.push(`${guestShared ? 'shared' : 'plain'} ${direction} length ${length} offset ${dstOffset}`);
				}
			}
		}
	}
	return failures;
}

const result = {multiMemory: multiMemorySupported(), failures: []};
if (result.multiMemory) result.failures = [...check(false), ...check(true)];
console.log(JSON.stringify(result));
