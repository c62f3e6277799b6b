// The URL map test's Worker: mounts files of the test server (sizes given and not, a symlink,
// a missing URL) at /m, runs lazy_ops on it, reads a binary file through the API and compares
// it with a fetch of the same URL, and hands its initObj() to the page. As the second Worker
// (given that initObj), it runs lazy_ops on the parts of the map the first never loaded.
const decoder = new TextDecoder();

async function second({moduleUrl, lazyOpsUrl, init}) {
	const report = {};
	try {
		const {startWasi} = await import(moduleUrl);
		const wasi = await startWasi(init, {stdout: null, stderr: null});
		const program = await WebAssembly.compile(await (await fetch(lazyOpsUrl)).arrayBuffer());
		const output = [];
		const process = await wasi.copyForRebinding({
			args: ['lazy_ops', 'ls', '/m/sub', 'read', '/m/sub/deep.txt', 'read', '/m/docs/other.txt', 'read', '/m/docs/new'],
			preopens: {'/m': '/m'}, stdout: bytes => output.push(decoder.decode(bytes)),
		});
		report.code = process.start(await WebAssembly.instantiate(program, process.importObj));
		process.close();
		report.stdout = output.join('');
		report.fsck = wasi.fsck();
		wasi.close();
	} catch (error) {
		report.error = String(error?.stack ?? error);
	}
	self.postMessage(report);
}

self.onmessage = async ({data}) => {
	if (data.init) {
		await second(data);
		return;
	}
	const {moduleUrl, lazyOpsUrl} = data;
	const report = {};
	try {
		const {startWasi} = await import(moduleUrl);
		const wasi = await startWasi(null, {stdout: null, stderr: null});
		wasi.mountUrlMap({
			'/prog.wasm': '../programs/lazy_ops.wasm', // no size: a HEAD request when listed
			'/docs/readme.txt': {url: 'lazy_data.txt', size: 36},
			'/docs/missing': {url: 'no-such-file.txt', size: 5},
			'/docs/link': {symlink: 'readme.txt'},
			'/docs/other.txt': 'lazy_data.txt',
			'/sub/deep.txt': {url: 'lazy_data.txt'},
		}, '/m');
		report.rootState = wasi.lazyInfo('/m').state;
		const program = await WebAssembly.compile(await (await fetch(lazyOpsUrl)).arrayBuffer());
		const output = [];
		const process = await wasi.copyForRebinding({
			args: ['lazy_ops', 'ls', '/m', 'ls', '/m/docs', 'stat', '/m/prog.wasm', 'read', '/m/docs/readme.txt',
				'read', '/m/docs/link', 'read', '/m/docs/missing', 'write', '/m/docs/new', 'local', 'ls', '/m/docs'],
			preopens: {'/m': '/m'}, stdout: bytes => output.push(decoder.decode(bytes)),
		});
		report.code = process.start(await WebAssembly.instantiate(program, process.importObj));
		process.close();
		report.stdout = output.join('');
		report.progStateBeforeRead = wasi.lazyInfo('/m/prog.wasm').state;
		const bytes = wasi.readFile('/m/prog.wasm');
		const fetched = new Uint8Array(await (await fetch(lazyOpsUrl)).arrayBuffer());
		report.progLength = bytes.length;
		report.progMatches = bytes.length === fetched.length && bytes.every((byte, i) => byte === fetched[i]);
		report.progStateAfterRead = wasi.lazyInfo('/m/prog.wasm').state;
		report.fsck = wasi.fsck();
		report.init = wasi.initObj(); // kept open: the second Worker shares this filesystem
	} catch (error) {
		report.error = String(error?.stack ?? error);
	}
	self.postMessage(report);
};
