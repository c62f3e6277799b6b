// Runs `api_tool cat` with stdin from this Node process's stdin (process.stdin) or, given a
// FILE, from {fd: openSync(FILE)}, and writes what it printed to fd 1. For stdin.test.mjs.
//   node stdin_cat.mjs MODULE API_TOOL [FILE]
import {openSync, readFileSync, writeSync} from 'node:fs';
import {pathToFileURL} from 'node:url';

const [modulePath, programPath, file] = process.argv.slice(2);
const {startWasi} = await import(pathToFileURL(modulePath).href);
const wasi = await startWasi(null, {
	args: ['api_tool', 'cat'],
	stdin: file ? {fd: openSync(file, 'r')} : process.stdin,
	stdout: bytes => writeSync(1, bytes),
});
const program = await WebAssembly.compile(readFileSync(programPath));
process.exitCode = wasi.start(await WebAssembly.instantiate(program, wasi.importObj));
