// Pipes (wasi.pipe(), attachPipe()) under Node (node:test), as tests/test_pipeline.py and
// tests/test_sharing.py hold the Python host's to them: tests/programs/share_pipe programs,
// each in its own worker_thread on one filesystem, piping megabytes through the 64 KiB ring at
// the same time; end-of-file and EPIPE when a neighbour exits; and the API in one thread.
// Run by tests/test_js.py on each engine and copy path with:
//   WASI_MJS            path of the module under test (wasi.mjs or wasi-bundled.mjs)
//   WASI_TEST_PROGRAMS  JSON {name: path of a compiled tests/programs/NAME.c}
//   WASI_BRIDGE         "auto" or "false": the bridge option of every process running a program
//   WASI_EXPECT_BRIDGE  "1" or "0": whether those processes must then use the bridge
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import test from 'node:test';
import {pathToFileURL} from 'node:url';
import {Worker} from 'node:worker_threads';

const modulePath = process.env.WASI_MJS;
const {startWasi, Pipe, WasiError} = await import(pathToFileURL(modulePath).href);
const programPath = JSON.parse(process.env.WASI_TEST_PROGRAMS).share_pipe;
const bridge = {auto: undefined, false: false}[process.env.WASI_BRIDGE];
const expectBridge = process.env.WASI_EXPECT_BRIDGE === '1';
const program = await WebAssembly.compile(readFileSync(programPath));
const MIB = 1 << 20;
const TIMEOUT_MS = 60000;

/** What `share_pipe gen COUNT SEED` writes. */
function lcgBytes(count, seed) {
	const out = new Uint8Array(count);
	let state = seed >>> 0;
	for (let i = 0; i < count; i++) {
		state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
		out[i] = state >>> 24;
	}
	return out;
}

const CRC_TABLE = Array.from({length: 256}, (_, n) => {
	let c = n;
	for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
	return c >>> 0;
});

/** What `share_pipe sum` prints for `data`: its length and zlib's crc32. */
function summary(data) {
	let crc = 0xffffffff;
	for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
	return `${data.length} ${((crc ^ 0xffffffff) >>> 0).toString(16).padStart(8, '0')}\n`;
}

const upper = data => data.map(byte => (byte >= 0x61 && byte <= 0x7a ? byte - 32 : byte));

/**
 * Runs `commands` (share_pipe argument lists) like `a | b | c` in a shell: each in a Worker of
 * its own, on `fs`'s filesystem, connected by pipes made here. Every program attaches its ends
 * before any starts. Resolves to the workers' reports ({code, stdout, stderr, started, ...}).
 */
async function pipeline(fs, commands) {
	const pipes = commands.slice(1).map(() => fs.pipe());
	const startSignal = new SharedArrayBuffer(8); // [go, attached count]
	const signal = new Int32Array(startSignal);
	const init = fs.initObj();
	const workers = commands.map((args, index) => {
		const ends = [];
		if (index > 0) ends.push({handle: pipes[index - 1].handle, fd: 0, writeEnd: false});
		if (index < commands.length - 1) ends.push({handle: pipes[index].handle, fd: 1, writeEnd: true});
		return new Worker(new URL('./pipe_worker.mjs', import.meta.url), {
			workerData: {modulePath, init, programPath, args, ends, bridge, startSignal},
		});
	});
	const reports = workers.map(worker => new Promise((resolve, reject) => {
		worker.once('message', resolve);
		worker.once('error', reject);
		worker.once('exit', code => reject(new Error(`a worker exited (${code}) without a report`)));
	}));
	let timer;
	const timeout = new Promise((_, reject) => {
		timer = setTimeout(() => {
			for (const worker of workers) worker.terminate();
			reject(new Error(`still running after ${TIMEOUT_MS} ms: a pipe end was not closed`));
		}, TIMEOUT_MS);
	});
	try {
		await Promise.race([timeout, new Promise(resolve => {
			const poll = setInterval(() => {
				if (Atomics.load(signal, 1) === commands.length) {
					clearInterval(poll);
					resolve();
				}
			}, 1);
		})]);
		// Every end is attached: this thread's hold is no longer needed.
		for (const pipe of pipes) pipe.release();
		Atomics.store(signal, 0, 1);
		Atomics.notify(signal, 0);
		const results = await Promise.race([timeout, Promise.all(reports)]);
		for (const result of results) assert.equal(result.usesBridge, expectBridge, 'the wrong copy path was used');
		return results;
	} finally {
		clearTimeout(timer);
		for (const pipe of pipes) if (!pipe.released) pipe.release();
	}
}

test('a pipe between programs in two workers carries megabytes intact', async () => {
	const fs = await startWasi(null, {stdout: null});
	const baseline = fs.usedBytes();
	// 6 MiB through a 64 KiB ring: only possible with both programs running at once.
	const [gen, sum] = await pipeline(fs, [['gen', String(6 * MIB), '11'], ['sum']]);
	assert.deepEqual([gen.code, gen.stderr, sum.code, sum.stderr], [0, '', 0, '']);
	assert.equal(gen.stdout, '', 'its stdout was the pipe');
	assert.equal(sum.stdout, summary(lcgBytes(6 * MIB, 11)));
	assert.ok(sum.started < gen.finished && gen.started < sum.finished, 'they ran at the same time');
	assert.equal(fs.usedBytes(), baseline, 'the pipe and the processes were freed');
	assert.equal(fs.fsck(), 0);
});

