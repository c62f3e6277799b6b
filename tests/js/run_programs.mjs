// Runs WASI programs through the JS loader, the way tests/differential.py runs them under the
// Python host: argv[0] is the .wasm file name, /sandbox is preopened as /sandbox on a fresh
// filesystem, stdout and stderr are captured. Driven by tests/test_js.py.
//
// usage: node run_programs.mjs SPEC.json
//   SPEC = {"module": "/path/wasi.mjs", "bridge": true|false|null,
//           "cases": [{"id", "wasm", "args": [...], "env": [[name, value], ...], "stdin": base64}]}
// prints one JSON object: {"multiMemory": bool, "results": {id: {exitCode, stdout, stderr
// (base64), usesBridge, seconds}}}. A trap is exit code 134 with a "[trap] ..." stderr line,
// as in tests/differential.py, so it can never pass for a clean exit.
import {readFileSync} from 'node:fs';
import {basename} from 'node:path';
import {pathToFileURL} from 'node:url';

const TRAP_EXIT_CODE = 134;

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const {startWasi, multiMemorySupported, WasiExit} = await import(pathToFileURL(spec.module).href);
const compiled = new Map();

async function runCase(testCase) {
	const started = performance.now();
	const stdout = [], stderr = [];
	const wasi = await startWasi(null, {
		args: [basename(testCase.wasm), ...testCase.args],
		env: Object.fromEntries(testCase.env),
		stdin: Buffer.from(testCase.stdin, 'base64'),
		stdout: bytes => stdout.push(bytes),
		stderr: bytes => stderr.push(bytes),
		lineBuffered: false,
		preopens: {'/sandbox': '/sandbox'},
		bridge: spec.bridge ?? undefined,
	});
	if (!compiled.has(testCase.wasm)) compiled.set(testCase.wasm, await WebAssembly.compile(readFileSync(testCase.wasm)));
	const instance = await WebAssembly.instantiate(compiled.get(testCase.wasm), wasi.importObj);
	let exitCode;
	try {
		exitCode = wasi.start(instance);
	} catch (error) {
		if (error instanceof WasiExit) throw new Error('start() let a WasiExit escape', {cause: error});
		exitCode = TRAP_EXIT_CODE;
		stderr.push(Buffer.from(`\n[trap] ${String(error.message).split('\n')[0]}\n`));
	}
	const result = {
		exitCode,
		stdout: Buffer.concat(stdout).toString('base64'),
		stderr: Buffer.concat(stderr).toString('base64'),
		usesBridge: wasi.usesBridge,
		fsck: wasi.fsck(),
		seconds: (performance.now() - started) / 1000,
	};
	wasi.close();
	return result;
}

const results = {};
for (const testCase of spec.cases) {
	try {
		results[testCase.id] = await runCase(testCase);
	} catch (error) {
		results[testCase.id] = {error: String(error?.stack ?? error)};
	}
}
process.stdout.write(JSON.stringify({multiMemory: multiMemorySupported(), results}));
