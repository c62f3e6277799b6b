// @ts-check
/* Node only: a host directory as a lazy mount's source (js/lazy.mjs), and the write-back of
   a mount's changes to the host, as the Python host's _lazy_host.py and _mount.py do. Nothing
   here runs unless mountHostDir is called: node:fs comes from process.getBuiltinModule then,
   never from an import, so browsers load this code without reaching for Node.

   Node has no openat. Where Linux's /proc/self/fd is there, "/proc/self/fd/N/name" is
   openat(N, "name"): the kernel resolves the name in the directory fd N holds, whatever
   happened to its path. So every host name is reached from an open directory, one component
   at a time with O_NOFOLLOW, as the Python host does: a host symlink is never followed, even
   one swapped in after the listing. Elsewhere (macOS) names are reached by path from the
   mount's root: each component is opened with O_NOFOLLOW and fstat'ed, and must be the very
   file (device and inode) the listing of its parent saw, so a component swapped for a
   symlink is refused, not followed; but a listing (readdir, lstat and readlink by path) and
   a write-back's writes have a window: a directory above them swapped for a symlink between
   the check and the call sends that one call through it (docs/DESIGN.md). */

import {ERRNO, LAZY} from './abi.mjs';
import {WasiError} from './errors.mjs';
import {
	FILETYPE_DIRECTORY, FILETYPE_REGULAR_FILE, FILETYPE_SYMBOLIC_LINK, lazyName, lazyTarget,
} from './lazy.mjs';
import {nodeProcess} from './platform.mjs';
/** @import {LazyItem, LazyMount} from './lazy.mjs' */

const HOST_TEMP_PREFIX = '.wasi-wasm-';
const DEFAULT_MAX_FILE_SIZE = 4 * 2 ** 30;

/** node:fs, or a TypeError where this is not Node (20.16 or later). @returns {any} */
function nodeFs() {
	const fs = nodeProcess?.getBuiltinModule?.('node:fs');
	if (!fs) throw new TypeError('mountHostDir and writeBackHostDir need Node 20.16 or later (process.getBuiltinModule)');
	const {O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK} = /** @type {any} */ (fs).constants;
	if (O_NOFOLLOW === undefined || O_DIRECTORY === undefined || O_NONBLOCK === undefined) {
		throw new TypeError('mountHostDir needs O_NOFOLLOW and O_DIRECTORY (not on Windows)');
	}
	return fs;
}

/** Whether names are reached through /proc/self/fd (Linux): "/proc/self/fd/N/." must be
    the directory fd N holds. @param {any} fs @param {number} fd */
function procWorks(fs, fd) {
	if (nodeProcess?.env?.WASI_WASM_NO_PROC_FD) return false; // the tests' way to the other path
	try {
		const through = fs.statSync(`/proc/self/fd/${fd}/.`, {bigint: true});
		const held = fs.fstatSync(fd, {bigint: true});
		return through.dev === held.dev && through.ino === held.ino;
	} catch {
		return false;
	}
}

/** @typedef {{parent: number, name: string, dev: bigint, ino: bigint}} HostEntry */

/** The host path of each directory fd open here, for errors: "/proc/self/fd/N/x" would
    tell a reader nothing. @type {Map<number, string>} */
const hostDirPaths = new Map();

/** An error of a host call, naming host paths, as a WasiError when its code is an errno.
    @param {unknown} error @param {string} syscall */
function hostError(error, syscall) {
	if (error instanceof WasiError) return error;
	const found = /** @type {{code?: unknown, path?: unknown}} */ (error);
	if (typeof found?.code !== 'string' || !Object.hasOwn(ERRNO, found.code)) return error;
	const path = typeof found.path === 'string'
		? found.path.replace(/^\/proc\/self\/fd\/(\d+)/, (whole, fd) => hostDirPaths.get(Number(fd)) ?? whole)
		: undefined;
	return new WasiError(hostErrno(error), syscall, path);
}

/** An open host directory: its fd and its path (what the path mode goes by). */
class HostDirFd {
	/** @param {any} fs @param {boolean} proc @param {number} fd @param {string} path @param {boolean} owned */
	constructor(fs, proc, fd, path, owned) {
		this.fs = fs;
		this.proc = proc;
		this.fd = fd;
		this.path = path;
		this.owned = owned;
		hostDirPaths.set(fd, path);
	}

