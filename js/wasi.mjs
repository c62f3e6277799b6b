// @ts-check
/* wasi.mjs: the JS loader of wasi.wasm, a WASI preview 1 implementation that is itself a
   WebAssembly module ("the core"). Plain ES module, no dependencies, for browsers (pages,
   Workers, Worklets) and Node.

   The whole filesystem lives in one shared WebAssembly.Memory. Every program ("process") gets
   its own instance of the core on that memory, with its own fd table, args, env and stdio.
   Programs in one thread share it through copyForRebinding(); other threads through
   initObj() + startWasi(), which carries the memory only where it can cross threads
   (Node, or a cross-origin isolated page).

   The core's ABI (exports, host hooks, hook table slots) is described in docs/DESIGN.md;
   the API of this module in docs/JS.md. This file is the entry of the sources in js/:
   tools/bundle.py joins them into the shipped single-file wasi.mjs and wasi-bundled.mjs. */

import {DEFAULT_LIMITS, LIMIT_RANGES, STDIO_MODE} from './abi.mjs';
import {getWasi, newCoreMemory} from './core.mjs';
import {InvalidExitStatus, MAX_EXIT_STATUS, WasiError, WasiExit, check, describe} from './errors.mjs';
import {WasiFileSystem, encodePath} from './fs.mjs';
import {ProcessGroup} from './group.mjs';
import {Pipe} from './pipe.mjs';
import {RESTORING, loadTar, saveTar, treeToTar} from './snapshot.mjs';
import {CLOCK_READERS, toBytes} from './platform.mjs';
import {CoreProcess} from './process.mjs';
import {outputSink} from './stdio.mjs';
/** @import {InitObject, Limits, Tree, WasiOptions} from './types.mjs' */

export {DEFAULT_LIMITS} from './abi.mjs';
export {multiMemorySupported} from './bridge.mjs';
export {getWasi} from './core.mjs';
export {InvalidExitStatus, WasiError, WasiExit} from './errors.mjs';
export {WasiStat} from './fs.mjs';
export {Pipe} from './pipe.mjs';
export {ArchiveError, UnsafeArchiveError} from './snapshot.mjs';
export {Symlink} from './symlink.mjs';
export {StdinFeed} from './stdin.mjs';
export {lineOutput} from './stdio.mjs';

const WASI_MODULE = 'wasi_snapshot_preview1';

/** WasiOptions after checkOptions(): limits complete, or null to leave them as they are.
    @typedef {Omit<WasiOptions, 'limits'> & {limits: Limits | null}} CheckedOptions */

// ------------------------------------------------------------------------------------------
// Limits (as the Python host's wasi_wasm.Limits): maxFsBytes, maxPath, maxName and
// maxSymlinkFollows belong to the filesystem (every process on it sees them), maxFds to one
// process. A fresh filesystem gets the defaults; a process started on an existing one changes
// them only when given `limits`, and then keys left out take their defaults.

// LIMIT_RANGES (generated into js/abi.mjs) are the core's hard caps (its buffers are sized
// for them), 1 MiB at least for the filesystem (a fresh one with a few processes needs about
// 200 KiB) and the core memory's 4 GiB at most. maxFsBytes null: no limit but the memory's.

/** `limits` checked and completed with the defaults; null when not given. Throws a TypeError
    (not an object, an unknown key, a value that is not an integer) or a RangeError.
    @param {unknown} limits @returns {Limits | null} */
function checkLimits(limits) {
	if (limits === undefined || limits === null) return null;
	if (typeof limits !== 'object' || Array.isArray(limits)) {
		throw new TypeError(`limits must be an object such as {maxFds: 64}, not ${describe(limits)}`);
	}
	const names = /** @type {(keyof Limits)[]} */ (Object.keys(DEFAULT_LIMITS));
	const unknown = Object.keys(limits).filter(name => !Object.hasOwn(DEFAULT_LIMITS, name));
	if (unknown.length) {
		throw new TypeError(`unknown limit ${unknown.join(', ')}: the limits are ${names.join(', ')}`);
	}
	/** @type {Limits} */
	const checked = {...DEFAULT_LIMITS};
	for (const name of names) {
		const value = /** @type {Record<string, unknown>} */ (limits)[name];
		if (value === undefined) continue;
		if (value === null && name === 'maxFsBytes') {
			checked[name] = null;
			continue;
		}
		if (typeof value !== 'number' || !Number.isInteger(value)) {
			throw new TypeError(`limits.${name} must be an integer, not ${describe(value)}`);
		}
		const [low, high] = LIMIT_RANGES[name];
		if (value < low || value > high) {
			throw new RangeError(`limits.${name} must be between ${low} and ${high}, got ${value}`);
		}
		checked[name] = value;
	}
	return checked;
}
/** @param {string[]} strings */
function nulJoined(strings) {
	const parts = strings.map(text => toBytes(text));
	if (parts.some(part => part.includes(0))) throw new TypeError('an argument or environment entry contains a NUL byte');
	const blob = new Uint8Array(parts.reduce((total, part) => total + part.length + 1, 0));
	let offset = 0;
	for (const part of parts) {
		blob.set(part, offset);
		offset += part.length + 1;
	}
	return blob;
}
// ------------------------------------------------------------------------------------------
// Wasi

