// @ts-check
/* One instance of the core: one process (its own fd table, args, env, stdio and shadow stack)
   on the shared filesystem, and the host hooks it calls. */

import {DEFAULT_LIMITS, ERRNO, Hook, WASI_FUNCTIONS} from './abi.mjs';
import {bridgeFunctions, multiMemorySupported} from './bridge.mjs';
import {WasiError, WasiExit, check} from './errors.mjs';
import {lazyHooks} from './lazy.mjs';
import {CLOCK_READERS, clockResolutions, encodeUtf8, fillRandom, toBytes} from './platform.mjs';
import {inputSource} from './stdio.mjs';
/** @import {CoreFunctions, CoreHooks} from './abi.mjs' */
/** @import {OutputSink} from './stdio.mjs' */
/** @import {Limits, StdinSource} from './types.mjs' */

const PAGE_BYTES = 65536;

// Scratch buffers count against limits.maxFsBytes: when the filesystem is (nearly) full, the
// fs API moves data in small chunks through a buffer its host process keeps from the start,
// so that reading, listing and removing files (to free space) keep working.
export const SMALL_CHUNK_BYTES = 1 << 14;
const KEPT_SCRATCH_BYTES = 24 << 10; // a small chunk or a readlink buffer, with a longest path
/** What tryScratch() returns when it cannot allocate the buffer. */
export const NO_ROOM = Symbol('no room for a scratch buffer');

/** `raw` with each function wrapped for the host's own calls: one that throws (a trap inside
    the core, a hook's exception) left the core where it stopped, perhaps holding the
    filesystem lock, which the host's next call (a `finally` freeing its buffer, a catch
    dropping its new file) would wait for for ever. The process is recovered first
    (wasi_wasm_recover, as after a program's trap), then the exception goes on.
    @param {CoreExports} raw @returns {CoreExports} */
function recoveringExports(raw) {
	const recover = raw.wasi_wasm_recover;
	/** @type {Record<string, unknown>} */
	const wrapped = {};
	for (const [name, value] of Object.entries(raw)) {
		if (typeof value !== 'function' || name === 'wasi_wasm_recover') {
			wrapped[name] = value;
			continue;
		}
		const call = /** @type {(...args: unknown[]) => unknown} */ (value);
		wrapped[name] = (/** @type {unknown[]} */ ...args) => {
			try {
				return call(...args);
			} catch (error) {
				try {
					recover();
				} catch (failure) {
					throw new AggregateError([error, failure], `the core stopped in ${name} and could not be recovered`, {cause: failure});
				}
				throw error;
			}
		};
	}
	return /** @type {CoreExports} */ (/** @type {unknown} */ (wrapped));
}

/** @typedef {CoreFunctions & {__indirect_function_table: WebAssembly.Table}} CoreExports */

/** What a process needs of the filesystem it joins (a ProcessGroup).
    threadGroup: the core's thread group of the thread's processes (0 until its first attaches).
    @typedef {{module: WebAssembly.Module, memory: WebAssembly.Memory, canBlock: boolean, threadGroup: number}} Filesystem */

/** @typedef {{stdout?: OutputSink | null, stderr?: OutputSink | null, stdin?: StdinSource | null}} Stdio */


