// @ts-check
/* Snapshots of a VFS tree as a standard tar archive (POSIX.1-2001 "pax"), and restores: the
   same archives, and the same guarantees, as the Python host's save_tar / load_tar
   (src/wasi_wasm/_snapshot.py).

   saveTar walks the tree while the filesystem is frozen (wasi_wasm_freeze: the host process
   holds the lock exclusive for the whole walk, every other process waits at its next
   filesystem call), so the archive is the tree at one moment. loadTar builds the archive's
   tree in a fresh directory of its own and moves it into place only once it is complete, so
   a bad or hostile archive, or a full filesystem, leaves everything as it was.

   What an archive keeps (pax records, read back exactly): every entry's kind, mtime and atime
   in nanoseconds, symlink targets, hard links (one member per inode, then link members),
   holes (GNU sparse format 1.0, found with wasi_wasm_seek_data). The VFS holds no permission
   bits, owners or ctimes: an archive gets 0o755 for directories, 0o644 for files and 0o777
   for symlinks, owner 0, and a restore ignores them.

   The tree is walked and built through the public filesystem API (fs.mjs); what that API has
   no method for (pread/pwrite at offsets, SEEK_DATA, set times, hard links, freeze) goes to
   the host process's core exports directly, through the `CoreAccess` the Wasi passes in. */

import {ERRNO, FST, LOOKUP, OFLAG, RIGHT} from './abi.mjs';
import {WasiError, check, describe} from './errors.mjs';
import {encodePath, withFrozen} from './fs.mjs';
import {Symlink} from './symlink.mjs';
import {concatBytes, decodeUtf8, encodeUtf8, toBytes} from './platform.mjs';
import {NO_ROOM, SMALL_CHUNK_BYTES} from './process.mjs';
/** @import {WasiFileSystem, WasiStat} from './fs.mjs' */
/** @import {CoreProcess} from './process.mjs' */
/** @import {Tree} from './types.mjs' */

/** The host process behind the filesystem API and its root fd (see Wasi).
    @typedef {() => {host: CoreProcess, root: number}} CoreAccess */

const BLOCK = 512;
const RECORD = 20 * BLOCK; // tar pads an archive to whole records
const HOLE = 1 << 16; // the core's chunk: a hole is a run of whole all-zero chunks
const MAX_HEADER_SIZE = 1 << 20; // a pax record set or a GNU long name
const MAX_VFS_FILE_SIZE = 2 ** 44 - 4096; // the core's largest file (EFBIG past it)
const U64_MAX = 2n ** 64n - 1n;
const DIR_MODE = 0o755, FILE_MODE = 0o644, LINK_MODE = 0o777;
const TAR_READ_RIGHTS = RIGHT.FD_READ | RIGHT.FD_SEEK | RIGHT.FD_TELL | RIGHT.FD_FILESTAT_GET;
const TAR_WRITE_RIGHTS = RIGHT.FD_WRITE | RIGHT.FD_SEEK | RIGHT.FD_TELL | RIGHT.FD_FILESTAT_GET
	| RIGHT.FD_FILESTAT_SET_SIZE;
const TEMP_PREFIX = '.wasi-wasm-restore-';
/** What a WasiError's syscall ends with when its path names an archive member. */
export const RESTORING = ' (restoring archive member)';

/** A tar archive that cannot be read: cut short, a bad header checksum, a format this
    loader does not read. Nothing was changed. */
export class ArchiveError extends Error {
	/** @param {string} message */
	constructor(message) {
		super(message);
		this.name = 'ArchiveError';
	}
}

/** An archive member that a restore refuses (an absolute name, `..`, a path through a
    symlink, a device, a size past the filesystem's largest file...), naming the member, as
    the Python host's UnsafeArchiveError. Thrown before the filesystem changes. */
export class UnsafeArchiveError extends ArchiveError {
	/** @param {string} message */
	constructor(message) {
		super(message);
		this.name = 'UnsafeArchiveError';
	}
}

// ------------------------------------------------------------------------------------------
// The host process's core calls that the public API has no method for

class Core {
	/** @param {CoreAccess} access */
	constructor(access) {
		const {host, root} = access();
		this.host = host;
		this.root = root;
	}

	/** Runs `use(pointers)` with scratch buffers of `sizes` (8-byte aligned parts).
	    @template T @param {number[]} sizes @param {(pointers: number[]) => T} use @returns {T} */
	buffers(sizes, use) {
		/** @type {number[]} */
		const offsets = [];
		let total = 0;
		for (const size of sizes) {
			offsets.push(total);
			total += (size + 7) & ~7;
		}
		const result = this.host.tryScratch(total, base => use(offsets.map(offset => base + offset)));
		if (result === NO_ROOM) throw new WasiError(ERRNO.ENOSPC, 'snapshot buffer');
		return result;
	}

	/** A chunk buffer of up to `wanted` bytes (a small one when the filesystem is nearly full).
	    @template T @param {number} wanted @param {(chunk: number, pointers: number[]) => T} use
	    @returns {T} */
	chunk(wanted, use) {
		for (const size of new Set([wanted, Math.min(wanted, SMALL_CHUNK_BYTES)])) {
			const result = this.host.tryScratch(size + 16, base => use(size, [base, base + size, base + size + 8]));
			if (result !== NO_ROOM) return result;
		}
		throw new WasiError(ERRNO.ENOSPC, 'snapshot buffer');
	}

