// @ts-check
/* Lazy mounts (docs/DESIGN.md "Lazy host mounts"), the part every environment shares: the
   registry of a thread's mounts, the two hooks the core calls (lazy_list and lazy_read), the
   listing records they write, and the browser's source, a URL map fetched on demand.
   A Node host directory (js/node_mount.mjs) is another source for the same hooks.

   A source names its entries by number (0: the mount's root) and answers two questions:
   list(entry), the entries of a directory, and read(entry, offset, length), bytes of a file.
   A token, what the core keeps in a lazy inode, is the mount's id << 32 | entry + 1. The id
   is the address of the record the mount holds in the core memory (wasi_wasm_alloc_kept: no
   process's, so it stays when the thread that made it ends): unique among every thread's
   mounts on that memory, so a thread never takes another's token for one of its own.

   The hooks run in the thread whose program (or filesystem call) touches a lazy entry first,
   with the core's lock held. A thread serves the mounts it made, and the URL maps other
   threads made (from the description in the mount's record, below); for another thread's
   host directory it answers EIO, as the core gets for any token its host does not know. */

import {DEFAULT_LIMITS, ERRNO, FILETYPE_NAMES, LAZY, LIMIT_RANGES} from './abi.mjs';
import {WasiError} from './errors.mjs';
import {CLOCK_READERS, decodeUtf8, encodeUtf8, threadMayBlock, toBytes} from './platform.mjs';
/** @import {BytesLike} from './types.mjs' */

export const FILETYPE_DIRECTORY = FILETYPE_NAMES.indexOf('directory');
export const FILETYPE_REGULAR_FILE = FILETYPE_NAMES.indexOf('regular_file');
export const FILETYPE_SYMBOLIC_LINK = FILETYPE_NAMES.indexOf('symbolic_link');
const MAX_LAZY_NAME = LIMIT_RANGES.maxName[1];
const MAX_TARGET = DEFAULT_LIMITS.maxPath; // the core refuses a longer one (lazy.c)

/**
 * One entry of a listing, as a source gives it: `entry` is its number in the source (-1 for
 * a symlink, which needs none: its target is all there is).
 * @typedef {object} LazyItem
 * @property {number} entry
 * @property {Uint8Array} name UTF-8, no '/', not '.' or '..', at most 255 bytes
 * @property {number} filetype FILETYPE_DIRECTORY, _REGULAR_FILE or _SYMBOLIC_LINK
 * @property {bigint} size
 * @property {bigint} atimeNs
 * @property {bigint} mtimeNs
 * @property {Uint8Array} [target] a symlink's
 */

/**
 * What a lazy mount reads from. Its methods throw to fail: a WasiError's errno, or a Node
 * error's `code` that names a WASI errno, is what the program gets; anything else is EIO.
 * @typedef {object} LazySource
 * @property {(entry: number) => LazyItem[]} list
 * @property {(entry: number, offset: number, length: number) => Uint8Array} read
 * @property {() => void} close
 * @property {() => string | null} describe what another thread needs to serve the same
 *   mount (JSON), or null where it cannot
 */

/** A mount of this thread. */
export class LazyMount {
	/** @type {{entry: number, data: Uint8Array} | null} a listing too long for the last buffer */
	kept = null;

	/** @param {number} id @param {LazySource} source @param {string} vfsPath @param {boolean} readOnly */
	constructor(id, source, vfsPath, readOnly) {
		this.id = id;
		this.source = source;
		this.vfsPath = vfsPath;
		this.readOnly = readOnly;
	}

	/** @param {number} entry */
	token(entry) {
		return BigInt(this.id) << 32n | BigInt(entry + 1);
	}

	/** @param {bigint} token */
	owns(token) {
		return token >> 32n === BigInt(this.id);
	}

	/** The source's entry that `token` names (a token of this mount). @param {bigint} token */
	entryOf(token) {
		return Number(token & 0xFFFFFFFFn) - 1;
	}

	/** The listing records of directory `entry` (DESIGN.md "Lazy host mounts").
	    @param {number} entry */
	records(entry) {
		const items = this.source.list(entry);
		let total = 0;
		for (const item of items) total += recordSize(item);
		const data = new Uint8Array(total);
		const view = new DataView(data.buffer);
		let at = 0;
		for (const item of items) {
			const target = item.target ?? new Uint8Array(0);
			view.setBigUint64(at, item.entry < 0 ? 0n : this.token(item.entry), true);
			view.setBigUint64(at + 8, item.size, true);
			view.setBigUint64(at + 16, item.atimeNs, true);
			view.setBigUint64(at + 24, item.mtimeNs, true);
			view.setUint8(at + 32, item.filetype);
			view.setUint16(at + 34, item.name.length, true);
			view.setUint32(at + 36, target.length, true);
			data.set(item.name, at + LAZY.RECORD_SIZE);
			data.set(target, at + LAZY.RECORD_SIZE + item.name.length);
			at += recordSize(item);
		}
		return data;
	}
}

