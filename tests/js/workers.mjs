// Several worker_threads share one filesystem through initObj(), each running js_stress
// (tests/js/programs/js_stress.c) programs at the same moment; then the main thread checks
// the whole filesystem exactly. Driven by tests/test_js.py.
//
// usage: node workers.mjs WASI_MJS JS_STRESS_WASM [WORKERS RUNS ROUNDS]
// prints a JSON report; exits 1 with the list of problems if anything is wrong.
import {Worker} from 'node:worker_threads';
import {pathToFileURL} from 'node:url';

const [modulePath, stressWasm, workerCount = '4', runCount = '3', roundCount = '150'] = process.argv.slice(2);
const workers = Number(workerCount), runs = Number(runCount), rounds = Number(roundCount);
const {startWasi} = await import(pathToFileURL(modulePath).href);
const problems = [];
const expect = (condition, message) => { if (!condition) problems.push(message); };

const wasi = await startWasi(null, {stdout: null, stderr: null});
const baseline = wasi.usedBytes();
wasi.mkdir('/shared');
const init = wasi.initObj();
expect(init.memory === wasi.memory && init.shared, 'initObj() in Node must carry the memory');

const startSignal = new SharedArrayBuffer(8); // [go, ready count]
const ids = Array.from({length: workers}, (_, i) => `w${i}`);
const started = performance.now();
const reports = await new Promise((resolve, reject) => {
	const results = [];
	const threads = ids.map(id => {
		const thread = new Worker(new URL('./worker_thread.mjs', import.meta.url), {
			workerData: {modulePath, init, stressWasm, id, runs, rounds, startSignal},
		});
		thread.on('message', report => {
			results.push(report);
			if (results.length === workers) resolve(results);
		});
		thread.on('error', reject);
		return thread;
	});
	// Release every worker at once, when all have started their Wasi.
	const signal = new Int32Array(startSignal);
	const poll = setInterval(() => {
		if (Atomics.load(signal, 1) === workers) {
			clearInterval(poll);
			Atomics.store(signal, 0, 1);
			Atomics.notify(signal, 0);
		}
	}, 1);
	void threads;
});
const elapsed = (performance.now() - started) / 1000;

// -- the programs' own checks --------------------------------------------------------------
let operations = 0;
for (const report of reports) {
	report.runs.forEach(({code, output}, run) => {
		expect(code === 0, `${report.id} run ${run}: exit ${code}: ${output.slice(0, 500)}`);
		const done = output.match(/^done (\S+) (\d+) ops (\d+)\n$/);
		expect(done && done[1] === report.id && Number(done[2]) === run, `${report.id} run ${run} printed ${JSON.stringify(output.slice(0, 200))}`);
		if (done) operations += Number(done[3]);
	});
	expect(report.logLines === runs * rounds, `${report.id} saw ${report.logLines} lines in its log`);
}
// They really ran at the same time: every worker started before any finished.
const lastStart = Math.max(...reports.map(report => report.startedMs));
const firstFinish = Math.min(...reports.map(report => report.finishedMs));
expect(lastStart < firstFinish, 'the workers did not overlap in time');

// -- the filesystem, exactly ---------------------------------------------------------------
const line = (id, run, round) => `${id} ${run} ${round}\n`;
const lastRoundWith = (remainder, modulus) => {
	let round = rounds - 1;
	while (round % modulus !== remainder) round--;
	return round;
};
const lastRun = runs - 1;
const expectedShared = ['common'];
const commonLines = wasi.readFile('/shared/common', 'utf8').split('\n').slice(0, -1).map(text => `${text}\n`);
for (const id of ids) {
	expectedShared.push(`log-${id}`, `fsapi-${id}`);
	let log = '';
	for (let run = 0; run < runs; run++) for (let round = 0; round < rounds; round++) log += line(id, run, round);
	expect(wasi.readFile(`/shared/log-${id}`, 'utf8') === log, `/shared/log-${id} differs`);
	expect(wasi.readFile(`/shared/fsapi-${id}`, 'utf8') === `written by worker ${id} through the fs API`, `/shared/fsapi-${id} differs`);
	// This worker's lines in the common file: all there, in order, each whole.
	const own = commonLines.filter(text => text.startsWith(`${id} `));
	expect(own.join('') === log, `/shared/common holds ${own.length} of ${runs * rounds} lines of ${id} (or out of order)`);
	for (let slot = 0; slot < 5; slot++) {
		expectedShared.push(`rot-${id}-${slot}`);
		const text = line(id, lastRun, lastRoundWith(slot, 5)).slice(0, -1);
		expect(wasi.readFile(`/shared/rot-${id}-${slot}`, 'utf8') === text, `/shared/rot-${id}-${slot} differs`);
	}
	const privateNames = [];
	for (let slot = 0; slot < Math.min(20, rounds); slot++) {
		privateNames.push(`f${slot}`);
		const round = lastRoundWith(slot, 20);
		const expected = line(id, lastRun, round).repeat(1 + (round % 7));
		expect(wasi.readFile(`/private/${id}/f${slot}`, 'utf8') === expected, `/private/${id}/f${slot} differs`);
	}
	expect(JSON.stringify(wasi.readdir(`/private/${id}`).sort()) === JSON.stringify(privateNames.sort()), `/private/${id} lists ${wasi.readdir(`/private/${id}`)}`);
}
expect(commonLines.length === workers * runs * rounds, `/shared/common has ${commonLines.length} lines`);
expect(JSON.stringify(wasi.readdir('/shared').sort()) === JSON.stringify(expectedShared.sort()), `/shared lists ${wasi.readdir('/shared').sort()}`);
expect(wasi.fsck() === 0, `fsck found ${wasi.fsck()} inconsistencies`);

// -- everything returned ---------------------------------------------------------------------
wasi.rm('/shared', {recursive: true});
wasi.rm('/private', {recursive: true});
const leaked = wasi.usedBytes() - baseline;
// Less than one process stack (64 KiB): the root directory's index may keep its size.
expect(leaked < 16384, `${leaked} bytes still allocated after deleting everything`);
expect(wasi.fsck() === 0, 'fsck after cleanup');

console.log(JSON.stringify({workers, runs, rounds, operations, elapsedSeconds: elapsed, leakedBytes: leaked, problems}));
process.exit(problems.length ? 1 : 0);
