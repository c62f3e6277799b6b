// @ts-check
/* The types of the public API, beside its classes and functions: wasi.d.ts exports the types
   declared here and keeps every other module's types to itself (tools/bundle.py). JSDoc
   only: nothing here runs. */
/** @import {Symlink} from './symlink.mjs' */

/**
 * The pages the core declares for its imported memory.
 * @typedef {object} MemoryPages
 * @property {number} initial
 * @property {number} maximum
 */

/**
 * What getWasi() resolves to and initObj() returns (structured-cloneable).
 * @typedef {object} InitObject
 * @property {WebAssembly.Module} module the compiled core
 * @property {MemoryPages} memoryPages the limits of the core's memory
 * @property {boolean} shared whether `memory` is there
 * @property {WebAssembly.Memory} [memory] the shared memory holding a filesystem, where it can
 *   cross threads (Node, a cross-origin isolated page)
 */

/**
 * The limits of a filesystem and of a process (see DEFAULT_LIMITS).
 * @typedef {object} Limits
 * @property {number | null} maxFsBytes bytes for everything the filesystem and its processes
 *   allocate (ENOSPC); null: only the core memory's 4 GiB
 * @property {number} maxFds open fds of this process (EMFILE)
 * @property {number} maxPath bytes in a path (ENAMETOOLONG)
 * @property {number} maxName bytes in one path component (ENAMETOOLONG)
 * @property {number} maxSymlinkFollows symlinks followed resolving one path (ELOOP)
 */

/**
 * Bytes as callers may give them: a string (UTF-8), an ArrayBuffer or a typed array.
 * @typedef {string | ArrayBufferLike | ArrayBufferView} BytesLike
 */

/**
 * A tree for writeTree(): a string or bytes is a file, a plain object a directory, a Symlink
 * (`new Symlink('target')`) a symlink.
 * @typedef {{[name: string]: BytesLike | Symlink | Tree}} Tree
 */

/**
 * What a StdinFeed hands to the thread that runs the program (structured-cloneable).
 * @typedef {{wasiStdinFeed: SharedArrayBuffer}} StdinPort
 */

/**
 * stdin: bytes; a function that returns up to `maxBytes` bytes, null or empty at the end; in
 * Node a file descriptor read synchronously (`process.stdin`, `{fd: number}`); or a
 * StdinFeed's `port` (an async source pumped by another thread).
 * @typedef {BytesLike | ((maxBytes: number) => BytesLike | null | undefined) | {fd: number} | StdinPort} StdinSource
 */

/**
 * The options of startWasi() and copyForRebinding().
 * @typedef {object} WasiOptions
 * @property {string[]} [args] the whole argv, argv[0] included
 * @property {Record<string, string>} [env] {NAME: value}
 * @property {StdinSource | null} [stdin] default: empty
 * @property {((bytes: Uint8Array) => void) | null} [stdout] default: console.log, line by line; null: discard
 * @property {((bytes: Uint8Array) => void) | null} [stderr] default: console.error, line by line; null: discard
 * @property {boolean} [lineBuffered] deliver output at each newline (default), or in chunks
 * @property {Record<string, string>} [preopens] {guestPath: vfsDirectory}, default {'/': '/'}
 * @property {boolean} [bridge] force the multi-memory bridge (true) or the JS copy functions (false)
 * @property {Partial<Limits> | null} [limits] a fresh filesystem gets DEFAULT_LIMITS; given, they
 *   set the filesystem's limits (keys left out: their defaults) and this process's maxFds
 * @property {Array<0 | 1 | 2>} [tty] the stdio fds that say they are terminals (isatty())
 */

/**
 * A file of a URL map: its URL (relative ones resolve against the page's or Worker's
 * location) and, if known, its size (else a HEAD request asks when its directory is listed).
 * @typedef {object} UrlMapFile
 * @property {string} url
 * @property {number} [size]
 */

/**
 * A symlink of a URL map, with its target (relative, as the VFS stores targets).
 * @typedef {object} UrlMapLink
 * @property {string} symlink
 */

/**
 * mountUrlMap()'s map: {'/path/below/the/mount': url | {url, size} | {symlink}}; the
 * directories come from the paths.
 * @typedef {Record<string, string | UrlMapFile | UrlMapLink>} UrlMap
 */

/**
 * What lazyInfo() says of a VFS entry: the token of its mount's source, its state (0 an
 * ordinary entry, 1 a directory not listed yet, 2 a file whose bytes are not read yet) and
 * whether it is read-only.
 * @typedef {object} LazyInfo
 * @property {bigint} token
 * @property {0 | 1 | 2} state
 * @property {boolean} readOnly
 */
