// The browser test's AudioWorklet processor: a Worklet has no fetch, dynamic import(),
// TextEncoder/TextDecoder or crypto, so it gets the init object and the compiled program in
// its processorOptions and imports the loader statically. It writes a file with a program
// and reports what it saw on its port.
import {startWasi, lineOutput} from '../wasi.mjs';

class WasiTestProcessor extends AudioWorkletProcessor {
	constructor(options) {
		super();
		const {init, apiTool} = options.processorOptions;
		this.#run(init, apiTool).then(
			report => this.port.postMessage(report),
			error => this.port.postMessage({error: String(error?.stack ?? error)}),
		);
	}

	async #run(init, apiTool) {
		const lines = [];
		const wasi = await startWasi(init, {stdout: null, stderr: null});
		const seesPageFile = wasi.exists('/shared/from-page.txt');
		wasi.mkdir('/shared', {recursive: true});
		const runTool = async args => {
			const process = await wasi.copyForRebinding({args: ['api_tool', ...args], stdout: lineOutput(line => lines.push(line))});
			const code = process.start(await WebAssembly.instantiate(apiTool, process.importObj));
			process.close();
			return code;
		};
		const writeCode = await runTool(['write', '/shared/from-worklet.txt', 'written by the worklet']);
		const randomCode = await runTool(['random']);
		return {
			seesPageFile, writeCode, randomCode, lines, listing: wasi.readdir('/shared').sort(),
			hasTextDecoder: typeof TextDecoder === 'function', hasCrypto: typeof crypto === 'object',
		};
	}

	process() {
		return true;
	}
}

registerProcessor('wasi-test', WasiTestProcessor);
