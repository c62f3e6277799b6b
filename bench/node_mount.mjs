// bench/mount.py's Node runners: tests/programs/lazy_ops on a host tree at /m, in Node.
//   node bench/node_mount.mjs lazy|copy|floor TREE PROGRAM OPS...
// lazy: wasi.mountHostDir(TREE, '/m'); copy: every file read with node:fs and written into the
// VFS first (what a JS host had to do before); floor: nothing mounted, the program stats '/'.
import {readdirSync, readFileSync} from 'node:fs';
import {join} from 'node:path';

const [mode, tree, programPath, ...ops] = process.argv.slice(2);
const {startWasi} = await import(new URL('../wasi.mjs', import.meta.url).href);
const wasi = await startWasi(null, {stdout: null, stderr: null});
if (mode === 'lazy') wasi.mountHostDir(tree, '/m');
if (mode === 'copy') {
	const copy = (from, to) => {
		wasi.mkdir(to, {recursive: true});
		for (const entry of readdirSync(from, {withFileTypes: true})) {
			if (entry.isDirectory()) copy(join(from, entry.name), `${to}/${entry.name}`);
			else if (entry.isFile()) wasi.writeFile(`${to}/${entry.name}`, readFileSync(join(from, entry.name)));
		}
	};
	copy(tree, '/m');
}
const output = [];
const program = await wasi.copyForRebinding({
	args: ['lazy_ops', ...(mode === 'floor' ? ['stat', '/'] : ops)], preopens: {'/m': '/m'}, stdout: bytes => output.push(bytes),
});
const code = program.start(await WebAssembly.instantiate(new WebAssembly.Module(readFileSync(programPath)), program.importObj));
process.stdout.write(Buffer.concat(output));
process.exitCode = code;
