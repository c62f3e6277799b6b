// @ts-check
/* The symlinks of a tree given to Wasi.writeTree() (js/snapshot.mjs builds the tree). */

import {describe} from './errors.mjs';

/** A symlink in a tree given to writeTree(): `{link: new Symlink('target')}`. */
export class Symlink {
	/** @param {string} target what the link points to: a relative path */
	constructor(target) {
		if (typeof target !== 'string') throw new TypeError(`a Symlink's target is a string, not ${describe(target)}`);
		this.target = target;
	}
}

