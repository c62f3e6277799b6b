// Lazy mounts under Node (node:test): mountHostDir, writeBackHostDir, lazyInfo and mountUrlMap,
// held to what tests/test_lazy_mount.py holds the Python host's mount_host_dir to. Run by
// tests/test_js.py with WASI_MJS (the module under test), WASI_TEST_PROGRAMS ({lazy_ops})
// and WASI_BRIDGE; and again with WASI_WASM_NO_PROC_FD=1 (names by path, not /proc/self/fd).
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {
	mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import test from 'node:test';
import {pathToFileURL} from 'node:url';

const {startWasi} = await import(pathToFileURL(process.env.WASI_MJS).href);
const programs = JSON.parse(process.env.WASI_TEST_PROGRAMS ?? '{}');
const bridge = process.env.WASI_BRIDGE === 'false' ? false : undefined;
const byPath = Boolean(process.env.WASI_WASM_NO_PROC_FD);
const quiet = {stdout: null, stderr: null, bridge};
const lazyOps = programs.lazy_ops ? new WebAssembly.Module(readFileSync(programs.lazy_ops)) : null;

/** lazy_ops ARGS as a new process on `wasi`'s filesystem, /m preopened: its output lines. */
async function ops(wasi, ...args) {
	const out = [];
	const process = await wasi.copyForRebinding({args: ['lazy_ops', ...args], preopens: {'/m': '/m'}, stdout: bytes => out.push(bytes), bridge});
	const code = process.start(await WebAssembly.instantiate(lazyOps, process.importObj));
	process.close();
	assert.equal(code, 0);
	return Buffer.concat(out).toString('utf8').split('\n').filter(line => line !== '');
}

function scratch() {
	return mkdtempSync(join(tmpdir(), 'wasi-lazy-'));
}

test('a mount is ready at once and memory holds only what a program touched', {skip: !lazyOps && 'no lazy_ops'}, async () => {
	const host = join(scratch(), 'tree');
	for (let d = 0; d < 20; d++) {
		mkdirSync(join(host, `d${d}`), {recursive: true});
		for (let f = 0; f < 10; f++) writeFileSync(join(host, `d${d}`, `f${f}`), Buffer.alloc(20000, d * 16 + f));
	}
	mkdirSync(join(host, 'many'));
	for (let i = 0; i < 600; i++) writeFileSync(join(host, 'many', `name-${i}-${'x'.repeat(100)}`), String(i));
	const wasi = await startWasi(null, quiet);
	const before = wasi.usedBytes();
	wasi.mountHostDir(host, '/m');
	assert.ok(wasi.usedBytes() - before < 4096);
	assert.deepEqual(wasi.lazyInfo('/m').state, 1);
	const out = await ops(wasi, 'read', '/m/d3/f7', 'stat', '/m/d10/f2');
	assert.equal(out[0], 'read /m/d3/f7: OK');
	assert.ok(out[1].endsWith('] 20000 bytes'));
	assert.deepEqual(out.slice(2), ['stat /m/d10/f2: OK', '  file 20000']);
	const used = wasi.usedBytes() - before;
	assert.ok(used < 150_000, `${used} bytes for 20 KB read of 4 MB`);
	assert.equal(wasi.lazyInfo('/m/d5').state, 1); // never listed
	assert.equal(wasi.lazyInfo('/m/d3/f7').state, 0); // read: in memory now
	assert.equal(wasi.lazyInfo('/m/d10/f2').state, 2); // stat needs no bytes
	assert.equal(wasi.lazyInfo('/m/d3').readOnly, false);
	// a listing longer than the core's first buffer: it asks again with room for it
	assert.equal(wasi.readdir('/m/many').length, 600);
	assert.equal(wasi.readFile('/m/many/name-599-' + 'x'.repeat(100), 'utf8'), '599');
	assert.equal(typeof wasi.lazyInfo('/m/d3').token, 'bigint');
	assert.equal(wasi.fsck(), 0);
	wasi.close();
});

test('a read-only mount refuses programs every change with EPERM', {skip: !lazyOps && 'no lazy_ops'}, async () => {
	const host = join(scratch(), 'tree');
	mkdirSync(join(host, 'd'), {recursive: true});
	writeFileSync(join(host, 'f.txt'), 'hello');
	const wasi = await startWasi(null, quiet);
	wasi.mountHostDir(host, '/m', {readOnly: true});
	assert.equal(wasi.readFile('/m/f.txt', 'utf8'), 'hello');
	assert.equal(wasi.lazyInfo('/m/f.txt').readOnly, true);
	const out = await ops(wasi, 'read', '/m/f.txt', 'write', '/m/f.txt', 'x', 'create', '/m/new', 'mkdir', '/m/nd',
		'rm', '/m/f.txt', 'mv', '/m/f.txt', '/m/g', 'symlink', 'f.txt', '/m/l', 'rmdir', '/m/d', 'utime', '/m/f.txt');
	assert.deepEqual(out, ['read /m/f.txt: OK', '  [hello] 5 bytes', 'write /m/f.txt: errno 63', 'create /m/new: errno 63',
		'mkdir /m/nd: errno 63', 'rm /m/f.txt: errno 63', 'mv /m/f.txt: errno 63', 'symlink /m/l: errno 63',
		'rmdir /m/d: errno 63', 'utime /m/f.txt: errno 63']);
	// The filesystem API is the host's own: the core lets it change a read-only mount (in
	// memory), in the Python host too.
	wasi.writeFile('/m/f.txt', 'x');
	assert.equal(readFileSync(join(host, 'f.txt'), 'utf8'), 'hello');
	// A mount there already: EBUSY, listed or not (a second mount would hide the first).
	assert.throws(() => wasi.mountHostDir(host, '/m'), {name: 'WasiError', code: 'EBUSY'});
	assert.throws(() => wasi.mountHostDir(join(host, 'f.txt'), '/other'), {name: 'WasiError', code: 'ENOTDIR'});
	assert.throws(() => wasi.mountHostDir(host, '/x', {readOnly: 'yes'}), TypeError);
	assert.throws(() => wasi.writeBackHostDir('/nothing'), TypeError);
	assert.equal(wasi.fsck(), 0);
	wasi.close();
});

test('write-back applies only the changes, and lists no directory the program never did', async () => {
	const host = join(scratch(), 'tree');
	mkdirSync(join(host, 'keep', 'deep'), {recursive: true});
	mkdirSync(join(host, 'dir', 'in'), {recursive: true});
	writeFileSync(join(host, 'keep', 'deep', 'k.txt'), 'kept');
	writeFileSync(join(host, 'dir', 'in', 'x'), 'x data');
	writeFileSync(join(host, 'f'), 'f data');
	writeFileSync(join(host, 'read.txt'), 'only read');
	writeFileSync(join(host, 'a.txt'), 'alpha');
	const untouched = statSync(join(host, 'keep', 'deep', 'k.txt'));
	const onlyRead = statSync(join(host, 'read.txt'));
	const wasi = await startWasi(null, quiet);
	wasi.mountHostDir(host, '/m');
	wasi.readFile('/m/read.txt');
	wasi.writeFile('/m/a.txt', 'alpha!');
	wasi.rename('/m/dir', '/m/moved'); // never listed: still lazy, named elsewhere
	wasi.rename('/m/f', '/m/moved2');
	wasi.writeFile('/m/new', 'n');
	assert.equal(wasi.lazyInfo('/m/keep').state, 1);
	assert.deepEqual(execFileSync('ls', [host]).toString().split('\n').filter(Boolean), ['a.txt', 'dir', 'f', 'keep', 'read.txt']);
	wasi.writeBackHostDir('/m');
	assert.deepEqual(execFileSync('ls', [host]).toString().split('\n').filter(Boolean), ['a.txt', 'keep', 'moved', 'moved2', 'new', 'read.txt']);
	assert.equal(readFileSync(join(host, 'moved', 'in', 'x'), 'utf8'), 'x data');
	assert.equal(readFileSync(join(host, 'moved2'), 'utf8'), 'f data');
	assert.equal(readFileSync(join(host, 'a.txt'), 'utf8'), 'alpha!');
	assert.equal(wasi.lazyInfo('/m/keep').state, 1, 'write-back listed a directory nobody looked into');
	for (const [name, before] of [['keep/deep/k.txt', untouched], ['read.txt', onlyRead]]) {
		const now = statSync(join(host, name), {bigint: true});
		assert.deepEqual([now.ino, now.mtimeMs], [BigInt(before.ino), BigInt(Math.floor(before.mtimeMs))], name);
	}
	// A second write-back finds nothing to do: no file is written again.
	const written = statSync(join(host, 'a.txt')).ino;
	wasi.writeBackHostDir('/m');
	assert.equal(statSync(join(host, 'a.txt')).ino, written);
	// A file over maxFileSize: refused before the host changes.
	wasi.writeFile('/m/big', new Uint8Array(5000));
	wasi.rm('/m/new');
	assert.throws(() => wasi.writeBackHostDir('/m', {maxFileSize: 4096}), {name: 'WasiError', code: 'EFBIG'});
	assert.equal(readFileSync(join(host, 'new'), 'utf8'), 'n');
	symlinkSync(host, join(host, '..', 'link-to-tree'));
	assert.throws(() => wasi.writeBackHostDir('/m', {hostDir: join(host, '..', 'link-to-tree')}), {name: 'WasiError', code: 'ELOOP'});
	wasi.writeBackHostDir('/m', {hostDir: join(host, '..', 'copy')});
	assert.equal(readFileSync(join(host, '..', 'copy', 'big')).length, 5000);
	assert.equal(wasi.fsck(), 0);
	wasi.close();
});

test('write-back goes into the directory mounted, not into what its path names now', () => {
	// The mounted directory renamed away during the run and another made at its path: the
	// write-back went by the path, into the other one, and deleted its g. Through
	// /proc/self/fd it now reaches the one mounted; by path it writes nothing (ENOENT).
	const base = scratch();
	const host = join(base, 'proj');
	mkdirSync(host);
	writeFileSync(join(host, 'f'), 'f');
	writeFileSync(join(host, 'g'), 'g');
	return startWasi(null, quiet).then(wasi => {
		wasi.mountHostDir(host, '/m');
		wasi.rm('/m/g');
		wasi.writeFile('/m/new', 'n');
		renameSync(host, join(base, 'moved'));
		mkdirSync(host);
		writeFileSync(join(host, 'g'), 'other');
		if (byPath) {
			assert.throws(() => wasi.writeBackHostDir('/m'), {name: 'WasiError', code: 'ENOENT'});
			assert.deepEqual(readdirSync(join(base, 'moved')).sort(), ['f', 'g']);
		} else {
			wasi.writeBackHostDir('/m');
			assert.deepEqual(readdirSync(join(base, 'moved')).sort(), ['f', 'new']);
		}
		assert.deepEqual(readdirSync(host), ['g']);
		assert.equal(readFileSync(join(host, 'g'), 'utf8'), 'other');
		// A second write-back removes what the first made and the program removed since, and
		// keeps what the host gained in between.
		const again = join(base, 'again');
		mkdirSync(again);
		writeFileSync(join(again, 'old'), 'o');
		wasi.mountHostDir(again, '/a');
		wasi.writeFile('/a/made', 'm');
		wasi.mkdir('/a/dir');
		wasi.writeFile('/a/dir/inner', 'i');
		wasi.writeBackHostDir('/a');
		assert.deepEqual(readdirSync(again).sort(), ['dir', 'made', 'old']);
		wasi.rm('/a/made');
		wasi.rm('/a/dir', {recursive: true});
		wasi.rm('/a/old');
		writeFileSync(join(again, 'late'), 'l');
		wasi.writeBackHostDir('/a');
		assert.deepEqual(readdirSync(again), ['late']);
		// A lazy file moved out of every mount is read in before its host source goes.
		const out = join(base, 'out');
		mkdirSync(out);
		writeFileSync(join(out, 'h'), 'h');
		wasi.mountHostDir(out, '/o');
		wasi.mkdir('/elsewhere');
		wasi.rename('/o/h', '/elsewhere/h');
		wasi.writeBackHostDir('/o');
		assert.deepEqual(readdirSync(out), []);
		assert.equal(new TextDecoder().decode(wasi.readFile('/elsewhere/h')), 'h');
		const gone = join(base, 'gone');
		mkdirSync(gone);
		wasi.mountHostDir(gone, '/n');
		wasi.writeFile('/n/x', 'x');
		rmSync(gone, {recursive: true});
		assert.throws(() => wasi.writeBackHostDir('/n'), {name: 'WasiError', code: 'ENOENT'});
		wasi.close();
	});
});

test('a host tree changed under the mount: nothing outside is ever read', {skip: !lazyOps && 'no lazy_ops'}, async () => {
	const base = scratch();
	const outside = join(base, 'outside');
	mkdirSync(join(outside, 'sub'), {recursive: true});
	writeFileSync(join(outside, 'secret'), 'SECRET');
	writeFileSync(join(outside, 'f'), 'SECRET f');
	writeFileSync(join(outside, 'sub', 'f'), 'SECRET sub/f');
	const host = join(base, 'tree');
	mkdirSync(join(host, 'sub2'), {recursive: true});
	mkdirSync(join(host, 'dir'), {recursive: true});
	mkdirSync(join(host, 'deep', 'sub'), {recursive: true});
	writeFileSync(join(host, 'dir', 'f'), 'inside');
	writeFileSync(join(host, 'deep', 'sub', 'f'), 'inside deep');
	writeFileSync(join(host, 'file'), 'inside file');
	writeFileSync(join(host, 'fifo-later'), 'a file for now');
	mkdirSync(join(host, 'other'));
	writeFileSync(join(host, 'other', 'g'), 'replaced');
	mkdirSync(join(host, 'unlisted'));
	const wasi = await startWasi(null, quiet);
	wasi.mountHostDir(host, '/m');
	// Mounted, nothing read yet: the root itself is untouched, so every name is the host's
	// now. A directory swapped for a symlink to outside before its first access:
	rmSync(join(host, 'sub2'), {recursive: true});
	symlinkSync(outside, join(host, 'sub2'));
	let out = await ops(wasi, 'ls', '/m/sub2', 'read', '/m/sub2/secret', 'ls', '/m/dir', 'stat', '/m/deep/sub/f');
	// (an absolute symlink leads out of the preopen: EPERM, as in wasmtime)
	assert.deepEqual(out.slice(0, 3), ['ls /m/sub2: errno 63', 'read /m/sub2/secret: errno 63', 'ls /m/dir: OK']);
	assert.equal(wasi.readlink('/m/sub2'), outside); // a symlink in the VFS, as the host has it
	// Listed ones swapped after their listing: a directory (its file listed too), a deeper
	// directory, a file.
	rmSync(join(host, 'dir'), {recursive: true});
	symlinkSync(outside, join(host, 'dir'));
	rmSync(join(host, 'deep', 'sub'), {recursive: true});
	symlinkSync(join(outside, 'sub'), join(host, 'deep', 'sub'));
	unlinkSync(join(host, 'file'));
	symlinkSync(join(outside, 'secret'), join(host, 'file'));
	rmSync(join(host, 'unlisted'), {recursive: true}); // known from the root's listing, never listed
	symlinkSync(outside, join(host, 'unlisted'));
	unlinkSync(join(host, 'fifo-later'));
	execFileSync('mkfifo', [join(host, 'fifo-later')]);
	out = await ops(wasi, 'read', '/m/dir/f', 'read', '/m/deep/sub/f', 'read', '/m/file', 'read', '/m/fifo-later', 'ls', '/m/deep/sub',
		'ls', '/m/unlisted', 'read', '/m/unlisted/secret');
	assert.ok(!out.join('\n').includes('SECRET'), out.join('\n'));
	assert.match(out[0], /^read \/m\/dir\/f: errno (54|44)$/); // ENOTDIR from O_NOFOLLOW | O_DIRECTORY
	assert.match(out[1], /^read \/m\/deep\/sub\/f: errno (54|44)$/);
	assert.match(out[2], /^read \/m\/file: errno (32|44)$/); // ELOOP from O_NOFOLLOW
	assert.equal(out[3], 'read /m/fifo-later: errno 29'); // EIO: not a regular file (and no hang)
	assert.equal(out[4], 'ls /m/deep/sub: OK'); // listed before the swap: the VFS has its names
	assert.deepEqual(out.slice(-2), ['ls /m/unlisted: errno 54', 'read /m/unlisted/secret: errno 54']); // as the Python host
	// A directory replaced by another real one after its listing: through /proc/self/fd, as
	// the Python host, the name is what counts; by path, only the listed inode is taken.
	wasi.readdir('/m/other');
	renameSync(join(host, 'other'), join(host, 'gone'));
	mkdirSync(join(host, 'other'));
	writeFileSync(join(host, 'other', 'g'), 'a new file');
	out = await ops(wasi, 'read', '/m/other/g');
	assert.equal(out[0], byPath ? 'read /m/other/g: errno 44' : 'read /m/other/g: OK');
	assert.equal(wasi.fsck(), 0);
	wasi.close();
});

test('a host file that vanishes after listing gives ENOENT and stays lazy', {skip: !lazyOps && 'no lazy_ops'}, async () => {
	const host = join(scratch(), 'tree');
	mkdirSync(join(host, 'gone'), {recursive: true});
	writeFileSync(join(host, 'v.txt'), 'here');
	const wasi = await startWasi(null, quiet);
	wasi.mountHostDir(host, '/m');
	assert.deepEqual(wasi.readdir('/m').sort(), ['gone', 'v.txt']);
	unlinkSync(join(host, 'v.txt'));
	rmSync(join(host, 'gone'), {recursive: true});
	const out = await ops(wasi, 'read', '/m/v.txt', 'ls', '/m/gone', 'stat', '/m/v.txt');
	assert.deepEqual(out, ['read /m/v.txt: errno 44', 'ls /m/gone: errno 44', 'stat /m/v.txt: OK', '  file 4']);
	assert.equal(wasi.lazyInfo('/m/v.txt').state, 2);
	assert.equal(wasi.fsck(), 0);
	wasi.close();
});

test('loaded bytes count against maxFsBytes, and a refused load keeps nothing', {skip: !lazyOps && 'no lazy_ops'}, async () => {
	const host = join(scratch(), 'tree');
	mkdirSync(host);
	writeFileSync(join(host, 'big'), Buffer.alloc(3 << 20, 'b'));
	writeFileSync(join(host, 'small'), Buffer.alloc(1000, 's'));
	const wasi = await startWasi(null, {...quiet, limits: {maxFsBytes: 2 << 20}});
	wasi.mountHostDir(host, '/m');
	const out = await ops(wasi, 'stat', '/m/big', 'read', '/m/big', 'read', '/m/small');
	assert.deepEqual(out, ['stat /m/big: OK', '  file 3145728', 'read /m/big: errno 51', 'read /m/small: OK', `  [${'s'.repeat(200)}] 1000 bytes`]);
	assert.equal(wasi.lazyInfo('/m/big').state, 2);
	assert.equal(wasi.fsck(), 0);
	wasi.close();
});

test('a URL map: directories from its paths, each file fetched once, when first opened', {skip: !lazyOps && 'no lazy_ops'}, async () => {
	const files = {'https://example.test/a.txt': 'alpha', 'https://example.test/deep/b.bin': 'b'.repeat(70000)};
	const fetched = [];
	const fetchSync = url => {
		fetched.push(url);
		if (!(url in files)) throw Object.assign(new Error('404'), {code: 'ENOENT'});
		return files[url];
	};
	const wasi = await startWasi(null, quiet);
	assert.throws(() => wasi.mountUrlMap({'/a': 'x'}, '/m'), /XMLHttpRequest/); // Node has none
	wasi.mountUrlMap({
		'/a.txt': 'https://example.test/a.txt',
		'dir/sub/b.bin': {url: 'https://example.test/deep/b.bin', size: 70000},
		'/dir/missing': {url: 'https://example.test/missing', size: 3},
		'/dir/link': {symlink: 'sub/b.bin'},
	}, '/m', {fetchSync});
	assert.equal(wasi.lazyInfo('/m').state, 1);
	const out = await ops(wasi, 'ls', '/m', 'ls', '/m/dir', 'stat', '/m/dir/sub/b.bin', 'read', '/m/a.txt', 'read', '/m/dir/link',
		'read', '/m/dir/missing', 'write', '/m/dir/new', 'local', 'read', '/m/dir/new');
	assert.deepEqual(out, [
		'ls /m: OK', '  a.txt', '  dir', 'ls /m/dir: OK', '  link', '  missing', '  new', '  sub',
		'stat /m/dir/sub/b.bin: OK', '  file 70000', 'read /m/a.txt: OK', '  [alpha] 5 bytes',
		'read /m/dir/link: OK', `  [${'b'.repeat(200)}] 70000 bytes`, 'read /m/dir/missing: errno 44',
		'write /m/dir/new: OK', 'read /m/dir/new: OK', '  [local] 5 bytes',
	].filter(line => line !== '  new' || false));
	// a.txt had no size: fetched (once) when its directory was listed, then served from there
	assert.deepEqual(fetched, ['https://example.test/a.txt', 'https://example.test/deep/b.bin', 'https://example.test/missing']);
	assert.equal(wasi.readFile('/m/a.txt', 'utf8'), 'alpha');
	// A fetch that fails with no errno of its own: EIO, and the file stays lazy.
	wasi.mountUrlMap({'/f': {url: 'https://example.test/broken', size: 4}}, '/broken', {
		fetchSync: () => { throw new Error('network down'); },
	});
	assert.throws(() => wasi.readFile('/broken/f'), {name: 'WasiError', code: 'EIO'});
	assert.equal(wasi.lazyInfo('/broken/f').state, 2);
	assert.throws(() => wasi.mountUrlMap({'/a/b': 'u', '/a': 'v'}, '/n', {fetchSync}), TypeError);
	assert.throws(() => wasi.mountUrlMap({'/a/../b': 'u'}, '/n', {fetchSync}), TypeError);
	assert.throws(() => wasi.mountUrlMap({'/a': 42}, '/n', {fetchSync}), TypeError);
	wasi.mountUrlMap({'/f': 'https://example.test/a.txt'}, '/ro', {fetchSync, readOnly: true});
	assert.equal(wasi.lazyInfo('/ro').readOnly, true);
	assert.throws(() => wasi.writeBackHostDir('/ro'), TypeError);
	assert.equal(wasi.fsck(), 0);
	wasi.close();
});

/** A synchronous XMLHttpRequest for Node, reading file: URLs (what a browser Worker has);
    `globalThis.fetched` lists what it fetched in this thread. */
function installXhr() {
	globalThis.fetched = [];
	globalThis.XMLHttpRequest = class {
		open(method, url) {
			this.method = method;
			this.url = url;
		}
		send() {
			const bytes = process.getBuiltinModule('node:fs').readFileSync(new URL(this.url));
			globalThis.fetched.push(`${this.method} ${this.url.replace(/.*\//, '')}`);
			this.status = 200;
			this.length = bytes.length;
			this.response = this.method === 'GET' ? bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) : null;
		}
		getResponseHeader(name) {
			return name === 'Content-Length' ? String(this.length) : null;
		}
	};
}

