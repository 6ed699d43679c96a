/**
 * The x86-64 binary is compiled for Haswell or newer CPUs (`.cargo/config.toml`). On an
 * older CPU, or an emulator that lacks those instructions, its first such instruction
 * would kill the process with SIGILL; checking the CPU's flags before loading it turns
 * that into a typed error.
 *
 * Internal: not part of the public API.
 */
import { readFileSync } from "node:fs";

/**
 * The `/proc/cpuinfo` names of the instruction sets `-C target-cpu=haswell` lets the
 * compiler emit (`rustc --print cfg -C target-cpu=haswell`; `abm` is LZCNT).
 */
export const REQUIRED_CPU_FLAGS = [
  "avx2",
  "fma",
  "f16c",
  "bmi1",
  "bmi2",
  "movbe",
  "abm",
  "avx",
  "pclmulqdq",
  "popcnt",
  "sse4_1",
  "sse4_2",
  "ssse3",
  "xsave",
];

/** Set to `1` to skip the check, for a binary built with other `RUSTFLAGS`. */
export const SKIP_CPU_CHECK_ENV = "PALIMPSEST_SKIP_CPU_CHECK";

/**
 * The required flags missing from a `/proc/cpuinfo` text (its first `flags` line); none
 * when the text has no such line (nothing to judge by).
 */
export function missingCpuFlags(cpuinfo: string): string[] {
  const line = cpuinfo.split("\n").find((l) => /^flags\s*:/.test(l));
  if (!line) return [];
  const flags = new Set(
    line
      .slice(line.indexOf(":") + 1)
      .trim()
      .split(/\s+/),
  );
  return REQUIRED_CPU_FLAGS.filter((f) => !flags.has(f));
}

/**
 * Why this machine cannot run the x86-64 binary, or undefined when it can (or when it is
 * not Linux on x86-64, or the check is skipped or cannot read the CPU's flags).
 */
export function unsupportedCpuReason(
  platform: string = process.platform,
  arch: string = process.arch,
  env: Record<string, string | undefined> = process.env,
  readCpuinfo: () => string = () => readFileSync("/proc/cpuinfo", "utf8"),
): string | undefined {
  if (platform !== "linux" || arch !== "x64" || env[SKIP_CPU_CHECK_ENV] === "1") return undefined;
  let cpuinfo: string;
  try {
    cpuinfo = readCpuinfo();
  } catch {
    return undefined;
  }
  const missing = missingCpuFlags(cpuinfo);
  if (missing.length === 0) return undefined;
  return (
    `this CPU lacks ${missing.join(", ")}, which palimpsest's x86-64 binary needs ` +
    "(it is built for Haswell, 2013, or newer). Run on a newer CPU or without an emulator " +
    "that hides them, or build from source for this CPU (`RUSTFLAGS='-C target-cpu=native' " +
    `npm run build:release\`) and set ${SKIP_CPU_CHECK_ENV}=1`
  );
}
