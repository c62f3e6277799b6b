// One program of tests/js/pipes.test.mjs's pipelines, in a worker_thread: starts a Wasi on the
// shared filesystem (initObj), attaches the pipe ends it is given (by handle), says so, waits
// for the go, runs tests/programs/share_pipe with ARGS, closes the Wasi (which closes its pipe
// ends: end-of-file or EPIPE for its neighbours) and reports {code, stdout, stderr}.
import {readFileSync} from 'node:fs';
import {pathToFileURL} from 'node:url';
import {parentPort, workerData} from 'node:worker_threads';

const {modulePath, init, programPath, args, ends, bridge, startSignal} = workerData;
const {startWasi} = await import(pathToFileURL(modulePath).href);
const program = await WebAssembly.compile(readFileSync(programPath));
const stdout = [], stderr = [];
const wasi = await startWasi(init, {
	args: ['share_pipe', ...args], bridge, lineBuffered: false,
	stdout: bytes => stdout.push(Buffer.from(bytes)), stderr: bytes => stderr.push(Buffer.from(bytes)),
});
for (const {handle, fd, writeEnd} of ends) wasi.attachPipe(handle, fd, {writeEnd});
const instance = await WebAssembly.instantiate(program, wasi.importObj);
const signal = new Int32Array(startSignal);
Atomics.add(signal, 1, 1); // attached
Atomics.wait(signal, 0, 0); // until every program has attached its ends
const started = performance.timeOrigin + performance.now();
let code;
try {
	code = wasi.start(instance);
} finally {
	wasi.close();
}
parentPort.postMessage({
	code, usesBridge: wasi.usesBridge, started, finished: performance.timeOrigin + performance.now(),
	stdout: Buffer.concat(stdout).toString('latin1'), stderr: Buffer.concat(stderr).toString(),
});
