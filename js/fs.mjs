// @ts-check
/* The filesystem API of a Wasi: absolute VFS paths, synchronous calls, through the internal
   host process of its ProcessGroup (a process whose "program memory" is the core memory). */

import {DIRENT, ERRNO, FILESTAT, FILETYPE_NAMES, LOOKUP, OFLAG, RIGHT} from './abi.mjs';
import {WasiError, check} from './errors.mjs';
import {concatBytes, decodeUtf8, encodeUtf8, toBytes} from './platform.mjs';
import {NO_ROOM, SMALL_CHUNK_BYTES} from './process.mjs';
/** @import {ProcessGroup} from './group.mjs' */
/** @import {CoreProcess} from './process.mjs' */
/** @import {BytesLike} from './types.mjs' */

// path_open rights the filesystem API asks for.
const READ_RIGHTS = RIGHT.FD_READ | RIGHT.FD_SEEK | RIGHT.FD_TELL | RIGHT.FD_FILESTAT_GET;
const WRITE_RIGHTS = RIGHT.FD_WRITE | RIGHT.FD_SEEK | RIGHT.FD_TELL | RIGHT.FD_FILESTAT_GET
	| RIGHT.FD_FILESTAT_SET_SIZE;
// fd_readdir checks no right (as wasmtime): FD_READDIR says what the fd is for.
const READDIR_RIGHTS = RIGHT.FD_READDIR | RIGHT.FD_FILESTAT_GET;
const FILE_CHUNK_BYTES = 1 << 20; // bytes moved per fd_read / fd_write by the fs API

/** The path relative to the VFS root, as the core takes it; throws unless absolute.
    @param {unknown} path */
export function encodePath(path) {
	if (typeof path !== 'string' || !path.startsWith('/')) {
		throw new TypeError(`VFS paths are absolute strings, got ${JSON.stringify(path)}`);
	}
	const relative = path.replace(/^\/+/, '');
	return encodeUtf8(relative || '.');
}

