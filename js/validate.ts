/**
 * Argument checks shared by the facade. Each throws {@link InvalidArgumentError} with a
 * message that names the argument and says what is expected.
 *
 * Internal: not part of the public API.
 */
import { InvalidArgumentError } from "./errors";
import type { NativeWriteNote } from "./native-types";

const TABLE_NAME = /^[A-Za-z0-9_.-]+$/;

/** Longest table name accepted (a file name component on most file systems). */
export const MAX_TABLE_NAME_LENGTH = 249;

/**
 * Check a table name: letters, digits, `_`, `-` and `.`, no `..`, no path separators,
 * not empty, at most 249 characters (the directory adds `.lance`: 255 bytes in all). The native side checks the same rules.
 */
export function checkTableName(name: unknown): asserts name is string {
  if (typeof name !== "string") {
    throw new InvalidArgumentError(`Table name must be a string, got ${describe(name)}`);
  }
  if (name.length === 0) throw new InvalidArgumentError("Table name must not be empty");
  if (name.length > MAX_TABLE_NAME_LENGTH) {
    throw new InvalidArgumentError(
      `Table name is ${name.length} characters long; the limit is ${MAX_TABLE_NAME_LENGTH}`,
    );
  }
  if (!TABLE_NAME.test(name)) {
    throw new InvalidArgumentError(
      `Invalid table name ${JSON.stringify(name)}: use only letters, digits, "_", "-" and "."`,
    );
  }
  if (name.includes("..")) {
    throw new InvalidArgumentError(
      `Invalid table name ${JSON.stringify(name)}: it must not contain ".."`,
    );
  }
}

/** Check that `value` is a non-empty string. */
export function checkString(value: unknown, what: string): asserts value is string {
  if (typeof value !== "string" || value.length === 0) {
    throw new InvalidArgumentError(`${what} must be a non-empty string, got ${describe(value)}`);
  }
}

/** Check that `value` is a non-empty array of non-empty strings; returns a copy. */
export function checkStrings(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidArgumentError(`${what} must be a non-empty array of strings`);
  }
  for (const [i, v] of value.entries()) checkString(v, `${what}[${i}]`);
  return [...(value as string[])];
}

/** Check that `value` is a safe integer >= `min`. */
export function checkInteger(value: unknown, what: string, min: number): asserts value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`${what} must be an integer >= ${min}, got ${describe(value)}`);
  }
}

/** Check that `value` is a version number (an integer >= 1). */
export function checkVersion(value: unknown, what = "version"): asserts value is number {
  checkInteger(value, what, 1);
}

/** Check that `value` is one of `allowed`. */
export function checkOneOf<T extends string>(
  value: unknown,
  allowed: readonly T[],
  what: string,
): asserts value is T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(
      `${what} must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${describe(value)}`,
    );
  }
}

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "string")
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return `${typeof value} ${String(value)}`;
  }
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return `a ${typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value}`;
}

/** Entries of a plain object or a Map, checked to be non-empty. */
export function entriesOf<V>(
  value: Record<string, V> | Map<string, V>,
  what: string,
): [string, V][] {
  let entries: [string, V][];
  if (value instanceof Map) entries = [...value.entries()];
  else if (typeof value === "object" && value !== null && !Array.isArray(value))
    entries = Object.entries(value);
  else throw new InvalidArgumentError(`${what} must be an object or a Map, got ${describe(value)}`);
  if (entries.length === 0) throw new InvalidArgumentError(`${what} must name at least one column`);
  for (const [k] of entries) checkString(k, `${what} column name`);
  return entries;
}

/** Property keys starting with this are reserved for palimpsest's own records. */
export const RESERVED_PROPERTY_PREFIX = "palimpsest.";

/**
 * Check the `message` and `properties` of a write's options (see `WriteOptions`) and
 * return them as the native note, or null when neither is given. `options` may be
 * undefined (no note); other fields of it are ignored here.
 */
export function writeNote(options: unknown, what: string): NativeWriteNote | null {
  if (options === undefined) return null;
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`${what} options must be an object, got ${describe(options)}`);
  }
  const { message, properties } = options as { message?: unknown; properties?: unknown };
  const note: NativeWriteNote = {};
  if (message !== undefined) {
    if (typeof message !== "string") {
      throw new InvalidArgumentError(`${what} message must be a string, got ${describe(message)}`);
    }
    note.message = message;
  }
  if (properties !== undefined) note.properties = checkProperties(properties, what);
  return note.message === undefined && note.properties === undefined ? null : note;
}

/** Check write properties: a plain object of string values, keys non-empty and not reserved. */
function checkProperties(value: unknown, what: string): Record<string, string> {
  const proto =
    typeof value === "object" && value !== null ? Object.getPrototypeOf(value) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new InvalidArgumentError(
      `${what} properties must be a plain object of strings, got ${describe(value)}`,
    );
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k.length === 0) {
      throw new InvalidArgumentError(`${what} properties: a property key cannot be empty`);
    }
    if (k.startsWith(RESERVED_PROPERTY_PREFIX)) {
      throw new InvalidArgumentError(
        `${what} properties: key ${JSON.stringify(k)} starts with "${RESERVED_PROPERTY_PREFIX}", ` +
          "which palimpsest reserves for itself; pick another key",
      );
    }
    if (typeof v !== "string") {
      throw new InvalidArgumentError(
        `${what} properties.${k} must be a string, got ${describe(v)}`,
      );
    }
    out[k] = v;
  }
  return out;
}
