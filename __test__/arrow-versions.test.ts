/**
 * Users bring their own apache-arrow major (15..21). Data built with each one must write and
 * read back exactly, although our own copy is a different major.
 */
import * as arrow15 from "apache-arrow-15";
import * as arrow21 from "apache-arrow-21";
import { afterEach, describe, expect, it } from "vitest";
import { freshDb, removeDir } from "./helpers/facade";

type ArrowModule = typeof arrow15 | typeof arrow21;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

function sampleTable(a: ArrowModule) {
  // biome-ignore lint/suspicious/noExplicitAny: the two majors' type declarations differ.
  const A = a as any;
  const dim = 4;
  const rows = 25;
  const vectors = new Float32Array(rows * dim).map((_, i) => i / 8);
  const vectorType = new A.FixedSizeList(dim, new A.Field("item", new A.Float32(), true));
  const vectorData = A.makeData({
    type: vectorType,
    length: rows,
    nullCount: 0,
    child: A.makeData({ type: new A.Float32(), length: rows * dim, data: vectors }),
  });
  const table = new A.Table({
    id: A.vectorFromArray(
      Array.from({ length: rows }, (_, i) => BigInt(i) * 1_000_000_007n),
      new A.Int64(),
    ),
    name: A.vectorFromArray(
      Array.from({ length: rows }, (_, i) => (i % 5 === 0 ? null : `row ${i}`)),
      new A.Utf8(),
    ),
    score: A.vectorFromArray(
      Array.from({ length: rows }, (_, i) => i * 0.25),
      new A.Float64(),
    ),
    vector: A.makeVector(vectorData),
  });
  return { table, rows, dim, vectors };
}

describe.each([
  ["apache-arrow 15", arrow15 as ArrowModule],
  ["apache-arrow 21", arrow21 as ArrowModule],
])("data built with %s", (_label, a) => {
  it("creates a table, appends a slice, and reads every value back", async () => {
    const { dir, db } = await freshDb();
    dirs.push(dir);
    const { table, rows, dim, vectors } = sampleTable(a);
    const t = await db.createTable("t", table);
    // A sliced table: offsets into the same buffers must be honoured.
    const slice = table.slice(10, 20);
    await t.add(slice);
    expect(await t.countRows()).toBe(rows + 10);

    const out = await t.query().toArrow();
    expect(out.numRows).toBe(rows + 10);
    const ids = out.getChild("id")!.toArray() as BigInt64Array;
    const names = out.getChild("name")!.toArray();
    const vecCol = out.getChild("vector")!;
    for (let r = 0; r < rows + 10; r++) {
      const src = r < rows ? r : r - rows + 10;
      expect(ids[r]).toBe(BigInt(src) * 1_000_000_007n);
      expect(names[r]).toBe(src % 5 === 0 ? null : `row ${src}`);
      const v = vecCol.get(r)!.toArray() as Float32Array;
      expect(Array.from(v)).toEqual(Array.from(vectors.subarray(src * dim, (src + 1) * dim)));
    }
  });
});