/** @type {Set<number>} processId of every open Wasi of this thread: never reaped */
const threadProcesses = new Set();
const PROCESS_OPTIONS = ['args', 'env', 'stdin', 'stdout', 'stderr', 'lineBuffered', 'preopens', 'bridge', 'limits', 'tty'];

/** startWasi's / copyForRebinding's options, checked before anything starts (an unknown name
    or a bad limit throws); `limits` completed with the defaults, or null when not given.
    @param {WasiOptions} options @returns {CheckedOptions} */
function checkOptions(options) {
	if (options === null || typeof options !== 'object') throw new TypeError(`options must be an object, not ${describe(options)}`);
	const unknown = Object.keys(options).filter(name => !PROCESS_OPTIONS.includes(name));
	if (unknown.length) {
		throw new TypeError(`unknown option ${unknown.join(', ')}: the options are ${PROCESS_OPTIONS.join(', ')}`);
	}
	return {...options, limits: checkLimits(options.limits)};
}

/** A new process on `group`'s filesystem.
    @param {ProcessGroup} group @param {CheckedOptions} options */
async function startProcess(group, options) {
	const core = await CoreProcess.start(group, {
		stdout: outputSink(options.stdout, 'log'),
		stderr: outputSink(options.stderr, 'error'),
		stdin: options.stdin,
	});
	return new Wasi(group, core, options);
}

/**
 * One WASI process on a shared in-memory filesystem. `importObj` supplies one other module's
 * wasi_snapshot_preview1 imports; bind that module's memory with bindToOtherMemory() (or let
 * start() do it). The filesystem API (writeFile, readFile, ...) comes from WasiFileSystem.
 */
export class Wasi extends WasiFileSystem {
	#group;
	#core; // this process's core instance
	#options;

	/** Use startWasi() or copyForRebinding(): sets the process up, closing it if that fails.
	    @param {ProcessGroup} group @param {CoreProcess} core @param {CheckedOptions} options */
	constructor(group, core, options) {
		super(group, core);
		this.#group = group;
		this.#core = core;
		this.#options = options;
		group.openProcesses += 1;
		this.importObj = {[WASI_MODULE]: core.wasiFunctions()};
		threadProcesses.add(this.processId);
		try {
			this.#setup(options);
		} catch (error) {
			this.close();
			throw error;
		}
	}