test('another thread serves a URL map from its description, and gets EIO for a host directory not loaded', async () => {
	const host = join(scratch(), 'tree');
	mkdirSync(join(host, 'd'), {recursive: true});
	writeFileSync(join(host, 'd', 'f'), 'data');
	writeFileSync(join(host, 'u1'), 'first url');
	writeFileSync(join(host, 'u2'), 'second url');
	installXhr();
	const wasi = await startWasi(null, quiet);
	wasi.mountHostDir(host, '/m');
	wasi.mountUrlMap({'/dir/u1': pathToFileURL(join(host, 'u1')).href, '/dir/u2': {url: pathToFileURL(join(host, 'u2')).href, size: 10}}, '/u');
	wasi.mountUrlMap({'/x': 'file:///nothing'}, '/custom', {fetchSync: () => 'x'});
	assert.deepEqual(wasi.readdir('/u/dir'), ['u1', 'u2']); // listed here: a HEAD for u1's size
	assert.deepEqual(globalThis.fetched, ['HEAD u1']);
	const {Worker} = await import('node:worker_threads');
	const script = `
		const {workerData, parentPort} = require('node:worker_threads');
		(${installXhr.toString()})();
		import(workerData.url).then(async ({startWasi}) => {
			const mine = await startWasi(workerData.init, {stdout: null, stderr: null});
			const result = [];
			const attempt = use => { try { result.push(use()); } catch (error) { result.push(error.code); } };
			attempt(() => mine.readdir('/m/d'));
			attempt(() => mine.readFile('/u/dir/u2', 'utf8'));
			attempt(() => mine.readdir('/custom'));
			result.push(globalThis.fetched);
			mine.close();
			parentPort.postMessage(result);
		});`;
	const worker = new Worker(script, {eval: true, workerData: {url: pathToFileURL(process.env.WASI_MJS).href, init: wasi.initObj()}});
	const result = await new Promise(resolve => worker.once('message', resolve));
	await worker.terminate();
	assert.deepEqual(result, ['EIO', 'second url', 'EIO', ['GET u2']]);
	assert.deepEqual(wasi.readdir('/m/d'), ['f']); // this thread serves it
	assert.equal(wasi.readFile('/u/dir/u2', 'utf8'), 'second url'); // loaded by the Worker
	assert.deepEqual(globalThis.fetched, ['HEAD u1']);
	assert.equal(wasi.fsck(), 0);
	wasi.close();
	delete globalThis.XMLHttpRequest;
});

