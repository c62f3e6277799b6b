// The parts of Node that the loader uses, declared here instead of depending on @types/node:
// the checker then keeps the rest of Node's globals out of code that also runs in browsers.

declare var process: {
	versions?: {node?: string};
	hrtime?: {bigint?: () => bigint};
	cpuUsage?: () => {user: number, system: number};
	threadCpuUsage?: () => {user: number, system: number};
	getBuiltinModule?: (id: string) => unknown;
	env?: Record<string, string | undefined>;
};

declare module 'node:fs/promises' {
	export function readFile(path: URL): Promise<Uint8Array>;
}
