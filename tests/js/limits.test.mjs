// The `limits` option of startWasi / copyForRebinding (node:test), as tests/test_limits.py
// holds the Python host's Limits to it: the same harden_limits sections with the same limits,
// ENOSPC / EMFILE / ENAMETOOLONG / ELOOP with data intact and fsck clean, and bad values
// refused before anything changes. Run by tests/test_js.py on each engine and copy path with:
//   WASI_MJS            path of the module under test (wasi.mjs or wasi-bundled.mjs)
//   WASI_TEST_PROGRAMS  JSON {name: path of a compiled tests/programs/NAME.c}
//   WASI_BRIDGE         "auto" or "false": the bridge option of every process running a program
//   WASI_EXPECT_BRIDGE  "1" or "0": whether those processes must then use the bridge
import assert from 'node:assert/strict';
import {randomBytes} from 'node:crypto';
import {readFileSync} from 'node:fs';
import test from 'node:test';
import {pathToFileURL} from 'node:url';

const {startWasi, DEFAULT_LIMITS, WasiError} = await import(pathToFileURL(process.env.WASI_MJS).href);
const programPaths = JSON.parse(process.env.WASI_TEST_PROGRAMS);
const bridge = {auto: undefined, false: false}[process.env.WASI_BRIDGE];
const expectBridge = process.env.WASI_EXPECT_BRIDGE === '1';
const limitsProgram = await WebAssembly.compile(readFileSync(programPaths.harden_limits));
const BOX = '/sandbox';

/** Runs harden_limits ARGS as a new process on `fs` with /sandbox preopened; its options are
    `options` (limits, ...). Returns {code, stdout}. */
async function runOn(fs, args, options = {}) {
	const output = [];
	const process = await fs.copyForRebinding({
		args: ['harden_limits', ...args], preopens: {[BOX]: BOX}, bridge, lineBuffered: false,
		stdout: bytes => output.push(Buffer.from(bytes)), stderr: bytes => output.push(Buffer.from(bytes)),
		...options,
	});
	try {
		const code = process.start(await WebAssembly.instantiate(limitsProgram, process.importObj));
		assert.equal(process.usesBridge, expectBridge, 'the wrong copy path was used');
		return {code, stdout: Buffer.concat(output).toString()};
	} finally {
		process.close();
	}
}

/** tests/test_limits.py's run_section: a fresh filesystem with `limits`, /sandbox made (and
    /outside.bin written when `preset` is given), then harden_limits ARGS with `limits`. */
async function runSection(args, limits, {preset} = {}) {
	const fs = await startWasi(null, {limits, preopens: {}, stdout: null, stderr: null});
	fs.mkdir(BOX);
	if (preset) fs.writeFile('/outside.bin', preset);
	const result = await runOn(fs, args, {limits});
	return {...result, fs};
}

function assertClean({code, stdout, fs}) {
	assert.ok(!stdout.includes('MISMATCH'), stdout);
	assert.equal(code, 0, stdout);
	assert.equal(fs.fsck(), 0);
}

const errorCode = code => error => error instanceof WasiError && error.code === code;

// -- the option ------------------------------------------------------------------------------

test('the defaults are the documented values (and the Python host\'s)', () => {
	assert.deepEqual({...DEFAULT_LIMITS}, {
		maxFsBytes: 2 ** 30, maxFds: 1024, maxPath: 4095, maxName: 255, maxSymlinkFollows: 40,
	});
	assert.ok(Object.isFrozen(DEFAULT_LIMITS));
});

test('a fresh filesystem gets the default limits', async () => {
	for (const args of [['names', '255', '4095'], ['loop', '40'], ['fds', '1024']]) {
		const fs = await startWasi(null, {preopens: {}, stdout: null});
		fs.mkdir(BOX);
		assertClean({...await runOn(fs, args), fs});
	}
	// 1 GiB: the core's own default is no limit at all
	const fs = await startWasi(null, {stdout: null});
	const big = new Uint8Array(1 << 20);
	assert.throws(() => { for (let i = 0; i < 1100; i++) fs.writeFile(`/f${i}`, big); }, errorCode('ENOSPC'));
	assert.ok(fs.usedBytes() <= 2 ** 30);
	assert.equal(fs.fsck(), 0);
});

