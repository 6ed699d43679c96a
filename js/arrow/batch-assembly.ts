/**
 * The apache-arrow objects around decoded columns: schema texts parsed once, and record
 * batches and tables made without re-deriving what the native side already guarantees.
 *
 * Parsing a result's JSON schema and wrapping its columns in a `RecordBatch` cost about
 * 0.1 ms per batch right after a garbage collection (cold caches), as much as a small read
 * itself.
 */
import * as arrow from "apache-arrow";
import { InternalError } from "../errors";
import { type SchemaJson, schemaFromJson } from "./schema-json";

/**
 * Parsed schema texts; a query's batches and its repeated calls send the same one. Only the
 * JSON is kept (never handed out): every result gets `Field`s and types of its own, so a
 * caller that edits one result's schema changes no other result.
 */
const PARSED = new Map<string, SchemaJson>();
/** Distinct schema texts kept: a process reads few tables and projections at a time. */
const MAX_PARSED = 64;

/** @internal How many schema texts are kept parsed (for tests of the bound). */
export function parsedSchemaCount(): number {
  return PARSED.size;
}

/** `text`, a wire batch's JSON schema, parsed once per distinct text. */
function parsedSchema(text: string): SchemaJson {
  const known = PARSED.get(text);
  if (known) return known;
  let json: SchemaJson;
  try {
    json = JSON.parse(text) as SchemaJson;
  } catch (cause) {
    throw new InternalError(`Wire batch schema is not valid JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
  // Simplest bound that keeps a steady workload's schemas: start over when full.
  if (PARSED.size >= MAX_PARSED) PARSED.clear();
  PARSED.set(text, json);
  return json;
}

/**
 * Schemas for the batches of one result, by schema text: the batches of one result share
 * one `Schema` (as apache-arrow's own tables do), results never do.
 */
export class ResultSchemas {
  private readonly byText = new Map<string, arrow.Schema>();

  /** The schema of `text` and its JSON form; validated as `schemaFromJson` does. */
  of(text: string): { json: SchemaJson; schema: arrow.Schema } {
    const json = parsedSchema(text);
    let schema = this.byText.get(text);
    if (!schema) {
      schema = schemaFromJson(json);
      this.byText.set(text, schema);
    }
    return { json, schema };
  }
}

/**
 * A record batch of `schema` over `children`, each `length` rows long.
 *
 * apache-arrow's constructor pads columns shorter than the batch and, to do so, clones
 * every field into a new schema and builds the struct data again, on every call; our
 * columns come from one native batch and are never short (checked here). So the batch is
 * made directly when this apache-arrow keeps nothing in a batch but its schema and data
 * (checked once against the constructor), and by the constructor otherwise.
 */
export function assembleRecordBatch(
  schema: arrow.Schema,
  children: arrow.Data[],
  length: number,
): arrow.RecordBatch {
  for (const child of children) {
    if (child.length !== length) {
      throw new InternalError(
        `Wire batch column has ${child.length} rows where the batch has ${length}`,
      );
    }
  }
  const data = new arrow.Data(
    new arrow.Struct(schema.fields),
    0,
    length,
    0,
    [undefined, undefined, new Uint8Array(0)],
    children,
  );
  if (!directBatches()) return new arrow.RecordBatch(schema, data);
  return directBatch(schema, data);
}

function directBatch(schema: arrow.Schema, data: arrow.Data<arrow.Struct>): arrow.RecordBatch {
  const batch = Object.create(arrow.RecordBatch.prototype) as { schema: unknown; data: unknown };
  batch.schema = schema;
  batch.data = data;
  return batch as unknown as arrow.RecordBatch;
}

/**
 * A table of `batches`, which all share `schema` (one result's batches do). apache-arrow's
 * constructor compares every batch's schema with the table's field by field; batches that
 * share the schema object need no comparison, so the table is made directly when
 * {@link directBatches} allows it, and by the constructor (which checks) otherwise.
 */
export function assembleTable(schema: arrow.Schema, batches: arrow.RecordBatch[]): arrow.Table {
  if (!directBatches() || !batches.every((b) => b.schema === schema)) {
    return new arrow.Table(schema, batches);
  }
  return directTable(schema, batches);
}

function directTable(schema: arrow.Schema, batches: arrow.RecordBatch[]): arrow.Table {
  const offsets = new Uint32Array(batches.length + 1);
  for (let i = 0; i < batches.length; i++) offsets[i + 1] = offsets[i]! + batches[i]!.numRows;
  const table = Object.create(arrow.Table.prototype) as {
    schema: unknown;
    batches: unknown;
    _offsets: unknown;
  };
  table.schema = schema;
  table.batches = batches;
  table._offsets = offsets;
  return table as unknown as arrow.Table;
}

let directMatches: boolean | undefined;

/** @internal Forces the direct path on or off (`undefined`: check again), for tests. */
export function useDirectBatches(value: boolean | undefined): void {
  directMatches = value;
}

/**
 * Whether batches and tables are made directly: each made so must behave as the
 * constructor's, whose own state must be exactly `schema` and `data` for a batch and
 * `schema`, `batches` and `_offsets` for a table (apache-arrow 21 keeps more in a batch: then
 * the constructors are used). Any surprise while checking counts as "no".
 */
export function directBatches(): boolean {
  if (directMatches !== undefined) return directMatches;
  try {
    const field = new arrow.Field("x", new arrow.Int32(), true);
    const schema = new arrow.Schema([field]);
    const column = arrow.makeData({ type: field.type, length: 2, data: new Int32Array([7, 8]) });
    const data = arrow.makeData({
      type: new arrow.Struct([field]),
      length: 2,
      nullCount: 0,
      children: [column],
    });
    const built = new arrow.RecordBatch(schema, data);
    const direct = directBatch(schema, data);
    const table = directTable(schema, [direct, direct]);
    directMatches =
      Object.keys(built).sort().join(",") === "data,schema" &&
      Object.keys(new arrow.Table(schema, [built]))
        .sort()
        .join(",") === "_offsets,batches,schema" &&
      table instanceof arrow.Table &&
      table.numRows === 4 &&
      table.get(3)?.x === 8 &&
      table.slice(1, 3).getChild("x")?.toArray().join(",") === "8,7" &&
      direct instanceof arrow.RecordBatch &&
      direct.numRows === built.numRows &&
      direct.numCols === built.numCols &&
      direct.getChildAt(0)?.get(1) === 8 &&
      new arrow.Table(direct).numRows === 2;
  } catch {
    directMatches = false;
  }
  return directMatches;
}