test('a URL map outlives the Worker that made it: its record is no process\'s', async () => {
	// The mount's id is the address of its record in the core memory, which other threads read
	// to serve it (js/lazy.mjs, adoptMount). Made with wasi_wasm_alloc, the record was the
	// Worker's host process's, freed with it when the Worker closed its Wasi: the next thread
	// to meet the mount found no record there (EIO), or another mount's.
	const host = join(scratch(), 'map');
	mkdirSync(host, {recursive: true});
	writeFileSync(join(host, 'u'), 'from the map');
	writeFileSync(join(host, 'v'), 'page\'s own map');
	installXhr();
	const page = await startWasi(null, quiet);
	const {Worker} = await import('node:worker_threads');
	const script = `
		const {workerData, parentPort} = require('node:worker_threads');
		(${installXhr.toString()})();
		import(workerData.url).then(async ({startWasi}) => {
			const mine = await startWasi(workerData.init, {stdout: null, stderr: null});
			mine.mountUrlMap({'/u': {url: workerData.file, size: 12}}, '/gone');
			mine.close(); // its host process ends, and the mount stays
			parentPort.postMessage('closed');
		});`;
	const worker = new Worker(script, {eval: true, workerData: {
		url: pathToFileURL(process.env.WASI_MJS).href, init: page.initObj(), file: pathToFileURL(join(host, 'u')).href,
	}});
	assert.equal(await new Promise(resolve => worker.once('message', resolve)), 'closed');
	await worker.terminate();
	// A mount of this thread's, its record as long: it would get the freed record's address.
	page.mountUrlMap({'/v': {url: pathToFileURL(join(host, 'v')).href, size: 14}}, '/mine');
	assert.deepEqual(page.readdir('/gone'), ['u']); // served here, from the Worker's record
	assert.equal(page.readFile('/gone/u', 'utf8'), 'from the map');
	assert.equal(page.readFile('/mine/v', 'utf8'), 'page\'s own map');
	assert.deepEqual(globalThis.fetched, ['GET u', 'GET v']);
	assert.equal(page.fsck(), 0);
	page.close();
	delete globalThis.XMLHttpRequest;
});
