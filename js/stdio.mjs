// @ts-check
/* A process's stdio as the caller gives it: output callbacks, and stdin as bytes, a function,
   a Node fd or a StdinFeed's port (js/stdin.mjs). */

import {concatBytes, decodeUtf8, toBytes} from './platform.mjs';
import {fdReader, feedReader, isAsyncSource, isFdSource, isStdinPort} from './stdin.mjs';

/** A stdout/stderr callback; `flush` (as lineOutput's has) delivers what it still holds.
    @typedef {((bytes: Uint8Array) => void) & {flush?: () => void}} OutputSink */

/** @import {StdinSource} from './types.mjs' */

/** @type {Uint8Array} */
const EMPTY_BYTES = new Uint8Array(0);

/**
 * A byte callback for stdout/stderr that calls `onLine(text)` once per complete line
 * (UTF-8 decoded, without the newline); `.flush()` delivers a last unterminated line.
 * `lineOutput(console.log)` reproduces the original wasi.wasm's console output.
 * @param {(line: string) => void} onLine
 * @returns {((bytes: Uint8Array) => void) & {flush: () => void}}
 */
export function lineOutput(onLine) {
	/** @type {Uint8Array[]} */
	let pending = []; // the bytes of the unfinished line
	/** @param {Uint8Array} bytes */
	const sink = bytes => {
		// A newline byte never occurs inside a multi-byte UTF-8 sequence: split bytes, then decode.
		let start = 0;
		for (let newline = bytes.indexOf(10); newline >= 0; newline = bytes.indexOf(10, start)) {
			pending.push(bytes.subarray(start, newline));
			const line = concatBytes(pending);
			pending = [];
			start = newline + 1;
			onLine(decodeUtf8(line));
		}
		if (start < bytes.length) pending.push(bytes.slice(start)); // a copy: the caller may reuse it
	};
	sink.flush = () => {
		if (!pending.length) return;
		const line = concatBytes(pending);
		pending = [];
		onLine(decodeUtf8(line));
	};
	return sink;
}

/** undefined: the original's console output, line by line; null: discarded; or a callback.
    @param {unknown} target @param {'log' | 'error'} consoleMethod
    @returns {OutputSink | null} */
export function outputSink(target, consoleMethod) {
	if (target === undefined) return lineOutput(line => console[consoleMethod](line));
	if (target === null) return null;
	if (typeof target === 'function') return /** @type {OutputSink} */ (target);
	throw new TypeError('stdout/stderr must be a function receiving Uint8Array chunks, null or undefined');
}

/** A reader of `maxBytes` at most from stdin (empty at its end).
    @param {StdinSource | null | undefined} stdin @returns {(maxBytes: number) => Uint8Array} */
export function inputSource(stdin) {
	if (stdin === undefined || stdin === null) return () => EMPTY_BYTES;
	if (isStdinPort(stdin)) return feedReader(stdin);
	if (isFdSource(stdin)) return fdReader(stdin.fd); // process.stdin is an async source too
	if (isAsyncSource(stdin)) {
		throw new TypeError('an async stdin (AsyncIterable, ReadableStream) cannot feed a program on the thread that runs it '
			+ '(a WASI read blocks the thread): make a StdinFeed of it here, run the program in a Worker and give it feed.port as stdin');
	}
	if (typeof stdin === 'function') {
		let unread = EMPTY_BYTES; // what the function gave beyond what the program asked for
		return maxBytes => {
			if (!unread.length) unread = toBytes(stdin(maxBytes) ?? EMPTY_BYTES);
			const chunk = unread.subarray(0, maxBytes);
			unread = unread.subarray(chunk.length);
			return chunk;
		};
	}
	const bytes = toBytes(stdin).slice(); // a copy: the caller may reuse its buffer
	let position = 0;
	return maxBytes => {
		const chunk = bytes.subarray(position, position + maxBytes);
		position += chunk.length;
		return chunk;
	};
}
