// One worker of tests/js/stress_ops.mjs: a Wasi on the shared filesystem (the init object it
// is sent), the common start signal, then one stress_ops program; posts its exit code and output.
import {readFileSync} from 'node:fs';
import {pathToFileURL} from 'node:url';
import {parentPort, workerData} from 'node:worker_threads';

const {modulePath, programPath, init, startSignal, args} = workerData;
const {startWasi} = await import(pathToFileURL(modulePath).href);
const program = await WebAssembly.compile(readFileSync(programPath));
const decoders = [new TextDecoder(), new TextDecoder()];
const stdout = [], stderr = [];
const wasi = await startWasi(init, {
	args, preopens: {'/w': '/w'}, lineBuffered: false,
	stdout: bytes => stdout.push(decoders[0].decode(bytes, {stream: true})),
	stderr: bytes => stderr.push(decoders[1].decode(bytes, {stream: true})),
});
const instance = await WebAssembly.instantiate(program, wasi.importObj);
const signal = new Int32Array(startSignal);
Atomics.add(signal, 1, 1); // ready
Atomics.wait(signal, 0, 0); // until the main thread says go
let code;
try {
	code = wasi.start(instance);
} catch (error) {
	code = -1;
	stderr.push(String(error?.stack ?? error));
}
wasi.close();
parentPort.postMessage({code, stdout: stdout.join(''), stderr: stderr.join('')});
