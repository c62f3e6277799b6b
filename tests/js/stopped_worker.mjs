// One Worker of tests/js/stopped.test.mjs, by workerData.mode:
//   trap:   on a core whose host append traps after its first piece, writes a big file (the
//           call traps), then reads, checks and writes again; posts what it saw.
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
}
