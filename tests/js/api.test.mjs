// The JS loader's API under Node (node:test), run by tests/test_js.py on each engine with:
//   WASI_MJS            path of the module under test (wasi.mjs or wasi-bundled.mjs)
//   WASI_TEST_PROGRAMS  JSON {name: path of a compiled tests/programs/NAME.c}
//   WASI_EXPECT_MULTI_MEMORY  "1" or "0": what this engine is known to support
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import test from 'node:test';
import {pathToFileURL} from 'node:url';

const loader = await import(pathToFileURL(process.env.WASI_MJS).href);
const {getWasi, startWasi, lineOutput, multiMemorySupported, WasiExit, WasiError, WasiStat} = loader;
const programPaths = JSON.parse(process.env.WASI_TEST_PROGRAMS);
const expectMultiMemory = process.env.WASI_EXPECT_MULTI_MEMORY === '1';

const modules = new Map();
async function programModule(name) {
	if (!modules.has(name)) modules.set(name, await WebAssembly.compile(readFileSync(programPaths[name])));
	return modules.get(name);
}

const decoder = new TextDecoder();
const concat = chunks => Buffer.concat(chunks.map(chunk => Buffer.from(chunk)));

/** Starts a process (on `parent`'s filesystem if given), runs tests/programs/NAME with
    argv [NAME, ...args] and returns {code, stdout, stderr, wasi, outputCalls}. */
async function run(name, args = [], options = {}, parent = null) {
	const stdout = [], stderr = [];
	const full = {
		args: [name, ...args],
		stdout: bytes => stdout.push(bytes),
		stderr: bytes => stderr.push(bytes),
		...options,
	};
	const wasi = parent ? await parent.copyForRebinding(full) : await startWasi(null, full);
	const instance = await WebAssembly.instantiate(await programModule(name), wasi.importObj);
	const code = wasi.start(instance);
	return {
		code, wasi, outputCalls: stdout.length,
		stdout: decoder.decode(concat(stdout)), stderr: decoder.decode(concat(stderr)),
	};
}

/** A process with no program: its WASI functions are called directly on `memory`. */
async function direct(memory, options = {}) {
	const wasi = await startWasi(null, {stdout: null, stderr: null, ...options});
	wasi.bindToOtherMemory(memory, options);
	return {wasi, call: wasi.importObj.wasi_snapshot_preview1};
}

const ERRNO_FAULT = 21, ERRNO_INVAL = 28;

// -- loading ---------------------------------------------------------------------------------

test('getWasi compiles the core once and describes its memory', async () => {
	const init = await getWasi();
	assert.ok(init.module instanceof WebAssembly.Module);
	assert.equal(init.shared, false);
	assert.equal(init.memory, undefined);
	assert.ok(init.memoryPages.initial >= 1);
	assert.equal(init.memoryPages.maximum, 65536);
	assert.equal((await getWasi()).module, init.module, 'compiled once per realm');
	assert.equal(await getWasi(init), init, 'an init object is passed through');
	const bytesPath = new URL('../../wasi.wasm', import.meta.url);
	const fromBytes = await getWasi(readFileSync(bytesPath));
	assert.deepEqual(fromBytes.memoryPages, init.memoryPages);
});

test('importObj holds exactly the preview1 functions, straight from the core', async () => {
	const wasi = await startWasi(null, {stdout: null});
	const functions = wasi.importObj.wasi_snapshot_preview1;
	assert.equal(Object.keys(wasi.importObj).length, 1);
	assert.equal(Object.keys(functions).length, 46);
	for (const name of ['fd_write', 'path_open', 'proc_exit', 'random_get', 'sock_shutdown']) {
		assert.equal(typeof functions[name], 'function', name);
	}
	assert.ok(!Object.keys(functions).some(name => name.startsWith('wasi_wasm')));
	// the core's own exports: wasm functions, not JS wrappers
	assert.match(String(functions.fd_write), /native code/);
});

// -- running programs ------------------------------------------------------------------------

