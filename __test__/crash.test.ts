/**
 * Crash safety: a child Node process writes in a loop and is killed with SIGKILL at random
 * moments. After every kill the table opens, its latest version is the last acknowledged
 * one or the one that was being committed, it holds exactly the rows of that version (every
 * acknowledged write, no partial write), and further writes work.
 *
 * PALIMPSEST_KILLS sets the number of kills (default 20; `npm run test:stress` runs 200).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Field, Int64, Schema, Utf8 } from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../js/index";
import { removeDir, rng, tableRows, tempDir } from "./helpers/facade";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const child = path.join(here, "crash-child.mjs");
const KILLS = Number(process.env.PALIMPSEST_KILLS ?? 20);

const schema = new Schema([
  new Field("id", new Int64(), false),
  new Field("val", new Int64(), false),
  new Field("tag", new Utf8(), true),
]);

type Row = { val: bigint; tag: string | null };
type Model = Map<bigint, Row>;
type Op =
  | { kind: "add"; ids: number[] }
  | { kind: "update"; mod: number; rem: number }
  | { kind: "delete"; mod: number; rem: number }
  | { kind: "merge"; rows: { id: number; val: number; tag: string }[] };

/** The model's rows after `op`, as the table would have them. */
function apply(model: Model, op: Op): Model {
  const out: Model = new Map([...model].map(([k, v]) => [k, { ...v }]));
  if (op.kind === "add") {
    for (const id of op.ids) out.set(BigInt(id), { val: BigInt(id), tag: `a${id}` });
  } else if (op.kind === "update") {
    for (const [id, row] of out) if (id % BigInt(op.mod) === BigInt(op.rem)) row.val += 1n;
  } else if (op.kind === "delete") {
    for (const id of [...out.keys()]) if (id % BigInt(op.mod) === BigInt(op.rem)) out.delete(id);
  } else {
    for (const r of op.rows) out.set(BigInt(r.id), { val: BigInt(r.val), tag: r.tag });
  }
  return out;
}

function modelRows(model: Model): Record<string, unknown>[] {
  return [...model]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, r]) => ({ id, val: r.val, tag: r.tag }));
}

interface Run {
  pending: Op | null;
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

let dir: string;

beforeAll(() => {
  for (const f of ["dist/index.js", "dist/native.js", "js/native.js"]) {
    if (!fs.existsSync(path.join(root, f))) {
      throw new Error(`${f} is missing: run \`npm run build\` before this spec`);
    }
  }
  dir = tempDir("palimpsest-crash-");
});
afterAll(() => removeDir(dir));

describe("SIGKILL during writes", () => {
  it(
    `survives ${KILLS} kills with every acknowledged write and no partial one`,
    async () => {
      const db = await connect(dir);
      const initial = Array.from({ length: 20 }, (_, i) => ({
        id: BigInt(i),
        val: BigInt(i),
        tag: `a${i}`,
      }));
      const created = await db.createTable("crash", initial, { schema });
      created.close();
      let model: Model = new Map(initial.map((r) => [r.id, { val: r.val, tag: r.tag }]));
      let version = 1;
      const next = rng(0xc0ffee);
      let acked = 0;
      let committedPending = 0;

      for (let k = 0; k < KILLS; k++) {
        const delay = Math.floor(next() * 300);
        const run = await runStep(k, delay);
        expect(run.signal, `child ${k} exited by itself: ${run.stderr}`).toBe("SIGKILL");

        // The model at the last acknowledged version, and with the pending write.
        const acknowledged = model;
        const withPending = run.pending ? apply(model, run.pending) : null;

        const conn = await connect(dir);
        const table = await conn.openTable("crash");
        const latest = await table.version();
        const allowed = run.pending ? [version, version + 1] : [version];
        expect(allowed, `kill ${k}: latest version ${latest}`).toContain(latest);
        const rows = await tableRows(table);
        if (latest === version) {
          expect(rows, `kill ${k}: rows at the last acknowledged version ${version}`).toEqual(
            modelRows(acknowledged),
          );
          model = acknowledged;
        } else {
          committedPending++;
          expect(rows, `kill ${k}: rows at the version being committed ${latest}`).toEqual(
            modelRows(withPending as Model),
          );
          model = withPending as Model;
        }
        const versions = (await table.listVersions()).map((v) => v.version);
        expect(versions).toEqual(Array.from({ length: latest }, (_, i) => i + 1));

        // Further writes work, and land on the next version.
        const id = BigInt(-(k + 1));
        expect(await table.add([{ id, val: 0n, tag: "parent" }])).toEqual({
          version: latest + 1,
          rowsAdded: 1,
        });
        model.set(id, { val: 0n, tag: "parent" });
        version = latest + 1;
        expect(await table.countRows()).toBe(model.size);
        table.close();
        conn.close();
      }
      // The children did write between the kills.
      expect(acked).toBeGreaterThan(0);
      // Kept for the log: how often the kill hit a write whose commit had completed.
      console.log(
        `${KILLS} kills, ${acked} acknowledged writes, ${committedPending} pending ones committed`,
      );
      db.close();

      /** Run child `k`, folding each acknowledged write into the model. */
      async function runStep(k: number, delay: number): Promise<Run> {
        const run = await runAndKill(dir, k + 1, (k + 1) * 1_000_000, delay);
        for (const { op, ack } of run.acked) {
          version++;
          expect(ack, `kill ${k}: each write creates exactly the next version`).toBe(version);
          model = apply(model, op);
          acked++;
        }
        return run;
      }
    },
    KILLS * 10_000 + 60_000,
  );
});

/**
 * Run one child and SIGKILL it `delayMs` after it is ready to write. Returns each
 * acknowledged write with its version, and the write in flight when it died.
 */
async function runAndKill(
  dir: string,
  seed: number,
  idBase: number,
  delayMs: number,
): Promise<Run & { acked: { op: Op; ack: number }[] }> {
  const acked: { op: Op; ack: number }[] = [];
  const run = await new Promise<Run>((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dir, "crash", String(seed), String(idBase)], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Run = { pending: null, signal: null, code: null, stderr: "" };
    let buffer = "";
    let killTimer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => proc.kill("SIGKILL"), 60_000);
    proc.stdout.setEncoding("utf8");
    proc.stdout.on("data", (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const msg = JSON.parse(buffer.slice(0, nl)) as {
          ready?: number;
          pending?: Op;
          ack?: number;
        };
        buffer = buffer.slice(nl + 1);
        if (msg.ready !== undefined) {
          killTimer ??= setTimeout(() => proc.kill("SIGKILL"), delayMs);
        } else if (msg.pending !== undefined) {
          out.pending = msg.pending;
        } else if (msg.ack !== undefined) {
          acked.push({ op: out.pending as Op, ack: msg.ack });
          out.pending = null;
        }
      }
    });
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (chunk: string) => {
      out.stderr += chunk;
    });
    proc.on("error", reject);
    proc.on("close", (code, signal) => {
      clearTimeout(guard);
      if (killTimer) clearTimeout(killTimer);
      out.code = code;
      out.signal = signal;
      resolve(out);
    });
  });
  return { ...run, acked };
}
