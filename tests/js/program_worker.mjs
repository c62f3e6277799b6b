// A worker_thread of tests/js/snapshot.test.mjs and stdin.test.mjs: runs one program, on the
// filesystem of workerData.init (or a fresh one) with workerData.stdin, and posts
// {code, stdout, stderr} or {error} (what start() threw).
import {readFileSync} from 'node:fs';
import {pathToFileURL} from 'node:url';
import {parentPort, workerData} from 'node:worker_threads';

const {modulePath, init = null, programPath, args, stdin} = workerData;
const {startWasi} = await import(pathToFileURL(modulePath).href);
const decoder = new TextDecoder();
let stdout = '', stderr = '';
const wasi = await startWasi(init, {
	args,
	stdin,
	stdout: bytes => { stdout += decoder.decode(bytes, {stream: true}); },
	stderr: bytes => { stderr += decoder.decode(bytes); },
});
const program = await WebAssembly.compile(readFileSync(programPath));
try {
	const code = wasi.start(await WebAssembly.instantiate(program, wasi.importObj));
	parentPort.postMessage({code, stdout, stderr});
} catch (error) {
	parentPort.postMessage({error: String(error), stdout, stderr});
} finally {
	wasi.close();
}