	/** The path that names `name` in this directory. @param {string} name */
	at(name) {
		return this.proc ? `/proc/self/fd/${this.fd}/${name}` : `${this.path}/${name}`;
	}

	/** The path of the directory itself, for readdir. */
	self() {
		return this.proc ? `/proc/self/fd/${this.fd}` : this.path;
	}

	close() {
		if (this.owned) {
			hostDirPaths.delete(this.fd);
			this.fs.closeSync(this.fd);
		}
		this.owned = false;
	}
}

/** A LazySource of a host directory: entry 0 is its root, each other entry (parent, name). */
export class HostDirSource {
	/** @type {HostEntry[]} */
	#entries;
	/** @type {{entry: number, fd: number} | null} the file read last, open for its next piece */
	#open = null;
	// What the mount showed, for write-back: the entry of each (parent, name) listed last, the
	// names each directory's last listing showed, each file's size and mtime as listed, and
	// what the last write-back wrote at each host path (unchangedFile).
	/** @type {Map<string, number>} */
	#children = new Map();
	/** @type {Map<number, Set<string>>} */
	#shown = new Map();
	/** @type {Map<number, {size: bigint, mtimeNs: bigint}>} */
	#listedFiles = new Map();
	/** @type {Map<string, string>} */
	#written = new Map();
	/** @type {Map<string, Set<string>>} the names each write-back left in a host directory */
	#syncedNames = new Map();

	/** @param {string} hostPath @param {boolean} readOnly */
	constructor(hostPath, readOnly) {
		const fs = nodeFs();
		this.fs = fs;
		this.hostPath = String(hostPath);
		this.readOnly = readOnly;
		const {O_RDONLY, O_DIRECTORY} = fs.constants;
		// The root as given (its ancestors and itself followed, the caller's choice), kept open.
		let fd;
		try {
			fd = fs.openSync(this.hostPath, O_RDONLY | O_DIRECTORY);
		} catch (error) {
			throw new WasiError(hostErrno(error), 'mountHostDir', this.hostPath);
		}
		this.rootFd = fd;
		try {
			this.rootPath = fs.realpathSync(this.hostPath);
			this.proc = procWorks(fs, fd);
			const info = fs.fstatSync(fd, {bigint: true});
			this.#entries = [{parent: -1, name: '', dev: info.dev, ino: info.ino}];
		} catch (error) {
			fs.closeSync(fd);
			throw error;
		}
		this.listed = 0; // directories listed, files opened: what programs touched
	}