test('args, env and exit codes', async () => {
	const args = await run('api_tool', ['args', 'two words', '', 'ünïcödé']);
	assert.equal(args.code, 0);
	assert.equal(args.stdout, 'argc=5\nargv[0]=api_tool\nargv[1]=args\nargv[2]=two words\nargv[3]=\nargv[4]=ünïcödé\n');
	const env = await run('api_tool', ['env'], {env: {ONE: '1', SPACED: 'a b', EQ: 'x=y'}});
	assert.equal(env.stdout, 'ONE=1\nSPACED=a b\nEQ=x=y\n');
	assert.equal((await run('api_tool', ['exit', '7'])).code, 7);
	assert.equal((await run('api_tool', ['return', '3'])).code, 3);
	assert.equal((await run('api_tool', ['return', '0'])).code, 0);
	await assert.rejects(startWasi(null, {args: 'not an array'}), TypeError);
	await assert.rejects(startWasi(null, {lineBufferd: true}), /unknown option lineBufferd/);
});

test('proc_exit throws WasiExit carrying the code', async () => {
	const {call} = await direct(new WebAssembly.Memory({initial: 1}));
	assert.throws(() => call.proc_exit(42), error => error instanceof WasiExit && error.code === 42);
});

test('a trap propagates from start() and leaves the filesystem usable', async () => {
	const trapped = run('api_tool', ['trap']);
	await assert.rejects(trapped, WebAssembly.RuntimeError);
	const first = await run('api_tool', ['write', '/f', 'x']);
	await assert.rejects(run('api_tool', ['trap'], {}, first.wasi), WebAssembly.RuntimeError);
	const after = await run('api_tool', ['read', '/f'], {}, first.wasi);
	assert.equal(after.stdout, 'x');
	assert.equal(after.wasi.fsck(), 0);
});

test('stdin from bytes and from a function', async () => {
	const all = new Uint8Array(256 * 40).map((_, i) => i % 256);
	const captured = [];
	const wasi = await startWasi(null, {args: ['cat', 'cat'], stdin: all, stdout: bytes => captured.push(bytes)});
	wasi.start(await WebAssembly.instantiate(await programModule('api_tool'), wasi.importObj));
	assert.deepEqual(new Uint8Array(concat(captured)), all);

	const pieces = ['first ', 'second\n', 'third'];
	const asked = [];
	const fromFunction = await run('api_tool', ['cat'], {
		stdin: maxBytes => { asked.push(maxBytes); return pieces.length ? pieces.shift() : null; },
	});
	assert.equal(fromFunction.stdout, 'first second\nthird');
	assert.ok(asked.every(size => size > 0));
	assert.equal(asked.length, 4, 'three chunks, then EOF');

	// A function may return more than was asked for: the rest comes with the next reads.
	const big = 'x'.repeat(50000) + 'end';
	let given = false;
	const oversized = await run('api_tool', ['cat'], {stdin: () => (given ? null : (given = true, big))});
	assert.equal(oversized.stdout, big);
});

test('output written before a read is delivered before the read', async () => {
	const stdout = [];
	let seenAtRead = null;
	const wasi = await startWasi(null, {
		args: ['api_tool', 'prompt'],
		lineBuffered: false, // even in chunk mode the core flushes before it waits for input
		stdout: bytes => stdout.push(bytes),
		stdin: () => { seenAtRead ??= decoder.decode(concat(stdout)); return 'answer\n'; },
	});
	assert.equal(wasi.start(await WebAssembly.instantiate(await programModule('api_tool'), wasi.importObj)), 0);
	assert.equal(seenAtRead, 'ready\n');
	assert.equal(decoder.decode(concat(stdout)), 'ready\ngot answer\n');
});

