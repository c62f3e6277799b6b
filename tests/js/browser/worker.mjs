// The browser test's Worker: starts a Wasi from the page's initObj() (the page's filesystem
// when the page is cross-origin isolated, a fresh one otherwise), writes a file with a
// program, runs js_stress at the same time as the page, and reports what it saw.
const decoder = new TextDecoder();

async function compile(url) {
	return WebAssembly.compile(await (await fetch(url)).arrayBuffer());
}

async function run(wasi, module, args) {
	const output = [];
	const process = await wasi.copyForRebinding({args, stdout: bytes => output.push(decoder.decode(bytes))});
	const code = process.start(await WebAssembly.instantiate(module, process.importObj));
	const result = {code, stdout: output.join(''), usesBridge: process.usesBridge};
	process.close();
	return result;
}

/** api_tool cat on a fresh filesystem, its stdin the page's StdinFeed. */
async function catFeed({stdinPort, moduleUrl, apiToolUrl}) {
	try {
		const {startWasi} = await import(moduleUrl);
		const output = [];
		const wasi = await startWasi(null, {args: ['api_tool', 'cat'], stdin: stdinPort, stdout: bytes => output.push(decoder.decode(bytes))});
		const code = wasi.start(await WebAssembly.instantiate(await compile(apiToolUrl), wasi.importObj));
		wasi.close();
		self.postMessage({code, stdout: output.join('')});
	} catch (error) {
		self.postMessage({error: String(error?.stack ?? error)});
	}
}

self.onmessage = async ({data}) => {
	if (data.stdinPort) {
		await catFeed(data);
		return;
	}
	const report = {};
	try {
		const {startWasi} = await import(data.moduleUrl);
		const [apiTool, stress] = await Promise.all([compile(data.apiToolUrl), compile(data.stressUrl)]);
		const wasi = await startWasi(data.init, {stdout: null, stderr: null});
		report.seesPageFile = wasi.exists('/shared/from-page.txt');
		wasi.mkdir('/shared', {recursive: true}); // absent when the filesystem is not shared
		self.postMessage({started: true});
		report.stressStarted = performance.timeOrigin + performance.now(); // comparable across threads
		const stressResult = await run(wasi, stress, ['js_stress', 'worker', '0', String(data.stressRounds)]);
		report.stressFinished = performance.timeOrigin + performance.now();
		report.stress = {code: stressResult.code, stdout: stressResult.stdout};
		const write = await run(wasi, apiTool, ['api_tool', 'write', '/shared/from-worker.txt', 'written by the worker']);
		report.write = {code: write.code, usesBridge: write.usesBridge};
		report.listing = wasi.readdir('/shared').sort();
	} catch (error) {
		report.error = String(error?.stack ?? error);
	}
	self.postMessage(report);
};
