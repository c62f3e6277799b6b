// @ts-check
/* Pipes between processes, in the shared memory. */

import {ERRNO} from './abi.mjs';
import {WasiError} from './errors.mjs';
/** @import {CoreProcess} from './process.mjs' */

/**
 * A pipe in the shared core memory, made by `wasi.pipe()`: a 64 KiB ring whose ends are fds
 * of processes (`attachPipe`). A read waits for data, or returns end-of-file once no write
 * end is left; a write waits for room, and fails with EPIPE once no read end is left. An end
 * closes when its process closes the fd or is closed. `handle` is a number that other threads
 * (sharing the filesystem through initObj()) pass to attachPipe while the pipe is held.
 */
export class Pipe {
	/** @type {CoreProcess | null} the host process holding the pipe, null once released */
	#owner;

	/** Use wasi.pipe(). @param {CoreProcess} owner */
	constructor(owner) {
		const handle = owner.exports.wasi_wasm_pipe_new() >>> 0;
		if (!handle) throw new WasiError(ERRNO.ENOSPC, 'pipe'); // no room for its ring under limits.maxFsBytes
		this.#owner = owner;
		this.handle = handle;
	}

	get released() {
		return this.#owner === null;
	}

	/** Drops this thread's hold: the pipe is freed once no process holds an end. Idempotent.
	    Call it in the thread that made the pipe, after its ends are attached, before the Wasi
	    that made it (and all on its memory in this thread) is closed. */
	release() {
		const owner = this.#owner;
		if (owner === null) return;
		if (!owner.attached) throw new Error('the Wasi that made this pipe is closed: release pipes before it');
		this.#owner = null;
		owner.exports.wasi_wasm_pipe_release(this.handle);
	}
}
