/**
 * Arrow data handling of the JS half of the native boundary (docs/native-contract.md):
 * schema JSON, wire batches, strict row building, SQL literals, and the single entry
 * point that turns any accepted user data into wire batches.
 */
export type {
  DataLike,
  DataTypeLike,
  FieldLike,
  RecordBatchLike,
  SchemaLike,
  TableLike,
} from "./duck";
export { isRecordBatchLike, isSchemaLike, isTableLike } from "./duck";
export { rowsToTable } from "./rows";
export { inferField } from "./rows-infer";
export type { FieldJson, SchemaJson, TimeUnitJson, TypeJson, WireBatch } from "./schema-json";
export {
  fieldFromJson,
  fieldToJson,
  normalizeSchema,
  schemaFromJson,
  schemaToJson,
  typeFromJson,
  typeToJson,
} from "./schema-json";
export { quoteIdentifier, toSqlLiteral } from "./sql";
export { type DataInput, toArrowTable, toWireBatches } from "./to-wire";
export { decodeRecordBatch, decodeTable, encodeRecordBatch, encodeTable } from "./wire";
