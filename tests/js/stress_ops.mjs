// tests/programs/stress_ops.c in Node worker_threads sharing one filesystem through initObj():
// every worker runs one program at the same moment; then the main thread writes what they
// printed, fsck's count and the whole tree under /w (contents, inode numbers, link counts)
// to OUT_JSON, which tests/test_thread_stress.py checks with the code it checks the Python
// threads' tree with.
//
// usage: node stress_ops.mjs WASI_MJS STRESS_OPS_WASM MODE THREADS ITERATIONS OUT_JSON
import {readFileSync, writeFileSync} from 'node:fs';
import {pathToFileURL} from 'node:url';
import {Worker} from 'node:worker_threads';

const [modulePath, programPath, mode, threadCount, iterations, outPath] = process.argv.slice(2);
const threads = Number(threadCount);
const {startWasi} = await import(pathToFileURL(modulePath).href);
const ROOT = '/w';

const wasi = await startWasi(null, {stdout: null, stderr: null, preopens: {}});
const program = await WebAssembly.compile(readFileSync(programPath));
const setup = await wasi.copyForRebinding({args: ['stress_ops', 'setup', ROOT], preopens: {[ROOT]: ROOT}});
const setupCode = setup.start(await WebAssembly.instantiate(program, setup.importObj));
setup.close();
if (setupCode !== 0) throw new Error(`setup exited ${setupCode}`);

const init = wasi.initObj();
if (init.memory !== wasi.memory) throw new Error('initObj() in Node must carry the memory');
const startSignal = new SharedArrayBuffer(8); // [go, ready count]
const running = Array.from({length: threads}, (_, id) => new Promise((resolve, reject) => {
	const args = ['stress_ops', mode, ROOT, String(id), threadCount, iterations];
	const worker = new Worker(new URL('./stress_ops_worker.mjs', import.meta.url), {
		workerData: {modulePath, programPath, init, startSignal, args},
	});
	worker.once('message', resolve);
	worker.once('error', reject);
}));
// Release every worker at once, when all have started their Wasi.
const signal = new Int32Array(startSignal);
while (Atomics.load(signal, 1) < threads) await new Promise(done => setTimeout(done, 1));
Atomics.store(signal, 0, 1);
Atomics.notify(signal, 0);
const outputs = await Promise.all(running);

const files = {}, dirs = [];
const pending = [''];
while (pending.length) {
	const relative = pending.pop();
	for (const name of wasi.readdir(relative ? `${ROOT}/${relative}` : ROOT)) {
		const path = relative ? `${relative}/${name}` : name;
		const info = wasi.lstat(`${ROOT}/${path}`);
		if (info.isDirectory()) {
			dirs.push(path);
			pending.push(path);
		} else {
			const data = Buffer.from(wasi.readFile(`${ROOT}/${path}`)).toString('base64');
			files[path] = {data, ino: String(info.ino), nlink: info.nlink, type: info.type};
		}
	}
}
writeFileSync(outPath, JSON.stringify({fsck: wasi.fsck(), outputs, files, dirs}));
wasi.close();
console.log(`ok: ${threads} workers, ${Object.keys(files).length} files`);
