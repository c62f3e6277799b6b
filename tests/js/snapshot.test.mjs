// saveTar / loadTar (js/snapshot.mjs) under Node (node:test), held to what
// tests/test_snapshots.py holds the Python host's save_tar / load_tar to: hostile archives
// (made here, and by Python's tarfile when given) and unreadable ones refused with nothing
// changed, an archive over the space left, existing
// entries never overwritten, and snapshots taken while programs in worker_threads change the
// tree, each one moment. Run by tests/test_js.py with:
//   WASI_MJS            path of the module under test (wasi.mjs or wasi-bundled.mjs)
//   WASI_TEST_PROGRAMS  JSON {name: path of a compiled tests/programs/NAME.c}: without
//                       snapshot_mutator, the test that needs it is skipped
//   WASI_TAR_DIR        archives made by Python's tarfile: hostile-*.tar (each refused),
//                       huge.tar (a member past the largest file), hugepax.tar (a 4 GiB pax
//                       header); without it, the test that reads them is skipped
import assert from 'node:assert/strict';
import {readFileSync, readdirSync} from 'node:fs';
import {setTimeout as sleep} from 'node:timers/promises';
import test from 'node:test';
import {pathToFileURL} from 'node:url';
import {Worker} from 'node:worker_threads';

const modulePath = process.env.WASI_MJS;
const {startWasi, ArchiveError, UnsafeArchiveError, WasiError} = await import(pathToFileURL(modulePath).href);
const programs = JSON.parse(process.env.WASI_TEST_PROGRAMS ?? '{}');
const tarDir = process.env.WASI_TAR_DIR;
const tar = name => readFileSync(`${tarDir}/${name}`);
const quiet = {stdout: null, stderr: null};

/** Everything a snapshot keeps of a tree but atimes: {path: [kind, mtime, size, bytes]}. */
function listing(wasi, root = '/') {
	const out = {};
	const walk = dir => {
		for (const name of wasi.readdir(dir).sort()) {
			const path = `${dir.replace(/\/$/, '')}/${name}`;
			const info = wasi.lstat(path);
			if (info.isDirectory()) {
				out[path] = ['d', info.mtimeNs];
				walk(path);
			} else if (info.isSymbolicLink()) out[path] = ['l', info.mtimeNs, wasi.readlink(path)];
			else out[path] = ['f', info.mtimeNs, info.nlink, wasi.readFile(path, 'utf8')];
		}
	};
	walk(root);
	return out;
}

/** A ustar header block (and data blocks) made here, as a hostile archive's author would. */
function member(name, type = '0', {linkname = '', data = 'x', size = type === '0' ? data.length : 0} = {}) {
	const block = new Uint8Array(512);
	const put = (at, text) => block.set(new TextEncoder().encode(text), at);
	put(0, name);
	put(100, '0000644\0');
	put(108, '0000000\0');
	put(116, '0000000\0');
	if (size < 8 ** 11) put(124, `${size.toString(8).padStart(11, '0')}\0`);
	else { // GNU base-256, as tar writes sizes past 8 GiB
		block[124] = 0x80;
		for (let i = 135, rest = BigInt(size); i > 124; i--, rest >>= 8n) block[i] = Number(rest & 0xffn);
	}
	put(136, '00000000000\0');
	put(148, '        ');
	put(156, type);
	put(157, linkname);
	put(257, 'ustar\x0000');
	put(148, `${block.reduce((sum, byte) => sum + byte, 0).toString(8).padStart(6, '0')}\0 `);
	const body = new Uint8Array(Math.ceil((type === '0' ? data.length : 0) / 512) * 512);
	if (type === '0') body.set(new TextEncoder().encode(data));
	return [block, body];
}

/** An archive of members (each [name, type, options]), with its end blocks. */
function archive(...members) {
	const parts = members.flatMap(args => member(...args));
	parts.push(new Uint8Array(1024));
	const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
	let at = 0;
	for (const part of parts) {
		out.set(part, at);
		at += part.length;
	}
	return out;
}

