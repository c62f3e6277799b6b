// @ts-check
/* The filesystem API of a Wasi: absolute VFS paths, synchronous calls, through the internal
   host process of its ProcessGroup (a process whose "program memory" is the core memory).
   Each operation is one export of the core (wasi_wasm_fs_*, dev/host/fs_*.c), the same the
   Python host calls: this module only moves arguments into core buffers and throws
   WasiErrors for errnos. */

import {ERRNO, FILESTAT, FILETYPE_NAMES, FST, LAZY} from './abi.mjs';
import {WasiError, check, describe} from './errors.mjs';
import {LazyMount, UrlMapSource, lazyRegistry, mountRecord} from './lazy.mjs';
import {HostDirSource, writeBack} from './node_mount.mjs';
import {concatBytes, decodeUtf8, encodeUtf8, toBytes} from './platform.mjs';
import {NO_ROOM, SMALL_CHUNK_BYTES} from './process.mjs';
/** @import {ProcessGroup} from './group.mjs' */
/** @import {CoreProcess} from './process.mjs' */
/** @import {LazySource} from './lazy.mjs' */
/** @import {BytesLike, LazyInfo, UrlMap} from './types.mjs' */

const FILE_CHUNK_BYTES = 1 << 20; // bytes moved per wasi_wasm_fs_read / _file_append call
// A read that sees another file renamed over its path starts again; after this many, it
// reads with the filesystem frozen (wasi_wasm_freeze).
const UNFROZEN_READS = 2;
const LIST_BYTES = 1 << 16; // bytes of names per wasi_wasm_fs_list call
const LIST_RECORD_HEADER = 3; // u16 name length, u8 filetype
const MKDIR_PARENTS = 1, MKDIR_EXIST_OK = 2; // wasi_wasm_fs_mkdir's flags

/** The path relative to the VFS root, as the core takes it; throws unless absolute.
    @param {unknown} path */
export function encodePath(path) {
	if (typeof path !== 'string' || !path.startsWith('/')) {
		throw new TypeError(`VFS paths are absolute strings, got ${JSON.stringify(path)}`);
	}
	const relative = path.replace(/^\/+/, '');
	return encodeUtf8(relative || '.');
}

/** `path` as a mount is named: one slash between names, none at the end. @param {string} path */
function normalPath(path) {
	return `/${path.split('/').filter(name => name !== '').join('/')}`;
}

/** @param {string} path */
function parentOf(path) {
	const trimmed = path.replace(/\/+$/, '');
	const slash = trimmed.lastIndexOf('/');
	return slash <= 0 ? '/' : trimmed.slice(0, slash);
}

/** Runs `use()` with the filesystem frozen by `host` (wasi_wasm_freeze: every other process
    waits at its next filesystem call); inside an outer freeze of host's, as it is.
    @template T @param {CoreProcess} host @param {() => T} use @returns {T} */
export function withFrozen(host, use) {
	const code = host.exports.wasi_wasm_freeze();
	if (code === ERRNO.EBUSY) return use();
	check(code, 'freeze', '/');
	try {
		return use();
	} finally {
		host.exports.wasi_wasm_thaw();
	}
}

/** A WASI filestat. Times are BigInt nanoseconds since the epoch. */
export class WasiStat {
	/** @param {DataView} view @param {number} offset where the filestat is in `view` */
	constructor(view, offset) {
		/** @param {number} at */
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

	isFile() { return this.type === 'regular_file'; }
	isDirectory() { return this.type === 'directory'; }
	isSymbolicLink() { return this.type === 'symbolic_link'; }
}

/** Runs with the host process, its root fd and scratch buffers in the core memory.
    @template T @typedef {(host: CoreProcess, root: number, pointers: number[]) => T} BufferUser */

/** The filesystem API that every Wasi has (Wasi extends it). */
export class WasiFileSystem {
	#group;
	#owner;

	/** @param {ProcessGroup} group @param {CoreProcess} owner the Wasi's own process: the
	    API works while it is open */
	constructor(group, owner) {
		this.#group = group;
		this.#owner = owner;
	}

