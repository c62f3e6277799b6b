// One Worker of tests/js/reap.mjs: starts a Wasi on the shared filesystem, tells the main
// thread its process number, and runs one long js_stress until it is terminated.
import {readFileSync} from 'node:fs';
import {pathToFileURL} from 'node:url';
import {parentPort, workerData} from 'node:worker_threads';

const {modulePath, init, stressWasm, id} = workerData;
const {startWasi} = await import(pathToFileURL(modulePath).href);
const stress = await WebAssembly.compile(readFileSync(stressWasm));
const wasi = await startWasi(init, {args: ['js_stress', id, '0', '100000000'], stdout: null, stderr: null});
const instance = await WebAssembly.instantiate(stress, wasi.importObj);
parentPort.postMessage(wasi.processId);
wasi.start(instance);