	/** @param {CheckedOptions} options */
	#setup({args = [], env = {}, preopens = {'/': '/'}, lineBuffered: lineMode = true, limits, tty = []}) {
		const exports = this.#core.exports;
		if (!Array.isArray(tty) || !tty.every(fd => fd === 0 || fd === 1 || fd === 2)) {
			throw new TypeError(`tty must be an array of stdio fds (0, 1, 2), not ${describe(tty)}`);
		}
		if (tty.length) check(exports.wasi_wasm_set_tty(tty.reduce((/** @type {number} */ mask, fd) => mask | (1 << fd), 0)), 'tty');
		if (typeof args === 'string') throw new TypeError('args must be an array of strings, not one string');
		if (limits) this.#core.setLimits(limits);
		check(this.#core.callWithBytes('wasi_wasm_set_args', nulJoined([...args])), 'wasi_wasm_set_args');
		const entries = Object.entries(env).map(([key, value]) => `${key}=${value}`);
		check(this.#core.callWithBytes('wasi_wasm_set_env', nulJoined(entries)), 'wasi_wasm_set_env');
		exports.wasi_wasm_set_stdio_mode(lineMode ? STDIO_MODE.AT_NEWLINE : STDIO_MODE.AT_THRESHOLD);
		for (const [guestName, vfsPath] of Object.entries(preopens)) {
			encodePath(vfsPath); // a string, absolute
			this.#core.preopen(vfsPath, guestName); // the core creates missing directories
		}
	}

	// -- wiring a guest ----------------------------------------------------------------------

	/** Makes `memory` the program memory this process's WASI calls read and write.
	    `bridge`: true/false forces the multi-memory bridge or the JS copy functions.
	    @param {WebAssembly.Memory} memory @param {{bridge?: boolean}} [options] */
	bindToOtherMemory(memory, {bridge = this.#options.bridge} = {}) {
		this.#checkOpen();
		this.#core.bind(memory, bridge);
	}

	/** Whether the bound memory is reached through the multi-memory bridge (null: unbound). */
	get usesBridge() {
		return this.#core.usesBridge;
	}

	/** Binds the instance's exported memory, runs `_start` and returns the exit code.
	    @param {WebAssembly.Instance} instance @returns {number} */
	start(instance) {
		this.#checkOpen();
		const entry = instance.exports._start;
		if (typeof entry !== 'function') {
			throw new TypeError("the program has no '_start' function (a WASI reactor? use initialize() and invoke())");
		}
		this.#bindExportedMemory(instance);
		const code = this.#call(entry, []).exitCode ?? 0;
		// A host process reports only the low 8 bits of a status: 256 would read as success.
		if (code > MAX_EXIT_STATUS) throw new InvalidExitStatus(code);
		return code;
	}

	/** For a WASI reactor: binds the instance's exported memory and runs `_initialize` (if it
	    has one), as wasmtime does before it calls a reactor's export. Call its exports with
	    invoke() afterwards. A `proc_exit` during it throws WasiExit.
	    @param {WebAssembly.Instance} instance */
	initialize(instance) {
		this.#checkOpen();
		if (typeof instance.exports._start === 'function' && typeof instance.exports._initialize !== 'function') {
			throw new TypeError('the program is a WASI command (it has _start): run it with start()');
		}
		this.#bindExportedMemory(instance);
		const init = instance.exports._initialize;
		if (typeof init === 'function') this.#exitToError(this.#call(init, []).exitCode);
	}

	/** Calls export `name` of an instance that initialize() (or start()) bound, with `args`,
	    and returns its result. stdout and stderr are flushed after it; a `proc_exit` inside
	    throws WasiExit, a trap is re-thrown, and the process can be invoked again after either.
	    @param {WebAssembly.Instance} instance @param {string} name @param {...unknown} args
	    @returns {unknown} */
	invoke(instance, name, ...args) {
		this.#checkOpen();
		const exported = instance.exports[name];
		if (typeof exported !== 'function') throw new TypeError(`the program exports no function named ${describe(name)}`);
		this.#bindExportedMemory(instance);
		const {result, exitCode} = this.#call(/** @type {Function} */ (exported), args);
		this.#exitToError(exitCode);
		return result;
	}

	/** @param {WebAssembly.Instance} instance */
	#bindExportedMemory(instance) {
		const {memory} = instance.exports;
		if (memory instanceof WebAssembly.Memory) {
			if (memory !== this.#core.guestMemory) this.bindToOtherMemory(memory);
		} else if (!this.#core.guestMemory) {
			throw new TypeError("the program does not export its memory as 'memory'");
		}
	}

	/** Runs `entry(...args)` in the program: after it returns, exits (our own exit hook's
	    WasiExit) or traps, the core is recovered and stdio flushed; a trap is re-thrown.
	    @param {Function} entry @param {unknown[]} args
	    @returns {{result: unknown, exitCode: number | null}} */
	#call(entry, args) {
		const core = this.#core;
		core.exitCode = null;
		let result;
		try {
			result = entry(...args);
		} catch (error) {
			// Only our own exit hook's WasiExit is an exit (not one from some other Wasi).
			if (!(error instanceof WasiExit) || core.exitCode === null) {
				core.recover();
				this.#flushQuietly();
				throw error;
			}
		}
		core.recover();
		this.flush();
		return {result, exitCode: core.exitCode};
	}

	/** @param {number | null} exitCode */
	#exitToError(exitCode) {
		if (exitCode === null) return;
		if (exitCode > MAX_EXIT_STATUS) throw new InvalidExitStatus(exitCode);
		throw new WasiExit(exitCode);
	}

