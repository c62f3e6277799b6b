// Thread scaling in Node: N worker_threads, each running its own program on one shared
// filesystem; the JS loader's counterpart of bench/threads.py.
//
// usage: node bench/threads_node.mjs --wasm THREADS.wasm [--threads 1,2,4,...]
//          [--modes stat,pread,write,create,rewrite,build] [--seconds S] [--bridge auto|true|false]
//          [--runtimes wasi.wasm,node:wasi] [--json OUT]
//
// THREADS.wasm is bench/threads.c compiled for wasm32-wasi (`python bench/threads.py --node`
// builds it with the tests' cached zig build and runs this script with Node 24).
//
// For each mode and thread count, wasi.wasm (one filesystem shared through initObj(), a
// startWasi() per worker; with Node 24's multi-memory the bridge path, with Node 20 the JS copy
// functions) and node:wasi (a WASI instance per worker, every one preopening the same tmp
// directory, on /dev/shm where there is one) run the program in every worker at once. Each
// program times its own loop; the aggregate rate is all operations over the span from the
// first loop's start to the last one's end (both runtimes read process.hrtime, one clock for
// every thread). The table gives ops/s and the speed-up over one thread of the same runtime,
// measured in the same run, in bench/threads.py's format. Plain ES module, no dependencies.
import {closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {cpus, tmpdir} from 'node:os';
import {join} from 'node:path';
import {parseArgs} from 'node:util';
import {isMainThread, parentPort, Worker, workerData} from 'node:worker_threads';

const LOADER = new URL('../wasi.mjs', import.meta.url);
const GUEST_DIR = '/w';
const MODES = ['stat', 'pread', 'write', 'create', 'rewrite', 'build'];
const RUNTIMES = ['wasi.wasm', 'node:wasi'];
const HEADER = '#define ANSWER 42\n'.repeat(8);
const DATA = new Uint8Array(1 << 20).map((_, i) => i & 255); // 1 MiB

// -- a worker: runs one program per job -----------------------------------------------------

async function serveJobs() {
	const {startWasi} = await import(LOADER.href);
	const module = await WebAssembly.compile(readFileSync(workerData.wasm));
	const bridge = workerData.bridge;
	parentPort.on('message', async job => {
		const signal = new Int32Array(job.signal);
		let ready = false;
		const arrive = () => {
			if (!ready) Atomics.add(signal, 1, 1);
			ready = true;
		};
		try {
			const run = job.runtime === 'wasi.wasm'
				? await prepareWasiWasm(startWasi, module, job, bridge)
				: await prepareNodeWasi(module, job);
			arrive();
			Atomics.wait(signal, 0, 0); // every worker starts its program at once
			parentPort.postMessage(run());
		} catch (error) {
			arrive();
			parentPort.postMessage({code: -1, stdout: '', stderr: String(error?.stack ?? error)});
		}
	});
	parentPort.postMessage('up');
}

async function prepareWasiWasm(startWasi, module, job, bridge) {
	const out = [], err = [];
	const wasi = await startWasi(job.init, {
		args: job.args, preopens: {[GUEST_DIR]: GUEST_DIR}, bridge, lineBuffered: false,
		stdout: bytes => out.push(Buffer.from(bytes)), stderr: bytes => err.push(Buffer.from(bytes)),
	});
	const instance = await WebAssembly.instantiate(module, wasi.importObj);
	return () => {
		try {
			const code = wasi.start(instance);
			return {code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), bridge: wasi.usesBridge};
		} finally {
			wasi.close();
		}
	};
}

async function prepareNodeWasi(module, job) {
	const {WASI} = await import('node:wasi');
	const outPath = join(job.outDir, `stdout-${job.index}`), errPath = join(job.outDir, `stderr-${job.index}`);
	const stdout = openSync(outPath, 'w'), stderr = openSync(errPath, 'w');
	const wasi = new WASI({
		version: 'preview1', args: job.args, preopens: {[GUEST_DIR]: job.dir}, returnOnExit: true,
		stdout, stderr,
	});
	const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
	return () => {
		let code;
		try {
			code = wasi.start(instance);
		} finally {
			closeSync(stdout);
			closeSync(stderr);
		}
		return {code, stdout: readFileSync(outPath, 'utf8'), stderr: readFileSync(errPath, 'utf8')};
	};
}

// -- the main thread -------------------------------------------------------------------------

async function startWorker(options) {
	// --no-warnings: not node:wasi's "experimental" warning from every worker.
	const execArgv = [...process.execArgv, '--no-warnings'];
	const worker = new Worker(new URL(import.meta.url), {workerData: options, execArgv});
	worker.on('error', error => {
		console.error(error);
		process.exit(1);
	});
	await new Promise(resolve => worker.once('message', resolve)); // 'up'
	return worker;
}

function parseOutput(result) {
	if (result.code !== 0) throw new Error(`the program failed (exit ${result.code}): ${result.stderr}`);
	const [ops, start, end] = result.stdout.trim().split(/\s+/).slice(0, 3).map(BigInt);
	return {ops, start, end};
}

function rate(results) {
	const parsed = results.map(parseOutput);
	const start = parsed.reduce((low, p) => (p.start < low ? p.start : low), parsed[0].start);
	const end = parsed.reduce((high, p) => (p.end > high ? p.end : high), parsed[0].end);
	const ops = parsed.reduce((sum, p) => sum + p.ops, 0n);
	return Number(ops) / (Number(end - start) / 1e9);
}