/** @param {string} path */
function parentOf(path) {
	const trimmed = path.replace(/\/+$/, '');
	const slash = trimmed.lastIndexOf('/');
	return slash <= 0 ? '/' : trimmed.slice(0, slash);
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

	isFile() { return this.filetype === 4; }
	isDirectory() { return this.filetype === 3; }
	isSymbolicLink() { return this.filetype === 7; }
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

	/** #withBuffers, or NO_ROOM when the buffer does not fit under limits.maxFsBytes.
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

	/** Calls `syscall(root, path)`; returns its errno.
	    @param {'path_create_directory' | 'path_unlink_file' | 'path_remove_directory'} syscall
	    @param {string} path */
	#pathCall(syscall, path) {
		const raw = encodePath(path);
		return this.#withBuffers([raw.length], (host, root, [pathPointer]) => {
			host.coreBytes(pathPointer, raw.length).set(raw);
			return host.exports[syscall](root, pathPointer, raw.length);
		});
	}

	/** An fd of the host process for `path`.
	    @param {string} path @param {number} oflags @param {bigint} rights */
	#open(path, oflags, rights, follow = true) {
		const raw = encodePath(path);
		return this.#withBuffers([raw.length, 4], (host, root, [pathPointer, fdPointer]) => {
			host.coreBytes(pathPointer, raw.length).set(raw);
			const errno = host.exports.path_open(root, follow ? LOOKUP.SYMLINK_FOLLOW : 0, pathPointer,
				raw.length, oflags, rights, 0n, 0, fdPointer);
			check(errno, 'open', path);
			return host.coreView().getUint32(fdPointer, true);
		});
	}

	/** @param {number} fd */
	#close(fd) {
		this.#host().exports.fd_close(fd);
	}

	/** Creates or truncates the file at `path` and writes `data` (string: UTF-8).
	    @param {string} path @param {BytesLike} data */
	writeFile(path, data) {
		const bytes = toBytes(data);
		const fd = this.#open(path, OFLAG.CREAT | OFLAG.TRUNC, WRITE_RIGHTS);
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
	    scratch buffer itself counts against limits.maxFsBytes).
	    @param {number} fd @param {Uint8Array} bytes @param {number} position
	    @param {number} wanted @param {string} path */
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
		const fd = this.#open(path, 0, READ_RIGHTS);
		let bytes;
		try {
			const info = this.#fstat(fd, path);
			// WASI lets a directory be opened and then fails the read with EBADF; say EISDIR.
			if (info.isDirectory()) throw new WasiError(ERRNO.EISDIR, 'read', path);
			const wanted = Math.min(Math.max(info.size, 1), FILE_CHUNK_BYTES);
			/** @type {Uint8Array[]} */
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
			}, 'read', path);
			bytes = parts.length ? concatBytes(parts) : new Uint8Array(0);
		} finally {
			this.#close(fd);
		}
		return encoding === undefined ? bytes : decodeUtf8(bytes);
	}

	/** @param {number} fd @param {string} path */
	#fstat(fd, path) {
		return this.#withBuffers([FILESTAT.SIZE], (host, _root, [out]) => {
			check(host.exports.fd_filestat_get(fd, out), 'fstat', path);
			return new WasiStat(host.coreView(), out);
		});
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
		const raw = encodePath(path);
		return this.#withBuffers([raw.length, FILESTAT.SIZE], (host, root, [pathPointer, out]) => {
			host.coreBytes(pathPointer, raw.length).set(raw);
			const errno = host.exports.path_filestat_get(root, follow ? LOOKUP.SYMLINK_FOLLOW : 0,
				pathPointer, raw.length, out);
			check(errno, follow ? 'stat' : 'lstat', path);
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

	/** Creates a directory; `recursive` creates missing parents and accepts an existing one.
	    @param {string} path @param {{recursive?: boolean}} [options] */
	mkdir(path, {recursive = false} = {}) {
		if (recursive) {
			const parent = parentOf(path);
			if (parent !== '/' && !this.#isDirectory(parent)) this.mkdir(parent, {recursive: true});
		}
		const errno = this.#pathCall('path_create_directory', path);
		if (errno === ERRNO.EEXIST && recursive && this.#isDirectory(path)) return;
		check(errno, 'mkdir', path);
	}

	/** @param {string} path */
	#isDirectory(path) {
		try {
			return this.stat(path).isDirectory();
		} catch (error) {
			if (error instanceof WasiError) return false;
			throw error;
		}
	}

	/** Names in directory `path`, without "." and "..", in the core's order.
	    @param {string} path */
	readdir(path) {
		const fd = this.#open(path, OFLAG.DIRECTORY, READDIR_RIGHTS);
		try {
			return this.#readDirectory(fd, path).filter(name => name !== '.' && name !== '..');
		} finally {
			this.#close(fd);
		}
	}

	/** @param {number} fd @param {string} path */
	#readDirectory(fd, path) {
		/** @type {string[]} */
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
			while (position + DIRENT.SIZE <= used) {
				const nameLength = view.getUint32(position + 16, true);
				const end = position + DIRENT.SIZE + nameLength;
				if (end > used) break; // cut off by the buffer: read again from its cookie
				names.push(decodeUtf8(data.subarray(position + DIRENT.SIZE, end)));
				cookie = view.getBigUint64(position, true);
				position = end;
			}
			if (used < size) return names; // a short buffer means the end of the directory
			if (position === 0) size *= 2; // not even one entry fitted
		}
	}

	/** Removes a file or symlink; a directory only with `recursive` (its whole tree).
	    `force` ignores a missing path.
	    @param {string} path @param {{recursive?: boolean, force?: boolean}} [options] */
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

	/** Renames `src` to `dst` (replacing a file, or an empty directory, at `dst`).
	    @param {string} src @param {string} dst */
	rename(src, dst) {
		const a = encodePath(src), b = encodePath(dst);
		const errno = this.#withBuffers([a.length, b.length], (host, root, [aPointer, bPointer]) => {
			host.coreBytes(aPointer, a.length).set(a);
			host.coreBytes(bPointer, b.length).set(b);
			return host.exports.path_rename(root, aPointer, a.length, root, bPointer, b.length);
		});
		check(errno, 'rename', src, dst);
	}

	/** Creates symlink `path` whose content is `target` (stored as given).
	    @param {string} target @param {string} path */
	symlink(target, path) {
		const rawTarget = encodeUtf8(target), raw = encodePath(path);
		const errno = this.#withBuffers([rawTarget.length, raw.length], (host, root, [targetPointer, pathPointer]) => {
			host.coreBytes(targetPointer, rawTarget.length).set(rawTarget);
			host.coreBytes(pathPointer, raw.length).set(raw);
			return host.exports.path_symlink(targetPointer, rawTarget.length, root, pathPointer, raw.length);
		});
		check(errno, 'symlink', target, path);
	}

	/** The target of symlink `path`. @param {string} path */
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

	/** Bytes the VFS allocator has handed out (for leak checks). */
	usedBytes() {
		return Number(this.#host().exports.wasi_wasm_used_bytes());
	}

	/** Number of inconsistencies the core finds in the filesystem (0 = healthy). */
	fsck() {
		return this.#host().exports.wasi_wasm_fsck();
	}
}
