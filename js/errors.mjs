// @ts-check
/* The errors the loader throws, and how it names a bad value in a message. */

import {ERRNO, ERRNO_NAMES} from './abi.mjs';

/** Thrown by proc_exit (through the guest's frames); `code` is the exit status. */
export class WasiExit extends Error {
	/** @param {number} code */
	constructor(code) {
		super(`WASI program exited with code ${code}`);
		this.name = 'WasiExit';
		this.code = code;
	}
}

/** The highest exit status a host process can report (it keeps only the low 8 bits). */
export const MAX_EXIT_STATUS = 255;

/** The program called proc_exit with a status above 255 (WASI's status is 32 bits): a host
    process reports only the low 8 bits, so 256 would read as success. wasmtime refuses every
    status from 126 up; this loader reports 0..255 as they are and refuses the rest with this
    error, never a status, as the Python host does. `code` is the status asked for. */
export class InvalidExitStatus extends Error {
	/** @param {number} code */
	constructor(code) {
		super(`exit with invalid exit status ${code} outside of [0..${MAX_EXIT_STATUS + 1})`);
		this.name = 'InvalidExitStatus';
		this.code = code;
	}
}

/** A filesystem API call failed: `code` is the C errno name ("ENOENT"), `errno` the WASI number. */
export class WasiError extends Error {
	/**
	 * @param {number} errno the WASI errno
	 * @param {string} syscall what failed ('open', 'mkdir', 'wasi_wasm_attach', ...)
	 * @param {string} [path] the path it failed on
	 * @param {string} [dest] the second path (rename's destination, symlink's name)
	 */
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

/** Throws a WasiError unless `errno` is success.
    @param {number} errno @param {string} syscall @param {string} [path] @param {string} [dest] */
export function check(errno, syscall, path, dest) {
	if (errno !== ERRNO.SUCCESS) throw new WasiError(errno, syscall, path, dest);
}

/** How a bad value is named in an error message: its type, and the value where it is short.
    @param {unknown} value */
export function describe(value) {
	if (value === null) return 'null';
	if (Array.isArray(value)) return 'an array';
	if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${value}`;
	if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
	return typeof value;
}