test('line delivery versus chunks', async () => {
	const lines = await run('api_tool', ['lines', '2000'], {lineBuffered: true});
	const chunks = await run('api_tool', ['lines', '2000'], {lineBuffered: false});
	assert.equal(lines.stdout, chunks.stdout);
	assert.equal(lines.stdout.split('\n').length, 2001);
	assert.ok(chunks.outputCalls <= 4, `chunked output took ${chunks.outputCalls} calls`);
	assert.ok(lines.outputCalls > chunks.outputCalls * 3, `${lines.outputCalls} vs ${chunks.outputCalls}`);
});

test('lineOutput() splits lines, keeps UTF-8 sequences whole and flushes the rest', () => {
	const seen = [];
	const sink = lineOutput(line => seen.push(line));
	const euro = new TextEncoder().encode('€'); // 3 bytes, delivered split
	sink(new TextEncoder().encode('one\ntw'));
	sink(Uint8Array.of(0x6f, euro[0]));
	sink(Uint8Array.of(euro[1], euro[2], 0x0a, 0x0a, 0x6c, 0x61));
	assert.deepEqual(seen, ['one', 'two€', '']);
	sink.flush();
	assert.deepEqual(seen, ['one', 'two€', '', 'la']);
	sink.flush();
	assert.equal(seen.length, 4, 'nothing left to flush');
});

test('by default stdout and stderr go to the console, line by line', async () => {
	const logged = [], errors = [];
	const {log, error} = console;
	console.log = line => logged.push(line);
	console.error = line => errors.push(line);
	try {
		const wasi = await startWasi(null, {args: ['api_tool', 'mixed']});
		assert.equal(wasi.start(await WebAssembly.instantiate(await programModule('api_tool'), wasi.importObj)), 0);
		// The last line has no newline: start() still delivers it.
		wasi.writeFile('/unterminated', 'no newline at the end');
		const reader = await wasi.copyForRebinding({args: ['api_tool', 'read', '/unterminated']});
		reader.start(await WebAssembly.instantiate(await programModule('api_tool'), reader.importObj));
	} finally {
		console.log = log;
		console.error = error;
	}
	assert.deepEqual(logged, ['out 0', 'out 1', 'out 2', 'no newline at the end']);
	assert.deepEqual(errors, ['err 0', 'err 1', 'err 2']);
});

test('an exception of an output callback is re-thrown after the program, not through the core', async () => {
	const failure = new Error('callback failed');
	const wasi = await startWasi(null, {args: ['api_tool', 'lines', '3'], stdout: () => { throw failure; }});
	const instance = await WebAssembly.instantiate(await programModule('api_tool'), wasi.importObj);
	assert.throws(() => wasi.start(instance), error => error === failure);
	wasi.writeFile('/still-works', 'yes');
	assert.equal(wasi.readFile('/still-works', 'utf8'), 'yes');
	assert.equal(wasi.fsck(), 0);
});

test('clocks and randomness', async () => {
	const clocks = await run('api_tool', ['clocks']);
	assert.equal(clocks.stdout, [
		'realtime after 2020: yes', 'monotonic non-decreasing: yes', 'process cputime: 0',
		'thread cputime: 0', `bad clock: ${ERRNO_INVAL}`, 'res realtime: 0', 'res positive: yes',
		`res bad clock: ${ERRNO_INVAL}`, '',
	].join('\n'));
	const memory = new WebAssembly.Memory({initial: 2});
	const {call} = await direct(memory);
	assert.equal(call.clock_time_get(0, 1n, 8), 0);
	const realtimeMs = Number(new DataView(memory.buffer).getBigUint64(8, true) / 1000000n);
	assert.ok(Math.abs(realtimeMs - Date.now()) < 1000, `realtime ${realtimeMs} vs ${Date.now()}`);
	const random = new Uint8Array(memory.buffer, 1000, 100000);
	assert.equal(call.random_get(1000, random.length), 0);
	// more than getRandomValues gives per call: every 64 KiB block must have been filled
	for (const start of [0, 65536]) assert.ok(random.subarray(start, start + 1024).some(byte => byte !== 0));
	const twice = await run('api_tool', ['random']);
	const [a, b] = twice.stdout.trim().split('\n');
	assert.match(a, /^[0-9a-f]{32}$/);
	assert.notEqual(a, b);
});

