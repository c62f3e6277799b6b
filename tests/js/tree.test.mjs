// writeTree() (a nested tree of files, directories and symlinks written all or nothing) under
// Node (node:test). Run by tests/test_js.py with WASI_MJS, the module under test.
import assert from 'node:assert/strict';
import test from 'node:test';
import {pathToFileURL} from 'node:url';

const {startWasi, Symlink, WasiError} = await import(pathToFileURL(process.env.WASI_MJS).href);
const quiet = {stdout: null, stderr: null};

/** {path: kind and content} of everything below `root`. */
function listing(wasi, root = '/') {
	const out = {};
	const walk = dir => {
		for (const name of wasi.readdir(dir).sort()) {
			const path = `${dir.replace(/\/$/, '')}/${name}`;
			const info = wasi.lstat(path);
			if (info.isDirectory()) {
				out[path] = 'dir';
				walk(path);
			} else if (info.isSymbolicLink()) out[path] = `-> ${wasi.readlink(path)}`;
			else out[path] = wasi.readFile(path, 'utf8');
		}
	};
	walk(root);
	return out;
}

test('a tree writes files, directories, empty directories and symlinks', async () => {
	const wasi = await startWasi(null, quiet);
	wasi.writeTree('/app', {
		'main.py': 'print(1)\n',
		lib: {'util.py': new TextEncoder().encode('x = 1\n'), deep: {er: {file: new Uint8Array([104, 105]).buffer}}},
		empty: {},
		current: new Symlink('lib/util.py'),
		'ünïcode ✓': 'utf-8',
	});
	assert.deepEqual(listing(wasi, '/app'), {
		'/app/current': '-> lib/util.py',
		'/app/empty': 'dir',
		'/app/lib': 'dir',
		'/app/lib/deep': 'dir',
		'/app/lib/deep/er': 'dir',
		'/app/lib/deep/er/file': 'hi',
		'/app/lib/util.py': 'x = 1\n',
		'/app/main.py': 'print(1)\n',
		'/app/ünïcode ✓': 'utf-8',
	});
	assert.equal(wasi.readFile('/app/current', 'utf8'), 'x = 1\n');
	// into an existing directory (the root too), beside what is there; parents are made
	wasi.writeTree('/app', {more: 'more'});
	wasi.writeTree('/', {top: {}});
	wasi.writeTree('/a/b/c', {d: 'deep'});
	assert.equal(wasi.readFile('/app/more', 'utf8'), 'more');
	assert.ok(wasi.stat('/top').isDirectory());
	assert.equal(wasi.readFile('/a/b/c/d', 'utf8'), 'deep');
	// the time of writing, to the nanosecond the clock gives
	const now = BigInt(Date.now()) * 1_000_000n;
	const mtime = wasi.stat('/app/main.py').mtimeNs;
	assert.ok(mtime > now - 60_000_000_000n && mtime <= now + 1_000_000_000n, String(mtime));
	assert.equal(wasi.fsck(), 0);
	wasi.close();
});

test('a bad tree throws naming the path, and writes nothing', async () => {
	const wasi = await startWasi(null, quiet);
	wasi.writeTree('/app', {old: 'kept'});
	const before = listing(wasi);
	const used = wasi.usedBytes();
	const cases = [
		[{ok: 'fine', sub: {'a/b': 'x'}}, {name: 'WasiError', code: 'EINVAL', path: '/app/sub/a/b'}],
		[{ok: 'fine', '..': 'x'}, {name: 'WasiError', code: 'EINVAL', path: '/app/..'}],
		[{ok: 'fine', sub: {n: 42}}, {name: 'TypeError', message: /\/app\/sub\/n must be a string, bytes, a Symlink or a tree, not number 42/}],
		[{ok: 'fine', sub: {n: null}}, TypeError],
		[{ok: 'fine', abs: new Symlink('/etc')}, {name: 'WasiError', code: 'EPERM', path: '/app/abs'}],
		[{ok: 'fine', old: 'replaced?'}, {name: 'WasiError', code: 'EEXIST', path: '/app/old'}],
		['not a tree', TypeError],
		[[1, 2], TypeError],
	];
	for (const [tree, expected] of cases) {
		assert.throws(() => wasi.writeTree('/app', tree), expected, JSON.stringify(tree));
		assert.deepEqual(listing(wasi), before);
		assert.equal(wasi.usedBytes(), used);
	}
	assert.throws(() => wasi.writeTree('/app/old', {x: 'y'}), {name: 'WasiError', code: 'ENOTDIR'});
	assert.throws(() => wasi.writeTree('relative', {x: 'y'}), TypeError);
	assert.throws(() => new Symlink(7), TypeError);
	assert.equal(wasi.fsck(), 0);
	wasi.close();
});

test('a tree over the space left throws ENOSPC naming the file, and writes nothing', async () => {
	const wasi = await startWasi(null, {...quiet, limits: {maxFsBytes: 2 << 20}});
	wasi.writeFile('/keep', 'precious');
	const before = listing(wasi);
	const used = wasi.usedBytes();
	const big = new Uint8Array(1 << 20).fill(7);
	assert.throws(() => wasi.writeTree('/data', {a: big, b: {c: big, d: big}}), error => {
		assert.ok(error instanceof WasiError, String(error));
		assert.equal(error.code, 'ENOSPC');
		assert.match(error.path, /^\/data\/(a|b\/c|b\/d)$/);
		return true;
	});
	assert.deepEqual(listing(wasi), before);
	assert.equal(wasi.usedBytes(), used);
	assert.equal(wasi.fsck(), 0);
	wasi.close();
});
