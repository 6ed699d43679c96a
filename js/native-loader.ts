/**
 * Loads the native module and funnels every call into it through one place, so that
 * each failure surfaces as a typed {@link PalimpsestError}.
 *
 * Internal: not part of the public API.
 */
import { unsupportedCpuReason } from "./cpu-check";
import { errorFromNative, InternalError } from "./errors";
import type { NativeModule } from "./native-types";

let cached: NativeModule | undefined;

/**
 * The native module, loaded on first use (so importing the package never fails just
 * because the binary is missing; the first call that needs it does, with a clear error).
 *
 * Resolves `./native`: `js/native.js` (the napi-rs loader) when running from source,
 * `dist/native.js` (which re-exports `../js/native.js`) when running the compiled package.
 *
 * @throws {InternalError} when the binary cannot be loaded, or this CPU cannot run it.
 */
export function loadNative(): NativeModule {
  if (cached) return cached;
  const cpu = unsupportedCpuReason();
  if (cpu) throw new InternalError(`The palimpsest native module was not loaded: ${cpu}.`);
  try {
    cached = require("./native") as NativeModule;
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new InternalError(
      `The palimpsest native module could not be loaded (${detail}). ` +
        "From a source checkout run `npm run build`; from npm, reinstall so the " +
        "platform package with the prebuilt binary is installed.",
      { cause },
    );
  }
  return cached;
}

/**
 * Run one native call and convert any failure (a rejected promise or a synchronous
 * throw) into the matching {@link PalimpsestError} subclass via `errorFromNative`.
 * This is the only way the facade calls into the native module.
 */
export async function callNative<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw errorFromNative(err);
  }
}

/**
 * Synchronous twin of {@link callNative}, for the few native methods that do not
 * return a promise (`close`, `isOpen`, `checkedOutVersion`). A promise coming back
 * means the native module breaks its contract; that fails loudly instead of being
 * mistaken for a truthy value.
 */
export function callNativeSync<T>(fn: () => T, what: string): T {
  let result: T;
  try {
    result = fn();
  } catch (err) {
    throw errorFromNative(err);
  }
  if (typeof (result as { then?: unknown } | null)?.then === "function") {
    throw new InternalError(
      `Native ${what}() returned a promise; docs/native-contract.md declares it synchronous`,
    );
  }
  return result;
}

/**
 * Read the number `key` of a native result object, failing loudly (INTERNAL) when the
 * native module does not return the field the contract names.
 */
export function resultNumber(result: object, key: string, what: string): number {
  const value = (result as Record<string, unknown>)[key];
  if (typeof value !== "number") {
    throw new InternalError(
      `Native ${what}() returned no number "${key}" (got ${JSON.stringify(Object.keys(result))}); see docs/native-contract.md`,
    );
  }
  return value;
}