// Each of test_limits.py's bad values, and what is particular to JS.
const BAD_LIMITS = [
	[{maxFsBytes: 1000}, RangeError, /limits\.maxFsBytes must be between 1048576 and 4294967296, got 1000/],
	[{maxFsBytes: 2 ** 32 + 1}, RangeError, /maxFsBytes/],
	[{maxFsBytes: '1G'}, TypeError, /limits\.maxFsBytes must be an integer, not string "1G"/],
	[{maxFds: 2}, RangeError, /limits\.maxFds must be between 3 and 65536, got 2/],
	[{maxFds: 70000}, RangeError, /between 3 and 65536/],
	[{maxFds: -3}, RangeError, /maxFds/],
	[{maxFds: 1.5}, TypeError, /limits\.maxFds must be an integer, not number 1\.5/],
	[{maxFds: true}, TypeError, /not boolean true/],
	[{maxFds: null}, TypeError, /not null/],
	[{maxFds: 8n}, TypeError, /not bigint/],
	[{maxFds: NaN}, TypeError, /maxFds/],
	[{maxFsBytes: Infinity}, TypeError, /maxFsBytes/],
	[{maxPath: 4097}, RangeError, /limits\.maxPath must be between 1 and 4096/],
	[{maxName: 0}, RangeError, /limits\.maxName must be between 1 and 255/],
	[{maxName: 256}, RangeError, /maxName/],
	[{maxSymlinkFollows: 41}, RangeError, /limits\.maxSymlinkFollows must be between 1 and 40/],
	[{maxFd: 5}, TypeError, /unknown limit maxFd: the limits are maxFsBytes, maxFds, maxPath, maxName, maxSymlinkFollows/],
	[{max_fds: 5, maxFds: 5}, TypeError, /unknown limit max_fds/],
	[5, TypeError, /limits must be an object such as \{maxFds: 64\}, not number 5/],
	['small', TypeError, /limits must be an object/],
	[[1024], TypeError, /not an array/],
];

test('bad limits are refused by name, before anything changes', async () => {
	const fs = await startWasi(null, {limits: {maxName: 8}, stdout: null});
	fs.writeFile('/data', 'kept');
	const before = fs.usedBytes();
	for (const [limits, type, words] of BAD_LIMITS) {
		const label = `limits ${String(limits)} ${JSON.stringify(limits, (_, v) => typeof v === 'bigint' ? `${v}n` : v)}`;
		await assert.rejects(startWasi(null, {limits}), error => error instanceof type && words.test(error.message), label);
		await assert.rejects(fs.copyForRebinding({limits}), error => error instanceof type && words.test(error.message), label);
		await assert.rejects(startWasi(fs.initObj(), {limits}), type, label);
	}
	// with a valid filesystem limit next to the bad one: not applied either
	await assert.rejects(fs.copyForRebinding({limits: {maxName: 255, maxFds: 2}}), RangeError);
	assert.throws(() => fs.writeFile('/ninechars', ''), errorCode('ENAMETOOLONG'), 'maxName is still 8');
	assert.equal(fs.usedBytes(), before, 'no process was started, nothing was allocated');
	assert.equal(fs.readFile('/data', 'utf8'), 'kept');
	assert.equal(fs.fsck(), 0);
	await assert.rejects(startWasi(null, {limit: {maxFds: 5}}), /unknown option limit/);
	await assert.rejects(startWasi(null, null), /options must be an object/);
});

test('maxFsBytes null: only the core memory bounds the filesystem', async () => {
	const fs = await startWasi(null, {limits: {maxFsBytes: null}, stdout: null});
	fs.writeFile('/f', new Uint8Array(3 << 20));
	assert.equal(fs.stat('/f').size, 3 << 20);
});

// -- ENOSPC ----------------------------------------------------------------------------------

test('ENOSPC keeps data, and freed room is used again', async () => {
	const limits = {maxFsBytes: 4 << 20};
	const preset = new Uint8Array(randomBytes(300000));
	const result = await runSection(['space'], limits, {preset});
	assertClean(result);
	assert.match(result.stdout, /create files until none fits: ENOSPC/);
	assert.match(result.stdout, /freeing space makes the next write succeed/);
	const {fs} = result;
	assert.ok(fs.usedBytes() <= limits.maxFsBytes);
	// Data written before the filesystem filled up, outside the program's preopen too.
	assert.deepEqual(fs.readFile('/outside.bin'), preset);
	assert.equal(fs.readFile(`${BOX}/known`, 'utf8'), 'data written before the filesystem filled up');
});

