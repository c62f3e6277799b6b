// @ts-check
/* stdin sources beyond bytes and a function: in Node a file descriptor read synchronously
   (`process.stdin`, `{fd}`), and an async source (AsyncIterable or ReadableStream) pumped by
   one thread (a StdinFeed) into a SharedArrayBuffer that a program in another thread reads,
   blocking with Atomics.wait until bytes or the end come. A WASI read is synchronous: the
   thread that runs the program cannot also run the async source. */

import {describe} from './errors.mjs';
import {isSharedBuffer, nodeProcess, threadMayBlock, toBytes} from './platform.mjs';
/** @import {StdinPort} from './types.mjs' */

// The feed's SharedArrayBuffer: an Int32Array header, then the data.
const AVAILABLE = 0; // bytes in the data not read yet (the feed fills it only when 0)
const OFFSET = 1; // where they start
const STATE = 2; // 0 (open), ENDED or FAILED
const SIGNAL = 3; // bumped at every change the reader waits for
const HEADER_BYTES = 16;
const ENDED = 1, FAILED = 2; // (0: open)
const NO_INPUT = new Uint8Array(0);
/** Atomics.waitAsync (ES2024), where the engine has it.
    @type {((array: Int32Array, index: number, value: number) => {async: boolean, value: unknown}) | undefined} */
const waitAsync = /** @type {any} */ (Atomics).waitAsync?.bind(Atomics);

/** The SharedArrayBuffers of the feeds this thread pumps: a program reading one here would
    block the thread that must fill it. @type {WeakSet<SharedArrayBuffer>} */
const feedsOfThisThread = new WeakSet();

/** Whether `source` is an async source: an AsyncIterable or a ReadableStream.
    @param {unknown} source @returns {source is AsyncIterable<unknown> | ReadableStream} */
export function isAsyncSource(source) {
	if (source === null || typeof source !== 'object') return false;
	return typeof (/** @type {any} */ (source))[Symbol.asyncIterator] === 'function'
		|| typeof (/** @type {any} */ (source)).getReader === 'function';
}

/** Whether `stdin` is a StdinFeed's port (as sent to another thread).
    @param {unknown} stdin @returns {stdin is StdinPort} */
export function isStdinPort(stdin) {
	return stdin !== null && typeof stdin === 'object' && isSharedBuffer(/** @type {any} */ (stdin).wasiStdinFeed);
}

/** Whether `stdin` names a Node file descriptor: `process.stdin`, `{fd: 0}`.
    @param {unknown} stdin @returns {stdin is {fd: number}} */
export function isFdSource(stdin) {
	return stdin !== null && typeof stdin === 'object' && !ArrayBuffer.isView(stdin)
		&& typeof (/** @type {any} */ (stdin)).fd === 'number';
}

/**
 * Pumps an async source (an AsyncIterable of Uint8Array/string chunks, or a ReadableStream)
 * into a SharedArrayBuffer, for a program in another thread: send `feed.port` there (it is
 * structured-cloneable) and give it to startWasi as `stdin`. The program's reads block its
 * thread until bytes come, and see end-of-input once the source ends. `done` settles when
 * the source is drained (rejects with its error; the program's read then fails with EIO).
 */
export class StdinFeed {
	#ctrl;
	#data;
	#closed = false;

	/** @param {AsyncIterable<unknown> | ReadableStream} source
	    @param {{bufferBytes?: number}} [options] bytes handed over at a time (64 KiB) */
	constructor(source, {bufferBytes = 1 << 16} = {}) {
		if (!isAsyncSource(source)) throw new TypeError(`StdinFeed needs an AsyncIterable or a ReadableStream, not ${describe(source)}`);
		if (!Number.isInteger(bufferBytes) || bufferBytes < 1 || bufferBytes > 1 << 30) {
			throw new RangeError(`bufferBytes must be an integer from 1 to 2**30, not ${describe(bufferBytes)}`);
		}
		if (typeof SharedArrayBuffer !== 'function') {
			throw new Error('StdinFeed needs SharedArrayBuffer: in a browser, a cross-origin isolated page (COOP/COEP headers)');
		}
		const buffer = new SharedArrayBuffer(HEADER_BYTES + bufferBytes);
		feedsOfThisThread.add(buffer);
		this.#ctrl = new Int32Array(buffer, 0, HEADER_BYTES / 4);
		this.#data = new Uint8Array(buffer, HEADER_BYTES);
		/** @type {StdinPort} what startWasi's `stdin` takes, in the thread that runs the program */
		this.port = {wasiStdinFeed: buffer};
		/** @type {Promise<void>} */
		this.done = this.#pump(source);
		this.done.catch(() => {}); // the program sees it (EIO); awaiting `done` reports it
	}

