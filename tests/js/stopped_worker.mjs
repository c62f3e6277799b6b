// One Worker of tests/js/stopped.test.mjs, by workerData.mode:
//   trap:   on a core whose host append traps after its first piece, writes a big file (the
//           call traps), then reads, checks and writes again; posts what it saw.
//   write:  joins the page's filesystem, posts its processId, then writes big files with the
//           filesystem API until it is terminated.
//   reap:   joins the page's filesystem and posts 'ready'; then reaps the id the page sends
//           (reapProcess, as the page would), writes, reads and checks; posts what it saw.
// Its page waits for each post with a timeout: a call waiting for a lock nobody will release
// fails the test instead of hanging it.
import {readFileSync} from 'node:fs';
import {pathToFileURL} from 'node:url';
import {parentPort, workerData} from 'node:worker_threads';

const {modulePath, mode} = workerData;
const {getWasi, startWasi} = await import(pathToFileURL(modulePath).href);
const quiet = {stdout: null, stderr: null};

if (mode === 'trap') {
	const wasi = await startWasi(await getWasi(readFileSync(workerData.corePath)), quiet);
	wasi.writeFile('/small', 's'.repeat(100));
	wasi.mkdir('/dir');
	wasi.writeFile('/dir/big', 'o'.repeat(1000));
	const usedBefore = wasi.usedBytes();
	let error = null;
	try {
		wasi.writeFile('/dir/big', new Uint8Array(256 << 10).fill(0xab));
	} catch (caught) {
		error = caught;
	}
	const report = {
		error: error === null ? null : `${error.name}: ${error.message}`,
		runtimeError: error instanceof WebAssembly.RuntimeError,
		small: wasi.readFile('/small', 'utf8'),
		big: wasi.readFile('/dir/big', 'utf8'),
		usedSame: wasi.usedBytes() === usedBefore,
		fsck: wasi.fsck(),
	};
	wasi.writeFile('/dir/after', 'a'.repeat(1000)); // below the knob's second piece
	report.after = wasi.readFile('/dir/after', 'utf8').length;
	report.names = wasi.readdir('/dir').sort();
	report.fsckAfter = wasi.fsck();
	wasi.close();
	parentPort.postMessage(report);
} else if (mode === 'write') {
	const wasi = await startWasi(workerData.init, quiet);
	const data = new Uint8Array(workerData.bytes).fill(0x5a);
	parentPort.postMessage(wasi.processId);
	for (let i = 0; ; i++) wasi.writeFile(`/w/${i & 1}`, data);
} else if (mode === 'reap') {
	// Started before the kill: a new process takes the lock, which the killed one may hold.
	const wasi = await startWasi(workerData.init, quiet);
	parentPort.once('message', id => {
		const {heldLock, fsckProblems} = wasi.reapProcess(id);
		wasi.writeFile('/after', 'after the reap');
		const report = {heldLock, fsckProblems, after: wasi.readFile('/after', 'utf8'), fsck: wasi.fsck()};
		wasi.close();
		parentPort.postMessage(report);
	});
	parentPort.postMessage('ready');
}
