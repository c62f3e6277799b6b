// One Worker of tests/js/workers.mjs: starts a Wasi from the init object it is sent (the
// shared filesystem), waits for the common start signal, then runs js_stress RUNS times as
// separate processes and checks its own log through the filesystem API.
import {readFileSync} from 'node:fs';
import {pathToFileURL} from 'node:url';
import {parentPort, workerData} from 'node:worker_threads';

const {modulePath, init, stressWasm, id, runs, rounds, startSignal} = workerData;
const {startWasi} = await import(pathToFileURL(modulePath).href);
const stress = await WebAssembly.compile(readFileSync(stressWasm));
const decoder = new TextDecoder();

const first = await startWasi(init, {stdout: null, stderr: null});
const signal = new Int32Array(startSignal);
Atomics.add(signal, 1, 1); // ready
Atomics.wait(signal, 0, 0); // until the main thread says go

const started = performance.now();
const runsDone = [];
for (let run = 0; run < runs; run++) {
	const stdout = [];
	const process = await first.copyForRebinding({
		args: ['js_stress', id, String(run), String(rounds)],
		stdout: bytes => stdout.push(decoder.decode(bytes)),
		stderr: bytes => stdout.push(decoder.decode(bytes)),
	});
	const code = process.start(await WebAssembly.instantiate(stress, process.importObj));
	process.close();
	runsDone.push({code, output: stdout.join('')});
}
first.writeFile(`/shared/fsapi-${id}`, `written by worker ${id} through the fs API`);
const log = first.readFile(`/shared/log-${id}`, 'utf8');
const finished = performance.now();
first.close();
parentPort.postMessage({
	id, runs: runsDone, logLines: log.split('\n').length - 1,
	startedMs: performance.timeOrigin + started, finishedMs: performance.timeOrigin + finished,
});
