/* wasi.mjs: the JS loader of wasi.wasm, a WASI preview 1 implementation that is itself a
   WebAssembly module ("the core"). Plain ES module, no dependencies, for browsers (pages,
   Workers, Worklets) and Node.

   The whole filesystem lives in one shared WebAssembly.Memory. Every program ("process") gets
   its own instance of the core on that memory, with its own fd table, args, env and stdio.
   Programs in one thread share it through copyForRebinding(); other threads through
   initObj() + startWasi(), which carries the memory only where it can cross threads
   (Node, or a cross-origin isolated page).

   The core's ABI (exports, host hooks, hook table slots) is described in docs/DESIGN.md;
   the API of this module in docs/JS.md. */

const WASI_MODULE = 'wasi_snapshot_preview1';
const PAGE_BYTES = 65536;

// Every wasi_snapshot_preview1 function; the core exports each under its own name.
const WASI_FUNCTIONS = [
	'args_get', 'args_sizes_get', 'environ_get', 'environ_sizes_get', 'clock_res_get',
	'clock_time_get', 'fd_advise', 'fd_allocate', 'fd_close', 'fd_datasync', 'fd_fdstat_get',
	'fd_fdstat_set_flags', 'fd_fdstat_set_rights', 'fd_filestat_get', 'fd_filestat_set_size',
	'fd_filestat_set_times', 'fd_pread', 'fd_prestat_get', 'fd_prestat_dir_name', 'fd_pwrite',
	'fd_read', 'fd_readdir', 'fd_renumber', 'fd_seek', 'fd_sync', 'fd_tell', 'fd_write',
	'path_create_directory', 'path_filestat_get', 'path_filestat_set_times', 'path_link',
	'path_open', 'path_readlink', 'path_remove_directory', 'path_rename', 'path_symlink',
	'path_unlink_file', 'poll_oneoff', 'proc_exit', 'proc_raise', 'random_get', 'sched_yield',
	'sock_accept', 'sock_recv', 'sock_send', 'sock_shutdown',
];

// Hook numbers, as wasi_wasm_hook_index takes them (DESIGN.md, "Core ABI: host hooks").
const Hook = Object.freeze({
	COPY_IN: 0, COPY_OUT: 1, GUEST_PAGES: 2, OUTPUT: 3, INPUT: 4, CLOCK_TIME_GET: 5,
	CLOCK_RES_GET: 6, RANDOM_GET: 7, EXIT: 8, CPU_CLOCK_TIME_GET: 9,
});

// wasi_wasm_set_stdio_mode: when buffered stdout/stderr reach the output callbacks.
const STDIO_AT_NEWLINE = 1;
const STDIO_AT_THRESHOLD = 2;

// WASI errno numbers -> C names (index = number), for WasiError.code.
const ERRNO_NAMES = [
	'SUCCESS', 'E2BIG', 'EACCES', 'EADDRINUSE', 'EADDRNOTAVAIL', 'EAFNOSUPPORT', 'EAGAIN',
	'EALREADY', 'EBADF', 'EBADMSG', 'EBUSY', 'ECANCELED', 'ECHILD', 'ECONNABORTED',
	'ECONNREFUSED', 'ECONNRESET', 'EDEADLK', 'EDESTADDRREQ', 'EDOM', 'EDQUOT', 'EEXIST',
	'EFAULT', 'EFBIG', 'EHOSTUNREACH', 'EIDRM', 'EILSEQ', 'EINPROGRESS', 'EINTR', 'EINVAL',
	'EIO', 'EISCONN', 'EISDIR', 'ELOOP', 'EMFILE', 'EMLINK', 'EMSGSIZE', 'EMULTIHOP',
	'ENAMETOOLONG', 'ENETDOWN', 'ENETRESET', 'ENETUNREACH', 'ENFILE', 'ENOBUFS', 'ENODEV',
	'ENOENT', 'ENOEXEC', 'ENOLCK', 'ENOLINK', 'ENOMEM', 'ENOMSG', 'ENOPROTOOPT', 'ENOSPC',
	'ENOSYS', 'ENOTCONN', 'ENOTDIR', 'ENOTEMPTY', 'ENOTRECOVERABLE', 'ENOTSOCK', 'ENOTSUP',
	'ENOTTY', 'ENXIO', 'EOVERFLOW', 'EOWNERDEAD', 'EPERM', 'EPIPE', 'EPROTO',
	'EPROTONOSUPPORT', 'EPROTOTYPE', 'ERANGE', 'EROFS', 'ESPIPE', 'ESRCH', 'ESTALE',
	'ETIMEDOUT', 'ETXTBSY', 'EXDEV', 'ENOTCAPABLE',
];
const ERRNO = Object.freeze({
	SUCCESS: 0, EEXIST: 20, EINVAL: 28, EIO: 29, EISDIR: 31, ENOENT: 44, ENOMEM: 48, ENOSPC: 51,
	ENOTDIR: 54,
});

// path_open and friends (wasi_snapshot_preview1 flag and rights bits).
const LOOKUP_SYMLINK_FOLLOW = 1;
const OFLAG_CREAT = 1, OFLAG_DIRECTORY = 2, OFLAG_TRUNC = 8;
const RIGHT = {
	FD_READ: 1n << 1n, FD_SEEK: 1n << 2n, FD_TELL: 1n << 5n, FD_WRITE: 1n << 6n,
	FD_READDIR: 1n << 14n, FD_FILESTAT_GET: 1n << 21n, FD_FILESTAT_SET_SIZE: 1n << 22n,
};
const READ_RIGHTS = RIGHT.FD_READ | RIGHT.FD_SEEK | RIGHT.FD_TELL | RIGHT.FD_FILESTAT_GET;
const WRITE_RIGHTS = RIGHT.FD_WRITE | RIGHT.FD_SEEK | RIGHT.FD_TELL | RIGHT.FD_FILESTAT_GET
	| RIGHT.FD_FILESTAT_SET_SIZE;
