/**
 * Index configurations for `Table.createIndex`, named and shaped as in `@lancedb/lancedb`'s
 * `Index`: vector indexes (IVF_FLAT, IVF_PQ, IVF_HNSW_SQ), scalar indexes (BTREE, BITMAP,
 * LABEL_LIST) and a full-text (inverted) index.
 */
import { InvalidArgumentError } from "./errors";
import type { NativeIndexSpec } from "./native-types";
import type { DistanceType, WriteOptions } from "./types";
import { checkInteger, checkOneOf, describe } from "./validate";

/** Options shared by the IVF vector indexes. */
export interface IvfOptions {
  /**
   * IVF partitions. Default, as in LanceDB: sqrt(rows) for IVF_FLAT and IVF_PQ; for
   * IVF_HNSW_SQ one per 1.28 billion vector values (rows x dimension), at least 1, since each
   * partition is an HNSW graph of its own.
   */
  numPartitions?: number;
  /** Distance the index is built for: "l2" (default), "cosine" or "dot". */
  distanceType?: DistanceType;
}

/** IVF_PQ options. */
export interface IvfPqOptions extends IvfOptions {
  /** PQ sub-vectors; must divide the dimension. Default dim/16 (dim/8 if 16 does not divide it). */
  numSubVectors?: number;
  /** Bits per PQ code (8). */
  numBits?: number;
  /** k-means iterations (default 50). */
  maxIterations?: number;
}

/** IVF_HNSW_SQ options. */
export interface HnswSqOptions extends IvfOptions {
  /** Edges per HNSW node (default 20). */
  m?: number;
  /** HNSW build breadth (default 300, as in LanceDB). */
  efConstruction?: number;
}

/** Full-text (inverted) index options. */
export interface FtsOptions {
  /** Store token positions (needed for phrase queries). Default false. */
  withPosition?: boolean;
  /** "simple" (default), "whitespace", "raw", "ngram", ... */
  baseTokenizer?: string;
  /** Stemming / stop-word language, e.g. "English". */
  language?: string;
  lowercase?: boolean;
  stem?: boolean;
  removeStopWords?: boolean;
  asciiFolding?: boolean;
}

const DISTANCE_TYPES: readonly DistanceType[] = ["l2", "cosine", "dot"];

/** An index configuration; create with the static methods. */
export class Index {
  /** @internal */
  readonly spec: NativeIndexSpec;

  private constructor(spec: NativeIndexSpec) {
    this.spec = spec;
  }

  /** IVF_FLAT: partitions of raw vectors; exact distances within the probed partitions. */
  static ivfFlat(options: IvfOptions = {}): Index {
    return new Index({ kind: "IVF_FLAT", ...ivf(options) });
  }

  /** IVF_PQ: partitions of product-quantized vectors; small and fast, approximate. */
  static ivfPq(options: IvfPqOptions = {}): Index {
    const spec: NativeIndexSpec = { kind: "IVF_PQ", ...ivf(options) };
    copyInts(options, spec, ["numSubVectors", "numBits", "maxIterations"]);
    return new Index(spec);
  }

  /** IVF_HNSW_SQ: an HNSW graph per partition over scalar-quantized vectors. */
  static hnswSq(options: HnswSqOptions = {}): Index {
    const spec: NativeIndexSpec = { kind: "IVF_HNSW_SQ", ...ivf(options) };
    copyInts(options, spec, ["m", "efConstruction"]);
    return new Index(spec);
  }

  /** BTREE: sorted scalar index for range and equality filters on many distinct values. */
  static btree(): Index {
    return new Index({ kind: "BTREE" });
  }

  /** BITMAP: for equality filters on columns with few distinct values. */
  static bitmap(): Index {
    return new Index({ kind: "BITMAP" });
  }

  /** LABEL_LIST: for `array_has_any` / `array_has_all` filters on list columns. */
  static labelList(): Index {
    return new Index({ kind: "LABEL_LIST" });
  }

  /** FTS: an inverted index for full-text search (`search("words", "fts")`). */
  static fts(options: FtsOptions = {}): Index {
    const spec: NativeIndexSpec = { kind: "FTS" };
    for (const key of ["withPosition", "stem", "removeStopWords", "asciiFolding"] as const) {
      const v = options[key];
      if (v === undefined) continue;
      if (typeof v !== "boolean")
        throw new InvalidArgumentError(`fts ${key} must be a boolean, got ${describe(v)}`);
      spec[key] = v;
    }
    if (options.lowercase !== undefined) {
      if (typeof options.lowercase !== "boolean") {
        throw new InvalidArgumentError(
          `fts lowercase must be a boolean, got ${describe(options.lowercase)}`,
        );
      }
      spec.lowerCase = options.lowercase;
    }
    for (const key of ["baseTokenizer", "language"] as const) {
      const v = options[key];
      if (v === undefined) continue;
      if (typeof v !== "string")
        throw new InvalidArgumentError(`fts ${key} must be a string, got ${describe(v)}`);
      spec[key] = v;
    }
    return new Index(spec);
  }
}

function ivf(options: IvfOptions): Partial<NativeIndexSpec> {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError(`index options must be an object, got ${describe(options)}`);
  }
  const out: Partial<NativeIndexSpec> = {};
  if (options.numPartitions !== undefined) {
    checkInteger(options.numPartitions, "numPartitions", 1);
    out.numPartitions = options.numPartitions;
  }
  if (options.distanceType !== undefined) {
    checkOneOf(options.distanceType, DISTANCE_TYPES, "distanceType");
    out.distanceType = options.distanceType;
  }
  return out;
}

function copyInts<K extends string>(
  from: Partial<Record<K, unknown>>,
  to: NativeIndexSpec,
  keys: readonly K[],
): void {
  for (const key of keys) {
    const v = from[key];
    if (v === undefined) continue;
    checkInteger(v, key, 1);
    (to as unknown as Record<string, number>)[key] = v;
  }
}

/** Options of `Table.createIndex`. */
export interface CreateIndexOptions extends WriteOptions {
  /** The index; default: IVF_PQ for vector columns, BTREE otherwise. */
  config?: Index;
  /** Rebuild an existing index of the same name (default true, as in LanceDB). */
  replace?: boolean;
  /** Index name; default `<column>_idx`. */
  name?: string;
}

/** An index of a table. */
export interface IndexConfig {
  name: string;
  /** lance's index type, e.g. "IVF_PQ", "BTree", "Bitmap", "Inverted". */
  indexType: string;
  columns: string[];
}

/** What `Table.indexStats` reports. */
export interface IndexStatistics {
  indexType: string;
  numIndexedRows: number;
  /** Rows added since the index was built; `optimize()` folds them in. */
  numUnindexedRows: number;
  /** lance's full statistics (JSON). */
  details: Record<string, unknown>;
}
