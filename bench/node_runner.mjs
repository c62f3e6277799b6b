// Runs bench.wasm in Node under one WASI implementation and prints what the program printed.
// usage: node node_runner.mjs RUNTIME BENCH.wasm ARGS...   (RUNTIME: node-wasi | shim | wasi-mjs | wasi-mjs-fallback)
import { readFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [runtime, wasmPath, ...args] = process.argv.slice(2);
const bytes = await readFile(wasmPath);
const module = await WebAssembly.compile(bytes);

async function runNodeWasi() {
  const { WASI } = await import("node:wasi");
  const dir = await mkdtemp(join(process.env.BENCH_TMP || tmpdir(), "bench-"));
  try {
    const wasi = new WASI({ version: "preview1", args: ["bench.wasm", ...args], preopens: { "/w": dir }, returnOnExit: true });
    const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
    return wasi.start(instance);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function runShim() {
  const shim = await import("@bjorn3/browser_wasi_shim");
  const out = [];
  const stdout = shim.ConsoleStdout.lineBuffered((line) => out.push(line));
  const stderr = shim.ConsoleStdout.lineBuffered((line) => process.stderr.write(line + "\n"));
  const fds = [new shim.OpenFile(new shim.File([])), stdout, stderr,
    new shim.PreopenDirectory("/w", new Map())];
  const wasi = new shim.WASI(["bench.wasm", ...args], [], fds);
  const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.wasiImport });
  const code = wasi.start(instance);
  process.stdout.write(out.map((l) => l + "\n").join(""));
  return code;
}

async function runWasiMjs(bridge) {
  const { startWasi, getWasi } = await import("../wasi.mjs");
  const wasi = await startWasi(await getWasi(), {
    args: ["bench.wasm", ...args],
    preopens: { "/w": "/w" },
    stdout: (data) => process.stdout.write(data),
    stderr: (data) => process.stderr.write(data),
    bridge,
    // Chunks at a size threshold, as the Python host's run() captures: the core buffers.
    lineBuffered: false,
  });
  const instance = await WebAssembly.instantiate(module, wasi.importObj);
  return wasi.start(instance);
}

const runners = {
  "node-wasi": runNodeWasi,
  shim: runShim,
  "wasi-mjs": () => runWasiMjs(true),
  "wasi-mjs-fallback": () => runWasiMjs(false),
};
if (!runners[runtime]) {
  console.error(`unknown runtime ${runtime}`);
  process.exit(2);
}
process.exitCode = await runners[runtime]();