	/** @param {string} path @param {number} oflags @param {bigint} rights */
	open(path, oflags, rights) {
		const raw = encodePath(path);
		return this.buffers([raw.length, 4], ([pathPointer, fdPointer]) => {
			this.host.coreBytes(pathPointer, raw.length).set(raw);
			check(this.host.exports.path_open(this.root, 0, pathPointer, raw.length, oflags, rights, 0n, 0, fdPointer), 'open', path);
			return this.host.coreView().getUint32(fdPointer, true);
		});
	}

	/** @param {number} fd */
	close(fd) {
		this.host.exports.fd_close(fd);
	}

	/** `length` bytes of `fd` from `offset`, in pieces of up to HOLE bytes, to `sink`.
	    @param {number} fd @param {number} offset @param {number} length @param {string} path
	    @param {(piece: Uint8Array) => void} sink */
	pread(fd, offset, length, path, sink) {
		if (length === 0) return;
		this.chunk(Math.min(length, HOLE), (size, [buffer, iovec, countPointer]) => {
			while (length > 0) {
				const view = this.host.coreView();
				view.setUint32(iovec, buffer, true);
				view.setUint32(iovec + 4, Math.min(size, length), true);
				check(this.host.exports.fd_pread(fd, iovec, 1, BigInt(offset), countPointer), 'read', path);
				const count = this.host.coreView().getUint32(countPointer, true);
				if (count === 0) throw new WasiError(ERRNO.EIO, 'read', path); // frozen: cannot shrink
				sink(this.host.coreBytes(buffer, count).slice());
				offset += count;
				length -= count;
			}
		});
	}

	/** The (offset, length) runs of `fd`'s data, as SEEK_DATA / SEEK_HOLE find them: holes
	    are never read. @param {number} fd @param {number} size @param {string} path */
	dataRuns(fd, size, path) {
		/** @type {[number, number][]} */
		const runs = [];
		this.buffers([8], ([out]) => {
			let offset = 0;
			while (offset < size) {
				const code = this.host.exports.wasi_wasm_seek_data(fd, BigInt(offset), 0, out);
				if (code === ERRNO.ENXIO) break;
				check(code, 'seek_data', path);
				const start = Number(this.host.coreView().getBigUint64(out, true));
				check(this.host.exports.wasi_wasm_seek_data(fd, BigInt(start), 1, out), 'seek_data', path);
				const end = Math.min(Number(this.host.coreView().getBigUint64(out, true)), size);
				runs.push([start, end - start]);
				offset = end;
			}
		});
		return runs;
	}

	/** Sets atime/mtime (BigInt ns; null leaves one as it is) of `path`.
	    @param {string} path @param {bigint | null} atime @param {bigint | null} mtime @param {boolean} follow */
	setTimes(path, atime, mtime, follow) {
		const raw = encodePath(path);
		const flags = (atime !== null ? FST.ATIM : 0) | (mtime !== null ? FST.MTIM : 0);
		const errno = this.buffers([raw.length], ([pathPointer]) => {
			this.host.coreBytes(pathPointer, raw.length).set(raw);
			return this.host.exports.path_filestat_set_times(this.root, follow ? LOOKUP.SYMLINK_FOLLOW : 0,
				pathPointer, raw.length, atime ?? 0n, mtime ?? 0n, flags);
		});
		check(errno, 'utimes', path);
	}

	/** A hard link `path` to `source` (never following a symlink). @param {string} source @param {string} path */
	link(source, path) {
		const a = encodePath(source), b = encodePath(path);
		const errno = this.buffers([a.length, b.length], ([aPointer, bPointer]) => {
			this.host.coreBytes(aPointer, a.length).set(a);
			this.host.coreBytes(bPointer, b.length).set(b);
			return this.host.exports.path_link(this.root, 0, aPointer, a.length, this.root, bPointer, b.length);
		});
		check(errno, 'link', source, path);
	}

	/** Runs `use()` with the filesystem frozen (nested freezes of this process run inside the
	    outer one). @template T @param {() => T} use @returns {T} */
	frozen(use) {
		return withFrozen(this.host, use);
	}
}

// ------------------------------------------------------------------------------------------
// Writing tar

/** @param {string} text */
function isAscii(text) {
	for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
	return true;
}

/** Each UTF-16 unit past ASCII as '_' (a header's stand-in name; pax holds the real one).
    @param {string} text */
function asciiStandIn(text) {
	let out = '';
	for (let i = 0; i < text.length; i++) out += text.charCodeAt(i) > 0x7f ? '_' : text[i];
	return out;
}

/** A pax extended header's data: "LEN KEY=VALUE\n" records. @param {[string, string][]} records */
function paxRecords(records) {
	/** @type {Uint8Array[]} */
	const parts = [];
	for (const [key, value] of records) {
		const body = encodeUtf8(` ${key}=${value}\n`);
		let length = body.length + 1;
		while (String(length).length + body.length !== length) length = String(length).length + body.length;
		parts.push(encodeUtf8(String(length)), body);
	}
	return concatBytes(parts.length ? parts : [new Uint8Array(0)]);
}