	/** Stops pumping (say, the program exited without reading everything): what was handed
	    over stays readable, then the program sees end-of-input; the source is cancelled
	    (its iterator returned, its stream cancelled), and `done` resolves. Idempotent. */
	close() {
		this.#closed = true;
		Atomics.notify(this.#ctrl, AVAILABLE); // wakes the pump if it waits for the reader
	}

	/** @param {AsyncIterable<unknown> | ReadableStream} source */
	async #pump(source) {
		const ctrl = this.#ctrl;
		try {
			for await (const piece of chunksOf(source)) {
				if (this.#closed) break; // for-await returns the iterator: the source is cancelled
				let bytes = toBytes(piece);
				while (bytes.length && !this.#closed) {
					await this.#drained();
					if (this.#closed) break;
					const count = Math.min(bytes.length, this.#data.length);
					this.#data.set(bytes.subarray(0, count));
					Atomics.store(ctrl, OFFSET, 0);
					Atomics.store(ctrl, AVAILABLE, count);
					this.#signal();
					bytes = bytes.subarray(count);
				}
			}
			if (!this.#closed) await this.#drained();
			Atomics.store(ctrl, STATE, ENDED);
		} catch (error) {
			Atomics.store(ctrl, STATE, FAILED);
			throw error;
		} finally {
			this.#signal();
		}
	}

	#signal() {
		Atomics.add(this.#ctrl, SIGNAL, 1);
		Atomics.notify(this.#ctrl, SIGNAL);
	}

	/** Resolves once the reader took everything handed over. */
	async #drained() {
		const ctrl = this.#ctrl;
		for (let left = Atomics.load(ctrl, AVAILABLE); left !== 0 && !this.#closed; left = Atomics.load(ctrl, AVAILABLE)) {
			const waiting = waitAsync ? waitAsync(ctrl, AVAILABLE, left) : null;
			if (waiting?.async) await waiting.value;
			else if (!waiting) await new Promise(resolve => setTimeout(resolve, 1)); // no waitAsync (Firefox)
		}
	}
}

/** The chunks of an AsyncIterable or a ReadableStream.
    @param {AsyncIterable<unknown> | ReadableStream} source @returns {AsyncIterable<unknown>} */
async function* chunksOf(source) {
	if (typeof (/** @type {any} */ (source)).getReader === 'function') {
		const reader = /** @type {ReadableStream} */ (source).getReader();
		let finished = false;
		try {
			for (;;) {
				const {done, value} = await reader.read();
				if (done) {
					finished = true;
					return;
				}
				yield value;
			}
		} finally {
			if (!finished) await reader.cancel().catch(() => {}); // closed early: the stream is not needed
			reader.releaseLock();
		}
	}
	yield* /** @type {AsyncIterable<unknown>} */ (source);
}

/** The reader of a StdinFeed's port, in the thread running the program.
    @param {StdinPort} port @returns {(maxBytes: number) => Uint8Array} */
export function feedReader(port) {
	const buffer = port.wasiStdinFeed;
	if (feedsOfThisThread.has(buffer)) {
		throw new Error('this StdinFeed is pumped by this thread, which the program would block: run the program in a Worker and send it feed.port');
	}
	if (!threadMayBlock()) {
		throw new Error("a StdinFeed's port needs a thread that may block (Atomics.wait): a Worker, not a browser's main thread");
	}
	const ctrl = new Int32Array(buffer, 0, HEADER_BYTES / 4);
	const data = new Uint8Array(buffer, HEADER_BYTES);
	return maxBytes => {
		for (;;) {
			const signal = Atomics.load(ctrl, SIGNAL);
			const available = Atomics.load(ctrl, AVAILABLE);
			if (available > 0) {
				const offset = Atomics.load(ctrl, OFFSET);
				const count = Math.min(available, maxBytes);
				const chunk = data.slice(offset, offset + count);
				Atomics.store(ctrl, OFFSET, offset + count);
				Atomics.store(ctrl, AVAILABLE, available - count);
				if (count === available) Atomics.notify(ctrl, AVAILABLE);
				return chunk;
			}
			const state = Atomics.load(ctrl, STATE);
			if (state === ENDED) return NO_INPUT;
			if (state === FAILED) throw new Error('the StdinFeed source failed (see its done promise)');
			Atomics.wait(ctrl, SIGNAL, signal);
		}
	};
}

/** A reader of Node file descriptor `fd` (fs.readSync; a non-blocking fd is waited for).
    @param {number} fd @returns {(maxBytes: number) => Uint8Array} */
export function fdReader(fd) {
	const fs = /** @type {any} */ (nodeProcess?.getBuiltinModule?.('node:fs'));
	if (!fs) {
		throw new TypeError('stdin as a file descriptor (process.stdin, {fd}) needs Node 20.16 or later (process.getBuiltinModule)');
	}
	if (!Number.isInteger(fd) || fd < 0) throw new TypeError(`stdin's fd must be a file descriptor number, not ${describe(fd)}`);
	const pause = new Int32Array(new SharedArrayBuffer(4));
	let ended = false;
	return maxBytes => {
		if (ended) return NO_INPUT;
		const buffer = new Uint8Array(Math.min(maxBytes, 1 << 16));
		for (;;) {
			try {
				const count = fs.readSync(fd, buffer, 0, buffer.length, null);
				if (count === 0) ended = true;
				return buffer.subarray(0, count);
			} catch (error) {
				const code = /** @type {{code?: string}} */ (error).code;
				if (code === 'EOF') { // Windows' end of a pipe
					ended = true;
					return NO_INPUT;
				}
				if (code !== 'EAGAIN') throw error;
				Atomics.wait(pause, 0, 0, 5); // a non-blocking fd (a terminal, a pipe): wait for data
			}
		}
	};
}