test('without the globals an AudioWorklet lacks (TextEncoder, TextDecoder, crypto, atob)', async () => {
	const missing = ['TextEncoder', 'TextDecoder', 'crypto', 'atob'];
	const saved = missing.map(name => Object.getOwnPropertyDescriptor(globalThis, name));
	let bare;
	try {
		for (const name of missing) delete globalThis[name];
		assert.equal(typeof TextDecoder, 'undefined');
		assert.equal(typeof crypto, 'undefined');
		// a fresh evaluation of the module, which looks for these globals as it loads
		bare = await import(`${pathToFileURL(process.env.WASI_MJS).href}?without-worklet-globals`);
	} finally {
		missing.forEach((name, i) => Object.defineProperty(globalThis, name, saved[i]));
	}
	const init = await bare.getWasi(); // wasi-bundled.mjs decodes its base64 without atob
	assert.deepEqual(init.memoryPages, (await getWasi()).memoryPages);
	const lines = [];
	const wasi = await bare.startWasi(init, {
		args: ['api_tool', 'args', 'ünï €𝄞'], stdout: bare.lineOutput(line => lines.push(line)),
	});
	assert.equal(wasi.start(await WebAssembly.instantiate(await programModule('api_tool'), wasi.importObj)), 0);
	assert.deepEqual(lines, ['argc=3', 'argv[0]=api_tool', 'argv[1]=args', 'argv[2]=ünï €𝄞']);
	wasi.writeFile('/dïr€𝄞', 'ünï');
	assert.deepEqual(wasi.readdir('/'), ['dïr€𝄞']);
	assert.equal(wasi.readFile('/dïr€𝄞', 'utf8'), 'ünï');
	const random = await bare.startWasi(init, {args: ['api_tool', 'random'], stdout: bare.lineOutput(line => lines.push(line))});
	random.start(await WebAssembly.instantiate(await programModule('api_tool'), random.importObj));
	const [a, b] = lines.slice(-2);
	assert.match(a, /^[0-9a-f]{32}$/);
	assert.notEqual(a, b);

	// The fallback decoder agrees with TextDecoder, invalid input included.
	const decodeWith = (module, bytes) => {
		let text = null;
		const sink = module.lineOutput(line => { text = line; });
		sink(bytes);
		sink.flush();
		return text ?? '';
	};
	const corpus = [
		[0xc3, 0xbc, 0xe2, 0x82, 0xac, 0xf0, 0x9d, 0x84, 0x9e], [0xc0, 0x80], [0xe0, 0x80, 0x80],
		[0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xe2, 0x82, 0x41], [0x80, 0xbf],
		[0xf5, 0xff, 0xfe], [0xf0, 0x9d, 0x84], [0xef, 0xbf, 0xbf], [0xf4, 0x8f, 0xbf, 0xbf],
	];
	let seed = 12345;
	for (let n = 0; n < 300; n++) {
		corpus.push(Array.from({length: 1 + n % 12}, () => {
			seed = (seed * 1103515245 + 12345) % 2147483648;
			const byte = seed >> 16 & 0xff;
			return byte === 10 ? 0x80 : byte;
		}));
	}
	for (const bytes of corpus) {
		const data = Uint8Array.from(bytes);
		assert.equal(decodeWith(bare, data), decodeWith(loader, data), `bytes ${bytes}`);
	}
});

// -- copy paths ------------------------------------------------------------------------------

test(`multi-memory support is detected (${expectMultiMemory ? 'expected' : 'not expected'} here)`, async () => {
	assert.equal(multiMemorySupported(), expectMultiMemory);
	const auto = await run('api_tool', ['lines', '2']);
	assert.equal(auto.wasi.usesBridge, expectMultiMemory);
	const forcedOff = await run('api_tool', ['lines', '2'], {bridge: false});
	assert.equal(forcedOff.wasi.usesBridge, false);
	assert.equal(forcedOff.stdout, auto.stdout);
	if (expectMultiMemory) {
		const forcedOn = await run('api_tool', ['lines', '2'], {bridge: true});
		assert.equal(forcedOn.wasi.usesBridge, true);
		assert.equal(forcedOn.stdout, auto.stdout);
	} else {
		await assert.rejects(run('api_tool', ['lines', '2'], {bridge: true}), /multi-memory/);
	}
});