/** @param {bigint} ns */
function paxTime(ns) {
	return `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
}

/** A ustar header block. @param {{name: string, type: string, mode: number, size: number,
    mtime: number, linkname?: string}} fields */
function ustarHeader({name, type, mode, size, mtime, linkname = ''}) {
	const block = new Uint8Array(BLOCK);
	/** @param {number} at @param {number} width @param {string} text */
	const put = (at, width, text) => block.set(encodeUtf8(text).subarray(0, width), at);
	/** @param {number} at @param {number} width @param {number} value */
	const octal = (at, width, value) => put(at, width, `${value.toString(8).padStart(width - 1, '0')}\0`);
	put(0, 100, name);
	octal(100, 8, mode);
	octal(108, 8, 0);
	octal(116, 8, 0);
	octal(124, 12, size);
	octal(136, 12, mtime);
	put(148, 8, '        ');
	put(156, 1, type);
	put(157, 100, linkname);
	put(257, 8, 'ustar\x0000');
	let sum = 0;
	for (const byte of block) sum += byte;
	put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
	return block;
}

const MAX_OCTAL_11 = 8 ** 11 - 1;

class TarWriter {
	/** @type {Uint8Array[]} */
	parts = [];
	length = 0;

	/** @param {Uint8Array} bytes */
	push(bytes) {
		this.parts.push(bytes);
		this.length += bytes.length;
	}

	pad() {
		const rest = (BLOCK - this.length % BLOCK) % BLOCK;
		if (rest) this.push(new Uint8Array(rest));
	}

	/** A member's headers (a pax header when needed, then ustar), as Python's tarfile writes
	    them in PAX_FORMAT. @param {{name: string, type: string, mode: number, size: number,
	    linkname?: string, pax: [string, string][]}} member */
	add({name, type, mode, size, linkname = '', pax}) {
		const records = [...pax];
		let headerName = name, headerLink = linkname;
		if (!isAscii(name) || encodeUtf8(name).length > 100) {
			records.push(['path', name]);
			headerName = asciiStandIn(name).slice(0, 100);
		}
		if (!isAscii(linkname) || encodeUtf8(linkname).length > 100) {
			records.push(['linkpath', linkname]);
			headerLink = asciiStandIn(linkname).slice(0, 100);
		}
		let headerSize = size;
		if (size > MAX_OCTAL_11) {
			records.push(['size', String(size)]);
			headerSize = 0;
		}
		const mtimeRecord = records.find(([key]) => key === 'mtime');
		let mtime = mtimeRecord ? Number(mtimeRecord[1].split('.')[0]) : 0;
		if (mtime > MAX_OCTAL_11) mtime = 0;
		if (records.length) {
			const data = paxRecords(records);
			this.push(ustarHeader({name: '././@PaxHeader', type: 'x', mode: 0, size: data.length, mtime: 0}));
			this.push(data);
			this.pad();
		}
		this.push(ustarHeader({name: headerName, type, mode, size: headerSize, mtime, linkname: headerLink}));
	}

	finish() {
		this.push(new Uint8Array(2 * BLOCK));
		const rest = (RECORD - this.length % RECORD) % RECORD;
		if (rest) this.push(new Uint8Array(rest));
		return concatBytes(this.parts);
	}
}

/** Whether `bytes` are all zero. @param {Uint8Array} bytes */
function allZero(bytes) {
	const words = bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2) : null;
	let i = 0;
	if (words) {
		for (const word of words) if (word !== 0) return false;
		i = words.length * 4;
	}
	for (; i < bytes.length; i++) if (bytes[i] !== 0) return false;
	return true;
}

/** (offset, length) of the runs of HOLE-aligned blocks of `data` that hold a non-zero byte.
    @param {Uint8Array} data */
function dataRegionsOf(data) {
	/** @type {[number, number][]} */
	const regions = [];
	for (let start = 0; start < data.length; start += HOLE) {
		const block = data.subarray(start, start + HOLE);
		if (allZero(block)) continue;
		const last = regions[regions.length - 1];
		if (last && last[0] + last[1] === start) last[1] += block.length;
		else regions.push([start, block.length]);
	}
	return regions;
}

/** GNU sparse 1.0's map, padded to a block; a file ending in a hole ends with an empty region.
    @param {[number, number][]} regions @param {number} size */
function sparseMap(regions, size) {
	const entries = [...regions];
	const last = entries[entries.length - 1];
	if (!last || last[0] + last[1] < size) entries.push([size, 0]);
	const text = `${[String(entries.length), ...entries.map(([o, n]) => `${o}\n${n}`)].join('\n')}\n`;
	const bytes = encodeUtf8(text);
	const padded = new Uint8Array(Math.ceil(bytes.length / BLOCK) * BLOCK);
	padded.set(bytes);
	return padded;
}

/** @param {string} path @param {...string} parts */
function join(path, ...parts) {
	return parts.length ? [path.replace(/\/+$/, ''), ...parts].join('/') : path;
}

/**
 * The tree at `path` as a pax tar archive, taken at one moment (the filesystem frozen).
 * @param {WasiFileSystem} fs @param {CoreAccess} access @param {string} path
 * @returns {Uint8Array}
 */
export function saveTar(fs, access, path = '/') {
	encodePath(path);
	const core = new Core(access);
	return core.frozen(() => {
		if (!fs.stat(path).isDirectory()) throw new WasiError(ERRNO.ENOTDIR, 'saveTar', path);
		const tar = new TarWriter();
		/** @type {Map<string, string>} first member name of each inode with several links */
		const firstName = new Map();
		/** @param {string} dir @param {string} prefix */
		const walk = (dir, prefix) => {
			for (const name of fs.readdir(dir)) {
				const full = join(dir, name);
				const member = prefix ? `${prefix}/${name}` : name;
				const info = fs.lstat(full);
				const times = /** @type {[string, string][]} */ ([['mtime', paxTime(info.mtimeNs)], ['atime', paxTime(info.atimeNs)]]);
				if (info.isDirectory()) {
					// Listing it sets its atime: the stat above was taken before.
					tar.add({name: `${member}/`, type: '5', mode: DIR_MODE, size: 0, pax: times});
					walk(full, member);
					continue;
				}
				if (!info.isFile() && !info.isSymbolicLink()) continue; // pipes have no place in tar
				const key = `${info.dev}:${info.ino}`;
				if (info.nlink > 1) {
					const first = firstName.get(key);
					if (first !== undefined) {
						tar.add({name: member, type: '1', mode: FILE_MODE, size: 0, linkname: first, pax: []});
						continue;
					}
					firstName.set(key, member);
				}
				if (info.isSymbolicLink()) {
					tar.add({name: member, type: '2', mode: LINK_MODE, size: 0, linkname: fs.readlink(full), pax: times});
				} else {
					addFile(core, tar, full, member, info, times);
				}
			}
		};
		walk(path, '');
		return tar.finish();
	});
}

/** @param {Core} core @param {TarWriter} tar @param {string} full @param {string} member
    @param {WasiStat} info @param {[string, string][]} times */
function addFile(core, tar, full, member, info, times) {
	const size = info.size;
	const fd = core.open(full, 0, TAR_READ_RIGHTS);
	try {
		/** @type {Uint8Array | null} */
		let kept = null;
		let regions;
		if (size <= HOLE) { // one piece: read once, kept for the data
			/** @type {Uint8Array[]} */
			const pieces = [];
			core.pread(fd, 0, size, full, piece => pieces.push(piece));
			kept = pieces.length ? concatBytes(pieces) : new Uint8Array(0);
			regions = dataRegionsOf(kept);
		} else {
			regions = core.dataRuns(fd, size, full);
		}
		const dense = size === 0 || (regions.length === 1 && regions[0][0] === 0 && regions[0][1] === size);
		/** @param {number} offset @param {number} length */
		const copy = (offset, length) => {
			if (kept) tar.push(kept.subarray(offset, offset + length));
			else core.pread(fd, offset, length, full, piece => tar.push(piece));
		};
		if (dense) {
			tar.add({name: member, type: '0', mode: FILE_MODE, size, pax: times});
			copy(0, size);
		} else {
			const map = sparseMap(regions, size);
			const stored = map.length + regions.reduce((total, [, length]) => total + length, 0);
			tar.add({
				name: 'GNUSparseFile.0/sparse', type: '0', mode: FILE_MODE, size: stored,
				pax: [...times, ['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', member],
					['GNU.sparse.realsize', String(size)]],
			});
			tar.push(map);
			for (const [offset, length] of regions) copy(offset, length);
		}
		tar.pad();
	} finally {
		core.close(fd);
	}
}

// ------------------------------------------------------------------------------------------
// Trees ({name: bytes | string | tree | Symlink}) as archives, for writeTree

/** Whether `value` is a tree's directory (a plain object). @param {unknown} value
    @returns {value is Tree} */
function isDirectory(value) {
	if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return false;
	const proto = Object.getPrototypeOf(value);
	return proto === Object.prototype || proto === null;
}

/**
 * `tree` as a tar archive whose members are named below `path` (only for the messages):
 * names and values are checked first, so a bad tree throws before anything is written.
 * @param {string} path @param {unknown} tree @param {bigint} now the mtime of every entry
 */
export function treeToTar(path, tree, now) {
	if (!isDirectory(tree)) throw new TypeError(`writeTree needs a tree such as {dir: {file: 'text'}}, not ${describe(tree)}`);
	const tar = new TarWriter();
	const times = /** @type {[string, string][]} */ ([['mtime', paxTime(now)]]);
	/** @param {Tree} dir @param {string} prefix */
	const walk = (dir, prefix) => {
		for (const [name, value] of Object.entries(dir)) {
			const member = prefix ? `${prefix}/${name}` : name;
			const where = join(path, member);
			if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
				throw new WasiError(ERRNO.EINVAL, 'writeTree (a name in a tree is one path component)', where);
			}
			if (value instanceof Symlink) {
				if (value.target.startsWith('/')) throw new WasiError(ERRNO.EPERM, 'writeTree (symlink targets are relative)', where);
				tar.add({name: member, type: '2', mode: LINK_MODE, size: 0, linkname: value.target, pax: times});
			} else if (isDirectory(value)) {
				tar.add({name: `${member}/`, type: '5', mode: DIR_MODE, size: 0, pax: times});
				walk(value, member);
			} else {
				let bytes;
				try {
					bytes = toBytes(value);
				} catch {
					throw new TypeError(`writeTree: ${where} must be a string, bytes, a Symlink or a tree, not ${describe(value)}`);
				}
				tar.add({name: member, type: '0', mode: FILE_MODE, size: bytes.length, pax: times});
				tar.push(bytes);
				tar.pad();
			}
		}
	};
	walk(tree, '');
	return tar.finish();
}

// ------------------------------------------------------------------------------------------
// Reading tar

/** @typedef {{name: string, type: string, size: number, linkname: string, dataStart: number,
    stored: number, regions: [number, number][] | null, atime: bigint | null, mtime: bigint,
    offset: number}} Member */

/** A numeric header field: octal text, or GNU base-256. @param {Uint8Array} field */
function headerNumber(field) {
	if (field[0] === 0x80 || field[0] === 0xff) {
		let value = 0n;
		for (let i = 1; i < field.length; i++) value = value << 8n | BigInt(field[i]);
		if (field[0] === 0xff) value -= 1n << BigInt(8 * (field.length - 1));
		return Number(value);
	}
	const text = decodeUtf8(field).replace(/\0.*$/s, '').trim();
	if (text && !/^[0-7]+$/.test(text)) throw new ArchiveError(`a bad number ${JSON.stringify(text)} in a tar header`);
	return text ? parseInt(text, 8) : 0;
}

/** @param {Uint8Array} field */
function headerString(field) {
	const end = field.indexOf(0);
	return decodeUtf8(end < 0 ? field : field.subarray(0, end));
}

/** (atime or mtime) in ns from a pax record, as the Python host reads it; null if absent or
    unreadable; a time before 1970 is 0. @param {string | undefined} text */
function parseTime(text) {
	if (text === undefined) return null;
	const negative = text.startsWith('-');
	const [whole, fraction = ''] = text.replace(/^-+/, '').split('.', 2);
	if (!/^\d*$/.test(whole) || !/^\d*$/.test(fraction)) return null;
	const ns = BigInt(whole || '0') * 1_000_000_000n + BigInt((fraction + '000000000').slice(0, 9));
	if (negative) return 0n;
	return ns > U64_MAX ? U64_MAX : ns;
}

/** The pax records of a header's data. @param {Uint8Array} data */
function parsePax(data) {
	/** @type {Record<string, string>} */
	const records = {};
	let at = 0;
	while (at < data.length && data[at] !== 0) {
		const space = data.indexOf(0x20, at);
		const length = space > at ? Number(decodeUtf8(data.subarray(at, space))) : NaN;
		if (!Number.isInteger(length) || length <= 0 || at + length > data.length || data[at + length - 1] !== 0x0a) {
			throw new ArchiveError('a malformed pax header');
		}
		const record = decodeUtf8(data.subarray(space + 1, at + length - 1));
		const equals = record.indexOf('=');
		if (equals < 0) throw new ArchiveError('a malformed pax header');
		records[record.slice(0, equals)] = record.slice(equals + 1);
		at += length;
	}
	return records;
}

/** The members of a tar archive, one by one (their data stays in `bytes`).
    @param {Uint8Array} bytes @returns {Generator<Member>} */
function* readTar(bytes) {
	/** @type {Record<string, string>} */
	let pax = {};
	/** @type {Record<string, string>} */
	let globalPax = {};
	/** @type {string | null} */
	let longName = null;
	/** @type {string | null} */
	let longLink = null;
	let at = 0;
	for (;;) {
		if (at + BLOCK > bytes.length) {
			// No end blocks after a whole member: Python's tarfile takes this too.
			const pending = Object.keys(pax).length || longName !== null || longLink !== null;
			if (at === bytes.length && !pending) return;
			throw new ArchiveError(`the archive is cut short at offset ${Math.min(at, bytes.length)}`);
		}
		const header = bytes.subarray(at, at + BLOCK);
		if (allZero(header)) return;
		let unsigned = 0, signed = 0;
		for (let i = 0; i < BLOCK; i++) {
			const byte = i >= 148 && i < 156 ? 0x20 : header[i];
			unsigned += byte;
			signed += byte > 127 ? byte - 256 : byte;
		}
		const checksum = headerNumber(header.subarray(148, 156));
		if (checksum !== unsigned && checksum !== signed) throw new ArchiveError(`a bad tar header checksum at offset ${at}`);
		const offset = at;
		const type = String.fromCharCode(header[156]);
		let size = headerNumber(header.subarray(124, 136));
		if ('xgLKX'.includes(type)) {
			const dataStart = at + BLOCK;
			if (size > MAX_HEADER_SIZE) {
				throw new UnsafeArchiveError(`an archive header of ${size} bytes (at offset ${offset}), over ${MAX_HEADER_SIZE}: refused`);
			}
			if (dataStart + size > bytes.length) throw new ArchiveError(`the archive is cut short at offset ${offset}`);
			const data = bytes.subarray(dataStart, dataStart + size);
			at = dataStart + Math.ceil(size / BLOCK) * BLOCK;
			if (type === 'x' || type === 'X') pax = {...pax, ...parsePax(data)};
			else if (type === 'g') globalPax = {...globalPax, ...parsePax(data)};
			else if (type === 'L') longName = headerString(data);
			else longLink = headerString(data);
			continue;
		}
		const records = {...globalPax, ...pax};
		pax = {};
		let name = headerString(header.subarray(0, 100));
		const magic = decodeUtf8(header.subarray(257, 263));
		if (magic.startsWith('ustar')) {
			const prefix = headerString(header.subarray(345, 500));
			if (prefix && magic === 'ustar\0') name = `${prefix}/${name}`;
		}
		let linkname = headerString(header.subarray(157, 257));
		if (longName !== null) name = longName;
		if (longLink !== null) linkname = longLink;
		longName = longLink = null;
		if (records.path !== undefined) name = records.path;
		if (records.linkpath !== undefined) linkname = records.linkpath;
		if (records.size !== undefined) {
			size = Number(records.size);
			if (!Number.isSafeInteger(size) || size < 0) throw new ArchiveError(`a bad size ${records.size} for ${JSON.stringify(name)}`);
		}
		const stored = '0\x007'.includes(type) || type === 'S' ? size : 0;
		/** @type {[number, number][] | null} */
		let oldSparse = null;
		if (type === 'S') { // GNU's old sparse format: the map in the header and extension blocks
			oldSparse = [];
			/** @param {Uint8Array} block @param {number} start @param {number} count */
			const entries = (block, start, count) => {
				for (let i = 0; i < count; i++) {
					const at = start + 24 * i;
					const offset = headerNumber(block.subarray(at, at + 12));
					const length = headerNumber(block.subarray(at + 12, at + 24));
					if (offset || length) /** @type {[number, number][]} */ (oldSparse).push([offset, length]);
				}
			};
			entries(header, 386, 4);
			let extended = header[482];
			while (extended) {
				if (at + 2 * BLOCK > bytes.length) throw new ArchiveError(`the archive is cut short at offset ${at + BLOCK}`);
				at += BLOCK;
				const block = bytes.subarray(at, at + BLOCK);
				entries(block, 0, 21);
				extended = block[504];
			}
		}
		const dataStart = at + BLOCK;
		/** @type {Member} */
		const member = {
			name, type, size, linkname, dataStart, stored, regions: null, offset,
			atime: parseTime(records.atime),
			mtime: parseTime(records.mtime) ?? BigInt(Math.max(0, headerNumber(header.subarray(136, 148)))) * 1_000_000_000n,
		};
		if (oldSparse) {
			member.type = '0';
			member.regions = oldSparse;
			member.size = headerNumber(header.subarray(483, 495));
		}
		if (records['GNU.sparse.major'] !== undefined || records['GNU.sparse.map'] !== undefined
			|| records['GNU.sparse.offset'] !== undefined) {
			if (records['GNU.sparse.major'] === '1' && records['GNU.sparse.minor'] === '0') {
				readSparseMap(member, bytes, records);
			} else if (records['GNU.sparse.map'] !== undefined) { // 0.1: the map in a pax record
				const numbers = records['GNU.sparse.map'].split(',').map(Number);
				const realSize = Number(records['GNU.sparse.size'] ?? records['GNU.sparse.realsize']);
				if (numbers.length % 2 || !numbers.every(Number.isSafeInteger) || !Number.isSafeInteger(realSize)) {
					throw new ArchiveError(`archive member ${JSON.stringify(name)} has a malformed sparse map`);
				}
				member.regions = [];
				for (let i = 0; i < numbers.length; i += 2) member.regions.push([numbers[i], numbers[i + 1]]);
				member.size = realSize;
				if (records['GNU.sparse.name'] !== undefined) member.name = records['GNU.sparse.name'];
			} else {
				throw new ArchiveError(`archive member ${JSON.stringify(name)} uses GNU sparse format 0.0, which this loader does not read (1.0, 0.1 and GNU's old one it does)`);
			}
		}
		at = dataStart + Math.ceil(stored / BLOCK) * BLOCK;
		yield member;
	}
}