/** @param {LazyItem} item */
function recordSize(item) {
	return (LAZY.RECORD_SIZE + item.name.length + (item.target?.length ?? 0) + 7) & ~7;
}

// What a mount keeps at its id in the core memory: u32 magic, u32 kind (1: a description
// another thread can serve the mount from, 0: none), u32 0, u32 the description's length,
// then the description (JSON). A URL map fetched with XMLHttpRequest is described: a thread
// that meets one of its tokens and has no such mount builds the same source from it (the
// same entries in the same order, so the same tokens).
const MOUNT_MAGIC = 0x4d5a4c57;
const MOUNT_HEADER = 16;

/** The record of a mount whose source describes itself as `description`.
    @param {string | null} description */
export function mountRecord(description) {
	const text = description === null ? new Uint8Array(0) : encodeUtf8(description);
	const record = new Uint8Array(MOUNT_HEADER + text.length);
	const view = new DataView(record.buffer);
	view.setUint32(0, MOUNT_MAGIC, true);
	view.setUint32(4, description === null ? 0 : 1, true);
	view.setUint32(12, text.length, true);
	record.set(text, MOUNT_HEADER);
	return record;
}

/** Another thread's mount `id`, served here from its description; undefined where it has
    none (a host directory, a custom fetchSync) or this thread cannot fetch (a page's main
    thread). @param {WebAssembly.Memory} memory @param {number} id */
function adoptMount(memory, id) {
	const buffer = memory.buffer;
	if (id + MOUNT_HEADER > buffer.byteLength) return undefined;
	const view = new DataView(buffer);
	const length = view.getUint32(id + 12, true);
	if (view.getUint32(id, true) !== MOUNT_MAGIC || view.getUint32(id + 4, true) !== 1) return undefined;
	if (id + MOUNT_HEADER + length > buffer.byteLength) return undefined;
	try {
		const {entries, timeNs, vfsPath, readOnly} = JSON.parse(decodeUtf8(new Uint8Array(buffer, id + MOUNT_HEADER, length)));
		const mount = new LazyMount(id, new UrlMapSource(entries, undefined, undefined, BigInt(timeNs)), vfsPath, readOnly);
		lazyRegistry(memory).byId.set(id, mount);
		return mount;
	} catch {
		return undefined;
	}
}

/** This thread's mounts on each core memory: by id, and by VFS path (for write-back).
    @type {WeakMap<WebAssembly.Memory, {byId: Map<number, LazyMount>, byPath: Map<string, LazyMount>}>} */
const lazyRegistries = new WeakMap();

/** @param {WebAssembly.Memory} memory */
export function lazyRegistry(memory) {
	let found = lazyRegistries.get(memory);
	if (!found) lazyRegistries.set(memory, found = {byId: new Map(), byPath: new Map()});
	return found;
}

/** The WASI errno a source's exception means.
    @param {unknown} error */
function lazyErrno(error) {
	if (error instanceof WasiError) return error.errno;
	const code = /** @type {{code?: unknown}} */ (error)?.code;
	if (typeof code === 'string' && Object.hasOwn(ERRNO, code) && code !== 'SUCCESS') {
		return ERRNO[/** @type {keyof typeof ERRNO} */ (code)];
	}
	return ERRNO.EIO;
}

/** The lazy_list and lazy_read hooks of a core instance on `memory`. They never throw: an
    exception must not unwind through the core, which holds its lock and undoes a failed load.
    @param {WebAssembly.Memory} memory */
export function lazyHooks(memory) {
	/** @param {bigint} token */
	const mountOf = token => {
		const id = Number(BigInt.asUintN(64, token) >> 32n);
		return lazyRegistries.get(memory)?.byId.get(id) ?? adoptMount(memory, id);
	};
	return {
		/** @param {bigint} token @param {number} pointer @param {number} cap */
		lazy_list: (token, pointer, cap) => {
			token = BigInt.asUintN(64, token);
			const mount = mountOf(token);
			if (!mount) return -ERRNO.EIO;
			try {
				const entry = mount.entryOf(token);
				const kept = mount.kept;
				mount.kept = null;
				const data = kept && kept.entry === entry ? kept.data : mount.records(entry);
				if (data.length > cap >>> 0) mount.kept = {entry, data};
				else new Uint8Array(memory.buffer, pointer >>> 0, data.length).set(data);
				return data.length;
			} catch (error) {
				return -lazyErrno(error);
			}
		},
		/** @param {bigint} token @param {bigint} offset @param {number} pointer @param {number} length */
		lazy_read: (token, offset, pointer, length) => {
			token = BigInt.asUintN(64, token);
			const mount = mountOf(token);
			if (!mount) return -ERRNO.EIO;
			try {
				const data = mount.source.read(mount.entryOf(token), Number(BigInt.asUintN(64, offset)), length >>> 0);
				const count = Math.min(data.length, length >>> 0);
				new Uint8Array(memory.buffer, pointer >>> 0, count).set(data.subarray(0, count));
				return count;
			} catch (error) {
				return -lazyErrno(error);
			}
		},
	};
}

