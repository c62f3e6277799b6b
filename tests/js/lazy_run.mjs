// Runs tests/programs/lazy_ops on lazy host mounts under Node, for tests/test_js.py to compare
// with the Python host running the same arguments on the same trees:
//   node lazy_run.mjs SPEC.json
// SPEC: {module, program, args, mounts: [[vfsPath, hostDir, readOnly]], preopens, writeBack}
// Prints {stdout, exitCode, fsck, errors}: errors are the filesystem API's after the run
// (writeBackHostDir of each writable mount when writeBack is set).
import {readFileSync} from 'node:fs';
import {pathToFileURL} from 'node:url';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const {startWasi} = await import(pathToFileURL(spec.module).href);
const wasi = await startWasi(null, {stdout: null, stderr: null});
for (const [vfsPath, hostDir, readOnly] of spec.mounts) wasi.mountHostDir(hostDir, vfsPath, {readOnly});
const output = [];
const program = await wasi.copyForRebinding({
	args: ['lazy_ops.wasm', ...spec.args], preopens: spec.preopens, stdout: bytes => output.push(bytes),
});
const instance = await WebAssembly.instantiate(new WebAssembly.Module(readFileSync(spec.program)), program.importObj);
const exitCode = program.start(instance);
program.close();
const errors = [];
if (spec.writeBack) {
	for (const [vfsPath, , readOnly] of spec.mounts) {
		if (readOnly) continue;
		try {
			wasi.writeBackHostDir(vfsPath);
		} catch (error) {
			errors.push(`${error.name} ${error.code ?? ''}`);
		}
	}
}
const stdout = Buffer.concat(output).toString('utf8');
console.log(JSON.stringify({stdout, exitCode, fsck: wasi.fsck(), errors}));
wasi.close();
