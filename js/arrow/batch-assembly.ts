/**
 * The apache-arrow objects around decoded columns: schemas remembered by their JSON text,
 * and record batches made without re-deriving what the native side already guarantees.
 *
 * A result's JSON schema, its `Field`s and a `RecordBatch` around its columns cost about
 * 0.1 ms per batch right after a garbage collection (cold caches), as much as a small read
 * itself; these helpers do that work once per schema instead of once per batch.
 */
import * as arrow from "apache-arrow";
import { InternalError } from "../errors";
import { fieldFromJson, metadataFromJson, type SchemaJson } from "./schema-json";

/** A schema decoded from its JSON text, shared by every batch that sends the same text. */
export interface DecodedSchema {
  readonly json: SchemaJson;
  readonly fields: readonly arrow.Field[];
  readonly metadata: ReadonlyMap<string, string>;
}

/** Schemas by JSON text; a query's batches and its repeated calls send the same one. */
const SCHEMAS = new Map<string, DecodedSchema>();
/** Distinct schemas kept: a process reads few tables and projections at a time. */
const MAX_SCHEMAS = 64;

/** The decoded form of a JSON schema text, parsed once per distinct text. */
export function decodedSchema(text: string, parse: (text: string) => SchemaJson): DecodedSchema {
  const known = SCHEMAS.get(text);
  if (known) return known;
  const json = parse(text);
  if (typeof json !== "object" || json === null || !Array.isArray(json.fields)) {
    throw new InternalError(`Wire batch schema has no fields array: ${text.slice(0, 200)}`);
  }
  const decoded: DecodedSchema = {
    json,
    fields: json.fields.map(fieldFromJson),
    metadata: metadataFromJson(json.metadata) ?? new Map(),
  };
  // Simplest bound that keeps a steady workload's schemas: start over when full.
  if (SCHEMAS.size >= MAX_SCHEMAS) SCHEMAS.clear();
  SCHEMAS.set(text, decoded);
  return decoded;
}

/**
 * A fresh `Schema` over shared fields: its field list and metadata map are its own, so a
 * caller that edits one result's schema changes no other result.
 */
export function schemaOf(decoded: DecodedSchema): arrow.Schema {
  return new arrow.Schema([...decoded.fields], new Map(decoded.metadata));
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
    [undefined, undefined, undefined],
    children,
  );
  if (!directBatchesMatch()) return new arrow.RecordBatch(schema, data);
  return directBatch(schema, data);
}

function directBatch(schema: arrow.Schema, data: arrow.Data<arrow.Struct>): arrow.RecordBatch {
  const batch = Object.create(arrow.RecordBatch.prototype) as { schema: unknown; data: unknown };
  batch.schema = schema;
  batch.data = data;
  return batch as unknown as arrow.RecordBatch;
}

let directMatches: boolean | undefined;

/**
 * Whether a batch made directly behaves as the constructor's: the constructor's batch owns
 * exactly `schema` and `data`, and both read the same rows.
 */
export function directBatchesMatch(): boolean {
  if (directMatches !== undefined) return directMatches;
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
  const ownKeys = Object.keys(built).sort().join(",");
  directMatches =
    ownKeys === "data,schema" &&
    direct instanceof arrow.RecordBatch &&
    direct.numRows === built.numRows &&
    direct.numCols === built.numCols &&
    direct.getChildAt(0)?.get(1) === 8 &&
    new arrow.Table(direct).numRows === 2;
  return directMatches;
}
