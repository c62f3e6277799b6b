// The JS half of tests/test_js.py's snapshot interop test: restores a tar archive that the
// Python host's save_tar made, snapshots the restored tree again with saveTar, and reports
// what it restored as JSON (one line), in the same form as the Python side's listing.
//   node snapshot_interop.mjs MODULE IN.tar OUT.tar TIMED_JSON
import {createHash} from 'node:crypto';
import {readFileSync, writeFileSync} from 'node:fs';
import {pathToFileURL} from 'node:url';

const [modulePath, inPath, outPath, timedJson] = process.argv.slice(2);
const {startWasi} = await import(pathToFileURL(modulePath).href);
const wasi = await startWasi(null, {stdout: null, stderr: null});
const before = wasi.usedBytes();
wasi.loadTar(readFileSync(inPath), '/got');
const usedDelta = wasi.usedBytes() - before;
// atimes before anything reads the restored tree (reading sets them)
const atimes = JSON.parse(timedJson).map(path => String(wasi.lstat(`/got/${path}`).atimeNs));
const symMtime = String(wasi.lstat('/got/dir/sym').mtimeNs);
writeFileSync(outPath, wasi.saveTar('/got'));

/** {path: [kind, mtime, ...]} as tests/test_js.py's _snapshot_listing makes it. */
function listing(root) {
	const out = {};
	const first = new Map();
	const stack = [''];
	while (stack.length) {
		const rel = stack.pop();
		for (const name of wasi.readdir(root + rel || '/').sort()) {
			const path = `${rel}/${name}`;
			const info = wasi.lstat(root + path);
			if (!first.has(info.ino)) first.set(info.ino, path);
			const inode = first.get(info.ino);
			if (info.isDirectory()) {
				out[path] = ['d', String(info.mtimeNs)];
				stack.push(path);
			} else if (info.isSymbolicLink()) {
				out[path] = ['l', String(info.mtimeNs), inode, info.nlink, wasi.readlink(root + path)];
			} else {
				const digest = createHash('sha256').update(wasi.readFile(root + path)).digest('hex');
				out[path] = ['f', String(info.mtimeNs), inode, info.nlink, info.size, digest];
			}
		}
	}
	return out;
}

console.log(JSON.stringify({listing: listing('/got'), atimes, symMtime, usedDelta, fsck: wasi.fsck()}));
wasi.close();
