// Timing helpers, RSS, directory sizes, and the machine probes (memory and disk bandwidth).
import { execFileSync } from "node:child_process";
import { closeSync, fsyncSync, openSync, readdirSync, rmSync, statSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";

export const now = () => performance.now() / 1000;

/** Seconds one call of fn takes. */
export async function timed(fn) {
  const t0 = now();
  const out = await fn();
  return { seconds: now() - t0, out };
}

/**
 * A full GC (when exposed), then one turn of the event loop so the finalizers it scheduled
 * (native memory of earlier results) run before the next measurement, not during it.
 */
export async function settle() {
  globalThis.gc?.();
  await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Writes back every dirty page on the machine (`sync`), untimed. LanceDB does not flush its
 * writes, so the kernel writes them back later, slowing whatever runs meanwhile (a flush
 * most, which then waits behind them); each engine starts a workload with nothing pending.
 */
export function writeBack() {
  execFileSync("sync");
}

/**
 * Calls for a median of an operation that takes milliseconds or less: one stall of the VM
 * moves a median of 3, so such figures take at least this many (every engine alike).
 */
export const QUICK_RUNS = 9;

/** How many calls a quick operation's median takes: `--runs`, at least QUICK_RUNS. */
export const quickRuns = (opts) => Math.max(opts.runs, QUICK_RUNS);

/**
 * Calls `call(entry, round)` once per entry per round, `runs` rounds, each after settle():
 * operations of a few milliseconds on several engines or tables, timed in the same state of
 * the machine. Round i starts at entry i (mod the count) and goes round in order, so every
 * entry takes every position equally often and always follows the same neighbour, never
 * itself (a reversed order every other round would let the two end entries follow
 * themselves). Each entry gets `times` (seconds per call) or, once a call throws, `error`
 * (and no more calls).
 */
export async function interleaved(entries, runs, call) {
  for (const entry of entries) entry.times = [];
  for (let i = 0; i < runs; i++) {
    const start = entries.length ? i % entries.length : 0;
    for (const entry of [...entries.slice(start), ...entries.slice(0, start)]) {
      if (entry.error) continue;
      try {
        await settle();
        entry.times.push((await timed(() => call(entry, i))).seconds);
      } catch (err) {
        entry.error = err;
      }
    }
  }
  return entries;
}

/** Median seconds over `runs` calls (each after settle()), to damp cache and GC noise. */
export async function median(runs, fn) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    await settle();
    const t0 = now();
    await fn(i);
    times.push(now() - t0);
  }
  return middle(times);
}

/** The median of a list of numbers (the upper of the two middle ones for an even count). */
export function middle(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The q-quantile (0..1) of a list of numbers, nearest rank. */
export function quantile(values, q) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export const rss = () => process.memoryUsage().rss;

/** Bytes of all files under dir. */
export function dirBytes(dir) {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += dirBytes(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}

// ------------------------------------------------------------------ probes

/**
 * Disk sequential write bandwidth: write `mb` MB in 8 MB chunks to a file in dir, fsync,
 * and divide by the time (including the fsync). Bytes/s.
 */
export function diskWriteProbe(dir, mb) {
  const file = path.join(dir, "disk-probe.bin");
  const chunk = Buffer.alloc(8 << 20);
  for (let i = 0; i < chunk.length; i += 4096) chunk[i] = i & 255;
  const total = Math.max(1, Math.round(mb / 8)) * chunk.length;
  const t0 = now();
  const fd = openSync(file, "w");
  for (let w = 0; w < total; w += chunk.length) writeSync(fd, chunk);
  fsyncSync(fd);
  closeSync(fd);
  const seconds = now() - t0;
  rmSync(file, { force: true });
  return total / seconds;
}

// A worker that copies an mb-MB typed array `runs` times when told to, and reports its
// best time. Copy traffic counts both the read and the write (the STREAM convention).
const COPY_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const n = (workerData.mb << 20) / 8;
const src = new Float64Array(n);
const dst = new Float64Array(n);
for (let i = 0; i < n; i++) src[i] = i;
dst.set(src);
parentPort.on("message", () => {
  let best = Infinity;
  for (let r = 0; r < workerData.runs; r++) {
    const t0 = performance.now();
    dst.set(src);
    best = Math.min(best, performance.now() - t0);
  }
  parentPort.postMessage({ bytes: 2 * n * 8, seconds: best / 1000 });
});
`;

async function copyBandwidth(threads, mb, runs) {
  const workers = [];
  for (let i = 0; i < threads; i++) {
    workers.push(new Worker(COPY_WORKER, { eval: true, workerData: { mb, runs } }));
  }
  await Promise.all(workers.map((w) => new Promise((r) => w.once("online", r))));
  const results = await Promise.all(
    workers.map(
      (w) =>
        new Promise((resolve, reject) => {
          w.once("message", resolve);
          w.once("error", reject);
          w.postMessage("go");
        }),
    ),
  );
  await Promise.all(workers.map((w) => w.terminate()));
  const bytes = results.reduce((s, r) => s + r.bytes, 0);
  return bytes / Math.max(...results.map((r) => r.seconds));
}

/**
 * Memory bandwidth: the best of a one-thread and an all-cores large typed-array copy,
 * in bytes moved per second (read + write). Bytes/s.
 */
export async function memoryProbe(mb, runs) {
  const one = await copyBandwidth(1, mb, runs);
  const all = await copyBandwidth(os.cpus().length, mb, runs);
  return { one, all, best: Math.max(one, all) };
}
