// ESLint (pinned in package-lock.json; run by .ci/run as `npx --no-install eslint`): the
// recommended rules on the JS loader's sources and the JS tests. Types are TypeScript's job
// (tsconfig.json); this catches what type-checking lets through (unused code, unsafe patterns).
import js from '@eslint/js';

// The globals the sources may meet: the language's, and those of browsers, Workers, Worklets
// and Node that they look for (each guarded where it may be missing).
const platformGlobals = Object.fromEntries([
	'console', 'performance', 'crypto', 'fetch', 'URL', 'TextEncoder', 'TextDecoder', 'atob',
	'self', 'window', 'document', 'navigator', 'location', 'Worker', 'MessageChannel',
	'SharedArrayBuffer', 'Atomics', 'WebAssembly', 'setTimeout', 'clearTimeout', 'setInterval',
	'clearInterval', 'queueMicrotask', 'structuredClone', 'process', 'globalThis', 'Buffer',
	'sampleRate', 'currentTime', 'registerProcessor', 'AudioWorkletProcessor', 'postMessage',
	'onmessage', 'importScripts', 'FinalizationRegistry', 'WeakRef', 'Blob', 'Response',
	'URLSearchParams', 'OfflineAudioContext', 'AudioWorkletNode', 'ReadableStream', 'XMLHttpRequest',
].map(name => [name, 'readonly']));

export default [
	{ignores: ['node_modules/**', 'bench/**', 'wasi.mjs', 'wasi-bundled.mjs', 'fuzz/**', '.venv/**']},
	js.configs.recommended,
	{
		files: ['js/*.mjs', 'tests/js/**/*.mjs', 'tools/*.mjs', '*.mjs'],
		languageOptions: {ecmaVersion: 2022, sourceType: 'module', globals: platformGlobals},
		rules: {
			// `const {memory: _memory, ...rest} = x` takes a property out on purpose.
			'no-unused-vars': ['error', {ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
		},
	},
];
