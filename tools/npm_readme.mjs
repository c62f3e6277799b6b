// The npm package's README: npm always ships the root README.md (the Python-first one), so
// `npm pack` / `npm publish` put README.npm.md in its place for the packing and back after.
//   node tools/npm_readme.mjs swap      (prepack)   README.md -> .README.repo.md, README.npm.md -> README.md
//   node tools/npm_readme.mjs restore   (postpack)  .README.repo.md -> README.md
// A pack that failed between the two leaves .README.repo.md behind: `swap` restores it first.
import {copyFileSync, existsSync, renameSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = `${root}README.md`, npmReadme = `${root}README.npm.md`, kept = `${root}.README.repo.md`;

function restore() {
	if (existsSync(kept)) renameSync(kept, readme);
}

const command = process.argv[2];
if (command === 'swap') {
	restore();
	renameSync(readme, kept);
	copyFileSync(npmReadme, readme);
} else if (command === 'restore') {
	restore();
} else {
	console.error('usage: node tools/npm_readme.mjs swap|restore');
	process.exitCode = 2;
}