export class CoreProcess {
	/** Instantiates the core on `filesystem`'s memory and attaches it (own fd table and stack).
	    @param {Filesystem} filesystem @param {Stdio} [stdio] */
	static async start(filesystem, stdio) {
		const core = new CoreProcess(filesystem, stdio);
		const instance = await WebAssembly.instantiate(filesystem.module, core.#imports());
		core.#wire(instance);
		return core;
	}

	/** @type {WebAssembly.Memory | null} the program's memory, once bound */
	guestMemory = null;
	/** @type {boolean | null} whether the bound memory is reached through the bridge */
	usesBridge = null;
	/** @type {number | null} the status the program exited with, while it unwinds */
	exitCode = null;
	/** @type {unknown} an exception of an output callback, re-thrown by flush() */
	deferredError = null;
	/** @type {CoreExports} set once instantiated: the host's calls, each recovering the
	    process when it stops inside the core (recoveringExports) */
	exports;
	/** @type {CoreExports} the instance's own exports, for the program's WASI imports */
	#rawExports;
	/** @type {WebAssembly.Table} */
	#table;
	/** @type {number[]} the table slot of each hook */
	#hookSlots = [];
	/** @type {unknown[]} the core's own imports in those slots: the copy hooks without the bridge */
	#fallbackHooks = [];

	/** @param {Filesystem} filesystem @param {Stdio} [stdio] */
	constructor(filesystem, {stdout = null, stderr = null, stdin = undefined} = {}) {
		this.filesystem = filesystem;
		this.memory = filesystem.memory;
		this.stdout = stdout;
		this.stderr = stderr;
		this.readStdin = inputSource(stdin);
		this.attached = false;
		this.keptScratch = 0; // keepScratch()'s buffer
		this.keptScratchBusy = false;
	}

	/** A view of `length` bytes of the core memory at `offset`.
	    @param {number} offset @param {number} length */
	coreBytes(offset, length) {
		return new Uint8Array(this.memory.buffer, offset >>> 0, length >>> 0);
	}

	coreView() {
		return new DataView(this.memory.buffer);
	}

	#imports() {
		const resolutions = clockResolutions();
		/** @param {number} pointer @param {bigint} value */
		const writeU64 = (pointer, value) => this.coreView().setBigUint64(pointer >>> 0, value, true);
		/** @type {CoreHooks['clock_time_get']} */
		const clockTimeGet = (id, _precision, out) => {
			const read = CLOCK_READERS[id];
			if (!read) return ERRNO.EINVAL;
			writeU64(out, read());
			return ERRNO.SUCCESS;
		};
		// The copy hooks below are the fallback for engines without multi-memory. They are the
		// core's own imports, so they sit in its table from instantiation on: the bridge path
		// replaces them with table.set, and binding without the bridge puts them back.
		/** @type {CoreHooks & {memory: WebAssembly.Memory}} */
		const env = {
			memory: this.memory,
			copy_in: (coreDst, guestSrc, length) => {
				if (!this.guestMemory || !length) return;
				this.coreBytes(coreDst, length).set(new Uint8Array(this.guestMemory.buffer, guestSrc >>> 0, length >>> 0));
			},
			copy_out: (guestDst, coreSrc, length) => {
				if (!this.guestMemory || !length) return;
				new Uint8Array(this.guestMemory.buffer, guestDst >>> 0, length >>> 0).set(this.coreBytes(coreSrc, length));
			},
			// 0 while unbound: the core then rejects every guest pointer, so no copy runs.
			guest_pages: () => (this.guestMemory ? this.guestMemory.buffer.byteLength / PAGE_BYTES : 0),
			output: (fd, pointer, length) => {
				const sink = fd === 1 ? this.stdout : fd === 2 ? this.stderr : null;
				if (!sink || this.deferredError) return;
				// A copy: the callback may keep it, and views of shared memory are not plain bytes.
				const bytes = this.coreBytes(pointer, length).slice();
				try {
					sink(bytes);
				} catch (error) {
					// Never unwind through the core: it might hold its filesystem lock.
					this.deferredError = error;
				}
			},
			input: (pointer, length) => {
				let chunk;
				try {
					chunk = toBytes(this.readStdin(length >>> 0));
				} catch (error) {
					this.deferredError ??= error;
					return -ERRNO.EIO;
				}
				const count = Math.min(chunk.length, length >>> 0);
				this.coreBytes(pointer, count).set(chunk.subarray(0, count));
				return count;
			},
			clock_time_get: clockTimeGet,
			cpu_clock_time_get: clockTimeGet,
			clock_res_get: (id, out) => {
				if (!(id >= 0 && id < resolutions.length)) return ERRNO.EINVAL;
				writeU64(out, resolutions[id]);
				return ERRNO.SUCCESS;
			},
			random_get: (pointer, length) => {
				fillRandom(this.coreBytes(pointer, length));
				return ERRNO.SUCCESS;
			},
			exit: code => {
				// The core calls this with no lock held and stdio flushed: unwinding is safe.
				this.exitCode = code >>> 0;
				throw new WasiExit(this.exitCode);
			},
			// Lazy mounts (js/lazy.mjs): this thread's mounts on this memory serve them.
			...lazyHooks(this.memory),
		};
		return {env};
	}

	/** @param {WebAssembly.Instance} instance */
	#wire(instance) {
		this.#rawExports = /** @type {CoreExports} */ (/** @type {unknown} */ (instance.exports));
		this.exports = recoveringExports(this.#rawExports);
		this.#table = this.exports.__indirect_function_table;
		this.#hookSlots = Object.values(Hook).map(hook => this.exports.wasi_wasm_hook_index(hook));
		this.#fallbackHooks = this.#hookSlots.map(slot => this.#table.get(slot));
		const errno = this.exports.wasi_wasm_attach(this.filesystem.canBlock ? 1 : 0);
		if (errno !== ERRNO.SUCCESS) throw new WasiError(errno, 'wasi_wasm_attach');
		this.attached = true;
		// One thread runs one process at a time: while every process of the filesystem is in
		// this thread's group, directory changes need not let other threads in.
		this.filesystem.threadGroup = this.exports.wasi_wasm_thread_group(this.filesystem.threadGroup) >>> 0;
	}