// FD_READ too: the core (like libc's opendir) treats a directory opened without it as unreadable.
const READDIR_RIGHTS = RIGHT.FD_READ | RIGHT.FD_READDIR | RIGHT.FD_FILESTAT_GET;
const FILESTAT_BYTES = 64;
const DIRENT_HEADER_BYTES = 24;
const FILE_CHUNK_BYTES = 1 << 20; // bytes moved per fd_read / fd_write by the fs API
// Scratch buffers count against limits.maxFsBytes: when the filesystem is (nearly) full, the
// fs API moves data in small chunks through a buffer its host process keeps from the start,
// so that reading, listing and removing files (to free space) keep working.
const SMALL_CHUNK_BYTES = 1 << 14;
const KEPT_SCRATCH_BYTES = 24 << 10; // a small chunk or a readlink buffer, with a longest path
const NO_ROOM = Symbol('no room for a scratch buffer');
const FILETYPE_NAMES = [
	'unknown', 'block_device', 'character_device', 'directory', 'regular_file', 'socket_dgram',
	'socket_stream', 'symbolic_link',
];

const EMPTY_BYTES = new Uint8Array(0);

// ------------------------------------------------------------------------------------------
// Limits (as the Python host's wasi_wasm.Limits): maxFsBytes, maxPath, maxName and
// maxSymlinkFollows belong to the filesystem (every process on it sees them), maxFds to one
// process. A fresh filesystem gets the defaults; a process started on an existing one changes
// them only when given `limits`, and then keys left out take their defaults.

/** The defaults a fresh filesystem starts with (maxFds: every process's, unless given). */
export const DEFAULT_LIMITS = Object.freeze({
	maxFsBytes: 2 ** 30, // 1 GiB: file data, directories, names, each process's tables and stack
	maxFds: 1024, // per process, stdio and preopens included (EMFILE)
	maxPath: 4095, // bytes in a path or symlink expansion (ENAMETOOLONG), as Linux's PATH_MAX - 1
	maxName: 255, // bytes in one path component (ENAMETOOLONG)
	maxSymlinkFollows: 40, // symlinks followed resolving one path (ELOOP)
});
// The accepted ranges: the core's hard caps (its buffers are sized for them), and 1 MiB at
// least for the filesystem (a fresh one with a few processes needs about 200 KiB); the core
// memory's 4 GiB at most. maxFsBytes null: no limit but the memory's.
const LIMIT_RANGES = Object.freeze({
	maxFsBytes: [2 ** 20, 2 ** 32], maxFds: [3, 65536], maxPath: [1, 4096], maxName: [1, 255],
	maxSymlinkFollows: [1, 40],
});

/** `limits` checked and completed with the defaults; null when not given. Throws a TypeError
    (not an object, an unknown key, a value that is not an integer) or a RangeError. */
