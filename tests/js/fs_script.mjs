// Runs a filesystem-API script against the JS host (tests/test_fs_script.py runs the same
// script against the Python host and compares): node fs_script.mjs SCRIPT.json prints the
// JSON list of results, {ok: value} or {error: 'ENOENT'} per operation.
// FS_SCRIPT_BREAK=1 maps one errno wrongly (ENOTEMPTY as EEXIST), to show the comparison fails.

import {readFileSync} from 'node:fs';
import {pathToFileURL} from 'node:url';

const {startWasi, WasiError} = await import(pathToFileURL(process.env.WASI_MJS ?? new URL('../../wasi.mjs', import.meta.url).pathname).href);
const script = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const {max_fs_bytes: maxFsBytes, max_path: maxPath, max_name: maxName, max_symlink_follows: maxSymlinkFollows} = script.limits;
const fs = await startWasi(null, {limits: {maxFsBytes, maxPath, maxName, maxSymlinkFollows}, stdout: null, stderr: null});

/** @param {{type: string, size: number, nlink: number}} info */
const summary = info => ({type: info.type, size: info.size, nlink: info.nlink});
/** @param {number | null} ns */
const time = ns => (ns === null ? undefined : BigInt(ns));

/** @type {Record<string, (...args: any[]) => unknown>} */
const operations = {
	mkdir: path => fs.mkdir(path),
	mkdir_p: path => fs.mkdir(path, {recursive: true}),
	write: (path, text) => fs.writeFile(path, text),
	write_size: (path, size) => fs.writeFile(path, new Uint8Array(size).fill(120)),
	read: path => fs.readFile(path, 'utf8'),
	size_read: path => fs.readFile(path).length,
	list: path => fs.readdir(path),
	stat: path => summary(fs.stat(path)),
	lstat: path => summary(fs.lstat(path)),
	times: path => [String(fs.lstat(path).atimeNs), String(fs.lstat(path).mtimeNs)],
	exists: path => fs.exists(path),
	rename: (src, dst) => fs.rename(src, dst),
	link: (src, dst) => fs.link(src, dst),
	symlink: (target, path) => fs.symlink(target, path),
	readlink: path => fs.readlink(path),
	set_times: (path, atime, mtime, follow) => fs.setTimes(path, {atimeNs: time(atime), mtimeNs: time(mtime), followSymlinks: follow}),
	remove: path => fs.rm(path),
	rmdir: path => fs.rmdir(path),
	rmtree: path => fs.rm(path, {recursive: true}),
	fill: (prefix, size) => {
		for (let i = 0; i < 100000; i++) fs.writeFile(`${prefix}${i}`, new Uint8Array(size));
		return 'never full';
	},
	fsck: () => fs.fsck(),
};

const results = script.ops.map(([name, ...args]) => {
	try {
		const value = operations[name](...args);
		return {ok: value === undefined ? null : value};
	} catch (error) {
		if (!(error instanceof WasiError)) throw error;
		const code = process.env.FS_SCRIPT_BREAK && error.code === 'ENOTEMPTY' ? 'EEXIST' : error.code;
		return {error: code};
	}
});
process.stdout.write(JSON.stringify(results));
fs.close();