/** GNU sparse 1.0: the real name and size from the pax records, the map from the data.
    @param {Member} member @param {Uint8Array} bytes @param {Record<string, string>} records */
function readSparseMap(member, bytes, records) {
	if (records['GNU.sparse.name'] !== undefined) member.name = records['GNU.sparse.name'];
	const realSize = Number(records['GNU.sparse.realsize'] ?? records['GNU.sparse.size']);
	if (!Number.isSafeInteger(realSize) || realSize < 0) throw new ArchiveError(`archive member ${JSON.stringify(member.name)} has a bad sparse size`);
	/** @type {number[]} */
	const numbers = [];
	let at = member.dataStart, line = '';
	const end = Math.min(member.dataStart + member.stored, bytes.length);
	let wanted = 1;
	while (numbers.length < wanted) {
		if (at >= end) throw new ArchiveError(`archive member ${JSON.stringify(member.name)} has a sparse map cut short`);
		const byte = bytes[at++];
		if (byte !== 0x0a) {
			if (byte < 0x30 || byte > 0x39 || line.length > 20) throw new ArchiveError(`archive member ${JSON.stringify(member.name)} has a malformed sparse map`);
			line += String.fromCharCode(byte);
			continue;
		}
		numbers.push(Number(line));
		line = '';
		if (numbers.length === 1) {
			if (numbers[0] > (end - member.dataStart) / 2) throw new ArchiveError(`archive member ${JSON.stringify(member.name)} has a malformed sparse map`);
			wanted = 1 + 2 * numbers[0];
		}
	}
	const mapBytes = Math.ceil((at - member.dataStart) / BLOCK) * BLOCK;
	/** @type {[number, number][]} */
	const regions = [];
	for (let i = 1; i < numbers.length; i += 2) regions.push([numbers[i], numbers[i + 1]]);
	member.regions = regions;
	member.dataStart += mapBytes;
	member.stored -= mapBytes;
	member.size = realSize;
}