	/** The names from the root down to `entry`. @param {number} entry */
	parts(entry) {
		/** @type {string[]} */
		const names = [];
		for (let at = entry; at > 0; at = this.#entries[at].parent) names.push(this.#entries[at].name);
		return names.reverse();
	}

	/** `entry` opened one component at a time from the root, each with O_NOFOLLOW; a
	    directory (wantDirectory) or a regular file, else ENOTDIR / EIO.
	    @param {number} entry @param {boolean} wantDirectory */
	#openEntry(entry, wantDirectory) {
		const fs = this.fs;
		const {O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK} = fs.constants;
		/** @type {number[]} */
		const chain = [];
		for (let at = entry; at > 0; at = this.#entries[at].parent) chain.push(at);
		chain.reverse();
		let dir = new HostDirFd(fs, this.proc, this.rootFd, this.rootPath, false);
		for (const step of chain) {
			const {name, dev, ino} = this.#entries[step];
			const last = step === entry;
			const flags = last && !wantDirectory ? O_RDONLY | O_NOFOLLOW | O_NONBLOCK : O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
			let fd;
			try {
				fd = fs.openSync(dir.at(name), flags);
			} finally {
				dir.close();
			}
			const info = fs.fstatSync(fd, {bigint: true});
			const kindOk = last && !wantDirectory ? info.isFile() : info.isDirectory();
			// In the path mode the file must be the one the parent's listing saw: a component
			// above it swapped for a symlink would otherwise have been followed.
			const same = this.proc || (info.dev === dev && info.ino === ino);
			if (!kindOk || !same) {
				fs.closeSync(fd);
				throw new WasiError(kindOk ? ERRNO.ENOENT : ERRNO.EIO, 'open', `${this.hostPath}/${this.parts(entry).join('/')}`);
			}
			dir = new HostDirFd(fs, this.proc, fd, `${dir.path}/${name}`, true);
		}
		return dir;
	}

	/** The entries of directory `entry`: those the VFS can hold (UTF-8 names of up to 255
	    bytes; directories, regular files and symlinks). @param {number} entry
	    @returns {LazyItem[]} */
	list(entry) {
		const fs = this.fs;
		const dir = this.#openEntry(entry, true);
		/** @type {LazyItem[]} */
		const items = [];
		/** @type {Set<string>} */
		const shown = new Set();
		try {
			for (const raw of fs.readdirSync(dir.self(), {encoding: 'buffer'})) {
				const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
				const name = lazyName(bytes);
				if (name === null) continue;
				let info;
				try {
					info = fs.lstatSync(dir.at(name), {bigint: true});
				} catch (error) {
					if (/** @type {{code?: string}} */ (error).code === 'ENOENT') continue; // gone since listed
					throw error;
				}
				/** @type {LazyItem} */
				const item = {entry: -1, name: bytes, filetype: FILETYPE_DIRECTORY, size: 0n, atimeNs: info.atimeNs, mtimeNs: info.mtimeNs};
				if (info.isSymbolicLink()) {
					const raw = fs.readlinkSync(dir.at(name), {encoding: 'buffer'});
					const target = lazyTarget(new Uint8Array(raw.buffer, raw.byteOffset, raw.length));
					if (target === null) continue;
					items.push({...item, filetype: FILETYPE_SYMBOLIC_LINK, target: target.slice()});
					shown.add(name);
					continue;
				}
				if (!info.isDirectory() && !info.isFile()) continue; // devices, FIFOs, sockets
				this.#entries.push({parent: entry, name, dev: info.dev, ino: info.ino});
				item.entry = this.#entries.length - 1;
				this.#children.set(`${entry}/${name}`, item.entry);
				if (info.isFile()) {
					item.filetype = FILETYPE_REGULAR_FILE;
					item.size = info.size;
					this.#listedFiles.set(item.entry, {size: info.size, mtimeNs: info.mtimeNs});
				}
				items.push(item);
				shown.add(name);
			}
			if (!this.proc) {
				// The path still names the directory listed: what a swap there would have shown
				// is thrown away (a swap and a swap back in between stay unseen: DESIGN.md).
				const again = fs.lstatSync(dir.path, {bigint: true});
				const held = fs.fstatSync(dir.fd, {bigint: true});
				if (again.dev !== held.dev || again.ino !== held.ino) throw new WasiError(ERRNO.ENOENT, 'readdir', dir.path);
			}
		} finally {
			dir.close();
		}
		this.#shown.set(entry, shown);
		this.listed += 1;
		return items;
	}

	/** The entry the listings showed at host path `parts` (-1 if none did). @param {string[]} parts */
	entryAt(parts) {
		let entry = 0;
		for (const name of parts) {
			const found = this.#children.get(`${entry}/${name}`);
			if (found === undefined) return -1;
			entry = found;
		}
		return entry;
	}

	/** The names the host directory at `parts` had as the programs knew it: those the last
	    write-back left there, else those its last listing showed. All a write-back may remove
	    there (none where the mount never listed it). @param {string[]} parts */
	shownNames(parts) {
		const synced = this.#syncedNames.get(parts.join('/'));
		if (synced) return new Set(synced);
		const entry = this.entryAt(parts);
		return new Set(entry < 0 ? [] : this.#shown.get(entry) ?? []);
	}

	/** A write-back made the host directory at `parts` hold `names` (and what the mount
	    never showed): a later write-back removes those the program removed since.
	    @param {string[]} parts @param {Set<string>} names */
	syncedNames(parts, names) {
		this.#syncedNames.set(parts.join('/'), new Set(names));
	}

	/** Whether the program left alone the VFS file `stat` at host path `parts`, whose token
	    names `entry` of this source (-1 if none): it is the file listed there with the size
	    and mtime listed (and the ctime the core gives a loaded file: the mtime), or the one
	    the last write-back wrote there, unchanged since. Then a host change stays.
	    @param {string[]} parts @param {number} entry @param {WasiStatLike} stat */
	unchangedFile(parts, entry, stat) {
		if (this.#written.get(parts.join('/')) === statKey(stat)) return true;
		if (entry <= 0) return false;
		const where = this.parts(entry);
		if (where.length !== parts.length || where.some((part, i) => part !== parts[i])) return false;
		const listed = this.#listedFiles.get(entry);
		return listed !== undefined && BigInt(stat.size) === listed.size && stat.mtimeNs === listed.mtimeNs &&
			stat.ctimeNs === listed.mtimeNs;
	}

	/** The VFS file `stat` was written back to host path `parts`.
	    @param {string[]} parts @param {WasiStatLike} stat */
	written(parts, stat) {
		this.#written.set(parts.join('/'), statKey(stat));
	}

	/** Up to `length` bytes of file `entry` from `offset`; the file stays open for the next
	    piece. @param {number} entry @param {number} offset @param {number} length */
	read(entry, offset, length) {
		const fs = this.fs;
		if (this.#open?.entry !== entry) {
			const opened = this.#openEntry(entry, false);
			this.#closeFile();
			this.#open = {entry, fd: opened.fd};
			this.listed += 1;
		}
		const buffer = new Uint8Array(length);
		const count = fs.readSync(/** @type {{fd: number}} */ (this.#open).fd, buffer, 0, length, offset);
		return buffer.subarray(0, count);
	}

	#closeFile() {
		if (this.#open) this.fs.closeSync(this.#open.fd);
		this.#open = null;
	}

	/** A host directory is served by the thread that mounted it alone (its entries are
	    numbered as that thread lists them). */
	describe() {
		return null;
	}

	close() {
		this.#closeFile();
		if (this.rootFd >= 0) this.fs.closeSync(this.rootFd);
		this.rootFd = -1;
	}
}

/** @typedef {{ino: bigint, size: number, mtimeNs: bigint, ctimeNs: bigint}} WasiStatLike */

/** A VFS file's identity and state, as one string. @param {WasiStatLike} stat */
function statKey(stat) {
	return `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
}

/** The WASI errno of a Node error. @param {unknown} error */
function hostErrno(error) {
	const code = /** @type {{code?: unknown}} */ (error)?.code;
	if (typeof code === 'string' && Object.hasOwn(ERRNO, code)) return ERRNO[/** @type {keyof typeof ERRNO} */ (code)];
	return ERRNO.EIO;
}

// ------------------------------------------------------------------------------------------
// Write-back

/**
 * What write-back needs of a StatLike.
 * @typedef {{ino: bigint, size: number, atimeNs: bigint, mtimeNs: bigint, ctimeNs: bigint, isFile(): boolean, isDirectory(): boolean, isSymbolicLink(): boolean}} StatLike
 */

/**
 * What write-back needs of the filesystem API (a Wasi).
 * @typedef {object} VfsReader
 * @property {(path: string) => string[]} readdir
 * @property {(path: string) => StatLike} lstat
 * @property {(path: string) => Uint8Array} readFile
 * @property {(path: string) => string} readlink
 * @property {(path: string) => {token: bigint, state: number, readOnly: boolean}} lazyInfo
 */

/** A VFS entry in a write-back: its stat and token, whether it is still lazy, whether it is
    where its host entry is, and whether it is another (nested) mount's root.
    @typedef {{stat: StatLike, token: bigint, lazy: boolean, inPlace: boolean, otherMount: boolean}} VfsInfo */

/** Applies what changed below `mount` (at VFS path `vfsPath`) to the host directory it
    mounts, or `hostDir`: Python's write_back_host_dir. @param {VfsReader} vfs
    @param {LazyMount} mount @param {{hostDir?: string, maxFileSize?: number}} options */
export function writeBack(vfs, mount, {hostDir, maxFileSize = DEFAULT_MAX_FILE_SIZE}) {
	const source = mount.source;
	if (!(source instanceof HostDirSource)) throw new TypeError(`${mount.vfsPath} is no host directory's mount: nothing to write back to`);
	const fs = source.fs;
	const root = mount.vfsPath;
	/** @param {string} dir @param {string[]} parts @param {string} name @returns {VfsInfo} */
	const info = (dir, parts, name) => {
		const stat = vfs.lstat(`${dir}/${name}`);
		if (stat.isSymbolicLink()) return {stat, token: 0n, lazy: false, inPlace: false, otherMount: false};
		const {token, state} = vfs.lazyInfo(`${dir}/${name}`);
		// The root of another (nested) mount is that mount's to write back, listed or not;
		// anything else is in place only where this mount's host has it.
		const otherMount = (token & 0xFFFFFFFFn) === 1n && !mount.owns(token);
		let inPlace = otherMount;
		if (mount.owns(token)) {
			const where = source.parts(mount.entryOf(token));
			inPlace = where.length === parts.length + 1 && where.every((part, i) => part === (i < parts.length ? parts[i] : name));
		}
		return {stat, token, lazy: state !== LAZY.NONE, inPlace, otherMount};
	};
	/** Every entry below the mount, depth first, never into a lazy directory.
	    @param {(dir: string, parts: string[], name: string, found: VfsInfo) => void} visit */
	const walk = visit => {
		/** @param {string} dir @param {string[]} parts */
		const inside = (dir, parts) => {
			for (const name of vfs.readdir(dir).sort()) {
				const found = info(dir, parts, name);
				visit(dir, parts, name, found);
				if (found.stat.isDirectory() && !found.lazy && !found.otherMount) inside(`${dir}/${name}`, [...parts, name]);
			}
		};
		inside(root === '/' ? '' : root, []);
	};
	// 1. Entries moved away from their host place are read in first, while their source exists:
	//    this mount's lazy entries anywhere in the filesystem (moved into another mount, or out
	//    of every mount: the write-back removes their host sources), and other mounts' moved
	//    into this one. The walk enters other mounts' roots too.
	const rootParts = root.split('/').filter(Boolean);
	/** @param {string} dir @param {string[]} parts the names from the filesystem's root */
	const everywhere = (dir, parts) => {
		for (const name of vfs.readdir(dir || '/').sort()) {
			const here = [...parts, name];
			const path = `${dir}/${name}`;
			const stat = vfs.lstat(path);
			if (stat.isSymbolicLink()) continue;
			const {token, state} = vfs.lazyInfo(path);
			if (state === LAZY.NONE) {
				if (stat.isDirectory()) everywhere(path, here);
				continue;
			}
			const below = here.length > rootParts.length && rootParts.every((part, i) => part === here[i]);
			let inPlace = (token & 0xFFFFFFFFn) === 1n; // another mount's root
			if (mount.owns(token)) {
				const where = [...rootParts, ...source.parts(mount.entryOf(token))];
				inPlace = where.length === here.length && where.every((part, i) => part === here[i]);
			}
			if (!inPlace && (mount.owns(token) || below)) loadAll(vfs, path);
		}
	};
	everywhere('', []);
	// 2. A write-back that cannot finish does not start.
	walk((dir, _parts, name, found) => {
		if (!found.lazy && found.stat.isFile() && found.stat.size > maxFileSize) {
			throw new WasiError(ERRNO.EFBIG, `writeBackHostDir (${found.stat.size} bytes, over maxFileSize ${maxFileSize}: nothing written back)`, `${dir}/${name}`);
		}
	});
	// 3. The changes.
	try {
		const host = hostDir === undefined ? openMountRoot(fs, source) : openHostTarget(fs, source.proc, hostDir);
		try {
			writeBackDir(vfs, fs, host, root === '/' ? '' : root, [], info, mount);
		} finally {
			host.close();
		}
	} catch (error) {
		throw hostError(error, 'writeBackHostDir');
	}
}

/** Reads every byte below a lazy VFS entry in from the host now. @param {VfsReader} vfs @param {string} path */
function loadAll(vfs, path) {
	const stat = vfs.lstat(path);
	if (stat.isFile()) vfs.readFile(path);
	if (!stat.isDirectory()) return;
	for (const name of vfs.readdir(path)) loadAll(vfs, `${path}/${name}`);
}

/** The host directory written into (made when missing); refused when it is a symlink itself,
    as the Python host's _open_host_target. @param {any} fs @param {boolean} proc @param {string} path */
function openHostTarget(fs, proc, path) {
	fs.mkdirSync(path, {recursive: true});
	if (fs.lstatSync(path).isSymbolicLink()) {
		throw new WasiError(ERRNO.ELOOP, 'writeBackHostDir: the host directory is a symlink, and a write-back never follows one', path);
	}
	const {O_RDONLY, O_DIRECTORY, O_NOFOLLOW} = fs.constants;
	return new HostDirFd(fs, proc, fs.openSync(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW), fs.realpathSync(path), true);
}

/** The directory the mount read, which its write-back goes into: its path may name another
    directory by now (the mounted one renamed away, another made in its place). Through
    /proc/self/fd the mount's own fd reaches it wherever it went; by path it must still be
    the directory mounted (device and inode), else nothing is written.
    @param {any} fs @param {HostDirSource} source */
function openMountRoot(fs, source) {
	const held = fs.fstatSync(source.rootFd, {bigint: true});
	if (held.nlink === 0n) {
		throw new WasiError(ERRNO.ENOENT, 'writeBackHostDir: the mounted host directory was removed, nothing written back', source.hostPath);
	}
	if (source.proc) return new HostDirFd(fs, true, source.rootFd, source.rootPath, false);
	const {O_RDONLY, O_DIRECTORY, O_NOFOLLOW} = fs.constants;
	const fd = fs.openSync(source.rootPath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	const info = fs.fstatSync(fd, {bigint: true});
	if (info.dev !== held.dev || info.ino !== held.ino) {
		fs.closeSync(fd);
		throw new WasiError(ERRNO.ENOENT, 'writeBackHostDir: the mounted host directory was moved or replaced, nothing written back', source.hostPath);
	}
	return new HostDirFd(fs, false, fd, source.rootPath, true);
}

/** `name` in `dir` entered (O_NOFOLLOW: a symlink there is refused). @param {HostDirFd} dir @param {string} name */
function enterHost(dir, name) {
	const fs = dir.fs;
	const {O_RDONLY, O_DIRECTORY, O_NOFOLLOW} = fs.constants;
	return new HostDirFd(fs, dir.proc, fs.openSync(dir.at(name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW), `${dir.path}/${name}`, true);
}

/** @param {HostDirFd} dir @param {string} name */
function hostLstat(dir, name) {
	try {
		return dir.fs.lstatSync(dir.at(name), {bigint: true});
	} catch (error) {
		if (/** @type {{code?: string}} */ (error).code === 'ENOENT') return null;
		throw error;
	}
}

/** Names in host `dir` that a mount could show: a directory, regular file or symlink with a
    UTF-8 name. The others (a FIFO, a socket, a device, a name that is not UTF-8) were never
    in the VFS, so a write-back leaves them alone. @param {HostDirFd} dir */
function hostNames(dir) {
	/** @type {string[]} */
	const names = [];
	for (const raw of dir.fs.readdirSync(dir.self(), {encoding: 'buffer'})) {
		const name = lazyName(new Uint8Array(raw.buffer, raw.byteOffset, raw.length));
		const info = name === null ? null : hostLstat(dir, name);
		if (name !== null && (info?.isDirectory() || info?.isFile() || info?.isSymbolicLink())) names.push(name);
	}
	return names;
}

/** Removes `name` from host `dir`, symlinks unlinked, never followed. A directory goes with
    its whole tree; given the mount's `source` (and `name`'s `parts`), with only what the mount
    showed in it, and then only if that leaves it empty.
    @param {HostDirFd} dir @param {string} name @param {HostDirSource | null} [source] @param {string[]} [parts] */
function removeHost(dir, name, source = null, parts = []) {
	const info = dir.fs.lstatSync(dir.at(name));
	if (!info.isDirectory()) {
		dir.fs.unlinkSync(dir.at(name));
		return;
	}
	const inner = enterHost(dir, name);
	try {
		const children = source ? removable(inner, source, parts) : dir.fs.readdirSync(inner.self());
		for (const child of children) removeHost(inner, child, source, [...parts, child]);
	} finally {
		inner.close();
	}
	try {
		dir.fs.rmdirSync(dir.at(name));
	} catch (error) {
		const code = /** @type {{code?: string}} */ (error).code;
		if (!source || (code !== 'ENOTEMPTY' && code !== 'EEXIST')) throw error; // what it never showed stays
	}
}

/** A new entry made under a temporary name by `make(temp)`, then renamed over `name`: a
    symlink or hard link there is replaced, never written through.
    @param {HostDirFd} dir @param {string} name @param {(temp: string) => void} make */
function replaceHost(dir, name, make) {
	const old = hostLstat(dir, name);
	if (old?.isDirectory()) removeHost(dir, name);
	const temp = `${HOST_TEMP_PREFIX}${Math.random().toString(16).slice(2, 14)}`;
	try {
		make(temp);
		dir.fs.renameSync(dir.at(temp), dir.at(name));
	} catch (error) {
		try {
			dir.fs.unlinkSync(dir.at(temp));
		} catch {
			// never made
		}
		throw error;
	}
}

/** @param {VfsReader} vfs @param {any} fs @param {HostDirFd} host @param {string} dir
    @param {string[]} parts @param {(dir: string, parts: string[], name: string) => VfsInfo} info
    @param {LazyMount} mount */
function writeBackDir(vfs, fs, host, dir, parts, info, mount) {
	const source = /** @type {HostDirSource} */ (mount.source);
	const kept = new Set();
	for (const name of vfs.readdir(dir || '/').sort()) {
		kept.add(name);
		const found = info(dir, parts, name);
		// Untouched where the host has it, or another mount's root (that mount's to write back).
		if (found.lazy || found.otherMount) continue;
		const path = `${dir}/${name}`;
		const old = hostLstat(host, name);
		if (found.stat.isDirectory()) {
			if (old && !old.isDirectory()) fs.unlinkSync(host.at(name));
			if (!old || !old.isDirectory()) fs.mkdirSync(host.at(name));
			const inner = enterHost(host, name);
			try {
				writeBackDir(vfs, fs, inner, path, [...parts, name], info, mount);
			} finally {
				inner.close();
			}
		} else if (found.stat.isSymbolicLink()) {
			const target = vfs.readlink(path);
			if (!old?.isSymbolicLink() || fs.readlinkSync(host.at(name)) !== target) {
				replaceHost(host, name, temp => fs.symlinkSync(target, host.at(temp)));
			}
		} else if (found.stat.isFile()) {
			// Written unless the program left it as listed, or as the last write-back wrote it:
			// then a host change made since stays. (Not by the host's size and mtime: two files
			// alike in both, swapped, would stay.)
			const here = [...parts, name];
			const entry = mount.owns(found.token) ? mount.entryOf(found.token) : -1;
			if (!source.unchangedFile(here, entry, found.stat)) {
				replaceHost(host, name, temp => writeHostFile(vfs, fs, host, temp, path, found.stat, old));
				source.written(here, found.stat);
			}
		}
	}
	removeExtras(host, kept, source, parts);
	source.syncedNames(parts, kept);
}

/** Removes what the program removed: the host entries that the mount's listing of this
    directory showed and the VFS no longer has. What the listing never showed stays (a FIFO,
    a name that is not UTF-8, one made on the host since, everything in a directory never
    listed). @param {HostDirFd} host @param {Set<string>} kept @param {HostDirSource} source
    @param {string[]} parts */
function removeExtras(host, kept, source, parts) {
	for (const name of removable(host, source, parts)) if (!kept.has(name)) removeHost(host, name, source, [...parts, name]);
}

/** The names in host directory `dir` (at `parts`) that the mount's last listing of it showed.
    @param {HostDirFd} dir @param {HostDirSource} source @param {string[]} parts */
function removable(dir, source, parts) {
	const shown = source.shownNames(parts);
	return hostNames(dir).filter(name => shown.has(name));
}

/** @param {VfsReader} vfs @param {any} fs @param {HostDirFd} host @param {string} temp
    @param {string} path @param {StatLike} stat @param {any} old */
function writeHostFile(vfs, fs, host, temp, path, stat, old) {
	const {O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW} = fs.constants;
	const out = fs.openSync(host.at(temp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o666);
	try {
		if (old?.isFile()) fs.fchmodSync(out, Number(old.mode) & 0o7777); // keep e.g. its x bits
		const bytes = vfs.readFile(path);
		for (let at = 0; at < bytes.length;) at += fs.writeSync(out, bytes, at, bytes.length - at);
		// Node takes times as seconds in a double: within a microsecond of the VFS's ns.
		fs.futimesSync(out, Number(stat.atimeNs) / 1e9, Number(stat.mtimeNs) / 1e9);
	} finally {
		fs.closeSync(out);
	}
}