for (const bridge of expectMultiMemory ? [true, false] : [false]) {
	const path = bridge ? 'bridge' : 'JS copy functions';
	test(`guest memories of every kind (${path})`, async () => {
		const kinds = {
			plain: new WebAssembly.Memory({initial: 1}),
			limited: new WebAssembly.Memory({initial: 1, maximum: 3}),
			shared: new WebAssembly.Memory({initial: 1, maximum: 100, shared: true}),
		};
		for (const [kind, memory] of Object.entries(kinds)) {
			const written = [];
			const {wasi, call} = await direct(memory, {bridge, stdout: bytes => written.push(bytes), lineBuffered: false});
			assert.equal(wasi.usesBridge, bridge);
			const text = new TextEncoder().encode(`hello from ${kind}\n`);
			// The guest grows after binding: the copies must follow its current size and buffer.
			memory.grow(1);
			const base = 65536 + 16;
			new Uint8Array(memory.buffer).set(text, base + 64);
			const view = new DataView(memory.buffer);
			view.setUint32(base, base + 64, true);
			view.setUint32(base + 4, text.length, true);
			assert.equal(call.fd_write(1, base, 1, base + 8), 0, kind);
			assert.equal(view.getUint32(base + 8, true), text.length);
			wasi.flush();
			assert.equal(decoder.decode(concat(written)), `hello from ${kind}\n`);
			// Pointers outside the guest memory: EFAULT, never a trap.
			const end = memory.buffer.byteLength;
			assert.equal(call.fd_write(1, end - 4, 1, base + 8), ERRNO_FAULT, `${kind} iovec past the end`);
			view.setUint32(base + 4, 1000, true);
			view.setUint32(base, end - 10, true);
			assert.equal(call.fd_write(1, base, 1, base + 8), ERRNO_FAULT, `${kind} buffer past the end`);
			// Data the core copies out: args into the guest.
			assert.equal(call.args_sizes_get(base, base + 4), 0);
			assert.equal(view.getUint32(base, true), 0);
			wasi.close();
		}
	});
}

test('a process can be rebound to another memory', async () => {
	const first = new WebAssembly.Memory({initial: 1});
	const second = new WebAssembly.Memory({initial: 1});
	const written = [];
	const {wasi, call} = await direct(first, {stdout: bytes => written.push(bytes), lineBuffered: false});
	for (const [memory, text] of [[first, 'A'], [second, 'B']]) {
		wasi.bindToOtherMemory(memory);
		const view = new DataView(memory.buffer);
		new Uint8Array(memory.buffer)[100] = text.charCodeAt(0);
		view.setUint32(0, 100, true);
		view.setUint32(4, 1, true);
		assert.equal(call.fd_write(1, 0, 1, 8), 0);
	}
	wasi.flush();
	assert.equal(decoder.decode(concat(written)), 'AB');
	assert.throws(() => wasi.bindToOtherMemory({}), TypeError);
});

// -- filesystem API --------------------------------------------------------------------------