test('the filesystem API hits the same limit, all or nothing, and still reads, lists and removes when full', async () => {
	const fs = await startWasi(null, {limits: {maxFsBytes: 2 << 20}, stdout: null});
	fs.writeFile('/keep', 'keep me');
	assert.throws(() => fs.writeFile('/big', new Uint8Array(4 << 20)),
		error => errorCode('ENOSPC')(error) && error.path === '/big' && /ENOSPC: write '\/big'/.test(error.message));
	assert.deepEqual(fs.readdir('/').sort(), ['keep'], 'no part of /big is left');
	fs.writeFile('/big', new Uint8Array(1 << 20).fill(1)); // what fits is written
	assert.throws(() => { for (let i = 0; ; i++) fs.writeFile(`/fill${i}`, new Uint8Array(1 << 16)); }, errorCode('ENOSPC'));
	assert.throws(() => fs.writeFile('/big', new Uint8Array(2 << 20)), errorCode('ENOSPC'));
	assert.deepEqual(fs.readFile('/big'), new Uint8Array(1 << 20).fill(1), 'a failed replacement keeps the old content');
	assert.equal(fs.readFile('/keep', 'utf8'), 'keep me');
	assert.ok(fs.readdir('/').includes('fill0'));
	assert.equal(fs.fsck(), 0);
	fs.rm('/big');
	fs.writeFile('/big', new Uint8Array(1 << 20)); // room again
	assert.equal(fs.stat('/big').size, 1 << 20);
	assert.equal(fs.fsck(), 0);
});

test('no room to start a process is a clear error', async () => {
	const fs = await startWasi(null, {limits: {maxFsBytes: 1 << 20}, stdout: null});
	const file = new Uint8Array(100000).fill(7);
	assert.throws(() => { for (let i = 0; i < 100; i++) fs.writeFile(`/f${i}`, file); }, errorCode('ENOSPC'));
	// A write is all or nothing: fill what the last one left with small files.
	assert.throws(() => { for (let i = 0; i < 1000; i++) fs.writeFile(`/g${i}`, new Uint8Array(1000)); }, errorCode('ENOSPC'));
	const used = fs.usedBytes();
	await assert.rejects(fs.copyForRebinding(), errorCode('ENOMEM'));
	await assert.rejects(startWasi(fs.initObj()), errorCode('ENOMEM'));
	assert.equal(fs.usedBytes(), used, 'the failed starts left nothing behind');
	assert.equal(fs.fsck(), 0);
	assert.deepEqual(fs.readFile('/f0'), file);
	fs.rm('/f0');
	fs.rm('/f1');
	const freed = fs.usedBytes();
	(await fs.copyForRebinding()).close(); // room again
	(await startWasi(fs.initObj(), {stdout: null})).close();
	assert.equal(fs.usedBytes(), freed, 'closed processes return their memory');
});

// -- EMFILE ----------------------------------------------------------------------------------

for (const maxFds of [5, 16, 1024]) {
	test(`EMFILE at maxFds ${maxFds}`, async () => {
		assertClean(await runSection(['fds', String(maxFds)], {maxFds}));
	});
}

test('maxFds is per process', async () => {
	const fs = await startWasi(null, {limits: {maxFds: 8}, preopens: {}, stdout: null});
	fs.mkdir(BOX);
	const tight = await runOn(fs, ['fds', '8'], {limits: {maxFds: 8}});
	assert.equal(tight.code, 0, tight.stdout);
	const roomy = await runOn(fs, ['fds', '1024']); // no limits: the default 1024
	assert.equal(roomy.code, 0, roomy.stdout);
	const wrong = await runOn(fs, ['fds', '8']); // it expects EMFILE at 8 and does not get it
	assert.notEqual(wrong.code, 0);
	assert.match(wrong.stdout, /MISMATCH/);
	assert.equal(fs.fsck(), 0);
});

// -- ENAMETOOLONG and ELOOP ------------------------------------------------------------------