/** One run of `threads` programs at once: the aggregate rate. Fresh workers each time (Node
    20's node:wasi has crashed a worker that ran a second WASI instance). */
async function measure(options, startWasi, runtime, mode, threads, iterations) {
	let init = null, host = null, dir = null, outDir = null;
	if (runtime === 'wasi.wasm') {
		host = await startWasi(null, {preopens: {}, stdout: null, stderr: null});
		host.mkdir(`${GUEST_DIR}/shared/include`, {recursive: true});
		host.writeFile(`${GUEST_DIR}/shared/include/hdr.h`, HEADER);
		host.writeFile(`${GUEST_DIR}/shared/data`, DATA);
		init = host.initObj();
	} else {
		const root = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
		dir = mkdtempSync(join(root, 'threads-'));
		outDir = mkdtempSync(join(tmpdir(), 'threads-out-'));
		mkdirSync(join(dir, 'shared', 'include'), {recursive: true});
		writeFileSync(join(dir, 'shared', 'include', 'hdr.h'), HEADER);
		writeFileSync(join(dir, 'shared', 'data'), DATA);
	}
	const workers = [];
	try {
		const signal = new SharedArrayBuffer(8); // [go, ready count]
		while (workers.length < threads) workers.push(await startWorker(options));
		const results = Promise.all(workers.map((worker, index) => new Promise(resolve => {
			worker.once('message', resolve);
			const args = ['threads.wasm', mode, GUEST_DIR, String(index), String(iterations)];
			worker.postMessage({runtime, init, dir, outDir, index, args, signal});
		})));
		const counter = new Int32Array(signal);
		while (Atomics.load(counter, 1) < threads) await new Promise(resolve => setTimeout(resolve, 1));
		Atomics.store(counter, 0, 1);
		Atomics.notify(counter, 0);
		const done = await results;
		return {rate: rate(done), bridge: done[0].bridge};
	} finally {
		for (const worker of workers) await worker.terminate();
		host?.close();
		if (dir) rmSync(dir, {recursive: true, force: true});
		if (outDir) rmSync(outDir, {recursive: true, force: true});
	}
}

/** Iterations per thread so that one thread's loop takes about `seconds`. */
async function calibrate(measureOne, mode, seconds) {
	let iterations = 2000;
	for (;;) {
		const perSecond = (await measureOne(mode, 1, iterations)).rate;
		if (iterations / perSecond >= seconds / 4 || iterations > 50_000_000) {
			return Math.max(1, Math.floor(perSecond * seconds));
		}
		iterations *= 4;
	}
}

const grouped = value => String(Math.round(value)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

async function main() {
	const cores = cpus().length;
	const {values} = parseArgs({
		options: {
			wasm: {type: 'string'},
			threads: {type: 'string', default: [1, 2, 4, 8, 16, 32, 64].filter(n => n <= cores).join(',')},
			modes: {type: 'string', default: MODES.join(',')},
			seconds: {type: 'string', default: '0.5'},
			bridge: {type: 'string', default: 'auto'},
			runtimes: {type: 'string', default: RUNTIMES.join(',')},
			json: {type: 'string'},
		},
	});
	if (!values.wasm) {
		console.error('threads_node.mjs: --wasm THREADS.wasm is required (bench/threads.c built for wasm32-wasi; `python bench/threads.py --node` builds it)');
		process.exit(2);
	}
	const bridge = {auto: undefined, true: true, false: false}[values.bridge];
	if (bridge === undefined && values.bridge !== 'auto') {
		console.error('--bridge takes auto, true or false');
		process.exit(2);
	}
	const counts = values.threads.split(',').map(Number);
	const seconds = Number(values.seconds);
	const runtimes = values.runtimes.split(',');
	for (const name of runtimes) if (!RUNTIMES.includes(name)) throw new Error(`unknown runtime ${name}`);
	const {startWasi, multiMemorySupported} = await import(LOADER.href);
	const options = {wasm: values.wasm, bridge};
	const usesBridge = bridge ?? multiMemorySupported();
	const tmpRoot = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
	console.log(`node ${process.version}; wasi.wasm: ${usesBridge ? 'multi-memory bridge' : 'JS copy functions'}; node:wasi on ${tmpRoot}`);
	console.log(`cores: ${cores}; one thread's loop ~${seconds} s; ops/s (speed-up over 1 thread)`);
	const results = {};
	for (const mode of values.modes.split(',')) {
		results[mode] = {};
		for (const name of runtimes) {
			const measureOne = (m, threads, iterations) => measure(options, startWasi, name, m, threads, iterations);
			const iterations = await calibrate(measureOne, mode, seconds);
			const rates = {};
			for (const threads of counts) rates[threads] = (await measureOne(mode, threads, iterations)).rate;
			results[mode][name] = rates;
			const base = rates[counts[0]];
			const cells = counts.map(n => `${n}: ${grouped(rates[n])} (${(rates[n] / base).toFixed(2)}x)`).join('  ');
			console.log(`${mode.padEnd(7)} ${name.padEnd(17)} ${cells}`);
		}
	}
	if (values.json) {
		writeFileSync(values.json, JSON.stringify({cores, time: Date.now() / 1000, node: process.version, bridge: usesBridge, results}));
	}
}

if (isMainThread) await main();
else await serveJobs();