/** tests/test_snapshots.py's hostile archives, made here (no Python needed). */
const HOSTILE = {
	'absolute name': archive(['fine'], ['/etc/passwd']),
	'dot-dot': archive(['a/b'], ['a/../../outside']),
	'through a symlink made earlier': archive(['up', '2', {linkname: '..'}], ['up/escaped']),
	'through a symlink to a subdirectory': archive(['real', '5'], ['alias', '2', {linkname: 'real'}], ['alias/x']),
	'hard link out of the tree': archive(['grab', '1', {linkname: '../keep'}]),
	'hard link through a symlink': archive(['up', '2', {linkname: '..'}], ['grab', '1', {linkname: 'up/keep'}]),
	'absolute symlink': archive(['etc', '2', {linkname: '/etc'}]),
	'character device': archive(['null', '3']),
	'block device': archive(['sda', '4']),
	fifo: archive(['pipe', '6']),
	'replaces a directory by a symlink': archive(['d', '5'], ['d', '2', {linkname: '..'}], ['d/x']),
	'a size past the largest file': archive(['huge', '0', {data: 'abc', size: 2 ** 50}]),
	'a 4 GiB pax header': archive(['././@PaxHeader', 'x', {size: 2 ** 32}]),
};

test('hostile archives made here are refused and change nothing', async () => {
	for (const [name, data] of Object.entries(HOSTILE)) {
		const wasi = await precious();
		const before = listing(wasi);
		const used = wasi.usedBytes();
		for (const target of ['/target', '/fresh', '/']) {
			assert.throws(() => wasi.loadTar(data, target), UnsafeArchiveError, `${name} into ${target}`);
			assert.deepEqual(listing(wasi), before, `${name} into ${target}`);
			assert.equal(wasi.usedBytes(), used, `${name} into ${target}`);
			assert.equal(wasi.fsck(), 0);
		}
		wasi.close();
	}
});

/** A filesystem with things to lose. */
async function precious(options = {}) {
	const wasi = await startWasi(null, {...quiet, ...options});
	wasi.mkdir('/target/old', {recursive: true});
	wasi.writeFile('/keep', 'precious');
	wasi.writeFile('/target/old/kept', 'also');
	return wasi;
}

test('hostile archives made by Python are refused and change nothing', {skip: !tarDir && 'no WASI_TAR_DIR (tests/test_js.py makes it)'}, async () => {
	const names = readdirSync(tarDir).filter(name => name.startsWith('hostile-')).sort();
	assert.ok(names.length >= 10, names.join(' '));
	for (const name of names) {
		const wasi = await precious(); // a fresh one each: a directory's table keeps its size
		const before = listing(wasi);
		const used = wasi.usedBytes();
		for (const target of ['/target', '/fresh', '/']) {
			assert.throws(() => wasi.loadTar(tar(name), target), UnsafeArchiveError, `${name} into ${target}`);
			assert.deepEqual(listing(wasi), before, `${name} into ${target}`);
			assert.equal(wasi.usedBytes(), used, `${name} into ${target}`);
			assert.equal(wasi.fsck(), 0);
		}
		wasi.close();
	}
	const wasi = await precious();
	const before = listing(wasi);
	assert.throws(() => wasi.loadTar(tar('huge.tar'), '/t'), {name: 'UnsafeArchiveError', message: /largest file/});
	assert.throws(() => wasi.loadTar(tar('hugepax.tar'), '/t'), {name: 'UnsafeArchiveError', message: /archive header/});
	assert.deepEqual(listing(wasi), before);
	wasi.close();
});

test('unreadable archives are refused and change nothing', async () => {
	const wasi = await precious();
	wasi.mkdir('/a');
	wasi.writeFile('/a/f', 'one');
	const good = wasi.saveTar('/a');
	const before = listing(wasi);
	assert.throws(() => wasi.loadTar(new TextEncoder().encode('not a tar archive'.repeat(100)), '/c'), ArchiveError);
	assert.throws(() => wasi.loadTar(good.subarray(0, 1100), '/c'), ArchiveError); // cut short in a member's data
	assert.throws(() => wasi.loadTar(good.subarray(0, 700), '/c'), ArchiveError); // cut short in a header
	assert.deepEqual(listing(wasi), before);
	assert.equal(wasi.fsck(), 0);
	wasi.close();
});

/** 4 MiB of files that do not compress to holes, d/file0 to d/file3, as an archive. */
async function bigArchive() {
	const maker = await startWasi(null, quiet);
	const files = {};
	let state = 1;
	for (let number = 0; number < 4; number++) {
		const data = new Uint8Array(1 << 20);
		for (let i = 0; i < data.length; i++) data[i] = (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) >>> 24;
		files[`file${number}`] = data;
	}
	maker.writeTree('/', {d: files});
	const archive = maker.saveTar('/');
	maker.close();
	return archive;
}

