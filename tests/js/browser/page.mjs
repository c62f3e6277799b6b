// The browser test's page (tests/test_js.py serves it, with and without cross-origin
// isolation): it shares its filesystem with a Worker through initObj(), runs programs on the
// main thread while the Worker runs its own, and posts a report of what it saw to ../result.
const params = new URLSearchParams(location.search);
const moduleUrl = new URL(`../${params.get('module') ?? 'wasi.mjs'}`, location.href).href;
const programUrl = name => new URL(`../programs/${name}.wasm`, location.href).href;
const decoder = new TextDecoder();
const STRESS_ROUNDS = 1000; // long enough (~0.2 s) for the page and the Worker to overlap
const report = {crossOriginIsolated: self.crossOriginIsolated, module: moduleUrl, stressRounds: STRESS_ROUNDS};

async function compile(name) {
	const response = await fetch(programUrl(name));
	return WebAssembly.compile(await response.arrayBuffer());
}

/** Runs a program as a new process on `wasi`'s filesystem; returns {code, stdout, usesBridge}. */
async function run(wasi, module, args, options = {}) {
	const output = [];
	const process = await wasi.copyForRebinding({
		args, stdout: bytes => output.push(decoder.decode(bytes)), stderr: bytes => output.push(decoder.decode(bytes)),
		...options,
	});
	const code = process.start(await WebAssembly.instantiate(module, process.importObj));
	const result = {code, stdout: output.join(''), usesBridge: process.usesBridge};
	process.close();
	return result;
}

/** An AudioWorklet (in an OfflineAudioContext, which needs no user gesture) gets the init
    object and the compiled program through processorOptions and reports on its port. */
async function runWorklet(init, apiTool) {
	const context = new OfflineAudioContext(1, 128 * 2000, 48000);
	await context.audioWorklet.addModule(new URL('worklet.mjs', location.href));
	const node = new AudioWorkletNode(context, 'wasi-test', {processorOptions: {init, apiTool}});
	node.connect(context.destination);
	const reply = new Promise((resolve, reject) => {
		node.port.onmessage = event => resolve(event.data);
		setTimeout(() => reject(new Error('no reply from the AudioWorklet in 30 s')), 30000);
	});
	context.startRendering();
	return reply;
}

/** writeTree, saveTar/loadTar and StdinFeed in the browser: a tree and a snapshot round trip
    on the main thread; with cross-origin isolation, a ReadableStream fed to api_tool cat in
    the Worker; the errors where it cannot work (the main thread, no SharedArrayBuffer). */
async function extras(wasi, worker, nextMessage) {
	const {startWasi, StdinFeed, Symlink} = await import(moduleUrl);
	const out = {};
	wasi.writeTree('/tree', {dir: {file: 'in a tree', empty: {}}, link: new Symlink('dir/file')});
	const archive = wasi.saveTar('/tree');
	const other = await startWasi(null, {stdout: null});
	other.loadTar(archive, '/restored');
	out.restored = {link: other.readFile('/restored/link', 'utf8'), empty: other.readdir('/restored/dir/empty'), fsck: other.fsck()};
	other.close();
	const text = 'line one\n'.repeat(5000) + 'the end\n';
	const stream = () => new ReadableStream({
		start(controller) {
			const bytes = new TextEncoder().encode(text);
			for (let at = 0; at < bytes.length; at += 7000) controller.enqueue(bytes.slice(at, at + 7000));
			controller.close();
		},
	});
	if (!self.crossOriginIsolated) {
		try {
			new StdinFeed(stream());
			out.feedError = null;
		} catch (error) {
			out.feedError = String(error.message);
		}
		return out;
	}
	const feed = new StdinFeed(stream(), {bufferBytes: 4096});
	try {
		await startWasi(null, {stdin: feed.port});
		out.sameThreadError = null;
	} catch (error) {
		out.sameThreadError = String(error.message);
	}
	const reply = nextMessage();
	worker.postMessage({stdinPort: feed.port, moduleUrl, apiToolUrl: programUrl('api_tool')});
	const cat = await reply;
	await feed.done;
	out.cat = {code: cat.code, error: cat.error ?? null, matches: cat.stdout === text, length: cat.stdout?.length};
	return out;
}

