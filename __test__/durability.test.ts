/**
 * Durability: on local disk a write resolves only after its data files, deletion files,
 * manifest and the directories that gained entries (and, where a directory is new, the ones
 * above it) were fsynced. Shown by tracing the
 * system calls of a child process that marks on stdout when each write starts and ends.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { removeDir, tempDir } from "./helpers/facade";

const CHILD = path.join(__dirname, "durability-child.mjs");
const hasStrace = spawnSync("strace", ["-V"]).status === 0;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

/** The fsynced paths between the BEGIN and ACK marks of `write`. */
function fsyncsDuring(trace: string[], write: string): string[] {
  const at = (mark: string) =>
    trace.findIndex((l) => /write\(1</.test(l) && l.includes(`"${mark}`));
  const begin = at(`BEGIN-${write}`);
  const ack = at(`ACK-${write}`);
  expect(begin, `BEGIN-${write} in the trace`).toBeGreaterThanOrEqual(0);
  expect(ack, `ACK-${write} after BEGIN`).toBeGreaterThan(begin);
  return (
    trace
      .slice(begin, ack)
      // With -f a call may be split into "<unfinished ...>" and "resumed" lines; the first
      // one names the file.
      .flatMap((l) => /f(?:data)?sync\(\d+<([^>]*)>/.exec(l)?.slice(1, 2) ?? [])
  );
}

function traceChild(durable: boolean): { dir: string; trace: string[] } {
  const dir = tempDir();
  dirs.push(dir);
  const out = path.join(dir, "trace.txt");
  execFileSync(
    "strace",
    [
      "-f",
      "-y",
      "-qq",
      "-e",
      "trace=fsync,fdatasync,write",
      "-o",
      out,
      process.execPath,
      CHILD,
      dir,
      String(durable),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  return { dir, trace: fs.readFileSync(out, "utf8").split("\n") };
}

describe.skipIf(!hasStrace)("durability (strace)", () => {
  it("flushes data, deletion files, manifest and directories before a write resolves", () => {
    const { dir, trace } = traceChild(true);
    const table = path.join(dir, "t.lance");
    const add = fsyncsDuring(trace, "ADD");
    expect(
      add.some((p) => p.startsWith(`${table}/data/`) && p.endsWith(".lance")),
      add.join("\n"),
    ).toBe(true);
    expect(add.some((p) => p.startsWith(`${table}/_versions/`) && p.endsWith(".manifest"))).toBe(
      true,
    );
    for (const d of ["data", "_versions"]) expect(add).toContain(`${table}/${d}`);
    // A new table's directory, and the one holding it, are flushed with its first commit;
    // later commits gain no entry in them, so they flush only what they wrote into.
    const create = fsyncsDuring(trace, "CREATE");
    for (const d of [table, dir, `${table}/data`, `${table}/_versions`]) {
      expect(create, create.join("\n")).toContain(d);
    }
    expect(add).not.toContain(table);
    expect(fsyncsDuring(trace, "RESTORE")).toEqual([
      expect.stringMatching(/\/_versions\/\d+\.manifest$/),
      `${table}/_versions`,
    ]);
    // Every data file reaches the disk before the manifest that makes it visible.
    const lastDataAt = add.reduce((at, p, i) => (p.startsWith(`${table}/data/`) ? i : at), -1);
    const manifestAt = add.findIndex((p) => p.endsWith(".manifest"));
    expect(lastDataAt).toBeGreaterThanOrEqual(0);
    expect(lastDataAt).toBeLessThan(manifestAt);
    const del = fsyncsDuring(trace, "DELETE");
    expect(
      del.some((p) => p.startsWith(`${table}/_deletions/`)),
      del.join("\n"),
    ).toBe(true);
    // The first delete makes `_deletions`, a new name in the table's directory.
    for (const d of [`${table}/_deletions`, table]) expect(del).toContain(d);
  });

  it("flushes tag and branch records, and the directories they are in, before they resolve", () => {
    const { dir, trace } = traceChild(true);
    const table = path.join(dir, "t.lance");
    const tag = fsyncsDuring(trace, "TAG");
    expect(tag, tag.join("\n")).toContain(`${table}/_refs/tags/snapshot.json`);
    for (const d of ["_refs/tags", "_refs"]) expect(tag).toContain(`${table}/${d}`);
    expect(tag).toContain(table);
    const branch = fsyncsDuring(trace, "BRANCH");
    // lance escapes the `/` of a nested branch name in its record's file name.
    expect(branch, branch.join("\n")).toContain(`${table}/_refs/branches/exp%2Fone.json`);
    // The branch's first manifest, then the directories above its own that are new.
    expect(branch.some((p) => p.startsWith(`${table}/tree/exp/one/_versions/`))).toBe(true);
    for (const d of ["_refs/branches", "_refs", "tree/exp", "tree"]) {
      expect(branch).toContain(`${table}/${d}`);
    }
    // A removed record: the directory that held it is flushed; for a branch, so are the
    // directories its own directory was removed from (tree/exp still holds exp/two).
    expect(fsyncsDuring(trace, "UNTAG")).toContain(`${table}/_refs/tags`);
    const unbranch = fsyncsDuring(trace, "UNBRANCH");
    for (const d of ["_refs/branches", "tree/exp", "tree"]) {
      expect(unbranch, unbranch.join("\n")).toContain(`${table}/${d}`);
    }
  });

  it("skips the flushes for scratch tables (durable: false)", () => {
    const { dir, trace } = traceChild(false);
    const table = path.join(dir, "t.lance");
    expect(fsyncsDuring(trace, "ADD").filter((p) => p.startsWith(table))).toEqual([]);
  });
});