// ------------------------------------------------------------------------------------------
// Restoring

/** A member's name as components below the target: "./a//b/" is ["a", "b"]; an absolute name
    or one with `..` is refused. @param {string} name */
function memberParts(name) {
	if (name.startsWith('/') || name.startsWith('\\')) {
		throw new UnsafeArchiveError(`archive member ${JSON.stringify(name)} has an absolute name: refused`);
	}
	const parts = name.split('/').filter(part => part !== '' && part !== '.');
	if (parts.includes('..')) throw new UnsafeArchiveError(`archive member ${JSON.stringify(name)} has a '..' component: refused`);
	return parts;
}

/** @param {WasiFileSystem} fs @param {string} path */
function lstatOrNull(fs, path) {
	try {
		return fs.lstat(path);
	} catch (error) {
		if (error instanceof WasiError && error.errno === ERRNO.ENOENT) return null;
		throw error;
	}
}

const KIND_NAMES = /** @type {Record<string, string>} */ ({3: 'a character device', 4: 'a block device', 6: 'a fifo'});

class Restorer {
	/** @type {Set<string>} real directories this restore made (joined parts) */
	dirs = new Set(['']);
	/** @type {[string[], bigint | null, bigint][]} */
	dirTimes = [];

	/** @param {WasiFileSystem} fs @param {Core} core @param {string} root @param {Uint8Array} bytes */
	constructor(fs, core, root, bytes) {
		this.fs = fs;
		this.core = core;
		this.root = root;
		this.bytes = bytes;
	}

