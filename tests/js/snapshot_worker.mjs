// A worker_thread of tests/js/snapshot.test.mjs: runs one program on the filesystem of
// workerData.init and posts {code, stdout, stderr}.
import {readFileSync} from 'node:fs';
import {pathToFileURL} from 'node:url';
import {parentPort, workerData} from 'node:worker_threads';

const {modulePath, init, programPath, args} = workerData;
const {startWasi} = await import(pathToFileURL(modulePath).href);
const decoder = new TextDecoder();
let stdout = '', stderr = '';
const wasi = await startWasi(init, {
	args,
	stdout: bytes => { stdout += decoder.decode(bytes); },
	stderr: bytes => { stderr += decoder.decode(bytes); },
});
const program = await WebAssembly.compile(readFileSync(programPath));
const code = wasi.start(await WebAssembly.instantiate(program, wasi.importObj));
wasi.close();
parentPort.postMessage({code, stdout, stderr});
