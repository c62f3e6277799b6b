// Calls stopped inside the core, under Node (node:test), run by tests/test_js.py with:
//   WASI_MJS               path of the module under test (wasi.mjs or wasi-bundled.mjs)
//   WASI_STOP_APPEND_CORE  a core built with -DSTOP_WINDOW=11, whose host append traps after
//                          its first piece (dev/base/stop_test.h); without it that test skips
// Every filesystem call that could wait for a lock left held runs in a Worker
// (stopped_worker.mjs) that the test waits for with a timeout: a regression fails, it does
// not hang the test's thread.
import assert from 'node:assert/strict';
import test from 'node:test';
import {Worker} from 'node:worker_threads';

const modulePath = process.env.WASI_MJS;
const workerUrl = new URL('./stopped_worker.mjs', import.meta.url);

/** The first message `worker` posts; rejects on its error, or after `ms` (terminating it:
    it is then waiting for a lock nobody will release).
    @param {Worker} worker @param {number} ms @param {string} what */
function answer(worker, ms, what) {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			worker.terminate();
			reject(new Error(`${what}: no answer in ${ms} ms (waiting for a lock left held?)`));
		}, ms);
		worker.once('message', message => {
			clearTimeout(timer);
			resolve(message);
		});
		worker.once('error', error => {
			clearTimeout(timer);
			reject(error);
		});
	});
}

test('a trap inside writeFile recovers the host process: the next calls run', {
	skip: process.env.WASI_STOP_APPEND_CORE ? false : 'needs WASI_STOP_APPEND_CORE (a -DSTOP_WINDOW=11 core)',
}, async () => {
	// The host's calls recover the process when the core stops inside one (js/process.mjs,
	// recoveringExports): before, writeFile's own cleanup (freeing its buffer, dropping the
	// new file) waited for ever on the lock its stopped append held.
	const worker = new Worker(workerUrl, {workerData: {modulePath, mode: 'trap', corePath: process.env.WASI_STOP_APPEND_CORE}});
	const report = await answer(worker, 30000, 'the worker whose writeFile trapped');
	assert.match(report.error, /RuntimeError: unreachable/);
	assert.ok(report.runtimeError, 'the trap reaches the caller as the engine threw it');
	assert.equal(report.small, 's'.repeat(100));
	assert.equal(report.big, 'o'.repeat(1000), 'the old content, whole');
	assert.ok(report.usedSame, 'the stopped write left memory behind');
	assert.equal(report.fsck, 0);
	assert.equal(report.after, 1000);
	assert.deepEqual(report.names, ['after', 'big']);
	assert.equal(report.fsckAfter, 0);
});