	/** @param {string[]} parts */
	path(parts) {
		return join(this.root, ...parts);
	}

	/** @param {Member} member */
	restore(member) {
		const parts = memberParts(member.name);
		try {
			this.#restore(member, parts);
		} catch (error) {
			if (error instanceof WasiError) {
				throw new WasiError(error.errno, `${error.syscall}${RESTORING}`, member.name);
			}
			throw error;
		}
	}

	/** @param {Member} member @param {string[]} parts */
	#restore(member, parts) {
		const {type, name} = member;
		const quoted = JSON.stringify(name);
		const regular = type === '0' || type === '\0' || type === '7';
		if (!regular && type !== '5' && type !== '2' && type !== '1') {
			throw new UnsafeArchiveError(`archive member ${quoted} is ${KIND_NAMES[type] ?? `of type ${JSON.stringify(type)}`}: refused`);
		}
		if (regular) checkSizes(member);
		if (!parts.length) {
			if (type !== '5') throw new UnsafeArchiveError(`archive member ${quoted} names the root`);
			return; // the target itself: its times stay the target's
		}
		this.#parents(member, parts.slice(0, -1), true);
		const path = this.path(parts);
		if (type === '5') {
			const old = lstatOrNull(this.fs, path);
			if (!old?.isDirectory()) this.#fresh(member, path, () => this.fs.mkdir(path));
			this.dirs.add(parts.join('/'));
			this.dirTimes.push([parts, member.atime, member.mtime]);
		} else if (type === '2') {
			if (member.linkname.startsWith('/')) {
				throw new UnsafeArchiveError(`archive member ${quoted} is a symlink to the absolute path ${JSON.stringify(member.linkname)}: the VFS stores relative targets only`);
			}
			this.#fresh(member, path, () => this.fs.symlink(member.linkname, path));
			this.core.setTimes(path, member.atime, member.mtime, false);
		} else if (type === '1') {
			const sourceParts = memberParts(member.linkname);
			if (!sourceParts.length) throw new UnsafeArchiveError(`archive member ${quoted} links to the root`);
			this.#parents(member, sourceParts.slice(0, -1), false);
			const source = this.path(sourceParts);
			const info = lstatOrNull(this.fs, source);
			if (!info || info.isDirectory()) {
				throw new UnsafeArchiveError(`archive member ${quoted} is a hard link to ${JSON.stringify(member.linkname)}, which is no file restored before it`);
			}
			this.#fresh(member, path, () => this.core.link(source, path));
		} else {
			this.#write(member, path);
		}
	}

	/** `make()` the member's entry; a name the archive used before is replaced (a later
	    member wins, as in tar), but never a directory.
	    @template T @param {Member} member @param {string} path @param {() => T} make @returns {T} */
	#fresh(member, path, make) {
		try {
			return make();
		} catch (error) {
			if (!(error instanceof WasiError && error.errno === ERRNO.EEXIST)) throw error;
		}
		const old = lstatOrNull(this.fs, path);
		if (old) {
			if (old.isDirectory()) throw new UnsafeArchiveError(`archive member ${JSON.stringify(member.name)} would replace a directory: refused`);
			this.fs.rm(path);
		}
		return make();
	}

	/** Every ancestor of a member must be a real directory of this restore, never a symlink
	    (which could lead out of the target): missing ones are made, as tar does.
	    @param {Member} member @param {string[]} parents @param {boolean} make */
	#parents(member, parents, make) {
		for (let depth = 1; depth <= parents.length; depth++) {
			const prefix = parents.slice(0, depth);
			const key = prefix.join('/');
			if (this.dirs.has(key)) continue;
			const info = lstatOrNull(this.fs, this.path(prefix));
			if (info && !info.isDirectory()) {
				throw new UnsafeArchiveError(`archive member ${JSON.stringify(member.name)} goes through ${JSON.stringify(key)}, which is not a directory (a symlink is never followed): refused`);
			}
			if (!info) {
				if (!make) throw new UnsafeArchiveError(`archive member ${JSON.stringify(member.name)} names ${JSON.stringify(key)}, which the archive has not made`);
				this.fs.mkdir(this.path(prefix));
			}
			this.dirs.add(key);
		}
	}

	/** The member's data: only HOLE blocks with a non-zero byte are written, so holes (sparse
	    members, and runs of zeros in plain ones) cost the filesystem nothing.
	    @param {Member} member @param {string} path */
	#write(member, path) {
		const core = this.core;
		const regions = member.regions ? member.regions.filter(([, length]) => length !== 0) : [[0, member.size]];
		if (member.dataStart + member.stored > this.bytes.length) {
			throw new ArchiveError(`archive member ${JSON.stringify(member.name)} is cut short`);
		}
		const fd = this.#fresh(member, path, () => core.open(path, OFLAG.CREAT | OFLAG.EXCL, TAR_WRITE_RIGHTS));
		try {
			let source = member.dataStart;
			const sourceEnd = member.dataStart + member.stored;
			let writtenEnd = 0;
			core.chunk(HOLE, (chunk, [buffer, iovec, countPointer]) => {
				for (const [offset, length] of regions) {
					const end = offset + length;
					if (source + length > sourceEnd) throw new ArchiveError(`archive member ${JSON.stringify(member.name)} is cut short`);
					for (let position = offset; position < end;) {
						const step = Math.min(end, (Math.floor(position / HOLE) + 1) * HOLE) - position;
						const block = this.bytes.subarray(source + position - offset, source + position - offset + step);
						if (!allZero(block)) {
							for (let done = 0; done < step;) {
								const piece = block.subarray(done, done + chunk);
								core.host.coreBytes(buffer, piece.length).set(piece);
								const view = core.host.coreView();
								view.setUint32(iovec, buffer, true);
								view.setUint32(iovec + 4, piece.length, true);
								check(core.host.exports.fd_pwrite(fd, iovec, 1, BigInt(position + done), countPointer), 'write', path);
								const count = core.host.coreView().getUint32(countPointer, true);
								if (count === 0) throw new WasiError(ERRNO.EIO, 'write', path);
								done += count;
							}
							writtenEnd = position + step;
						}
						position += step;
					}
					source += length;
				}
				if (writtenEnd !== member.size) { // ends in a hole
					check(core.host.exports.fd_filestat_set_size(fd, BigInt(member.size)), 'truncate', path);
				}
			});
		} finally {
			core.close(fd);
		}
		core.setTimes(path, member.atime, member.mtime, false);
	}
}