	#host() {
		return this.#group.hostFor(this.#owner);
	}

	/** Runs `use(host, root, pointers)` with one scratch buffer split into 8-byte aligned parts.
	    @template T @param {number[]} sizes @param {BufferUser<T>} use @returns {T} */
	#withBuffers(sizes, use) {
		const result = this.#tryBuffers(sizes, use);
		if (result === NO_ROOM) throw new RangeError(`the core could not allocate ${sizes.join(' + ')} bytes (limits.maxFsBytes)`);
		return result;
	}

	/** #withBuffers, or NO_ROOM when the buffer cannot be had.
	    @template T @param {number[]} sizes @param {BufferUser<T>} use @returns {T | NO_ROOM} */
	#tryBuffers(sizes, use) {
		const host = this.#host();
		/** @type {number[]} */
		const offsets = [];
		let total = 0;
		for (const size of sizes) {
			offsets.push(total);
			total += (size + 7) & ~7;
		}
		return host.tryScratch(total, base => use(host, this.#group.hostRoot, offsets.map(offset => base + offset)));
	}

	/** #withBuffers([chunk, ...sizes], use(chunk, ...)) with the biggest chunk that fits, up to
	    `wanted`: else a small one (which the host process keeps room for).
	    @template T @param {number} wanted @param {number[]} sizes
	    @param {(chunk: number, host: CoreProcess, root: number, pointers: number[]) => T} use
	    @param {string} syscall @param {string} path what a WasiError names
	    @returns {T} */
	#withChunk(wanted, sizes, use, syscall, path) {
		for (const chunk of new Set([wanted, Math.min(wanted, SMALL_CHUNK_BYTES)])) {
			const result = this.#tryBuffers([chunk, ...sizes], (host, root, pointers) => use(chunk, host, root, pointers));
			if (result !== NO_ROOM) return result;
		}
		throw new WasiError(ERRNO.ENOSPC, syscall, path);
	}

	/** `use(host, root, pathPointer, pathLength, pointers)` with `path` in a core buffer,
	    followed by buffers of `sizes`.
	    @template T @param {string} path @param {number[]} sizes
	    @param {(host: CoreProcess, root: number, pathPointer: number, pathLength: number, pointers: number[]) => T} use
	    @returns {T} */
	#withPath(path, sizes, use) {
		const raw = encodePath(path);
		return this.#withBuffers([raw.length, ...sizes], (host, root, [pathPointer, ...pointers]) => {
			host.coreBytes(pathPointer, raw.length).set(raw);
			return use(host, root, pathPointer, raw.length, pointers);
		});
	}

	/** Calls `name(root, path, length, ...args)`; returns its errno.
	    @param {'wasi_wasm_fs_unlink' | 'wasi_wasm_fs_rmdir' | 'wasi_wasm_fs_rmtree' | 'wasi_wasm_fs_mkdir'} name
	    @param {string} path @param {number[]} args */
	#pathCall(name, path, ...args) {
		return this.#withPath(path, [], (host, root, pointer, length) =>
			/** @type {(...values: number[]) => number} */ (host.exports[name])(root, pointer, length, ...args));
	}

	/** Creates or replaces the file at `path` with `data` (string: UTF-8), all or nothing:
	    the data goes to a new file that takes the old one's place once complete (a symlink
	    at `path` is followed; other hard links keep the old content). Parent directories
	    are not made.
	    @param {string} path @param {BytesLike} data */
	writeFile(path, data) {
		this.#replaceFile(path, toBytes(data));
	}

	/** @param {string} path @param {Uint8Array} bytes */
	#replaceFile(path, bytes) {
		const handle = this.#withPath(path, [4], (host, root, pointer, length, [out]) => {
			check(host.exports.wasi_wasm_fs_file_new(root, pointer, length, out), 'open', path);
			return host.coreView().getUint32(out, true);
		});
		const host = this.#host();
		try {
			let position = 0;
			while (position < bytes.length) {
				const wanted = Math.min(bytes.length - position, FILE_CHUNK_BYTES);
				position = this.#withChunk(wanted, [], (chunk, core, _root, [buffer]) => {
					for (; position < bytes.length; position += chunk) {
						const piece = bytes.subarray(position, position + chunk);
						core.coreBytes(buffer, piece.length).set(piece);
						check(core.exports.wasi_wasm_fs_file_append(handle, buffer, piece.length), 'write', path);
					}
					return position;
				}, 'write', path);
			}
		} catch (error) {
			host.exports.wasi_wasm_fs_file_drop(handle);
			throw error;
		}
		const errno = this.#withPath(path, [], (core, root, pointer, length) =>
			core.exports.wasi_wasm_fs_file_commit(handle, root, pointer, length, 0n, 0n, 0));
		check(errno, 'rename', path);
	}

	/** The file's size and inode number, and up to `length` bytes from `offset` into a copy.
	    @param {string} path @param {number} offset @param {number} length */
	#readAt(path, offset, length) {
		return this.#withChunk(length, [encodePath(path).length, 24], (chunk, host, root, [buffer, pathPointer, out]) => {
			const raw = encodePath(path);
			host.coreBytes(pathPointer, raw.length).set(raw);
			const errno = host.exports.wasi_wasm_fs_read(root, pathPointer, raw.length, BigInt(offset), buffer, chunk, out);
			check(errno, offset === 0 && length === 0 ? 'open' : 'read', path);
			const view = host.coreView();
			const count = view.getUint32(out + 8, true);
			return {
				size: Number(view.getBigUint64(out, true)),
				ino: view.getBigUint64(out + 16, true),
				bytes: host.coreBytes(buffer, count).slice(),
			};
		}, 'read', path);
	}

	/** The file's bytes, chunk by chunk, or null if another file was renamed over the path
	    meanwhile (they must all be one file's). @param {string} path */
	#readWhole(path) {
		const {size, ino} = this.#readAt(path, 0, 0);
		/** @type {Uint8Array[]} */
		const parts = [];
		for (let offset = 0; offset < size;) {
			const piece = this.#readAt(path, offset, Math.min(size - offset, FILE_CHUNK_BYTES));
			if (piece.ino !== ino) return null;
			if (piece.bytes.length === 0) break;
			parts.push(piece.bytes);
			offset += piece.bytes.length;
		}
		return parts.length ? concatBytes(parts) : new Uint8Array(0);
	}

	/**
	 * The whole content of the file at `path` (a Uint8Array; a string with encoding 'utf8').
	 * @overload @param {string} path @returns {Uint8Array}
	 * @overload @param {string} path @param {'utf8' | 'utf-8'} encoding @returns {string}
	 * @param {string} path @param {'utf8' | 'utf-8'} [encoding] @returns {Uint8Array | string}
	 */
	readFile(path, encoding) {
		if (encoding !== undefined && encoding !== 'utf8' && encoding !== 'utf-8') {
			throw new TypeError(`unsupported encoding ${encoding}: use 'utf8', or none for bytes`);
		}
		// Replaced under each unfrozen read: the last one holds the others off.
		for (let attempt = 0; attempt <= UNFROZEN_READS; attempt++) {
			const bytes = attempt < UNFROZEN_READS ? this.#readWhole(path) : withFrozen(this.#host(), () => this.#readWhole(path));
			if (bytes) return encoding === undefined ? bytes : decodeUtf8(bytes);
		}
		throw new Error('a file was replaced while the filesystem was frozen');
	}

	/** Metadata of `path` (following symlinks). @param {string} path */
	stat(path) {
		return this.#stat(path, true);
	}

	/** Metadata of `path` itself (a symlink is not followed). @param {string} path */
	lstat(path) {
		return this.#stat(path, false);
	}

	/** @param {string} path @param {boolean} follow */
	#stat(path, follow) {
		return this.#withPath(path, [FILESTAT.SIZE], (host, root, pointer, length, [out]) => {
			check(host.exports.wasi_wasm_fs_stat(root, pointer, length, follow ? 1 : 0, out), follow ? 'stat' : 'lstat', path);
			return new WasiStat(host.coreView(), out);
		});
	}

	/** Whether `path` exists (following symlinks). @param {string} path */
	exists(path) {
		try {
			this.stat(path);
			return true;
		} catch (error) {
			if (error instanceof WasiError) return false;
			throw error;
		}
	}

	/** Creates a directory; `recursive` creates missing parents and accepts an existing
	    one. A failure leaves no parent it made.
	    @param {string} path @param {{recursive?: boolean}} [options] */
	mkdir(path, {recursive = false} = {}) {
		check(this.#pathCall('wasi_wasm_fs_mkdir', path, recursive ? MKDIR_PARENTS | MKDIR_EXIST_OK : 0), 'mkdir', path);
	}

	/** Names in directory `path`, without "." and "..", in the core's order.
	    @param {string} path */
	readdir(path) {
		/** @type {string[]} */
		const names = [];
		this.#withPath(path, [LIST_BYTES, 8], (host, root, pointer, length, [buffer, out]) => {
			for (let cookie = 0; ;) {
				check(host.exports.wasi_wasm_fs_list(root, pointer, length, cookie, 0, buffer, LIST_BYTES, out), 'readdir', path);
				const view = host.coreView();
				const used = view.getUint32(out, true);
				cookie = view.getUint32(out + 4, true);
				for (let position = 0; position < used;) {
					const nameLength = view.getUint16(buffer + position, true);
					const start = position + LIST_RECORD_HEADER;
					names.push(decodeUtf8(host.coreBytes(buffer + start, nameLength)));
					position = start + nameLength;
				}
				if (cookie === 0) return;
			}
		});
		return names;
	}

	/** Removes a file or symlink; a directory only with `recursive` (its whole tree, in one
	    call of the core). `force` ignores a missing path.
	    @param {string} path @param {{recursive?: boolean, force?: boolean}} [options] */
	rm(path, {recursive = false, force = false} = {}) {
		let errno = this.#pathCall('wasi_wasm_fs_unlink', path);
		let syscall = 'unlink';
		if (errno === ERRNO.EISDIR && recursive) {
			errno = this.#pathCall('wasi_wasm_fs_rmtree', path);
			syscall = 'rmtree';
		}
		if (errno === ERRNO.ENOENT && force) return;
		check(errno, errno === ERRNO.EISDIR ? 'rm' : syscall, path);
	}

	/** Removes an empty directory. @param {string} path */
	rmdir(path) {
		check(this.#pathCall('wasi_wasm_fs_rmdir', path), 'rmdir', path);
	}

	/** @param {'wasi_wasm_fs_rename' | 'wasi_wasm_fs_link'} name @param {string} syscall
	    @param {string} src @param {string} dst */
	#twoPaths(name, syscall, src, dst) {
		const a = encodePath(src), b = encodePath(dst);
		const errno = this.#withBuffers([a.length, b.length], (host, root, [aPointer, bPointer]) => {
			host.coreBytes(aPointer, a.length).set(a);
			host.coreBytes(bPointer, b.length).set(b);
			return host.exports[name](root, aPointer, a.length, bPointer, b.length);
		});
		check(errno, syscall, src, dst);
	}

	/** Renames `src` to `dst` (replacing a file, or an empty directory, at `dst`).
	    @param {string} src @param {string} dst */
	rename(src, dst) {
		this.#twoPaths('wasi_wasm_fs_rename', 'rename', src, dst);
	}

	/** Creates hard link `dst` to the file `src` (a symlink itself, not what it names).
	    @param {string} src @param {string} dst */
	link(src, dst) {
		this.#twoPaths('wasi_wasm_fs_link', 'link', src, dst);
	}

	/** Creates symlink `path` whose content is `target` (stored as given).
	    @param {string} target @param {string} path */
	symlink(target, path) {
		const rawTarget = encodeUtf8(target);
		const errno = this.#withPath(path, [rawTarget.length], (host, root, pointer, length, [targetPointer]) => {
			host.coreBytes(targetPointer, rawTarget.length).set(rawTarget);
			return host.exports.wasi_wasm_fs_symlink(targetPointer, rawTarget.length, root, pointer, length);
		});
		check(errno, 'symlink', target, path);
	}

	/** The target of symlink `path`. @param {string} path */
	readlink(path) {
		for (let size = 256; ;) {
			const result = this.#withPath(path, [size, 4], (host, root, pointer, length, [buffer, out]) => {
				check(host.exports.wasi_wasm_fs_readlink(root, pointer, length, buffer, size, out), 'readlink', path);
				const whole = host.coreView().getUint32(out, true);
				return whole <= size ? decodeUtf8(host.coreBytes(buffer, whole)) : whole;
			});
			if (typeof result === 'string') return result;
			size = result; // the target's whole length: ask again with room for it
		}
	}

	/** Sets the access and/or modification time (BigInt ns; undefined leaves one as it is).
	    @param {string} path
	    @param {{atimeNs?: bigint, mtimeNs?: bigint, followSymlinks?: boolean}} [times] */
	setTimes(path, {atimeNs, mtimeNs, followSymlinks = true} = {}) {
		const flags = (atimeNs === undefined ? 0 : FST.ATIM) | (mtimeNs === undefined ? 0 : FST.MTIM);
		const errno = this.#withPath(path, [], (host, root, pointer, length) =>
			host.exports.wasi_wasm_fs_set_times(root, pointer, length, followSymlinks ? 1 : 0,
				BigInt.asUintN(64, atimeNs ?? 0n), BigInt.asUintN(64, mtimeNs ?? 0n), flags));
		check(errno, 'utimes', path);
	}

	/** The original wasi.wasm's loader: writes each {path: bytes} entry (a relative path is
	    taken from "/"), creating missing parent directories.
	    @param {Record<string, BytesLike>} files */
	loadFiles(files) {
		for (const [name, data] of Object.entries(files)) {
			const path = name.startsWith('/') ? name : `/${name}`;
			const parent = parentOf(path);
			if (parent !== '/') this.mkdir(parent, {recursive: true});
			this.writeFile(path, data);
		}
	}

	// -- lazy mounts (js/lazy.mjs, js/node_mount.mjs) ----------------------------------------

	/** Node: mounts the host directory `hostPath` at `path` lazily (created when missing; it
	    must be an empty directory): a directory's listing is read from the host when it is
	    first looked into, a file's bytes when it is first opened, so memory holds only what
	    was touched. Changes stay in memory (copy-on-write) until writeBackHostDir(). With
	    `readOnly` every change fails with EPERM, as in wasmtime's read-only preopens. Host
	    symlinks are never followed: they show as symlinks. Served by this thread alone: other
	    threads get EIO for what it has not loaded (DESIGN.md).
	    @param {string} hostPath @param {string} path @param {{readOnly?: boolean}} [options] */
	mountHostDir(hostPath, path, {readOnly = false} = {}) {
		if (typeof hostPath !== 'string') throw new TypeError(`mountHostDir needs a host path string, not ${describe(hostPath)}`);
		this.#mountLazy(path, readOnly, 'mountHostDir', () => new HostDirSource(hostPath, readOnly));
	}

	/** Mounts a URL map at `path` lazily: `{'/dir/file': url | {url, size} | {symlink}}`; the
	    directories come from the map, a file is fetched when it is first opened (its size,
	    unless given, by a HEAD request when its directory is listed). Fetches are synchronous
	    XMLHttpRequests, so this works in browser Workers (a page's main thread is refused),
	    or anywhere with `fetchSync(url) => bytes`. Relative URLs resolve against `base`
	    (default: this thread's location). Changes stay in memory; `readOnly` as mountHostDir.
	    Other threads on this filesystem serve it too (not with a custom fetchSync).
	    @param {UrlMap} map @param {string} path
	    @param {{readOnly?: boolean, fetchSync?: (url: string) => BytesLike, base?: string}} [options] */
	mountUrlMap(map, path, {readOnly = false, fetchSync, base = globalThis.location?.href} = {}) {
		if (map === null || typeof map !== 'object' || Array.isArray(map)) {
			throw new TypeError('mountUrlMap needs a map {"/path/in/mount": url | {url, size} | {symlink: target}}');
		}
		this.#mountLazy(path, readOnly, 'mountUrlMap', () => new UrlMapSource(Object.entries(map), fetchSync, base));
	}

	/** @param {string} path @param {boolean} readOnly @param {string} syscall
	    @param {() => LazySource} makeSource */
	#mountLazy(path, readOnly, syscall, makeSource) {
		encodePath(path);
		if (typeof readOnly !== 'boolean') throw new TypeError(`readOnly must be a boolean, not ${describe(readOnly)}`);
		const source = makeSource(); // a bad source throws before anything changes
		const host = this.#host();
		const registry = lazyRegistry(this.#group.memory);
		let id = 0;
		try {
			this.mkdir(path, {recursive: true});
			const vfsPath = normalPath(path);
			// A second mount there would hide the first, whose write-back would then mirror the
			// second's tree into the first's host directory.
			if (registry.byPath.has(vfsPath) || (this.lazyInfo(path).token & 0xFFFFFFFFn) === 1n) {
				throw new WasiError(ERRNO.EBUSY, `${syscall} (already a lazy mount)`, path);
			}
			const description = source.describe();
			const record = mountRecord(description === null ? null : JSON.stringify({...JSON.parse(description), vfsPath, readOnly}));
			// The mount's id (js/lazy.mjs): kept, not the host process's, since its tokens and
			// the other threads that serve it from the record outlive this thread's processes.
			id = host.exports.wasi_wasm_alloc_kept(record.length) >>> 0;
			if (!id) throw new WasiError(ERRNO.ENOSPC, syscall, path);
			host.coreBytes(id, record.length).set(record);
			const mount = new LazyMount(id, source, vfsPath, readOnly);
			registry.byId.set(id, mount);
			const errno = this.#withPath(path, [], (core, _root, pointer, length) =>
				core.exports.wasi_wasm_mount_lazy(pointer, length, mount.token(0), readOnly ? LAZY.MOUNT_READ_ONLY : 0));
			check(errno, syscall, path);
			registry.byPath.set(mount.vfsPath, mount);
		} catch (error) {
			if (id) {
				registry.byId.delete(id);
				host.exports.wasi_wasm_free(id);
			}
			source.close();
			throw error;
		}
	}

	/** What `path` (a final symlink not followed) is to the lazy mounts: `{token, state,
	    readOnly}`, state 0 an ordinary entry, 1 a directory not listed yet, 2 a file whose
	    bytes are not read yet. Asking loads nothing.
	    @param {string} path @returns {LazyInfo} */
	lazyInfo(path) {
		return this.#withPath(path, [16], (host, root, pointer, length, [out]) => {
			check(host.exports.wasi_wasm_lazy_info(root, pointer, length, out), 'lazyInfo', path);
			const view = host.coreView();
			return {
				token: view.getBigUint64(out, true),
				state: /** @type {0 | 1 | 2} */ (view.getUint8(out + 8)),
				readOnly: view.getUint8(out + 9) !== 0,
			};
		});
	}

	/** Node: applies what programs changed below the host directory mounted at `path` to
	    that directory (the one read: through /proc/self/fd even if renamed since, by path
	    only while it is still there; ENOENT if it was removed), or to `hostDir`: creates, writes, renames and deletes, and nothing
	    else. What is still lazy (never listed, never opened) is neither read nor rewritten; a
	    file the programs only read, or left as the last write-back wrote it, stays as the host
	    has it; only names the mount showed are removed, and a nested mount's root is left to
	    that mount. Entries moved away from their host place are read in first, so a source is
	    never removed before its copy is made. A file over `maxFileSize` (default 4 GiB)
	    throws WasiError EFBIG before the host changes.
	    @param {string} path @param {{hostDir?: string, maxFileSize?: number}} [options] */
	writeBackHostDir(path, {hostDir, maxFileSize} = {}) {
		encodePath(path);
		const mount = lazyRegistry(this.#group.memory).byPath.get(normalPath(path));
		if (!mount) throw new TypeError(`${path} is no lazy mount of this filesystem (made in this thread)`);
		writeBack(this, mount, {hostDir, maxFileSize});
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