/** A name a lazy listing may carry (UTF-8 bytes), or null: not UTF-8, empty, '.', '..', with
    '/' or NUL, or too long. @param {Uint8Array} raw */
export function lazyName(raw) {
	if (raw.length === 0 || raw.length > MAX_LAZY_NAME || raw.includes(0) || raw.includes(0x2f)) return null;
	const text = decodeUtf8(raw);
	if (text === '.' || text === '..' || text.includes('\ufffd') && !sameBytes(encodeUtf8(text), raw)) return null;
	return text;
}

/** A symlink target a listing may carry, or null. @param {Uint8Array} raw */
export function lazyTarget(raw) {
	if (raw.length === 0 || raw.length > MAX_TARGET || raw.includes(0)) return null;
	return sameBytes(encodeUtf8(decodeUtf8(raw)), raw) ? raw : null;
}

/** @param {Uint8Array} a @param {Uint8Array} b */
function sameBytes(a, b) {
	return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

// ------------------------------------------------------------------------------------------
// A URL map: a tree of files fetched on demand, synchronously (a browser Worker's
// XMLHttpRequest, or the caller's fetchSync)

/** Fetches `url` synchronously with XMLHttpRequest (only in Workers: a page's main thread
    must not wait for the network, and browsers refuse binary synchronous requests there).
    @param {string} url @param {'GET' | 'HEAD'} [method]
    @returns {{status: number, bytes: Uint8Array, length: number | null}} */
function xhrFetch(url, method = 'GET') {
	const request = new XMLHttpRequest();
	request.open(method, url, false);
	if (method === 'GET') request.responseType = 'arraybuffer';
	request.send();
	const header = request.getResponseHeader('Content-Length');
	const bytes = method === 'GET' && request.response ? new Uint8Array(request.response) : new Uint8Array(0);
	return {status: request.status, bytes, length: header === null ? null : Number(header)};
}

/** The errno of an HTTP status that is not success. @param {number} status */
function httpErrno(status) {
	if (status === 404 || status === 410) return ERRNO.ENOENT;
	if (status === 401 || status === 403) return ERRNO.EACCES;
	return ERRNO.EIO;
}

/** @typedef {{parent: number, name: Uint8Array, url: string | null, size: number | null, target: Uint8Array | null, children: number[]}} UrlEntry */

/** A LazySource of a URL map (`{'/dir/file': url | {url, size} | {symlink: target}}`): the
    directories come from the paths, a file's bytes are fetched when it is first opened and
    its size, unless the map gives it, by a HEAD request when its directory is listed. */
export class UrlMapSource {
	/** @type {UrlEntry[]} */
	#entries = [{parent: -1, name: new Uint8Array(0), url: null, size: null, target: null, children: []}];
	/** @type {{entry: number, bytes: Uint8Array} | null} the last file fetched */
	#cached = null;
	#fetch;
	#timeNs;

	/** @type {[string, unknown][]} the map's entries, URLs resolved: the description */
	#resolved = [];
	#custom;

	/** @param {[string, unknown][]} entries a UrlMap's entries
	    @param {((url: string) => BytesLike) | undefined} fetchSync
	    @param {string | undefined} base what relative URLs resolve against (none: kept as given)
	    @param {bigint} [timeNs] the entries' times (default: now) */
	constructor(entries, fetchSync, base, timeNs = CLOCK_READERS[0]()) {
		this.#custom = fetchSync !== undefined;
		if (fetchSync === undefined) {
			if (typeof XMLHttpRequest !== 'function') {
				throw new TypeError('mountUrlMap fetches with synchronous XMLHttpRequest, which only browsers have: give {fetchSync} elsewhere');
			}
			if (!threadMayBlock()) {
				throw new Error("mountUrlMap cannot fetch on a page's main thread (a synchronous request would freeze the page): mount and run the program in a Worker");
			}
		} else if (typeof fetchSync !== 'function') {
			throw new TypeError('fetchSync must be a function (url) => bytes');
		}
		/** @param {string} url @param {'GET' | 'HEAD'} method */
		this.#fetch = fetchSync
			? (/** @type {string} */ url, /** @type {string} */ method) => {
				const bytes = method === 'HEAD' ? null : toBytes(fetchSync(url));
				return {status: 200, bytes: bytes ?? new Uint8Array(0), length: bytes ? bytes.length : null};
			}
			: xhrFetch;
		this.#timeNs = timeNs;
		for (const [path, value] of entries) this.#add(path, value, base);
	}

	/** The map, for another thread to serve the same mount; none with a custom fetchSync
	    (a function does not cross threads). */
	describe() {
		return this.#custom ? null : JSON.stringify({entries: this.#resolved, timeNs: String(this.#timeNs)});
	}

	/** @param {string} path @param {unknown} value @param {string | undefined} base */
	#add(path, value, base) {
		const names = path.split('/').filter(name => name !== '');
		if (!names.length) throw new TypeError(`mountUrlMap: ${JSON.stringify(path)} names no file`);
		let entry = 0;
		names.forEach((name, i) => {
			const raw = encodeUtf8(name);
			if (lazyName(raw) === null) throw new TypeError(`mountUrlMap: ${JSON.stringify(path)} has the bad name ${JSON.stringify(name)}`);
			const here = this.#entries[entry];
			if (here.url !== null || here.target !== null) throw new TypeError(`mountUrlMap: ${JSON.stringify(path)} is below a file`);
			let child = here.children.find(n => sameBytes(this.#entries[n].name, raw));
			const last = i === names.length - 1;
			if (child !== undefined && last) throw new TypeError(`mountUrlMap: ${JSON.stringify(path)} is there twice`);
			if (child === undefined) {
				child = this.#entries.length;
				this.#entries.push({parent: entry, name: raw, url: null, size: null, target: null, children: []});
				here.children.push(child);
			}
			entry = child;
		});
		const made = this.#entries[entry];
		if (typeof value === 'string') {
			made.url = base ? new URL(value, base).href : value;
			this.#resolved.push([path, made.url]);
		} else if (value && typeof value === 'object' && typeof (/** @type {{symlink?: unknown}} */ (value).symlink) === 'string') {
			const target = lazyTarget(encodeUtf8(/** @type {{symlink: string}} */ (value).symlink));
			if (!target) throw new TypeError(`mountUrlMap: ${JSON.stringify(path)}: a bad symlink target`);
			made.target = target;
			this.#resolved.push([path, value]);
		} else if (value && typeof value === 'object' && typeof (/** @type {{url?: unknown}} */ (value).url) === 'string') {
			const {url, size} = /** @type {{url: string, size?: unknown}} */ (value);
			if (size !== undefined && !(Number.isSafeInteger(size) && /** @type {number} */ (size) >= 0)) {
				throw new TypeError(`mountUrlMap: ${JSON.stringify(path)}: size must be a byte count`);
			}
			made.url = base ? new URL(url, base).href : url;
			made.size = /** @type {number | undefined} */ (size) ?? null;
			this.#resolved.push([path, made.size === null ? {url: made.url} : {url: made.url, size: made.size}]);
		} else {
			throw new TypeError(`mountUrlMap: ${JSON.stringify(path)} must map to a URL, {url, size} or {symlink}`);
		}
	}

	/** @param {number} entry */
	list(entry) {
		return this.#entries[entry].children.map(child => {
			const found = this.#entries[child];
			/** @type {LazyItem} */
			const item = {entry: child, name: found.name, filetype: FILETYPE_DIRECTORY, size: 0n, atimeNs: this.#timeNs, mtimeNs: this.#timeNs};
			if (found.target) return {...item, entry: -1, filetype: FILETYPE_SYMBOLIC_LINK, target: found.target};
			if (found.url === null) return item;
			found.size ??= this.#sizeOf(child, found.url);
			return {...item, filetype: FILETYPE_REGULAR_FILE, size: BigInt(found.size)};
		});
	}

	/** @param {number} entry @param {string} url */
	#sizeOf(entry, url) {
		const head = this.#fetch(url, 'HEAD');
		if (head.status >= 200 && head.status < 300 && head.length !== null) return head.length;
		return this.#bytes(entry).length; // no size from HEAD: the whole file
	}

	/** @param {number} entry */
	#bytes(entry) {
		if (this.#cached?.entry === entry) return this.#cached.bytes;
		const url = this.#entries[entry].url;
		if (url === null) throw new WasiError(ERRNO.EISDIR, 'fetch');
		const got = this.#fetch(url, 'GET');
		if (got.status < 200 || got.status >= 300) throw new WasiError(httpErrno(got.status), 'fetch', url);
		this.#cached = {entry, bytes: got.bytes};
		return got.bytes;
	}

	/** @param {number} entry @param {number} offset @param {number} length */
	read(entry, offset, length) {
		const bytes = this.#bytes(entry);
		return bytes.subarray(Math.min(offset, bytes.length), Math.min(offset + length, bytes.length));
	}

	close() {
		this.#cached = null;
	}
}