test('writeFile, readFile, stat', async () => {
	const wasi = await startWasi(null, {stdout: null});
	wasi.writeFile('/text.txt', 'héllo');
	assert.equal(wasi.readFile('/text.txt', 'utf8'), 'héllo');
	const big = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 7) % 256);
	wasi.writeFile('/big.bin', big);
	assert.deepEqual(wasi.readFile('/big.bin'), big);
	wasi.writeFile('/big.bin', big.buffer.slice(0, 10)); // an ArrayBuffer; truncates
	assert.deepEqual(wasi.readFile('/big.bin'), big.subarray(0, 10));
	wasi.writeFile('/empty', new Uint8Array(0));
	assert.equal(wasi.readFile('/empty').length, 0);
	const info = wasi.stat('/text.txt');
	assert.ok(info instanceof WasiStat);
	assert.equal(info.size, 6);
	assert.equal(info.type, 'regular_file');
	assert.ok(info.isFile() && !info.isDirectory() && !info.isSymbolicLink());
	assert.equal(info.nlink, 1);
	assert.equal(typeof info.mtimeNs, 'bigint');
	assert.ok(Math.abs(Number(info.mtimeNs / 1000000n) - Date.now()) < 5000);
	assert.ok(wasi.stat('/').isDirectory());
	assert.throws(() => wasi.readFile('/'), error => error instanceof WasiError && error.code === 'EISDIR');
	assert.throws(() => wasi.readFile('/nope'), error => error.code === 'ENOENT' && error.errno === 44 && error.path === '/nope');
	assert.throws(() => wasi.readFile('relative'), TypeError);
});

test('mkdir, readdir, rm, rename, symlinks', async () => {
	const wasi = await startWasi(null, {stdout: null});
	wasi.mkdir('/a');
	assert.throws(() => wasi.mkdir('/a'), error => error.code === 'EEXIST');
	wasi.mkdir('/a', {recursive: true});
	wasi.mkdir('/a/b/c/d', {recursive: true});
	assert.throws(() => wasi.mkdir('/x/y'), error => error.code === 'ENOENT');
	wasi.writeFile('/a/b/file', '1');
	wasi.writeFile('/a/file2', '2');
	assert.deepEqual(wasi.readdir('/a').sort(), ['b', 'file2']);
	assert.deepEqual(wasi.readdir('/').sort(), ['a']);
	assert.throws(() => wasi.readdir('/a/file2'), error => error.code === 'ENOTDIR');

	wasi.rename('/a/file2', '/a/b/c/moved');
	assert.equal(wasi.readFile('/a/b/c/moved', 'utf8'), '2');
	assert.ok(!wasi.exists('/a/file2'));
	assert.throws(() => wasi.rename('/none', '/other'), error => error.code === 'ENOENT' && error.dest === '/other');

	wasi.symlink('b/file', '/a/link');
	assert.equal(wasi.readlink('/a/link'), 'b/file');
	assert.ok(wasi.lstat('/a/link').isSymbolicLink());
	assert.equal(wasi.readFile('/a/link', 'utf8'), '1');
	const longTarget = 'd/'.repeat(300) + 'x';
	wasi.symlink(longTarget, '/long-link');
	assert.equal(wasi.readlink('/long-link'), longTarget);

	assert.throws(() => wasi.rm('/a'), error => error.code === 'EISDIR');
	wasi.rm('/a/link');
	assert.ok(wasi.exists('/a/b/file'), 'removing a symlink keeps its target');
	assert.throws(() => wasi.rm('/a/link'), error => error.code === 'ENOENT');
	wasi.rm('/a/link', {force: true});
	wasi.rm('/a', {recursive: true});
	wasi.rm('/long-link');
	assert.deepEqual(wasi.readdir('/'), []);
	assert.equal(wasi.fsck(), 0);
});

test('loadFiles, as in the original', async () => {
	const wasi = await startWasi(null, {stdout: null});
	wasi.loadFiles({
		'/data/deep/a.txt': new TextEncoder().encode('from a Uint8Array'),
		'relative/b.bin': Uint8Array.of(1, 2, 3).buffer,
		'/c.txt': 'a string',
		'/view.bin': new DataView(Uint8Array.of(9, 8, 7, 6).buffer, 1, 2),
	});
	const read = await run('api_tool', ['read', '/data/deep/a.txt'], {}, wasi);
	assert.equal(read.stdout, 'from a Uint8Array');
	assert.deepEqual([...wasi.readFile('/relative/b.bin')], [1, 2, 3]);
	assert.equal(wasi.readFile('/c.txt', 'utf8'), 'a string');
	assert.deepEqual([...wasi.readFile('/view.bin')], [8, 7]);
});

