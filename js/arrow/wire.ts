/**
 * The wire format of the native boundary: encode apache-arrow data to {@link WireBatch}es
 * and decode them back, both without copying buffers.
 */

export type { WireBatch } from "./schema-json";
export { decodeRecordBatch, decodeTable } from "./wire-decode";
export { encodeRecordBatch, encodeTable } from "./wire-encode";