const CONFIGURED = [
	[['names', '16', '100'], {maxName: 16, maxPath: 100}],
	[['names', '8', '31'], {maxName: 8, maxPath: 31}],
	[['names', '255', '4096'], {maxPath: 4096}],
	[['loop', '5'], {maxSymlinkFollows: 5}],
	[['loop', '1'], {maxSymlinkFollows: 1}],
];
for (const [args, limits] of CONFIGURED) {
	test(`harden_limits ${args.join(' ')} with ${JSON.stringify(limits)}`, async () => {
		const result = await runSection(args, limits);
		assertClean(result);
		assert.match(result.stdout, args[0] === 'loop' ? /ELOOP/ : /ENAMETOOLONG/);
	});
}

test('filesystem limits are shared by every process on it; a given limits object sets them all', async () => {
	const fs = await startWasi(null, {limits: {maxName: 16, maxPath: 100, maxSymlinkFollows: 5}, preopens: {}, stdout: null});
	fs.mkdir(BOX);
	const later = await runOn(fs, ['names', '16', '100']); // no limits: the filesystem's
	assert.equal(later.code, 0, later.stdout);
	const other = await startWasi(fs.initObj(), {preopens: {}, stdout: null}); // as another thread does
	other.mkdir('/loop');
	const looped = await runOn(other, ['loop', '5'], {preopens: {[BOX]: '/loop'}});
	assert.equal(looped.code, 0, looped.stdout);
	other.close();
	assert.throws(() => fs.writeFile(`/${'n'.repeat(17)}`, ''), errorCode('ENAMETOOLONG'));
	assert.equal(fs.fsck(), 0);
	// Given limits set every filesystem limit: those left out take their defaults.
	const reset = await fs.copyForRebinding({limits: {maxFds: 64}});
	fs.writeFile(`/${'n'.repeat(17)}`, '');
	const defaults = await runOn(fs, ['loop', '40']);
	assert.equal(defaults.code, 0, defaults.stdout);
	reset.close();
});

test('limits can be raised again', async () => {
	const fs = await startWasi(null, {limits: {maxName: 8}, stdout: null});
	assert.throws(() => fs.writeFile(`/${'n'.repeat(9)}`, ''), errorCode('ENAMETOOLONG'));
	const raised = await fs.copyForRebinding({limits: {maxName: 255}});
	fs.writeFile(`/${'n'.repeat(9)}`, '');
	raised.close();
	assert.ok(fs.exists(`/${'n'.repeat(9)}`));
});

// -- preopens (the core creates missing directories) -----------------------------------------

test('preopens: missing directories are created; errors name the path and leave nothing behind', async () => {
	const fs = await startWasi(null, {limits: {maxName: 16}, stdout: null});
	const made = await fs.copyForRebinding({preopens: {'/deep': '/a/b/c'}});
	assert.ok(fs.stat('/a/b/c').isDirectory());
	made.close();
	fs.writeFile('/file', 'x');
	const listing = fs.readdir('/').sort();
	const cases = [
		['/file/sub', 'ENOTDIR'],
		[`/new/${'n'.repeat(17)}/x`, 'ENAMETOOLONG'], // checked before /new is made
		['/fresh/../../..', 'EPERM'], // /fresh is made, then removed again
	];
	for (const [vfsPath, code] of cases) {
		const used = fs.usedBytes();
		const named = error => errorCode(code)(error) && error.path === vfsPath && error.message === `${code}: preopen '${vfsPath}'`;
		await assert.rejects(fs.copyForRebinding({preopens: {'/p': vfsPath}}), named, vfsPath);
		await assert.rejects(startWasi(fs.initObj(), {preopens: {'/p': vfsPath}}), named, vfsPath);
		// A process left behind would hold its fd table and 64 KiB stack.
		assert.ok(fs.usedBytes() - used < 1024, `${vfsPath}: ${fs.usedBytes() - used} bytes more`);
		assert.deepEqual(fs.readdir('/').sort(), listing, vfsPath);
	}
	// The preopens before a bad one were made (as with Python's start_wasi).
	await assert.rejects(fs.copyForRebinding({preopens: {'/ok': '/ok', '/p': '/file/sub'}}), errorCode('ENOTDIR'));
	assert.ok(fs.stat('/ok').isDirectory());
	await assert.rejects(fs.copyForRebinding({preopens: {'/p': 'relative'}}), TypeError);
	await assert.rejects(fs.copyForRebinding({preopens: {'/p': 7}}), TypeError);
	assert.equal(fs.fsck(), 0);
});