test('an archive over the space left fails cleanly, naming the member', async () => {
	const big = await bigArchive();
	const wasi = await precious({limits: {maxFsBytes: 3 << 20}});
	const before = listing(wasi);
	const used = wasi.usedBytes();
	for (const target of ['/target', '/new', '/']) {
		assert.throws(() => wasi.loadTar(big, target), error => {
			assert.ok(error instanceof WasiError, String(error));
			assert.equal(error.code, 'ENOSPC');
			assert.match(error.path, /^d\/file/);
			return true;
		});
		assert.deepEqual(listing(wasi), before);
		assert.equal(wasi.usedBytes(), used);
		assert.equal(wasi.fsck(), 0);
	}
	wasi.close();
});

test('existing entries are never overwritten; a target that is a file is refused', async () => {
	const wasi = await startWasi(null, quiet);
	wasi.mkdir('/a');
	wasi.writeFile('/a/f', 'one');
	const data = wasi.saveTar('/a');
	wasi.writeFile('/a/f', 'two');
	wasi.writeFile('/a/g', 'three');
	assert.throws(() => wasi.loadTar(data, '/a'), {name: 'WasiError', code: 'EEXIST', path: '/a/f'});
	assert.equal(wasi.readFile('/a/f', 'utf8'), 'two');
	assert.deepEqual(wasi.readdir('/a').sort(), ['f', 'g']);
	wasi.loadTar(data, '/b'); // a new directory: created
	assert.equal(wasi.readFile('/b/f', 'utf8'), 'one');
	wasi.mkdir('/c');
	wasi.loadTar(data, '/c'); // an existing one: the entries move in
	assert.deepEqual(wasi.readdir('/c'), ['f']);
	assert.throws(() => wasi.loadTar(data, '/a/f'), {name: 'WasiError', code: 'ENOTDIR'});
	assert.throws(() => wasi.saveTar('/a/f'), {name: 'WasiError', code: 'ENOTDIR'});
	assert.throws(() => wasi.saveTar('relative'), TypeError);
	assert.equal(wasi.fsck(), 0);
	wasi.close();
});

test('a snapshot taken while programs change the tree is one moment', {skip: !programs.snapshot_mutator && 'no snapshot_mutator program'}, async () => {
	const wasi = await startWasi(null, quiet);
	for (const name of ['pair', 'count', 'churn']) wasi.mkdir(`/work/${name}`, {recursive: true});
	wasi.mkdir('/ctl');
	wasi.writeFile('/work/pair/A', 'the one file');
	const init = wasi.initObj();
	const runs = ['rename', 'counter', 'churn'].map(mode => new Promise((resolve, reject) => {
		const worker = new Worker(new URL('./program_worker.mjs', import.meta.url), {
			workerData: {modulePath, init, programPath: programs.snapshot_mutator, args: ['snapshot_mutator', mode, `/work/${mode === 'counter' ? 'count' : mode === 'rename' ? 'pair' : 'churn'}`]},
		});
		worker.on('message', resolve);
		worker.on('error', reject);
	}));
	const snapshots = [];
	try {
		const deadline = Date.now() + 60000;
		while (!wasi.exists('/work/count/y') && Date.now() < deadline) await sleep(10); // at work
		// 12 snapshots or more, over half a second at least: every program gets to work
		const until = Date.now() + 500;
		while (snapshots.length < 12 || Date.now() < until) {
			snapshots.push(wasi.saveTar('/work'));
			await sleep(25);
		}
	} finally {
		wasi.writeFile('/ctl/stop', '');
	}
	for (const result of await Promise.all(runs)) {
		assert.equal(result.code, 0, result.stderr);
		assert.ok(Number(result.stdout) > 0, result.stdout);
	}
	assert.equal(wasi.fsck(), 0);
	wasi.close();
	const rounds = new Set();
	for (const data of snapshots) {
		const other = await startWasi(null, quiet); // every snapshot restores to a healthy filesystem
		other.loadTar(data, '/');
		assert.equal(other.fsck(), 0);
		const pair = other.readdir('/pair');
		assert.equal(pair.length, 1, pair.join(' ')); // never both, never neither
		if (other.exists('/count/x')) {
			const x = Number(other.readFile('/count/x', 'utf8'));
			const y = other.exists('/count/y') ? Number(other.readFile('/count/y', 'utf8')) : -1;
			assert.ok(x === y || x === y + 1, `x ${x} y ${y}`);
			rounds.add(x);
		}
		other.close();
	}
	assert.ok(rounds.size > 1, 'the snapshots saw the programs at work');
});