async function main() {
	const {startWasi, multiMemorySupported} = await import(moduleUrl);
	report.multiMemory = multiMemorySupported();
	const [apiTool, stress] = await Promise.all([compile('api_tool'), compile('js_stress')]);
	const wasi = await startWasi(null, {stdout: null, stderr: null});
	wasi.mkdir('/shared');
	wasi.writeFile('/shared/from-page.txt', 'written by the page');

	// Both copy paths on the main thread (the bridge only where multi-memory exists).
	report.mainThread = {};
	for (const bridge of report.multiMemory ? [true, false] : [false]) {
		const text = `main thread, bridge ${bridge}`;
		const write = await run(wasi, apiTool, ['api_tool', 'write', `/shared/main-${bridge}.txt`, text], {bridge});
		const read = await run(wasi, apiTool, ['api_tool', 'read', `/shared/main-${bridge}.txt`], {bridge});
		report.mainThread[`bridge ${bridge}`] = {writeCode: write.code, read: read.stdout, usesBridge: read.usesBridge, expected: text};
	}

	const init = wasi.initObj();
	report.init = {keys: Object.keys(init).sort(), shared: init.shared, hasMemory: init.memory instanceof WebAssembly.Memory};

	const worker = new Worker(new URL('worker.mjs', location.href), {type: 'module'});
	const messages = [];
	const nextMessage = () => new Promise((resolve, reject) => {
		worker.onmessage = event => resolve(event.data);
		worker.onerror = event => reject(new Error(`worker error: ${event.message}`));
	});
	let reply = nextMessage();
	worker.postMessage({init, moduleUrl, apiToolUrl: programUrl('api_tool'), stressUrl: programUrl('js_stress'), stressRounds: STRESS_ROUNDS});
	messages.push(await reply); // "started": the Worker has its Wasi and now runs js_stress
	reply = nextMessage();
	// Meanwhile the main thread runs its own js_stress: with a shared memory both contend for
	// the core's lock, and the main thread must spin rather than block.
	const mainStarted = performance.timeOrigin + performance.now();
	const mainStress = await run(wasi, stress, ['js_stress', 'page', '0', String(STRESS_ROUNDS)]);
	const mainFinished = performance.timeOrigin + performance.now();
	const done = await reply;
	messages.push(done);
	report.worker = done;
	report.mainStress = {code: mainStress.code, stdout: mainStress.stdout};
	report.overlapped = done.stressStarted < mainFinished && mainStarted < done.stressFinished;

	report.worklet = await runWorklet(init, apiTool);
	report.extras = await extras(wasi, worker, nextMessage);

	report.page = {
		listing: wasi.readdir('/shared').sort(),
		workletFile: wasi.exists('/shared/from-worklet.txt') ? wasi.readFile('/shared/from-worklet.txt', 'utf8') : null,
		workerFile: wasi.exists('/shared/from-worker.txt') ? wasi.readFile('/shared/from-worker.txt', 'utf8') : null,
		workerLogLines: wasi.exists('/shared/log-worker') ? wasi.readFile('/shared/log-worker', 'utf8').split('\n').length - 1 : 0,
		ownLogLines: wasi.readFile('/shared/log-page', 'utf8').split('\n').length - 1,
		commonLines: wasi.readFile('/shared/common', 'utf8').split('\n').length - 1,
		fsck: wasi.fsck(),
	};
}

try {
	await main();
} catch (error) {
	report.error = String(error?.stack ?? error);
}
document.getElementById('report').textContent = JSON.stringify(report, null, 2);
await fetch('../result', {method: 'POST', body: JSON.stringify(report)});
