// Types of concurrency-ops.mjs.
export type Op =
  | { kind: "inc"; rem: number }
  | { kind: "del"; owner: number; rem: number }
  | { kind: "merge"; rows: { id: number; note: string }[] };
export interface Outcome {
  op: Op;
  version?: number;
  code?: string;
  message?: string;
}
export interface SharedRow {
  id: bigint;
  owner: bigint | null;
  hits: bigint | null;
  note: string;
}
export const SHARED_ROWS: number;
export const OWNERS: number;
export function rng(seed: number): () => number;
export function planOps(w: number, count: number, seed: number): Op[];
export function runOp(table: unknown, op: Op): Promise<number>;
export function runPlan(table: unknown, ops: Op[]): Promise<Outcome[]>;
export function initialRows(): SharedRow[];
export function expectedRows(outcomesPerWriter: Outcome[][]): SharedRow[];
