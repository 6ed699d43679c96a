/**
 * Shared helpers of the vitest specs. Each spec uses a fresh temporary directory per test.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type * as arrow from "apache-arrow";
import { expect } from "vitest";
import { type Connection, connect, PalimpsestError, type Table } from "../../js/index";
import { rng } from "./prng.mjs";

export { rng };

/** A new empty directory under the OS temp dir. */
export function tempDir(prefix = "palimpsest-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Remove a directory made by {@link tempDir}. */
export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Connect to a fresh temp directory. */
export async function freshDb(): Promise<{ dir: string; db: Connection }> {
  const dir = tempDir();
  return { dir, db: await connect(dir) };
}

/** A string's 32-bit FNV-1a hash, to seed {@link rng} from text. */
export function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A deterministic unit-length Float32 "embedding" of `dim` values: a stand-in for a real
 * model (the tests need stable vectors, not meaningful ones).
 */
export function fakeEmbedding(text: string, dim: number): Float32Array {
  const next = rng(hash(`${dim}:${text}`));
  const v = new Float32Array(dim);
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    v[i] = next() * 2 - 1;
    norm += v[i]! * v[i]!;
  }
  norm = Math.sqrt(norm);
  for (let i = 0; i < dim; i++) v[i] = v[i]! / norm;
  return v;
}

/**
 * Deep-convert a value read from apache-arrow into plain JS: Vectors become arrays,
 * struct rows objects; bigint, Uint8Array and primitives stay as they are.
 */
export function plain(value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value !== "object") return value;
  if (value instanceof Uint8Array || value instanceof Date) return value;
  if (Array.isArray(value)) return value.map(plain);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  const toJSON = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof toJSON === "function") return plain(toJSON.call(value));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

/** Rows of an apache-arrow table as plain objects, sorted by `key` when given. */
export function rowsOf(table: arrow.Table, key?: string): Record<string, unknown>[] {
  const rows = table.toArray().map((r) => plain(r) as Record<string, unknown>);
  if (key !== undefined) rows.sort((a, b) => compareKeys(a[key], b[key]));
  return rows;
}

/** All rows of the table's current view, plain and sorted by `key`. */
export async function tableRows(table: Table, key = "id"): Promise<Record<string, unknown>[]> {
  return rowsOf(await table.toArrow(), key);
}

function compareKeys(a: unknown, b: unknown): number {
  if (typeof a === "bigint" && typeof b === "bigint") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b));
}

/** Field names of an apache-arrow schema. */
export function fieldNames(schema: arrow.Schema): string[] {
  return schema.fields.map((f) => f.name);
}

/**
 * Assert that `promise` rejects with a {@link PalimpsestError} of `code` (and, when given,
 * of class `ctor`), and return the error.
 */
export async function expectCode(
  promise: Promise<unknown>,
  code: string,
  ctor?: abstract new (...args: never[]) => PalimpsestError,
): Promise<PalimpsestError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a rejection with ${code}`).toBeInstanceOf(PalimpsestError);
  const err = caught as PalimpsestError;
  expect(err.code, err.message).toBe(code);
  expect(err.message.length).toBeGreaterThan(0);
  if (ctor) expect(err).toBeInstanceOf(ctor);
  return err;
}

/** Sleep `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Squared Euclidean distance (what lance calls l2). */
export function l2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s;
}

/** Dot product. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Cosine distance, 1 - cos(a, b). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return 1 - dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
}
