// @ts-check
/* What the Wasi objects of one thread on one memory share: the compiled core, the memory,
   and the internal host process behind the filesystem API. */

import {multiMemorySupported} from './bridge.mjs';
import {memoryCrossesThreads, threadMayBlock} from './platform.mjs';
import {CoreProcess} from './process.mjs';
/** @import {InitObject} from './types.mjs' */

export class ProcessGroup {
	/** @param {InitObject} init @param {WebAssembly.Memory} memory */
	constructor(init, memory) {
		this.module = init.module;
		this.memoryPages = init.memoryPages;
		this.memory = memory;
		this.canBlock = threadMayBlock();
		/** @type {CoreProcess | null} the internal process behind the filesystem API */
		this.host = null;
		this.hostRoot = -1;
		this.openProcesses = 0;
		/** The core's thread group of this thread's processes (wasi_wasm_thread_group): set by the first. */
		this.threadGroup = 0;
	}

	/** The internal "host process": its guest memory is the core memory itself, so a guest
	    pointer is simply a scratch buffer, and the fs API calls the core's own WASI functions
	    with the VFS root preopened. Created eagerly: instantiation is asynchronous in browsers,
	    and the fs API is not. */
	async startHost() {
		const host = await CoreProcess.start(this, {});
		try {
			host.keepScratch();
			host.bind(this.memory, multiMemorySupported());
			this.hostRoot = host.preopen('/', '/');
		} catch (error) {
			host.detach();
			throw error;
		}
		this.host = host;
	}

	/** The host process, for the filesystem API and pipes of `caller`'s Wasi: throws once
	    that Wasi is closed (its process detached).
	    @param {CoreProcess} caller */
	hostFor(caller) {
		caller.checkAttached();
		return /** @type {CoreProcess} */ (this.host); // set while any process of the group is open
	}

	release() {
		this.openProcesses -= 1;
		this.closeIfUnused();
	}

	/** The last process out detaches the host process too. */
	closeIfUnused() {
		if (this.openProcesses === 0 && this.host) {
			this.host.detach();
			this.host = null;
		}
	}

	/** @returns {InitObject} */
	initObj() {
		/** @type {InitObject} */
		const init = {module: this.module, memoryPages: {...this.memoryPages}, shared: false};
		if (memoryCrossesThreads()) {
			init.memory = this.memory;
			init.shared = true;
		}
		return init;
	}
}