	/** Routes the copy hooks to `memory`; returns whether the multi-memory bridge is used.
	    @param {unknown} memory @param {boolean | undefined} bridge true/false: force it or not */
	bind(memory, bridge) {
		if (!(memory instanceof WebAssembly.Memory)) throw new TypeError('bindToOtherMemory needs a WebAssembly.Memory');
		const useBridge = bridge ?? multiMemorySupported();
		if (useBridge && !multiMemorySupported()) {
			throw new Error('this engine has no multi-memory, so the bridge cannot be used (bridge: false)');
		}
		const copyHooks = [Hook.COPY_IN, Hook.COPY_OUT, Hook.GUEST_PAGES];
		// Nothing changes until the bridge is built: a memory it cannot import leaves the old binding.
		const functions = useBridge ? bridgeFunctions(this.memory, memory) : copyHooks.map(hook => this.#fallbackHooks[hook]);
		this.guestMemory = memory;
		copyHooks.forEach((hook, i) => this.#table.set(this.#hookSlots[hook], functions[i]));
		this.usesBridge = useBridge;
		return useBridge;
	}

	/** The core's WASI functions, for a program's wasi_snapshot_preview1 imports. */
	wasiFunctions() {
		/** @type {Record<string, Function>} */
		const functions = {};
		// The instance's own: a program's trap is recovered by the run (Wasi's #call), and a
		// wrapper would cost every syscall a JS call.
		const exports = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (this.#rawExports));
		for (const name of WASI_FUNCTIONS) {
			const exported = exports[name];
			if (typeof exported === 'function') functions[name] = exported;
		}
		return functions;
	}

	/** A scratch buffer in core memory for the duration of `use(pointer)`.
	    @template T @param {number} size @param {(pointer: number) => T} use @returns {T} */
	withScratch(size, use) {
		const result = this.tryScratch(size, use);
		if (result === NO_ROOM) throw new RangeError(`the core could not allocate ${size} bytes (limits.maxFsBytes)`);
		return result;
	}

	/** withScratch, or NO_ROOM (without calling `use`) when the buffer cannot be allocated.
	    @template T @param {number} size @param {(pointer: number) => T} use @returns {T | NO_ROOM} */
	tryScratch(size, use) {
		if (this.keptScratch && !this.keptScratchBusy && size <= KEPT_SCRATCH_BYTES) {
			this.keptScratchBusy = true;
			try {
				return use(this.keptScratch);
			} finally {
				this.keptScratchBusy = false;
			}
		}
		const pointer = this.exports.wasi_wasm_alloc(Math.max(size, 1)) >>> 0;
		if (!pointer) return NO_ROOM;
		try {
			return use(pointer);
		} finally {
			this.exports.wasi_wasm_free(pointer);
		}
	}

	/** Keeps a scratch buffer for small requests from now on (the host process's). */
	keepScratch() {
		const pointer = this.exports.wasi_wasm_alloc(KEPT_SCRATCH_BYTES) >>> 0;
		if (!pointer) throw new WasiError(ERRNO.ENOMEM, 'wasi_wasm_alloc');
		this.keptScratch = pointer;
	}

	/** Calls export `name(pointer, length)` with `bytes` copied into a scratch buffer.
	    @param {'wasi_wasm_set_args' | 'wasi_wasm_set_env'} name @param {Uint8Array} bytes */
	callWithBytes(name, bytes) {
		return this.withScratch(bytes.length, pointer => {
			this.coreBytes(pointer, bytes.length).set(bytes);
			return this.exports[name](pointer, bytes.length);
		});
	}

	/** Opens VFS directory `vfsPath` as the next preopened fd, named `guestName` for the guest.
	    @param {string} vfsPath @param {string} guestName */
	preopen(vfsPath, guestName) {
		const vfs = encodeUtf8(vfsPath);
		const name = encodeUtf8(guestName);
		const fd = this.withScratch(vfs.length + name.length, pointer => {
			this.coreBytes(pointer, vfs.length).set(vfs);
			this.coreBytes(pointer + vfs.length, name.length).set(name);
			return this.exports.wasi_wasm_preopen(pointer, vfs.length, pointer + vfs.length, name.length);
		});
		if (fd < 0) throw new WasiError(-fd, 'preopen', vfsPath);
		return fd;
	}

	/** Sets the filesystem's limits (through this process: they are global) and this
	    process's fd limit, as checkLimits() completes them.
	    @param {Limits} limits */
	setLimits({maxFsBytes, maxFds, maxPath, maxName, maxSymlinkFollows}) {
		const errno = this.exports.wasi_wasm_set_limits(BigInt(maxFsBytes ?? 0), maxPath, maxName, maxSymlinkFollows);
		check(errno, 'wasi_wasm_set_limits');
		// A new process starts with the default fd limit: only a different one is sent.
		if (maxFds !== DEFAULT_LIMITS.maxFds) check(this.exports.wasi_wasm_set_max_fds(maxFds), 'wasi_wasm_set_max_fds');
	}

	/** After the program exited or trapped: rewind this instance's shadow stack (the unwound
	    core frames never popped it) and free the filesystem lock if a trap left it held. */
	recover() {
		return this.exports.wasi_wasm_recover();
	}

	/** Throws once detached: this is then the process of a closed Wasi. */
	checkAttached() {
		if (!this.attached) throw new Error('this Wasi is closed');
	}

	detach() {
		if (!this.attached) return;
		this.attached = false;
		if (this.keptScratch) this.exports.wasi_wasm_free(this.keptScratch);
		this.keptScratch = 0;
		this.exports.wasi_wasm_detach();
	}
}