/** @param {Member} member */
function checkSizes(member) {
	if (member.size > MAX_VFS_FILE_SIZE || member.size < 0) {
		throw new UnsafeArchiveError(`archive member ${JSON.stringify(member.name)} is ${member.size} bytes, over the filesystem's largest file (${MAX_VFS_FILE_SIZE} bytes): refused`);
	}
	if (member.regions) {
		let end = 0;
		for (const [offset, length] of member.regions) {
			if (offset < end || length < 0 || offset + length > member.size) {
				throw new UnsafeArchiveError(`archive member ${JSON.stringify(member.name)} has a sparse map out of order or past its size: refused`);
			}
			end = offset + length;
		}
	}
}

/** A fresh name for the restore's own directory. */
function tempName() {
	let suffix = '';
	for (let i = 0; i < 12; i++) suffix += Math.floor(Math.random() * 16).toString(16);
	return TEMP_PREFIX + suffix;
}

/** @param {string} path */
function parentDir(path) {
	const trimmed = path.replace(/\/+$/, '');
	const slash = trimmed.lastIndexOf('/');
	return slash <= 0 ? '/' : trimmed.slice(0, slash);
}

/**
 * Restores a tar archive into `path` (created if missing; an existing directory gets the
 * archive's entries, none of which may exist there yet). All or nothing.
 * @param {WasiFileSystem} fs @param {CoreAccess} access @param {ArrayBufferLike | ArrayBufferView} archive
 * @param {string} path
 */
