// stdin from a Node file descriptor (process.stdin, {fd}) and from async sources through a
// StdinFeed into a program in a worker_thread, under Node (node:test). Run by
// tests/test_js.py with WASI_MJS and WASI_TEST_PROGRAMS (api_tool: `cat` copies stdin).
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import {mkdtempSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import test from 'node:test';
import {setTimeout as sleep} from 'node:timers/promises';
import {fileURLToPath, pathToFileURL} from 'node:url';
import {Worker} from 'node:worker_threads';

const modulePath = process.env.WASI_MJS;
const {startWasi, StdinFeed} = await import(pathToFileURL(modulePath).href);
const apiTool = JSON.parse(process.env.WASI_TEST_PROGRAMS).api_tool;
const catScript = fileURLToPath(new URL('./stdin_cat.mjs', import.meta.url));

/** Text of `size` bytes, every line different. */
function text(size) {
	let out = '';
	for (let line = 0; out.length < size; line++) out += `line ${line} ${'ü'.repeat(line % 7)}\n`;
	return out.slice(0, size);
}

/** Runs api_tool cat in a worker with `stdin`; resolves to the worker's report. */
function catInWorker(stdin) {
	return new Promise((resolve, reject) => {
		const worker = new Worker(new URL('./program_worker.mjs', import.meta.url), {
			workerData: {modulePath, programPath: apiTool, args: ['api_tool', 'cat'], stdin},
		});
		worker.on('message', resolve);
		worker.on('error', reject);
	});
}

test('process.stdin: a node script pipes into a program', () => {
	const input = text(300_000);
	const result = spawnSync(process.execPath, [catScript, modulePath, apiTool], {input, encoding: 'utf8', timeout: 60000});
	assert.equal(result.status, 0, result.stderr);
	assert.equal(result.stdout, input);
	const empty = spawnSync(process.execPath, [catScript, modulePath, apiTool], {input: '', encoding: 'utf8', timeout: 60000});
	assert.equal(empty.status, 0, empty.stderr);
	assert.equal(empty.stdout, '');
});

test('{fd}: a file descriptor read synchronously', () => {
	const file = join(mkdtempSync(join(tmpdir(), 'wasi-stdin-')), 'input.txt');
	const input = text(100_000);
	writeFileSync(file, input);
	const result = spawnSync(process.execPath, [catScript, modulePath, apiTool, file], {encoding: 'utf8', timeout: 60000});
	assert.equal(result.status, 0, result.stderr);
	assert.equal(result.stdout, input);
});

test('a StdinFeed of an AsyncIterable feeds a program in a Worker as the chunks come', async () => {
	const pieces = [text(10), new TextEncoder().encode(text(5000)), '', text(70_000), 'end\n'];
	async function* slowly() {
		for (const piece of pieces) {
			await sleep(20); // the program waits, blocked, meanwhile
			yield piece;
		}
	}
	const feed = new StdinFeed(slowly(), {bufferBytes: 1000}); // most chunks go in several parts
	const report = await catInWorker(feed.port);
	await feed.done;
	assert.equal(report.code, 0, report.stderr);
	assert.equal(report.stdout, pieces.map(piece => (typeof piece === 'string' ? piece : new TextDecoder().decode(piece))).join(''));
});

test('a StdinFeed of a ReadableStream; an empty one is end-of-input at once', async () => {
	const input = text(200_000);
	const stream = new ReadableStream({
		start(controller) {
			for (let at = 0; at < input.length; at += 30_000) controller.enqueue(new TextEncoder().encode(input.slice(at, at + 30_000)));
			controller.close();
		},
	});
	const feed = new StdinFeed(stream);
	const report = await catInWorker(feed.port);
	assert.equal(report.code, 0, report.stderr);
	assert.equal(report.stdout, input);
	const empty = new StdinFeed(new ReadableStream({start(controller) { controller.close(); }}));
	assert.deepEqual(await catInWorker(empty.port), {code: 0, stdout: '', stderr: ''});
});

test('a source that fails makes the read fail, and start() throws', async () => {
	async function* failing() {
		yield 'some bytes\n';
		await sleep(10);
		throw new Error('the network went away');
	}
	const feed = new StdinFeed(failing());
	const report = await catInWorker(feed.port);
	assert.match(report.error, /StdinFeed source failed/);
	assert.equal(report.stdout, 'some bytes\n');
	await assert.rejects(feed.done, /the network went away/);
});

test('close() stops a feed whose program stopped reading, and cancels its source', async () => {
	let cancelled = false;
	let pulls = 0;
	const endless = new ReadableStream({
		pull(controller) { pulls++; controller.enqueue(new TextEncoder().encode('y\n'.repeat(1000))); },
		cancel() { cancelled = true; },
	}, {highWaterMark: 0});
	const feed = new StdinFeed(endless, {bufferBytes: 1024});
	await sleep(50); // the first 1024 bytes wait for a reader that never comes
	const pullsBefore = pulls;
	feed.close();
	await feed.done;
	assert.ok(cancelled, 'the stream was cancelled');
	assert.ok(pulls <= pullsBefore + 1, `${pulls} pulls after ${pullsBefore}`);
	// a program given the port now reads what was handed over, then end-of-input
	const report = await catInWorker(feed.port);
	assert.equal(report.code, 0, report.stderr);
	assert.equal(report.stdout, 'y\n'.repeat(512));
	async function* forever() { for (;;) { yield 'z'; await sleep(1); } }
	const second = new StdinFeed(forever());
	second.close();
	second.close();
	await second.done;
});

test('where an async source cannot work, a clear error', async () => {
	async function* source() { yield 'x'; }
	await assert.rejects(startWasi(null, {stdin: source()}), {name: 'TypeError', message: /StdinFeed .*Worker/});
	await assert.rejects(startWasi(null, {stdin: new ReadableStream()}), TypeError);
	async function* nothing() {}
	const feed = new StdinFeed(nothing());
	await assert.rejects(startWasi(null, {stdin: feed.port}), /pumped by this thread/);
	assert.throws(() => new StdinFeed('not async'), TypeError);
	assert.throws(() => new StdinFeed(nothing(), {bufferBytes: 0}), RangeError);
	await feed.done;
});