test('a chain of pipes transforms the stream', async () => {
	const fs = await startWasi(null, {stdout: null});
	const reports = await pipeline(fs, [['gen', String(MIB), '3'], ['upper'], ['cat'], ['sum']]);
	assert.deepEqual(reports.map(report => report.code), [0, 0, 0, 0]);
	assert.equal(reports[3].stdout, summary(upper(lcgBytes(MIB, 3))));
	assert.equal(fs.fsck(), 0);
});

test('end-of-file reaches the reader when its writer exits; EPIPE the writer when its reader exits', async () => {
	const fs = await startWasi(null, {stdout: null});
	// `head` exits after 1000 bytes: `sum` sees end-of-file although `gen` is still running ...
	const [gen, head, sum] = await pipeline(fs, [['gen', '300000', '5'], ['head', '1000'], ['sum']]);
	assert.equal(sum.stdout, summary(lcgBytes(1000, 5)));
	assert.deepEqual([head.code, sum.code], [0, 0]);
	// ... and `gen`, whose reader is gone, gets EPIPE.
	assert.equal(gen.code, 3, gen.stderr);
	assert.match(gen.stderr, /^gen: EPIPE after \d+ bytes\n$/);
	assert.equal(fs.fsck(), 0);
});

test('the pipe API in one thread', async () => {
	const fs = await startWasi(null, {stdout: null});
	const baseline = fs.usedBytes();
	const captured = [];
	const writer = await fs.copyForRebinding({args: ['share_pipe', 'gen', '30000', '7'], bridge});
	const reader = await fs.copyForRebinding({args: ['share_pipe', 'sum'], bridge, stdout: bytes => captured.push(bytes)});
	const pipe = fs.pipe();
	assert.ok(pipe instanceof Pipe);
	assert.ok(Number.isInteger(pipe.handle) && pipe.handle > 0);
	assert.equal(pipe.released, false);
	writer.attachPipe(pipe, 1, {writeEnd: true});
	reader.attachPipe(pipe.handle, 0, {writeEnd: false}); // a handle works as well
	pipe.release();
	pipe.release(); // idempotent
	assert.equal(pipe.released, true);
	assert.throws(() => reader.attachPipe(pipe, 5, {writeEnd: false}), /released/);
	// Less than the ring, so the writer can finish first; closing it closes its end (EOF).
	assert.equal(writer.start(await WebAssembly.instantiate(program, writer.importObj)), 0);
	writer.close();
	assert.equal(reader.start(await WebAssembly.instantiate(program, reader.importObj)), 0);
	reader.close();
	assert.equal(Buffer.concat(captured).toString(), summary(lcgBytes(30000, 7)));
	assert.equal(fs.usedBytes(), baseline, 'the pipe was freed with its last end');

	// A pipe end is an fd like any other: fstat says so (filetype unknown).
	const probe = await fs.copyForRebinding({args: ['share_pipe', 'stat', '0'], bridge, stdout: bytes => captured.push(bytes)});
	captured.length = 0;
	const another = fs.pipe();
	probe.attachPipe(another, 0, {writeEnd: false});
	another.release();
	assert.equal(probe.start(await WebAssembly.instantiate(program, probe.importObj)), 0);
	assert.equal(Buffer.concat(captured).toString(), 'pipe\n');
	probe.close();
	assert.equal(fs.usedBytes(), baseline);

	// Bad arguments: one clear error, nothing attached.
	const third = fs.pipe();
	assert.throws(() => fs.attachPipe(third, 0), /writeEnd/);
	assert.throws(() => fs.attachPipe(third, -1, {writeEnd: true}), TypeError);
	assert.throws(() => fs.attachPipe(third, '0', {writeEnd: true}), TypeError);
	assert.throws(() => fs.attachPipe({handle: third.handle}, 0, {writeEnd: true}), TypeError);
	assert.throws(() => fs.attachPipe(0, 0, {writeEnd: true}), TypeError);
	assert.throws(() => fs.attachPipe(third, 70000, {writeEnd: true}), error => error instanceof WasiError && error.code === 'EBADF');
	// Handles are validated by the core: a number it never handed out, or one of a pipe
	// already released, is EBADF; nothing is attached and the filesystem stays whole.
	const isEbadf = error => error instanceof WasiError && error.code === 'EBADF';
	for (const forged of [1, 2, 17, third.handle + 1, third.handle ^ 0x10000, 0xffffffff, 0x12345678]) {
		assert.throws(() => fs.attachPipe(forged, 5, {writeEnd: true}), isEbadf, `handle ${forged}`);
	}
	const stale = third.handle;
	third.release();
	assert.throws(() => fs.attachPipe(stale, 5, {writeEnd: false}), isEbadf);
	assert.equal(fs.fsck(), 0);
	assert.equal(fs.usedBytes(), baseline);

	// A pipe must be released before the Wasi that made it (and its thread's others) close.
	const last = await startWasi(null, {stdout: null});
	const held = last.pipe();
	last.close();
	assert.throws(() => held.release(), /closed/);
	assert.throws(() => last.pipe(), /closed/);
	assert.equal(fs.fsck(), 0);
});

test('no room for a pipe is a clear error', async () => {
	const fs = await startWasi(null, {limits: {maxFsBytes: MIB}, stdout: null});
	assert.throws(() => { for (let i = 0; i < 100; i++) fs.writeFile(`/f${i}`, new Uint8Array(100000)); }, WasiError);
	// A write is all or nothing: fill what the last one left with small files.
	assert.throws(() => { for (let i = 0; i < 1000; i++) fs.writeFile(`/g${i}`, new Uint8Array(1000)); }, WasiError);
	assert.throws(() => fs.pipe(), error => error instanceof WasiError && error.code === 'ENOSPC');
	fs.rm('/f0');
	fs.pipe().release();
	assert.equal(fs.fsck(), 0);
});