export function loadTar(fs, access, archive, path = '/') {
	encodePath(path);
	if (typeof archive === 'string') throw new TypeError('loadTar needs the archive as bytes (an ArrayBuffer or a typed array), not a string');
	const bytes = toBytes(archive);
	if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
		throw new ArchiveError("a gzip-compressed archive: decompress it first (Node: zlib.gunzipSync; browsers: a DecompressionStream('gzip'))");
	}
	const core = new Core(access);
	const existing = lstatOrNull(fs, path);
	if (existing && !(existing.isDirectory() || (existing.isSymbolicLink() && fs.exists(path) && fs.stat(path).isDirectory()))) {
		throw new WasiError(ERRNO.ENOTDIR, 'loadTar', path);
	}
	// A fresh directory for the archive's tree: inside the target when it exists (its entries
	// move up one by one), else beside it (renamed to it whole).
	const staging = existing ? join(path, tempName()) : join(parentDir(path), tempName());
	const home = parentDir(staging);
	const homeTimes = fs.stat(home);
	fs.mkdir(staging);
	const restorer = new Restorer(fs, core, staging, bytes);
	try {
		for (const member of readTar(bytes)) restorer.restore(member);
		if (existing) moveUp(fs, core, staging, path);
		else fs.rename(staging, path);
	} catch (error) {
		try {
			if (lstatOrNull(fs, staging)) fs.rm(staging, {recursive: true});
			// the restore's directory came and went: its parent's times are as they were
			core.setTimes(home, homeTimes.atimeNs, homeTimes.mtimeNs, true);
		} catch {
			// the error that stopped the restore is the one to report
		}
		throw error;
	}
	// Directory times last: every entry made inside a directory changed its times.
	for (const [parts, atime, mtime] of restorer.dirTimes.reverse()) core.setTimes(join(path, ...parts), atime, mtime, false);
}

/** The restored entries from the staging directory into `path`, all or none, with the
    filesystem frozen: the check that no name is taken holds for the moves.
    @param {WasiFileSystem} fs @param {Core} core @param {string} staging @param {string} path */
function moveUp(fs, core, staging, path) {
	core.frozen(() => {
		const top = fs.readdir(staging);
		for (const name of top) {
			if (lstatOrNull(fs, join(path, name))) throw new WasiError(ERRNO.EEXIST, 'loadTar (the archive\'s entry exists in the target already)', join(path, name));
		}
		/** @type {string[]} */
		const moved = [];
		try {
			for (const name of top) {
				fs.rename(join(staging, name), join(path, name));
				moved.push(name);
			}
			fs.rm(staging, {recursive: true});
		} catch (error) {
			for (const name of moved) { // back where the caller's cleanup removes them
				try { fs.rename(join(path, name), join(staging, name)); } catch { /* reported below */ }
			}
			throw error;
		}
	});
}

