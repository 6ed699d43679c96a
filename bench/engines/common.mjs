// Shared by the engine adapters.

/** Thrown by an adapter for a workload the engine does not have; shown as "n/a (reason)". */
export class NotAvailable extends Error {
  constructor(reason) {
    super(reason);
    this.na = reason;
  }
}

/** The ids (as numbers) of an apache-arrow result's `id` column. */
export function idsOf(table) {
  const col = table.getChild("id");
  const out = new Array(table.numRows);
  let i = 0;
  for (const v of col) out[i++] = Number(v);
  return out;
}
