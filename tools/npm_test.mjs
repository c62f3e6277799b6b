// `npm test`: the JS tests (tests/js/*.test.mjs, node:test) with Node alone, no Python, against
// wasi.mjs and wasi-bundled.mjs as committed. tests/test_js.py runs the same files on Node 20,
// Node 24 and both copy paths, with the C test programs it builds; here a file whose programs
// are not built is skipped, saying so. Programs (NAME.wasm, or the newest NAME-*.wasm) come
// from WASI_TEST_PROGRAM_DIR alone when it is set; else from tests/js/programs/prebuilt
// (committed: python tools/js_test_programs.py), then the Python suite's cache
// (WASI_WASM_TEST_CACHE, else tests/.cache).
//   node tools/npm_test.mjs [FILE.test.mjs ...]
import {spawnSync} from 'node:child_process';
import {existsSync, readdirSync, statSync} from 'node:fs';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testDir = join(root, 'tests', 'js');
// The programs (tests/programs/NAME.c) each file cannot run without; files not named here
// need none, or skip their own parts that need one.
const REQUIRES = {
	'api.test.mjs': ['api_tool', 'reactor_calc'],
	'limits.test.mjs': ['harden_limits'],
	'pipes.test.mjs': ['share_pipe'],
	'stdin.test.mjs': ['api_tool'],
	'lazy.test.mjs': ['lazy_ops'],
};
const OPTIONAL = ['snapshot_mutator'];

const programDirs = process.env.WASI_TEST_PROGRAM_DIR
	? [process.env.WASI_TEST_PROGRAM_DIR]
	: [join(testDir, 'programs', 'prebuilt'), process.env.WASI_WASM_TEST_CACHE ?? join(root, 'tests', '.cache')];

/** The newest build of tests/programs/NAME.c in the first of programDirs that has one.
    @param {string} name */
function findProgram(name) {
	for (const dir of programDirs) {
		if (!existsSync(dir)) continue;
		const builds = readdirSync(dir)
			.filter(file => file === `${name}.wasm` || (file.startsWith(`${name}-`) && file.endsWith('.wasm')))
			.map(file => join(dir, file));
		builds.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
		if (builds.length) return builds[0];
	}
	return undefined;
}

const {multiMemorySupported} = await import(new URL('../wasi.mjs', import.meta.url).href);
const multiMemory = multiMemorySupported() ? '1' : '0';
const programs = {};
for (const name of new Set([...Object.values(REQUIRES).flat(), ...OPTIONAL])) {
	const path = findProgram(name);
	if (path) programs[name] = path;
}
const files = process.argv.length > 2 ? process.argv.slice(2) : readdirSync(testDir).filter(file => file.endsWith('.test.mjs')).sort();
const results = [];
for (const file of files) {
	const missing = (REQUIRES[file] ?? []).filter(name => !programs[name]);
	if (missing.length) {
		results.push(`skipped ${file}: needs ${missing.join(', ')} (tests/programs/*.c: python tools/js_test_programs.py; or set WASI_TEST_PROGRAM_DIR)`);
		continue;
	}
	for (const module of ['wasi.mjs', 'wasi-bundled.mjs']) {
		console.log(`\n# ${file} on ${module}`);
		const run = spawnSync(process.execPath, ['--test', '--test-reporter=spec', join(testDir, file)], {
			stdio: 'inherit',
			env: {
				...process.env,
				WASI_MJS: join(root, module),
				WASI_TEST_PROGRAMS: JSON.stringify(programs),
				WASI_BRIDGE: 'auto',
				WASI_EXPECT_BRIDGE: multiMemory,
				WASI_EXPECT_MULTI_MEMORY: multiMemory,
			},
		});
		results.push(`${run.status === 0 ? 'passed' : 'FAILED'} ${file} on ${module}`);
		if (run.status !== 0) process.exitCode = 1;
	}
}
console.log(`\n${results.join('\n')}`);
