/**
 * Decoding of dictionary-encoded columns into plain columns of their value type.
 *
 * The native boundary carries no dictionaries (docs/native-contract.md): Lance stores
 * the values. Copying is acceptable here; dictionary columns are rare in inputs and
 * usually small strings.
 */
import * as arrow from "apache-arrow";
import { SchemaMismatchError } from "../errors";
import type { DataLike, DataTypeLike } from "./duck";
import { typeFromJson, typeToJson } from "./schema-json";

/**
 * Turn dictionary-encoded `data` (any apache-arrow major) into a `Data` of its value
 * type, built with this package's apache-arrow.
 */
export function decodeDictionaryData(data: DataLike): arrow.Data {
  const valueType = data.type.dictionary as DataTypeLike | undefined;
  const dictionary = data.dictionary;
  if (!valueType || !dictionary || typeof dictionary.get !== "function") {
    throw new SchemaMismatchError(
      "Dictionary-encoded column has no dictionary values; cannot decode it",
    );
  }
  // Normalise the value type into our apache-arrow classes (the user's may be another major).
  const type = typeFromJson(typeToJson(valueType));
  const builder = arrow.makeBuilder({ type, nullValues: [null, undefined] });
  // Indices are already sliced to this node (no valueOffsets); validity uses the bit offset.
  const indices = data.values as unknown as ArrayLike<number | bigint>;
  const { offset, length } = data;
  const bitmap = data.nullCount > 0 ? data.nullBitmap : null;
  for (let i = 0; i < length; i++) {
    if (bitmap && bitmap.length > 0) {
      const bit = offset + i;
      if ((bitmap[bit >> 3]! & (1 << (bit & 7))) === 0) {
        builder.append(null);
        continue;
      }
    }
    builder.append(dictionary.get(Number(indices[i])) as never);
  }
  return builder.finish().flush() as arrow.Data;
}