function checkLimits(limits) {
	if (limits === undefined || limits === null) return null;
	if (typeof limits !== 'object' || Array.isArray(limits)) {
		throw new TypeError(`limits must be an object such as {maxFds: 64}, not ${describe(limits)}`);
	}
	const names = Object.keys(DEFAULT_LIMITS);
	const unknown = Object.keys(limits).filter(name => !names.includes(name));
	if (unknown.length) {
		throw new TypeError(`unknown limit ${unknown.join(', ')}: the limits are ${names.join(', ')}`);
	}
	const checked = {...DEFAULT_LIMITS};
	for (const name of names) {
		const value = limits[name];
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

function describe(value) {
	if (value === null) return 'null';
	if (Array.isArray(value)) return 'an array';
	if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${value}`;
	if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
	return typeof value;
}

// ------------------------------------------------------------------------------------------
// Errors

/** Thrown by proc_exit (through the guest's frames); `code` is the exit status. */
export class WasiExit extends Error {
	constructor(code) {
		super(`WASI program exited with code ${code}`);
		this.name = 'WasiExit';
		this.code = code;
	}
}

/** A filesystem API call failed: `code` is the C errno name ("ENOENT"), `errno` the WASI number. */
export class WasiError extends Error {
	constructor(errno, syscall, path, dest) {
		const code = ERRNO_NAMES[errno] ?? `E?${errno}`;
		const where = path === undefined ? '' : dest === undefined ? ` '${path}'` : ` '${path}' -> '${dest}'`;
		super(`${code}: ${syscall}${where}`);
		this.name = 'WasiError';
		this.code = code;
		this.errno = errno;
		this.syscall = syscall;
		if (path !== undefined) this.path = path;
		if (dest !== undefined) this.dest = dest;
	}
}

function check(errno, syscall, path, dest) {
	if (errno !== ERRNO.SUCCESS) throw new WasiError(errno, syscall, path, dest);
}

// ------------------------------------------------------------------------------------------
// The environment we run in

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

function isSharedBuffer(buffer) {
	// Not `instanceof SharedArrayBuffer`: a page that is not cross-origin isolated has shared
	// wasm memories but no SharedArrayBuffer global.
	return Object.prototype.toString.call(buffer) === '[object SharedArrayBuffer]';
}

/** Whether a shared memory can be sent to another thread here (Node; an isolated page). */
function memoryCrossesThreads() {
	if (typeof globalThis.crossOriginIsolated === 'boolean') return globalThis.crossOriginIsolated;
	return typeof SharedArrayBuffer === 'function';
}

let threadMayBlockCache;
/** False on a browser's main thread, where Atomics.wait throws and memory.atomic.wait32 traps:
    the core must spin there instead of sleeping when it waits for its lock. */
function threadMayBlock() {
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

function encodeUtf8(text) {
	return nativeEncoder ? nativeEncoder.encode(text) : encodeUtf8Fallback(text);
}

/** Text of UTF-8 bytes; invalid sequences become U+FFFD, as with TextDecoder. */
function decodeUtf8(bytes) {
	// TextDecoder refuses views of shared memory (the core's), so those are copied first.
	if (isSharedBuffer(bytes.buffer)) bytes = bytes.slice();
	return nativeDecoder ? nativeDecoder.decode(bytes) : decodeUtf8Fallback(bytes);
}

function encodeUtf8Fallback(text) {
	const bytes = [];
	for (const character of text) {
		let point = character.codePointAt(0);
		if (point >= 0xd800 && point <= 0xdfff) point = 0xfffd; // a lone surrogate
		if (point < 0x80) bytes.push(point);
		else if (point < 0x800) bytes.push(0xc0 | point >> 6, 0x80 | point & 0x3f);
		else if (point < 0x10000) bytes.push(0xe0 | point >> 12, 0x80 | point >> 6 & 0x3f, 0x80 | point & 0x3f);
		else bytes.push(0xf0 | point >> 18, 0x80 | point >> 12 & 0x3f, 0x80 | point >> 6 & 0x3f, 0x80 | point & 0x3f);
	}
	return new Uint8Array(bytes);
}

/** The WHATWG UTF-8 decoder: each maximal invalid subsequence becomes one U+FFFD. */
function decodeUtf8Fallback(bytes) {
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

function concatBytes(parts) {
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
const hasHrtime = isNode && typeof process.hrtime?.bigint === 'function';

function millisToNanos(ms) {
	return BigInt(Math.round(ms * 1e6));
}

/** Realtime: the page's or process's time origin plus the monotonic clock (microseconds,
    where Date.now() has milliseconds). */
const realtimeNanos = hasPerformance && typeof performance.timeOrigin === 'number'
	? () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n
	: () => millisToNanos(Date.now());

const monotonicNanos = hasHrtime
	? () => process.hrtime.bigint()
	: hasPerformance ? () => millisToNanos(performance.now()) : () => millisToNanos(Date.now());

/** CPU time: Node measures it; a browser has no such clock, so elapsed time stands in. */
const processCpuNanos = isNode && typeof process.cpuUsage === 'function'
	? () => { const {user, system} = process.cpuUsage(); return BigInt(user + system) * 1000n; }
	: monotonicNanos;
const threadCpuNanos = isNode && typeof process.threadCpuUsage === 'function'
	? () => { const {user, system} = process.threadCpuUsage(); return BigInt(user + system) * 1000n; }
	: processCpuNanos;

const CLOCK_READERS = [realtimeNanos, monotonicNanos, processCpuNanos, threadCpuNanos];
function clockResolutions() {
	// performance.now() is coarsened to 5 µs in isolated pages and 100 µs otherwise.
	const timer = hasHrtime ? 1n : globalThis.crossOriginIsolated ? 5000n : 100000n;
	return [1000n, timer, 1000n, 1000n];
}

const getRandomValues = typeof crypto === 'object' && typeof crypto.getRandomValues === 'function'
	? piece => crypto.getRandomValues(piece)
	// An AudioWorklet has no crypto: Math.random is all there is (not for secrets).
	: piece => { for (let i = 0; i < piece.length; i++) piece[i] = Math.random() * 256; };

function fillRandom(target) {
	// getRandomValues refuses views of shared memory and more than 65536 bytes per call.
	const chunk = new Uint8Array(Math.min(target.length, 65536));
	for (let offset = 0; offset < target.length; offset += chunk.length) {
		const piece = chunk.subarray(0, Math.min(chunk.length, target.length - offset));
		getRandomValues(piece);
		target.set(piece, offset);
	}
}

// ------------------------------------------------------------------------------------------
// Loading wasi.wasm (tools/bundle.py replaces the marked block in wasi-bundled.mjs)

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
    must be created with them, and a compiled Module cannot tell them in every engine. */
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

async function compileInit(bytes) {
	const memoryPages = importedMemoryPages(bytes);
	return {module: await WebAssembly.compile(bytes), memoryPages, shared: false};
}

let defaultInit;

/**
 * Resolves to an init object: the compiled core module (and, once a Wasi made it and it can
 * cross threads, the shared memory). `source` may be an init object (returned as it is) or
 * the bytes of wasi.wasm; by default wasi.wasm next to this module is used, compiled once.
 */
export async function getWasi(source) {
	if (source?.module) return source;
	if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return compileInit(toBytes(source));
	if (!defaultInit) {
		defaultInit = loadCoreBytes().then(compileInit);
		defaultInit.catch(() => { defaultInit = undefined; }); // a failed fetch may be retried
	}
	return {...await defaultInit};
}

function newCoreMemory(init) {
	const pages = init.memoryPages;
	if (!pages) {
		throw new TypeError('this init object has no memoryPages: pass one that getWasi() or wasi.initObj() returned');
	}
	return new WebAssembly.Memory({initial: pages.initial, maximum: pages.maximum, shared: true});
}

// ------------------------------------------------------------------------------------------
// The multi-memory bridge: a tiny module assembled here, whose memory.copy functions go into
// a core instance's copy-hook slots, so a syscall never leaves wasm.

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

function wasmName(text) {
	const bytes = [...encodeUtf8(text)];
	return [...unsignedLeb(bytes.length), ...bytes];
}

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
	const body = code => [...unsignedLeb(code.length + 1), 0x00 /* no locals */, ...code];
	const getArgs = [0x20, 0, 0x20, 1, 0x20, 2];
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

const bridgeModules = new Map(); // guest shared flag -> compiled bridge
let multiMemoryCache;

/** Whether this engine has multi-memory (Node 24, Chrome 120+; not Node 20). */
export function multiMemorySupported() {
	multiMemoryCache ??= WebAssembly.validate(bridgeBytes(false));
	return multiMemoryCache;
}

function bridgeModule(guestShared) {
	let module = bridgeModules.get(guestShared);
	if (!module) {
		// Synchronous compilation is allowed even on a browser main thread for modules this small.
		module = new WebAssembly.Module(bridgeBytes(guestShared));
		bridgeModules.set(guestShared, module);
	}
	return module;
}

// ------------------------------------------------------------------------------------------
// Stdio

/**
 * A byte callback for stdout/stderr that calls `onLine(text)` once per complete line
 * (UTF-8 decoded, without the newline); `.flush()` delivers a last unterminated line.
 * `lineOutput(console.log)` reproduces the original wasi.wasm's console output.
 */
export function lineOutput(onLine) {
	let pending = []; // the bytes of the unfinished line
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

function toBytes(data) {
	if (typeof data === 'string') return encodeUtf8(data);
	if (data instanceof Uint8Array) return data;
	if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
	if (data instanceof ArrayBuffer || isSharedBuffer(data)) return new Uint8Array(data);
	throw new TypeError('expected a string, an ArrayBuffer or a typed array');
}

/** undefined: the original's console output, line by line; null: discarded; or a callback. */
function outputSink(target, consoleMethod) {
	if (target === undefined) return lineOutput(line => console[consoleMethod](line));
	if (target === null) return null;
	if (typeof target === 'function') return target;
	throw new TypeError('stdout/stderr must be a function receiving Uint8Array chunks, null or undefined');
}

/** stdin: bytes (string, ArrayBuffer, typed array) or a function (maxBytes) => bytes | null (EOF). */
function inputSource(stdin) {
	if (stdin === undefined || stdin === null) return () => EMPTY_BYTES;
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

// ------------------------------------------------------------------------------------------
// One core instance: one process on the shared filesystem

class CoreProcess {
	/** Instantiates the core on `group`'s memory and attaches it (own fd table and stack). */
	static async start(group, io) {
		const core = new CoreProcess(group, io);
		const instance = await WebAssembly.instantiate(group.module, core.#imports());
		core.#wire(instance);
		return core;
	}

	guestMemory = null;
	usesBridge = null;
	exitCode = null;
	deferredError = null; // an exception of an output callback, re-thrown by flush()

	constructor(group, {stdout = null, stderr = null, stdin = undefined} = {}) {
		this.group = group;
		this.memory = group.memory;
		this.stdout = stdout;
		this.stderr = stderr;
		this.readStdin = inputSource(stdin);
		this.exports = null;
		this.attached = false;
		this.keptScratch = 0; // keepScratch()'s buffer
		this.keptScratchBusy = false;
	}

	coreBytes(offset, length) {
		return new Uint8Array(this.memory.buffer, offset >>> 0, length >>> 0);
	}

	coreView() {
		return new DataView(this.memory.buffer);
	}

	#imports() {
		const resolutions = clockResolutions();
		const writeU64 = (pointer, value) => this.coreView().setBigUint64(pointer >>> 0, value, true);
		const clockTimeGet = (id, _precision, out) => {
			const read = CLOCK_READERS[id];
			if (!read) return ERRNO.EINVAL;
			writeU64(out, read());
			return ERRNO.SUCCESS;
		};
		// The copy hooks below are the fallback for engines without multi-memory. They are the
		// core's own imports, so they sit in its table from instantiation on: the bridge path
		// replaces them with table.set, and binding without the bridge puts them back.
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
		};
		return {env};
	}

	#wire(instance) {
		this.exports = instance.exports;
		this.table = instance.exports.__indirect_function_table;
		this.hookSlots = Object.values(Hook).map(hook => this.exports.wasi_wasm_hook_index(hook));
		this.fallbackHooks = this.hookSlots.map(slot => this.table.get(slot));
		const errno = this.exports.wasi_wasm_attach(this.group.canBlock ? 1 : 0);
		if (errno !== ERRNO.SUCCESS) throw new WasiError(errno, 'wasi_wasm_attach');
		this.attached = true;
	}

	/** Routes the copy hooks to `memory`; returns whether the multi-memory bridge is used. */
	bind(memory, bridge) {
		if (!(memory instanceof WebAssembly.Memory)) throw new TypeError('bindToOtherMemory needs a WebAssembly.Memory');
		const useBridge = bridge ?? multiMemorySupported();
		if (useBridge && !multiMemorySupported()) {
			throw new Error('this engine has no multi-memory, so the bridge cannot be used (bridge: false)');
		}
		const copyHooks = [Hook.COPY_IN, Hook.COPY_OUT, Hook.GUEST_PAGES];
		let functions = copyHooks.map(hook => this.fallbackHooks[hook]);
		if (useBridge) {
			const bridgeImports = {bridge: {core: this.memory, guest: memory}};
			const bridge = new WebAssembly.Instance(bridgeModule(isSharedBuffer(memory.buffer)), bridgeImports);
			functions = [bridge.exports.copy_in, bridge.exports.copy_out, bridge.exports.guest_pages];
		}
		// Nothing changes until the bridge is built: a memory it cannot import leaves the old binding.
		this.guestMemory = memory;
		copyHooks.forEach((hook, i) => this.table.set(this.hookSlots[hook], functions[i]));
		this.usesBridge = useBridge;
		return useBridge;
	}

	wasiFunctions() {
		const functions = {};
		for (const name of WASI_FUNCTIONS) {
			if (typeof this.exports[name] === 'function') functions[name] = this.exports[name];
		}
		return functions;
	}

	/** A scratch buffer in core memory for the duration of `use(pointer)`. */
	withScratch(size, use) {
		const result = this.tryScratch(size, use);
		if (result === NO_ROOM) throw new RangeError(`the core could not allocate ${size} bytes (limits.maxFsBytes)`);
		return result;
	}

	/** withScratch, or NO_ROOM (without calling `use`) when the buffer cannot be allocated. */
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

	/** Calls export `name(pointer, length)` with `bytes` copied into a scratch buffer. */
	callWithBytes(name, bytes) {
		return this.withScratch(bytes.length, pointer => {
			this.coreBytes(pointer, bytes.length).set(bytes);
			return this.exports[name](pointer, bytes.length);
		});
	}

	/** Opens VFS directory `vfsPath` as the next preopened fd, named `guestName` for the guest. */
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
	    process's fd limit, from checkLimits()'s result. */
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

	detach() {
		if (!this.attached) return;
		this.attached = false;
		if (this.keptScratch) this.exports.wasi_wasm_free(this.keptScratch);
		this.keptScratch = 0;
		this.exports.wasi_wasm_detach();
	}
}

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
// What the Wasi objects of one thread on one memory share

class ProcessGroup {
	constructor(init, memory) {
		this.module = init.module;
		this.memoryPages = init.memoryPages;
		this.memory = memory;
		this.canBlock = threadMayBlock();
		this.host = null; // the internal process behind the filesystem API
		this.hostRoot = -1;
		this.openProcesses = 0;
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

	initObj() {
		const init = {module: this.module, memoryPages: {...this.memoryPages}, shared: false};
		if (memoryCrossesThreads()) {
			init.memory = this.memory;
			init.shared = true;
		}
		return init;
	}
}

// ------------------------------------------------------------------------------------------
// The filesystem API (absolute VFS paths, through the host process)

function encodePath(path) {
	if (typeof path !== 'string' || !path.startsWith('/')) {
		throw new TypeError(`VFS paths are absolute strings, got ${JSON.stringify(path)}`);
	}
	const relative = path.replace(/^\/+/, '');
	return encodeUtf8(relative || '.');
}

function parentOf(path) {
	const trimmed = path.replace(/\/+$/, '');
	const slash = trimmed.lastIndexOf('/');
	return slash <= 0 ? '/' : trimmed.slice(0, slash);
}

/** A WASI filestat. Times are BigInt nanoseconds since the epoch. */
export class WasiStat {
	constructor(view, offset) {
		const u64 = at => view.getBigUint64(offset + at, true);
		this.dev = u64(0);
		this.ino = u64(8);
		this.filetype = view.getUint8(offset + 16);
		this.type = FILETYPE_NAMES[this.filetype] ?? 'unknown';
		this.nlink = Number(u64(24));
		this.size = Number(u64(32));
		this.atimeNs = u64(40);
		this.mtimeNs = u64(48);
		this.ctimeNs = u64(56);
	}

	isFile() { return this.filetype === 4; }
	isDirectory() { return this.filetype === 3; }
	isSymbolicLink() { return this.filetype === 7; }
}

// ------------------------------------------------------------------------------------------
// Pipes

/**
 * A pipe in the shared core memory, made by `wasi.pipe()`: a 64 KiB ring whose ends are fds
 * of processes (`attachPipe`). A read waits for data, or returns end-of-file once no write
 * end is left; a write waits for room, and fails with EPIPE once no read end is left. An end
 * closes when its process closes the fd or is closed. `handle` is a number that other threads
 * (sharing the filesystem through initObj()) pass to attachPipe while the pipe is held.
 */
export class Pipe {
	#owner; // the host process holding the pipe, null once released

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

// ------------------------------------------------------------------------------------------
// Wasi

const startProcess = Symbol('startProcess'); // Wasi's internal factory, for this module only
const PROCESS_OPTIONS = ['args', 'env', 'stdin', 'stdout', 'stderr', 'lineBuffered', 'preopens', 'bridge', 'limits'];

/** startWasi's / copyForRebinding's options, checked before anything starts (an unknown name
    or a bad limit throws); `limits` completed with the defaults, or null when not given. */
function checkOptions(options) {
	if (options === null || typeof options !== 'object') throw new TypeError(`options must be an object, not ${describe(options)}`);
	const unknown = Object.keys(options).filter(name => !PROCESS_OPTIONS.includes(name));
	if (unknown.length) {
		throw new TypeError(`unknown option ${unknown.join(', ')}: the options are ${PROCESS_OPTIONS.join(', ')}`);
	}
	return {...options, limits: checkLimits(options.limits)};
}

/**
 * One WASI process on a shared in-memory filesystem. `importObj` supplies one other module's
 * wasi_snapshot_preview1 imports; bind that module's memory with bindToOtherMemory() (or let
 * start() do it).
 */
export class Wasi {
	#group;
	#core; // this process's core instance
	#options;
	#closed = false;

	/** Use startWasi() or copyForRebinding(). */
	constructor(group, core, options) {
		this.#group = group;
		this.#core = core;
		this.#options = options;
		group.openProcesses += 1;
		this.importObj = {[WASI_MODULE]: core.wasiFunctions()};
	}

	/** `options` as checkOptions() returns them. */
	static async [startProcess](group, options) {
		const core = await CoreProcess.start(group, {
			stdout: outputSink(options.stdout, 'log'),
			stderr: outputSink(options.stderr, 'error'),
			stdin: options.stdin,
		});
		const wasi = new Wasi(group, core, options);
		try {
			wasi.#setup(options);
		} catch (error) {
			wasi.close();
			throw error;
		}
		return wasi;
	}

	#setup({args = [], env = {}, preopens = {'/': '/'}, lineBuffered: lineMode = true, limits}) {
		const exports = this.#core.exports;
		if (typeof args === 'string') throw new TypeError('args must be an array of strings, not one string');
		if (limits) this.#core.setLimits(limits);
		check(this.#core.callWithBytes('wasi_wasm_set_args', nulJoined([...args])), 'wasi_wasm_set_args');
		const entries = Object.entries(env).map(([key, value]) => `${key}=${value}`);
		check(this.#core.callWithBytes('wasi_wasm_set_env', nulJoined(entries)), 'wasi_wasm_set_env');
		exports.wasi_wasm_set_stdio_mode(lineMode ? STDIO_AT_NEWLINE : STDIO_AT_THRESHOLD);
		for (const [guestName, vfsPath] of Object.entries(preopens)) {
			encodePath(vfsPath); // a string, absolute
			this.#core.preopen(vfsPath, guestName); // the core creates missing directories
		}
	}

	// -- wiring a guest ----------------------------------------------------------------------

	/** Makes `memory` the program memory this process's WASI calls read and write.
	    `bridge`: true/false forces the multi-memory bridge or the JS copy functions. */
	bindToOtherMemory(memory, {bridge = this.#options.bridge} = {}) {
		this.#checkOpen();
		this.#core.bind(memory, bridge);
	}

	/** Whether the bound memory is reached through the multi-memory bridge (null: unbound). */
	get usesBridge() {
		return this.#core.usesBridge;
	}

	/** Binds the instance's exported memory, runs `_start` and returns the exit code. */
	start(instance) {
		this.#checkOpen();
		const {memory, _start: entry} = instance.exports;
		if (typeof entry !== 'function') throw new TypeError("the program has no '_start' function (is it a WASI command?)");
		if (memory instanceof WebAssembly.Memory) this.bindToOtherMemory(memory);
		else if (!this.#core.guestMemory) throw new TypeError("the program does not export its memory as 'memory'");
		const core = this.#core;
		core.exitCode = null;
		let code = 0;
		try {
			entry();
		} catch (error) {
			// Only our own exit hook's WasiExit is an exit (not one from some other Wasi).
			if (!(error instanceof WasiExit) || core.exitCode === null) {
				core.recover();
				this.#flushQuietly();
				throw error;
			}
			code = core.exitCode;
		}
		core.recover();
		this.flush();
		return code;
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
	    writer is attached, a writer gets EPIPE while no reader is. */
	attachPipe(pipe, fd, {writeEnd} = {}) {
		this.#checkOpen();
		let handle = pipe;
		if (pipe instanceof Pipe) {
			if (pipe.released) throw new Error('this pipe was released: attach its ends before releasing it');
			handle = pipe.handle;
		}
		if (!Number.isInteger(handle) || handle <= 0 || handle >= 2 ** 32) {
			throw new TypeError(`attachPipe needs a Pipe or a pipe's handle, not ${describe(pipe)}`);
		}
		if (!Number.isInteger(fd) || fd < 0 || fd >= 2 ** 32) throw new TypeError(`attachPipe needs an fd number, not ${describe(fd)}`);
		if (typeof writeEnd !== 'boolean') throw new TypeError('attachPipe needs {writeEnd: true} (writes go into the pipe) or {writeEnd: false} (reads come from it)');
		check(this.#core.exports.wasi_wasm_pipe_attach(handle, fd, writeEnd ? 1 : 0), 'attachPipe');
	}

	// -- more processes ----------------------------------------------------------------------

	/** A new Wasi on the same memory (same filesystem) for another module in this thread, with
	    its own fd table. Options as startWasi's; bridge, stdout and stderr default to this one's. */
	async copyForRebinding(options = {}) {
		this.#checkOpen();
		const inherited = {bridge: this.#options.bridge, stdout: this.#options.stdout, stderr: this.#options.stderr};
		const checked = checkOptions(options);
		return Wasi[startProcess](this.#group, {...inherited, ...checked});
	}

	/** What another thread passes to startWasi() to share this filesystem: structured-cloneable;
	    it carries the memory only where the memory can cross threads (Node, isolated pages). */
	initObj() {
		return this.#group.initObj();
	}

	get memory() { return this.#group.memory; }
	get module() { return this.#group.module; }
	get closed() { return this.#closed; }

	/** Closes this process's fds and frees its fd table and stack. Idempotent. */
	close() {
		if (this.#closed) return;
		this.#closed = true;
		try {
			this.#core.detach();
		} finally {
			this.#group.release();
		}
	}

	#checkOpen() {
		if (this.#closed) throw new Error('this Wasi is closed');
	}

	// -- filesystem --------------------------------------------------------------------------

	#host() {
		this.#checkOpen();
		return this.#group.host;
	}

	/** Runs `use(host, root, pointers)` with one scratch buffer split into 8-byte aligned parts. */
	#withBuffers(sizes, use) {
		const result = this.#tryBuffers(sizes, use);
		if (result === NO_ROOM) throw new RangeError(`the core could not allocate ${sizes.join(' + ')} bytes (limits.maxFsBytes)`);
		return result;
	}

	/** #withBuffers, or NO_ROOM when the buffer does not fit under limits.maxFsBytes. */
	#tryBuffers(sizes, use) {
		const host = this.#host();
		const offsets = [];
		let total = 0;
		for (const size of sizes) {
			offsets.push(total);
			total += (size + 7) & ~7;
		}
		return host.tryScratch(total, base => use(host, this.#group.hostRoot, offsets.map(offset => base + offset)));
	}

	/** #withBuffers([chunk, ...sizes], use(chunk, ...)) with the biggest chunk that fits, up to
	    `wanted`: else a small one (which the host process keeps room for). */
	#withChunk(wanted, sizes, use, syscall, path) {
		for (const chunk of new Set([wanted, Math.min(wanted, SMALL_CHUNK_BYTES)])) {
			const result = this.#tryBuffers([chunk, ...sizes], (host, root, pointers) => use(chunk, host, root, pointers));
			if (result !== NO_ROOM) return result;
		}
		throw new WasiError(ERRNO.ENOSPC, syscall, path);
	}

	#pathCall(syscall, path, ...before) {
		const raw = encodePath(path);
		return this.#withBuffers([raw.length], (host, root, [pathPointer]) => {
			host.coreBytes(pathPointer, raw.length).set(raw);
			return host.exports[syscall](root, ...before, pathPointer, raw.length);
		});
	}

	#open(path, oflags, rights, follow = true) {
		const raw = encodePath(path);
		return this.#withBuffers([raw.length, 4], (host, root, [pathPointer, fdPointer]) => {
			host.coreBytes(pathPointer, raw.length).set(raw);
			const errno = host.exports.path_open(root, follow ? LOOKUP_SYMLINK_FOLLOW : 0, pathPointer,
				raw.length, oflags, rights, 0n, 0, fdPointer);
			check(errno, 'open', path);
			return host.coreView().getUint32(fdPointer, true);
		});
	}

	#close(fd) {
		this.#host().exports.fd_close(fd);
	}

	/** Creates or truncates the file at `path` and writes `data` (string: UTF-8). */
	writeFile(path, data) {
		const bytes = toBytes(data);
		const fd = this.#open(path, OFLAG_CREAT | OFLAG_TRUNC, WRITE_RIGHTS);
		try {
			const wanted = Math.min(Math.max(bytes.length, 1), FILE_CHUNK_BYTES);
			const position = this.#writeFrom(fd, bytes, 0, wanted, path);
			// No room for the big scratch buffer and the data at once: go on with less.
			if (position < bytes.length) this.#writeFrom(fd, bytes, position, SMALL_CHUNK_BYTES, path);
		} finally {
			this.#close(fd);
		}
	}

	/** Writes bytes[position...] to `fd` in chunks of up to `wanted` bytes; returns where it
	    stopped: the end, or earlier on ENOSPC while the chunk is bigger than a small one (the
	    scratch buffer itself counts against limits.maxFsBytes). */
	#writeFrom(fd, bytes, position, wanted, path) {
		return this.#withChunk(wanted, [8, 4], (chunk, host, _root, [buffer, iovec, writtenPointer]) => {
			while (position < bytes.length) {
				const piece = bytes.subarray(position, position + chunk);
				host.coreBytes(buffer, piece.length).set(piece);
				const view = host.coreView();
				view.setUint32(iovec, buffer, true);
				view.setUint32(iovec + 4, piece.length, true);
				const errno = host.exports.fd_write(fd, iovec, 1, writtenPointer);
				if (errno === ERRNO.ENOSPC && chunk > SMALL_CHUNK_BYTES) break;
				check(errno, 'write', path);
				const written = host.coreView().getUint32(writtenPointer, true);
				if (written === 0) throw new WasiError(ERRNO.EIO, 'write', path);
				position += written;
			}
			return position;
		}, 'write', path);
	}

	/** The whole content of the file at `path` (a Uint8Array; a string with encoding 'utf8'). */
	readFile(path, encoding) {
		if (encoding !== undefined && encoding !== 'utf8' && encoding !== 'utf-8') {
			throw new TypeError(`unsupported encoding ${encoding}: use 'utf8', or none for bytes`);
		}
		const fd = this.#open(path, 0, READ_RIGHTS);
		let bytes;
		try {
			const info = this.#fstat(fd, path);
			// WASI lets a directory be opened and then fails the read with EBADF; say EISDIR.
			if (info.isDirectory()) throw new WasiError(ERRNO.EISDIR, 'read', path);
			const wanted = Math.min(Math.max(info.size, 1), FILE_CHUNK_BYTES);
			const parts = [];
			this.#withChunk(wanted, [8, 4], (chunk, host, _root, [buffer, iovec, readPointer]) => {
				for (;;) {
					const view = host.coreView();
					view.setUint32(iovec, buffer, true);
					view.setUint32(iovec + 4, chunk, true);
					check(host.exports.fd_read(fd, iovec, 1, readPointer), 'read', path);
					const count = host.coreView().getUint32(readPointer, true);
					if (count === 0) return;
					parts.push(host.coreBytes(buffer, count).slice());
				}
			});
			bytes = parts.length ? concatBytes(parts) : new Uint8Array(0);
		} finally {
			this.#close(fd);
		}
		return encoding === undefined ? bytes : decodeUtf8(bytes);
	}

	#fstat(fd, path) {
		return this.#withBuffers([FILESTAT_BYTES], (host, _root, [out]) => {
			check(host.exports.fd_filestat_get(fd, out), 'fstat', path);
			return new WasiStat(host.coreView(), out);
		});
	}

	/** Metadata of `path` (following symlinks). */
	stat(path) {
		return this.#stat(path, true);
	}

	/** Metadata of `path` itself (a symlink is not followed). */
	lstat(path) {
		return this.#stat(path, false);
	}

	#stat(path, follow) {
		const raw = encodePath(path);
		return this.#withBuffers([raw.length, FILESTAT_BYTES], (host, root, [pathPointer, out]) => {
			host.coreBytes(pathPointer, raw.length).set(raw);
			const errno = host.exports.path_filestat_get(root, follow ? LOOKUP_SYMLINK_FOLLOW : 0,
				pathPointer, raw.length, out);
			check(errno, follow ? 'stat' : 'lstat', path);
			return new WasiStat(host.coreView(), out);
		});
	}

	/** Whether `path` exists (following symlinks). */
	exists(path) {
		try {
			this.stat(path);
			return true;
		} catch (error) {
			if (error instanceof WasiError) return false;
			throw error;
		}
	}

	/** Creates a directory; `recursive` creates missing parents and accepts an existing one. */
	mkdir(path, {recursive = false} = {}) {
		if (recursive) {
			const parent = parentOf(path);
			if (parent !== '/' && !this.#isDirectory(parent)) this.mkdir(parent, {recursive: true});
		}
		const errno = this.#pathCall('path_create_directory', path);
		if (errno === ERRNO.EEXIST && recursive && this.#isDirectory(path)) return;
		check(errno, 'mkdir', path);
	}

	#isDirectory(path) {
		try {
			return this.stat(path).isDirectory();
		} catch (error) {
			if (error instanceof WasiError) return false;
			throw error;
		}
	}

	/** Names in directory `path`, without "." and "..", in the core's order. */
	readdir(path) {
		const fd = this.#open(path, OFLAG_DIRECTORY, READDIR_RIGHTS);
		try {
			return this.#readDirectory(fd, path).filter(name => name !== '.' && name !== '..');
		} finally {
			this.#close(fd);
		}
	}

	#readDirectory(fd, path) {
		const names = [];
		let cookie = 0n;
		let size = 1 << 16;
		for (;;) {
			const result = this.#tryBuffers([size, 4], (host, _root, [buffer, usedPointer]) => {
				check(host.exports.fd_readdir(fd, buffer, size, cookie, usedPointer), 'readdir', path);
				const count = host.coreView().getUint32(usedPointer, true);
				return {used: count, data: host.coreBytes(buffer, count).slice()};
			});
			if (result === NO_ROOM) { // a full filesystem: the small buffer the host keeps room for
				if (size <= SMALL_CHUNK_BYTES) throw new WasiError(ERRNO.ENOSPC, 'readdir', path);
				size = SMALL_CHUNK_BYTES;
				continue;
			}
			const {used, data} = result;
			const view = new DataView(data.buffer);
			let position = 0;
			while (position + DIRENT_HEADER_BYTES <= used) {
				const nameLength = view.getUint32(position + 16, true);
				const end = position + DIRENT_HEADER_BYTES + nameLength;
				if (end > used) break; // cut off by the buffer: read again from its cookie
				names.push(decodeUtf8(data.subarray(position + DIRENT_HEADER_BYTES, end)));
				cookie = view.getBigUint64(position, true);
				position = end;
			}
			if (used < size) return names; // a short buffer means the end of the directory
			if (position === 0) size *= 2; // not even one entry fitted
		}
	}

	/** Removes a file or symlink; a directory only with `recursive` (its whole tree).
	    `force` ignores a missing path. */
	rm(path, {recursive = false, force = false} = {}) {
		let info;
		try {
			info = this.lstat(path);
		} catch (error) {
			if (force && error instanceof WasiError && error.errno === ERRNO.ENOENT) return;
			throw error;
		}
		if (!info.isDirectory()) {
			check(this.#pathCall('path_unlink_file', path), 'unlink', path);
			return;
		}
		if (!recursive) throw new WasiError(ERRNO.EISDIR, 'rm', path);
		for (const name of this.readdir(path)) {
			this.rm(`${path.replace(/\/+$/, '')}/${name}`, {recursive: true});
		}
		check(this.#pathCall('path_remove_directory', path), 'rmdir', path);
	}

	/** Renames `src` to `dst` (replacing a file, or an empty directory, at `dst`). */
	rename(src, dst) {
		const a = encodePath(src), b = encodePath(dst);
		const errno = this.#withBuffers([a.length, b.length], (host, root, [aPointer, bPointer]) => {
			host.coreBytes(aPointer, a.length).set(a);
			host.coreBytes(bPointer, b.length).set(b);
			return host.exports.path_rename(root, aPointer, a.length, root, bPointer, b.length);
		});
		check(errno, 'rename', src, dst);
	}

	/** Creates symlink `path` whose content is `target` (stored as given). */
	symlink(target, path) {
		const rawTarget = encodeUtf8(target), raw = encodePath(path);
		const errno = this.#withBuffers([rawTarget.length, raw.length], (host, root, [targetPointer, pathPointer]) => {
			host.coreBytes(targetPointer, rawTarget.length).set(rawTarget);
			host.coreBytes(pathPointer, raw.length).set(raw);
			return host.exports.path_symlink(targetPointer, rawTarget.length, root, pathPointer, raw.length);
		});
		check(errno, 'symlink', target, path);
	}

	/** The target of symlink `path`. */
	readlink(path) {
		const raw = encodePath(path);
		for (let size = 256; ; size *= 4) {
			const target = this.#withBuffers([raw.length, size, 4], (host, root, [pathPointer, buffer, usedPointer]) => {
				host.coreBytes(pathPointer, raw.length).set(raw);
				check(host.exports.path_readlink(root, pathPointer, raw.length, buffer, size, usedPointer), 'readlink', path);
				const used = host.coreView().getUint32(usedPointer, true);
				return used < size ? decodeUtf8(host.coreBytes(buffer, used)) : null;
			});
			if (target !== null) return target; // else it may have been cut off: retry bigger
		}
	}

	/** The original wasi.wasm's loader: writes each {path: bytes} entry (a relative path is
	    taken from "/"), creating missing parent directories. */
	loadFiles(files) {
		for (const [name, data] of Object.entries(files)) {
			const path = name.startsWith('/') ? name : `/${name}`;
			const parent = parentOf(path);
			if (parent !== '/') this.mkdir(parent, {recursive: true});
			this.writeFile(path, data);
		}
	}

	/** Bytes the VFS allocator has handed out (for leak checks). */
	usedBytes() {
		return Number(this.#host().exports.wasi_wasm_used_bytes());
	}

	/** Number of inconsistencies the core finds in the filesystem (0 = healthy). */
	fsck() {
		return this.#host().exports.wasi_wasm_fsck();
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
 * one keeps its limits unless given; maxFds is this process's).
 */
export async function startWasi(initObj, options = {}) {
	const checked = checkOptions(options);
	const init = await getWasi(initObj);
	if (!init.memory) checked.limits ??= {...DEFAULT_LIMITS}; // a fresh filesystem
	const memory = init.memory ?? newCoreMemory(init);
	const group = new ProcessGroup(init, memory);
	await group.startHost();
	try {
		return await Wasi[startProcess](group, checked);
	} catch (error) {
		group.closeIfUnused(); // on a shared memory, the host process would stay behind
		throw error;
	}
}