// -- processes on one filesystem -------------------------------------------------------------

test('copyForRebinding: a shared filesystem, separate fd tables and stdio', async () => {
	const outer = [];
	const wasi = await startWasi(null, {stdout: bytes => outer.push(bytes), preopens: {'/work': '/projects/one'}});
	assert.ok(wasi.stat('/projects/one').isDirectory(), 'a missing preopen directory is created');
	const writer = await run('api_tool', ['write', '/work/out.txt', 'written by one program'], {preopens: {'/work': '/projects/one'}}, wasi);
	assert.equal(writer.code, 0);
	const reader = await run('api_tool', ['read', '/projects/one/out.txt'], {}, wasi);
	assert.equal(reader.stdout, 'written by one program');
	assert.equal(wasi.readFile('/projects/one/out.txt', 'utf8'), 'written by one program');

	const preopensOuter = await wasi.copyForRebinding({args: ['api_tool', 'preopens']});
	preopensOuter.start(await WebAssembly.instantiate(await programModule('api_tool'), preopensOuter.importObj));
	preopensOuter.flush();
	assert.equal(decoder.decode(concat(outer)), '3 /\n', 'the copy inherits the stdout callback, not the preopens');
	const own = await run('api_tool', ['preopens'], {preopens: {'/a': '/', '/b': '/projects'}}, wasi);
	assert.equal(own.stdout, '3 /a\n4 /b\n');

	// startWasi without an init object: a different, empty filesystem
	const fresh = await run('api_tool', ['ls', '/']);
	assert.equal(fresh.stdout, '');
	assert.equal((await run('api_tool', ['ls', '/'], {}, wasi)).stdout, 'projects\n');
});

test('one thread\'s processes share a thread group: their directory changes skip the shared path', async () => {
	// A core whose shared create traps once its name is in (-DSTOP_WINDOW=7, dev/base/stop_test.h):
	// while every process of the filesystem is in one thread group, a mkdir is exclusive.
	const init = await getWasi(readFileSync(process.env.WASI_STOP_CREATE_CORE));
	const wasi = await startWasi(init, {stdout: null, stderr: null});
	wasi.mkdir('/by-api');
	const copy = await wasi.copyForRebinding({stdout: null, stderr: null});
	const memory = new WebAssembly.Memory({initial: 1});
	copy.bindToOtherMemory(memory);
	new Uint8Array(memory.buffer).set(new TextEncoder().encode('by-copy'), 64);
	assert.equal(copy.importObj.wasi_snapshot_preview1.path_create_directory(3, 64, 7), 0);
	assert.deepEqual(wasi.readdir('/').sort(), ['by-api', 'by-copy']);
});

test('initObj in Node carries the module and the shared memory', async () => {
	const wasi = await startWasi(null, {stdout: null});
	const init = wasi.initObj();
	assert.equal(init.module, wasi.module);
	assert.equal(init.memory, wasi.memory);
	assert.equal(init.shared, true);
	assert.ok(Object.prototype.toString.call(init.memory.buffer) === '[object SharedArrayBuffer]');
	wasi.writeFile('/shared.txt', 'one filesystem');
	const other = await startWasi(init, {stdout: null});
	assert.equal(other.readFile('/shared.txt', 'utf8'), 'one filesystem');
	other.rm('/shared.txt');
	assert.ok(!wasi.exists('/shared.txt'));
	// Without its memory, an init object starts a fresh filesystem (a page that is not isolated).
	const {memory: _memory, ...moduleOnly} = init;
	const isolated = await startWasi(moduleOnly, {stdout: null});
	wasi.writeFile('/only-here', 'x');
	assert.ok(!isolated.exists('/only-here'));
	await assert.rejects(startWasi({module: init.module}), /memoryPages/);
});

