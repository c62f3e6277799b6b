// The URL map test's page: mountUrlMap is refused on the main thread (a synchronous request
// would freeze the page); a Worker mounts the map, runs lazy_ops on it and reports.
const params = new URLSearchParams(location.search);
const moduleUrl = new URL(`../${params.get('module') ?? 'wasi.mjs'}`, location.href).href;
const report = {};
try {
	const {startWasi} = await import(moduleUrl);
	const wasi = await startWasi(null, {stdout: null, stderr: null});
	try {
		wasi.mountUrlMap({'/f': 'lazy_data.txt'}, '/m');
		report.mainThread = 'mounted';
	} catch (error) {
		report.mainThread = String(error.message);
	}
	wasi.close();
	const lazyOpsUrl = new URL('../programs/lazy_ops.wasm', location.href).href;
	const ask = message => {
		const worker = new Worker(new URL('lazy_worker.mjs', location.href), {type: 'module'});
		return new Promise((resolve, reject) => {
			worker.onmessage = event => resolve(event.data);
			worker.onerror = event => reject(new Error(`worker: ${event.message}`));
			worker.postMessage(message);
		});
	};
	report.worker = await ask({moduleUrl, lazyOpsUrl});
	// A second Worker on the first's filesystem (the page is cross-origin isolated): it
	// serves the map's parts the first never loaded from the mount's description.
	if (report.worker.init?.memory) report.second = await ask({moduleUrl, lazyOpsUrl, init: report.worker.init});
	delete report.worker.init;
} catch (error) {
	report.error = String(error?.stack ?? error);
}
document.getElementById('report').textContent = JSON.stringify(report, null, 1);
await fetch('../result', {method: 'POST', body: JSON.stringify(report)});