	#flushQuietly() {
		try {
			this.flush();
		} catch {
			// the error that ended the program is the one to report
		}
	}

	/** Delivers buffered stdout/stderr now; re-throws an exception of an output callback. */
	flush() {
		this.#checkOpen();
		const core = this.#core;
		core.exports.wasi_wasm_flush();
		for (const sink of [core.stdout, core.stderr]) sink?.flush?.(); // lineOutput's last line
		const error = core.deferredError;
		core.deferredError = null;
		if (error) throw error;
	}

	// -- pipes -------------------------------------------------------------------------------

	/** A new pipe (a 64 KiB ring) in the shared memory, held by this thread until
	    `pipe.release()`. Connect processes with attachPipe(), in this thread or others. */
	pipe() {
		return new Pipe(this.#host());
	}

	/** Makes this process's `fd` one end of `pipe` (a Pipe, or its `handle` sent from another
	    thread while the pipe is not released), replacing what the fd was: e.g. 0 with
	    writeEnd false (stdin reads from the pipe), 1 with writeEnd true (stdout writes into it).
	    Attach both ends before either program starts: a reader sees end-of-file while no
	    writer is attached, a writer gets EPIPE while no reader is.
	    @param {Pipe | number} pipe @param {number} fd @param {{writeEnd?: boolean}} [options] */
	attachPipe(pipe, fd, {writeEnd} = {}) {
		this.#checkOpen();
		/** @type {unknown} */
		let handle = pipe;
		if (pipe instanceof Pipe) {
			if (pipe.released) throw new Error('this pipe was released: attach its ends before releasing it');
			handle = pipe.handle;
		}
		if (typeof handle !== 'number' || !Number.isInteger(handle) || handle <= 0 || handle >= 2 ** 32) {
			throw new TypeError(`attachPipe needs a Pipe or a pipe's handle, not ${describe(pipe)}`);
		}
		if (!Number.isInteger(fd) || fd < 0 || fd >= 2 ** 32) throw new TypeError(`attachPipe needs an fd number, not ${describe(fd)}`);
		if (typeof writeEnd !== 'boolean') throw new TypeError('attachPipe needs {writeEnd: true} (writes go into the pipe) or {writeEnd: false} (reads come from it)');
		check(this.#core.exports.wasi_wasm_pipe_attach(handle, fd, writeEnd ? 1 : 0), 'attachPipe');
	}

	// -- snapshots (js/snapshot.mjs) ----------------------------------------------------------

	/** The tree at `path` (a directory, default the root) as a pax tar archive, the same
	    format as the Python host's save_tar: kinds, ns times, symlinks, hard links and holes
	    kept. Taken at one moment: the filesystem is frozen while it is walked (programs in
	    other threads wait at their next filesystem call). Members are named below `path`.
	    @param {string} [path] @returns {Uint8Array} */
	saveTar(path = '/') {
		this.#checkOpen();
		return saveTar(this, () => this.#coreAccess(), path);
	}

	/** Restores a tar archive (a Python host's save_tar, saveTar, GNU tar, ...) into `path`
	    (default the root; created when missing; an existing directory gets the archive's
	    entries, none of which may be there yet). All or nothing: a hostile member
	    (UnsafeArchiveError), an unreadable archive (ArchiveError) or a full filesystem
	    (WasiError ENOSPC) leaves the filesystem as it was.
	    @param {ArrayBufferLike | ArrayBufferView} archive @param {string} [path] */
	loadTar(archive, path = '/') {
		this.#checkOpen();
		loadTar(this, () => this.#coreAccess(), archive, path);
	}

	/** Writes a nested tree below directory `path` (created when missing, with its parents):
	    `{dir: {file: 'text', data: bytes, sub: {}, link: new Symlink('file')}}`, where a
	    string or bytes is a file, a plain object a directory (empty: an empty directory), a
	    Symlink a symlink. All or nothing: a bad name or value throws before anything is
	    written, and a failure on the way (an entry at the top that exists already: EEXIST;
	    no room: ENOSPC) throws a WasiError naming the path and leaves nothing behind.
	    @param {string} path @param {Tree} tree */
	writeTree(path, tree) {
		this.#checkOpen();
		encodePath(path);
		const archive = treeToTar(path, tree, CLOCK_READERS[0]());
		const parent = path.replace(/\/+$/, '').replace(/\/[^/]*$/, '') || '/';
		if (parent !== '/' && !this.exists(parent)) this.mkdir(parent, {recursive: true});
		try {
			loadTar(this, () => this.#coreAccess(), archive, path);
		} catch (error) {
			if (!(error instanceof WasiError) || error.path === undefined) throw error;
			const where = error.syscall.endsWith(RESTORING) ? `${path.replace(/\/+$/, '')}/${error.path}` : error.path;
			throw new WasiError(error.errno, 'writeTree', where);
		}
	}

	#coreAccess() {
		return {host: this.#host(), root: this.#group.hostRoot};
	}

	// -- more processes ----------------------------------------------------------------------

	/** A new Wasi on the same memory (same filesystem) for another module in this thread, with
	    its own fd table. Options as startWasi's; bridge, stdout and stderr default to this one's.
	    @param {WasiOptions} [options] @returns {Promise<Wasi>} */
	async copyForRebinding(options = {}) {
		this.#checkOpen();
		const inherited = {bridge: this.#options.bridge, stdout: this.#options.stdout, stderr: this.#options.stderr};
		const checked = checkOptions(options);
		return startProcess(this.#group, {...inherited, ...checked});
	}

	/** What another thread passes to startWasi() to share this filesystem: structured-cloneable;
	    it carries the memory only where the memory can cross threads (Node, isolated pages). */
	initObj() {
		return this.#group.initObj();
	}

	get memory() { return this.#group.memory; }
	get module() { return this.#group.module; }
	get closed() { return !this.#core.attached; }

	/** This process's number, for reapProcess() on another thread: a Worker passes it to
	    the page that may terminate it. */
	get processId() {
		this.#checkOpen();
		return this.#core.exports.wasi_wasm_process_id() >>> 0;
	}

	/** After worker.terminate(): ends the process numbered id, whose thread is gone, with the
	    other processes of its thread group (the Wasis that share its filesystem API: its
	    copyForRebinding copies, and the internal host process that API runs on, whose number
	    the page never learns), releasing the filesystem locks they held (else the next
	    filesystem call of any thread that needs them would wait for ever) and freeing them,
	    with the buffers, new files and pipes they held. Only for processes that will never
	    run again. Returns {heldLock, fsckProblems}: a process stopped inside a filesystem
	    call held a lock and may have left that call half done, and fsckProblems (0 =
	    healthy) says whether it did. Throws a RangeError for an id that names no live
	    process (one reaped with its group already, too) or one of this thread's.
	    @param {number} id @returns {{heldLock: boolean, fsckProblems: number}} */
	reapProcess(id) {
		if (!Number.isInteger(id) || id < 0 || id > 0xFFFFFFFF) {
			throw new TypeError(`reapProcess: the id must be a process number from processId, not ${describe(id)}`);
		}
		if (threadProcesses.has(id)) throw new RangeError(`reapProcess: ${id} is a process of this thread: close() its Wasi instead`);
		const result = this.#host().exports.wasi_wasm_reap_group(id);
		if (result < 0) throw new RangeError(`reapProcess: ${id} is no live process of another thread`);
		return {heldLock: result === 1, fsckProblems: result === 1 ? this.fsck() : 0};
	}

	/** Closes this process's fds and frees its fd table and stack. Idempotent. */
	close() {
		if (this.closed) return;
		threadProcesses.delete(this.#core.exports.wasi_wasm_process_id() >>> 0);
		try {
			this.#core.detach();
		} finally {
			this.#group.release();
		}
	}

	#checkOpen() {
		this.#core.checkAttached();
	}

	/** The group's host process, once this Wasi is checked open. */
	#host() {
		return this.#group.hostFor(this.#core);
	}
}

/**
 * Starts a WASI process: on a fresh filesystem, or on `initObj`'s memory if it has one (an
 * initObj() from another thread). Options: args (the whole argv), env ({NAME: value}),
 * stdin (bytes or (maxBytes) => bytes|null), stdout/stderr (callbacks receiving Uint8Array;
 * default: console, line by line; null: discard), lineBuffered (deliver output at each
 * newline, default true; false: in chunks), preopens ({guestName: vfsDirectory}, default
 * {"/": "/"}; missing directories are created), bridge (true/false: force the multi-memory
 * bridge or the JS copy functions), limits ({maxFsBytes, maxFds, maxPath, maxName,
 * maxSymlinkFollows}: see DEFAULT_LIMITS; a fresh filesystem gets the defaults, an existing
 * one keeps its limits unless given; maxFds is this process's), tty (the stdio fds, of 0, 1
 * and 2, that say they are terminals: character devices, so isatty() is 1; in Node, e.g.
 * [0, 1, 2].filter(fd => require('node:tty').isatty(fd))).
 * @param {InitObject | BufferSource | null} [initObj]
 * @param {WasiOptions} [options]
 * @returns {Promise<Wasi>}
 */
export async function startWasi(initObj, options = {}) {
	const checked = checkOptions(options);
	const init = await getWasi(initObj);
	if (!init.memory) checked.limits ??= {...DEFAULT_LIMITS}; // a fresh filesystem
	const memory = init.memory ?? newCoreMemory(init);
	const group = new ProcessGroup(init, memory);
	await group.startHost();
	try {
		return await startProcess(group, checked);
	} catch (error) {
		group.closeIfUnused(); // on a shared memory, the host process would stay behind
		throw error;
	}
}
