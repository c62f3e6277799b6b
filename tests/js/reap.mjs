// Workers terminated in the middle of their programs, then reaped by the main thread
// (Wasi.reapProcess): the filesystem stays usable, whatever lock the worker held when it
// died. Driven by tests/test_js.py.
//
// usage: node reap.mjs WASI_MJS JS_STRESS_WASM TRIALS
// prints a JSON report of every trial; exits 1 with the problems if anything is wrong.
import {Worker} from 'node:worker_threads';
import {pathToFileURL} from 'node:url';

const [modulePath, stressWasm, trialCount = '12'] = process.argv.slice(2);
const {startWasi} = await import(pathToFileURL(modulePath).href);
const wasi = await startWasi(null, {stdout: null, stderr: null});
wasi.mkdir('/shared');
const init = wasi.initObj();
const problems = [];
const trials = [];

for (let trial = 0; trial < Number(trialCount); trial++) {
	const worker = new Worker(new URL('./reap_worker.mjs', import.meta.url), {
		workerData: {modulePath, init, stressWasm, id: `r${trial}`},
	});
	const processId = await new Promise((resolve, reject) => {
		worker.once('message', resolve);
		worker.once('error', reject);
	});
	// Let its program run into the middle of some filesystem call, then kill it.
	await new Promise(resolve => setTimeout(resolve, 5 + (trial * 7) % 30));
	await worker.terminate();
	const {heldLock, fsckProblems} = wasi.reapProcess(processId);
	// Every kind of lock must be free again: an exclusive call, a shared one, a create.
	wasi.writeFile(`/shared/after-${trial}`, `trial ${trial}`);
	const names = wasi.readdir('/shared');
	if (!names.includes(`after-${trial}`)) problems.push(`trial ${trial}: the file written after the reap is missing`);
	let again = null;
	try {
		wasi.reapProcess(processId);
	} catch (error) {
		again = error.name;
	}
	if (again !== 'RangeError') problems.push(`trial ${trial}: reaping twice gave ${again}, not a RangeError`);
	trials.push({processId, heldLock, fsckProblems});
}
try {
	wasi.reapProcess(wasi.processId);
	problems.push('reaping its own process was allowed');
} catch (error) {
	if (!(error instanceof RangeError)) problems.push(`reaping its own process: ${error}`);
}
console.log(JSON.stringify({trials, problems}));
process.exit(problems.length ? 1 : 0);
