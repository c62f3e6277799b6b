// Runs tests/js/programs/lock_torture.c (the core's lock alone) in several worker_threads on
// one shared memory, and prints {violations, exclusiveRounds, expectedExclusiveRounds}.
// Driven by tests/test_js.py, also under --liftoff --no-wasm-tier-up (Node 20's Liftoff
// miscompiled an inlined compare-exchange: dev/base/cas.h).
//
// usage: node [flags] lock_torture.mjs TORTURE_WASM [WORKERS ROUNDS]
import {Worker, isMainThread, parentPort, workerData} from 'node:worker_threads';
import {readFileSync} from 'node:fs';

if (isMainThread) {
	const [wasmPath, workerCount = '4', roundCount = '3000'] = process.argv.slice(2);
	const workers = Number(workerCount), rounds = Number(roundCount);
	const module = new WebAssembly.Module(readFileSync(wasmPath));
	const memory = new WebAssembly.Memory({initial: 17, maximum: 64, shared: true});
	const {exports} = new WebAssembly.Instance(module, {env: {memory}});
	exports.setup(workers);
	await Promise.all(Array.from({length: workers}, (_, worker) => new Promise((resolve, reject) => {
		const thread = new Worker(new URL(import.meta.url), {workerData: {module, memory, worker, rounds}});
		thread.on('message', resolve);
		thread.on('error', reject);
	})));
	const perWorker = Math.ceil(rounds / 3);
	console.log(JSON.stringify({
		violations: exports.violations(),
		exclusiveRounds: exports.exclusive_rounds(),
		expectedExclusiveRounds: perWorker * workers,
	}));
} else {
	const {module, memory, worker, rounds} = workerData;
	const {exports} = new WebAssembly.Instance(module, {env: {memory}});
	exports.run(worker, rounds);
	parentPort.postMessage('done');
}