test('closing processes returns their memory', async () => {
	const wasi = await startWasi(null, {stdout: null});
	const cycle = async () => {
		for (let i = 0; i < 20; i++) {
			const result = await run('api_tool', ['write', `/file${i}`, 'x'.repeat(i * 100)], {}, wasi);
			assert.equal(result.code, 0);
			result.wasi.close();
			assert.ok(result.wasi.closed);
			assert.throws(() => result.wasi.readFile(`/file${i}`), /closed/);
		}
		for (let i = 0; i < 20; i++) wasi.rm(`/file${i}`);
	};
	// The root directory's room grows while names come and go (dir.c: 32 slots, doubled each
	// time removed names fill them, up to 256) and is kept: grow it to the most first.
	for (let i = 0; i < 600; i++) {
		wasi.writeFile(`/warm${i % 3}`, '');
		wasi.rm(`/warm${i % 3}`);
	}
	await cycle(); // the index grows to 20 entries once and stays
	const baseline = wasi.usedBytes();
	await cycle();
	assert.equal(wasi.usedBytes(), baseline);
	assert.equal(wasi.fsck(), 0);
	wasi.close();
	wasi.close(); // idempotent
});

// -- reactors ----------------------------------------------------------------------------------

/** tests/programs/reactor_calc.c (a reactor: _initialize, no _start), initialised. */
async function reactor(options = {}) {
	const stdout = [];
	const wasi = await startWasi(null, {stdout: bytes => stdout.push(bytes), stderr: null, ...options});
	const instance = await WebAssembly.instantiate(await programModule('reactor_calc'), wasi.importObj);
	wasi.initialize(instance);
	return {wasi, instance, output: () => decoder.decode(concat(stdout.splice(0)))};
}

test('a reactor is initialised, then its exports are invoked with numbers of every type', async () => {
	const {wasi, instance} = await reactor();
	assert.equal(wasi.invoke(instance, 'constructed'), 7); // _initialize ran its constructors
	assert.equal(wasi.invoke(instance, 'add', 2, 3), 5);
	assert.equal(wasi.invoke(instance, 'neg64', 5n), -5n);
	assert.equal(wasi.invoke(instance, 'half64', 3), 1.5);
	assert.equal(wasi.invoke(instance, 'umax'), -1); // an i32 comes back signed, as in JS
	wasi.close();
});

test('an invoke delivers its output, and an exit or a trap in one leaves the process usable', async () => {
	const {wasi, instance, output} = await reactor();
	assert.equal(wasi.invoke(instance, 'hello'), undefined);
	assert.equal(output(), 'hello from a reactor\n');
	assert.throws(() => wasi.invoke(instance, 'quit', 3), error => error instanceof WasiExit && error.code === 3);
	assert.equal(output(), 'quitting with 3\n');
	assert.throws(() => wasi.invoke(instance, 'trap'), WebAssembly.RuntimeError);
	assert.equal(output(), 'before the trap\n');
	assert.equal(wasi.invoke(instance, 'add', 1, 1), 2);
	assert.equal(wasi.fsck(), 0);
	wasi.close();
});

test('a reactor writes files that the filesystem API reads', async () => {
	const {wasi, instance} = await reactor({preopens: {'/out': '/out'}});
	assert.equal(wasi.invoke(instance, 'fill', 5000), 5000);
	assert.equal(wasi.readFile('/out/file').length, 5000);
	wasi.close();
});

test('commands and reactors are each refused by the other entry point', async () => {
	const {wasi, instance} = await reactor();
	assert.throws(() => wasi.start(instance), /use initialize\(\) and invoke\(\)/);
	assert.throws(() => wasi.invoke(instance, 'no_such_export'), /exports no function named/);
	wasi.close();
	const command = await startWasi(null, {args: ['api_tool'], stdout: null, stderr: null});
	const commandInstance = await WebAssembly.instantiate(await programModule('api_tool'), command.importObj);
	assert.throws(() => command.initialize(commandInstance), /is a WASI command/);
	command.close();
});
