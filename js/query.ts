/**
 * Query builders: filtered scans ({@link Query}) and nearest-neighbour searches
 * ({@link VectorQuery}) over a table's current view (latest or checked-out version).
 */
import type * as arrow from "apache-arrow";
import {
  decodeRecordBatch,
  decodeTable,
  type FieldJson,
  type SchemaJson,
  type WireBatch,
} from "./arrow";
import { InvalidArgumentError } from "./errors";
import { callNative, callNativeSync } from "./native-loader";
import type {
  NativeFullTextRequest,
  NativeTable,
  NativeVectorRequest,
  QueryRequest,
} from "./native-types";
import type { DistanceType } from "./types";
import { checkInteger, checkOneOf, checkString, checkStrings, describe } from "./validate";

/** Vector accepted by {@link VectorQuery}: plain numbers or a float typed array. */
export type VectorInput = readonly number[] | Float32Array | Float64Array;

/** Default number of neighbours a {@link VectorQuery} returns. */
export const DEFAULT_K = 10;

const DISTANCE_TYPES: readonly DistanceType[] = ["l2", "cosine", "dot"];

/**
 * A scan of a table, built up with `where`, `select`, `limit`, `offset` and `withRowId`,
 * then run with `toArrow()`, `toArray()` or `for await (const batch of query)`.
 *
 * The builder methods change this query and return it, as in `@lancedb/lancedb`.
 * A query reads the version the table shows when it runs.
 *
 * @example
 * ```ts
 * const rows = await table.query().where("price > 10").select(["id", "price"]).limit(5).toArray();
 * ```
 */
export class Query {
  private readonly inner: NativeTable;
  private filterSql: string | undefined;
  private columns: string[] | undefined;
  private limitValue: number | undefined;
  private offsetValue: number | undefined;
  private rowId = false;
  /** @internal */
  protected fullText: NativeFullTextRequest | undefined;

  /** @internal Use `Table.query()`. */
  constructor(inner: NativeTable) {
    this.inner = inner;
  }

  /**
   * Keep only the rows matching a SQL predicate (DataFusion SQL), e.g. `"id > 5 AND tag = 'a'"`.
   * Calling it again replaces the previous predicate.
   */
  where(predicate: string): this {
    checkString(predicate, "where predicate");
    this.filterSql = predicate;
    return this;
  }

  /** Alias of {@link Query.where}. */
  filter(predicate: string): this {
    return this.where(predicate);
  }

  /** Return only these columns, in this order. */
  select(columns: string | readonly string[]): this {
    const list = typeof columns === "string" ? [columns] : columns;
    if (!Array.isArray(list) || list.length === 0) {
      throw new InvalidArgumentError(
        `select expects a column name or a non-empty array of column names, got ${describe(columns)}`,
      );
    }
    for (const [i, c] of list.entries()) checkString(c, `select column ${i}`);
    this.columns = [...list];
    return this;
  }

  /** Return at most `n` rows (a non-negative integer). */
  limit(n: number): this {
    checkInteger(n, "limit", 0);
    this.limitValue = n;
    return this;
  }

  /** Skip the first `n` matching rows (a non-negative integer). */
  offset(n: number): this {
    checkInteger(n, "offset", 0);
    this.offsetValue = n;
    return this;
  }

  /** Also return each row's `_rowid` (uint64). */
  withRowId(): this {
    this.rowId = true;
    return this;
  }

  /**
   * Full-text search: rows whose FTS-indexed text columns (or `options.columns`) match
   * `query`, best first, with a `_score` column (BM25). Needs an `Index.fts()` index.
   * Combined with {@link Query.nearestTo} it becomes a hybrid search.
   */
  fullTextSearch(query: string, options: { columns?: string | readonly string[] } = {}): this {
    checkString(query, "full-text query");
    const columns = options?.columns;
    this.fullText =
      columns === undefined
        ? { query }
        : {
            query,
            columns:
              typeof columns === "string" ? [columns] : checkStrings(columns, "full-text columns"),
          };
    return this;
  }

  /**
   * Turn this scan into a nearest-neighbour search for `vector`, keeping the
   * predicate, columns, offset, row-id setting and full-text query (and the limit, as `k`).
   */
  nearestTo(vector: VectorInput): VectorQuery {
    const q = new VectorQuery(this.inner, vector);
    q.filterSql = this.filterSql;
    q.columns = this.columns;
    q.limitValue = this.limitValue;
    q.offsetValue = this.offsetValue;
    q.rowId = this.rowId;
    q.fullText = this.fullText;
    return q;
  }

  /**
   * How the query would run: lance's physical plan (shows index use, e.g.
   * `ScalarIndexQuery` for a filter served by a BTREE index, `ANN` for a vector index).
   */
  async explainPlan(verbose = false): Promise<string> {
    const request = this.request();
    return callNative(() => this.inner.explainPlan(request, verbose));
  }

  /** @internal The request sent to the native side. */
  protected request(): QueryRequest {
    const req: QueryRequest = {};
    if (this.filterSql !== undefined) req.filter = this.filterSql;
    if (this.columns !== undefined) req.columns = [...this.columns];
    if (this.limitValue !== undefined) req.limit = this.limitValue;
    if (this.offsetValue !== undefined) req.offset = this.offsetValue;
    if (this.rowId) req.withRowId = true;
    if (this.fullText !== undefined) req.fullText = { ...this.fullText };
    return req;
  }

  /** @internal Extra columns the native side appends to the result. */
  protected extraFields(): FieldJson[] {
    const extra: FieldJson[] = this.rowId
      ? [{ name: "_rowid", nullable: true, type: { type: "int", bitWidth: 64, signed: false } }]
      : [];
    if (this.fullText !== undefined) {
      extra.push({ name: "_score", nullable: true, type: { type: "float", precision: "single" } });
    }
    return extra;
  }

  /** Run the query and return the result as one apache-arrow `Table`. */
  async toArrow(): Promise<arrow.Table> {
    const request = this.request();
    // A plain read memory answers at once runs on this thread: a trip to a worker thread and
    // back would cost more than the read.
    const now =
      request.vector === undefined && request.fullText === undefined
        ? callNativeSync(() => this.inner.queryAtOnce(request), "queryAtOnce")
        : null;
    const batches = now ?? (await callNative(() => this.inner.query(request)));
    if (batches.length > 0) return decodeTable(batches);
    // No batch, no schema from the native side: derive the result schema ourselves.
    return decodeTable([], JSON.stringify(await this.emptyResultSchema()));
  }

  /**
   * Run the query and return plain row objects (`row.toJSON()` of each apache-arrow
   * row: top-level columns become properties; list values stay apache-arrow `Vector`s,
   * 64-bit integers are `bigint`).
   */
  async toArray(): Promise<Record<string, unknown>[]> {
    const table = await this.toArrow();
    return table.toArray().map((row) => (row as { toJSON(): Record<string, unknown> }).toJSON());
  }

  /** Stream the result as apache-arrow `RecordBatch`es, without holding it all in memory. */
  async *[Symbol.asyncIterator](): AsyncGenerator<arrow.RecordBatch, void, undefined> {
    const request = this.request();
    const stream = await callNative(() => this.inner.queryStream(request));
    for (;;) {
      const wire: WireBatch | null = await callNative(() => stream.next());
      if (wire === null || wire === undefined) return;
      yield decodeRecordBatch(wire);
    }
  }

  /** @internal Schema of an empty result: the table's schema, projected, plus extras. */
  protected async emptyResultSchema(): Promise<SchemaJson> {
    const text = await callNative(() => this.inner.schema());
    const schema = JSON.parse(text) as SchemaJson;
    let fields = schema.fields;
    if (this.columns !== undefined) {
      const byName = new Map(fields.map((f) => [f.name, f]));
      fields = this.columns.flatMap((c) => {
        const f = byName.get(c);
        return f ? [f] : [];
      });
    }
    return { ...schema, fields: [...fields, ...this.extraFields()] };
  }
}

/**
 * A nearest-neighbour search: the `k` rows (default 10, set with `limit`) whose vector
 * column is closest to the query vector, closest first, with a `_distance` column.
 * Without a vector index the search is exact (brute force).
 *
 * @example
 * ```ts
 * const hits = await table.vectorSearch(embedding).distanceType("cosine").where("lang = 'en'").limit(5).toArray();
 * ```
 */
export class VectorQuery extends Query {
  private readonly vector: Float32Array;
  private vectorColumn: string | undefined;
  private metric: DistanceType | undefined;
  private options: Omit<NativeVectorRequest, "values" | "k" | "column" | "distanceType"> = {};

  /** @internal Use `Table.vectorSearch()` / `Table.search()`. */
  constructor(inner: NativeTable, vector: VectorInput) {
    super(inner);
    this.vector = toFloat32(vector);
  }

  /**
   * Search this vector column. Optional when the table has exactly one vector
   * (fixed-size list of floats) column.
   */
  column(name: string): this {
    checkString(name, "vector column");
    this.vectorColumn = name;
    return this;
  }

  /** The distance metric: `"l2"` (default), `"cosine"` or `"dot"`. */
  distanceType(type: DistanceType): this {
    checkOneOf(type, DISTANCE_TYPES, "distanceType");
    this.metric = type;
    return this;
  }

  /** IVF partitions to search (more: better recall, slower). */
  nprobes(n: number): this {
    checkInteger(n, "nprobes", 1);
    this.options.nprobes = n;
    return this;
  }

  /** Re-rank `k * factor` index candidates with exact distances (better recall). */
  refineFactor(factor: number): this {
    checkInteger(factor, "refineFactor", 1);
    this.options.refineFactor = factor;
    return this;
  }

  /** HNSW search breadth (IVF_HNSW_SQ indexes; at least k). */
  ef(n: number): this {
    checkInteger(n, "ef", 1);
    this.options.ef = n;
    return this;
  }

  /**
   * Apply `where` after the search instead of before: faster, but it may return fewer
   * than k rows. The default (prefilter) returns k rows when k match.
   */
  postfilter(): this {
    this.options.postfilter = true;
    return this;
  }

  /** Search exhaustively (exact distances) even when a vector index exists. */
  bypassVectorIndex(): this {
    this.options.bypassIndex = true;
    return this;
  }

  /** Keep only results with `lower <= _distance < upper` (either bound may be omitted). */
  distanceRange(lower?: number, upper?: number): this {
    for (const [v, what] of [
      [lower, "distanceRange lower bound"],
      [upper, "distanceRange upper bound"],
    ] as const) {
      if (v !== undefined && (typeof v !== "number" || Number.isNaN(v))) {
        throw new InvalidArgumentError(`${what} must be a number, got ${describe(v)}`);
      }
    }
    if (lower !== undefined) this.options.distanceLower = lower;
    if (upper !== undefined) this.options.distanceUpper = upper;
    return this;
  }

  /**
   * Rerank a hybrid (vector + full-text) search. Reciprocal rank fusion is the only
   * reranker and the default, so this accepts `"rrf"` (or an object named `RRFReranker`,
   * as LanceDB's) and exists for API parity.
   */
  rerank(reranker: "rrf" | { constructor: { name: string } } = "rrf"): this {
    const name = typeof reranker === "string" ? reranker : reranker?.constructor?.name;
    if (name !== "rrf" && name !== "RRFReranker") {
      throw new InvalidArgumentError(
        `only reciprocal rank fusion ("rrf") is supported, got ${describe(reranker)}`,
      );
    }
    return this;
  }

  /** @internal */
  protected override request(): QueryRequest {
    // The limit of a vector search is its k; it is not a separate row limit.
    const { limit, ...rest } = super.request();
    const req: QueryRequest = rest;
    req.vector = { values: this.vector, k: limit ?? DEFAULT_K, ...this.options };
    if (this.vectorColumn !== undefined) req.vector.column = this.vectorColumn;
    if (this.metric !== undefined) req.vector.distanceType = this.metric;
    if (req.fullText !== undefined && limit !== undefined) req.limit = limit;
    return req;
  }

  /** @internal */
  protected override extraFields(): FieldJson[] {
    const score = (name: string): FieldJson => ({
      name,
      nullable: true,
      type: { type: "float", precision: "single" },
    });
    const base = super.extraFields().filter((f) => f.name !== "_score");
    return this.fullText !== undefined
      ? [...base, score("_relevance_score")]
      : [...base, score("_distance")];
  }
}

/** Check a query vector and copy it into a `Float32Array`. */
function toFloat32(vector: unknown): Float32Array {
  let values: ArrayLike<unknown>;
  if (vector instanceof Float32Array || vector instanceof Float64Array) {
    values = vector;
  } else if (Array.isArray(vector)) {
    values = vector;
  } else {
    throw new InvalidArgumentError(
      `A query vector must be an array of numbers, a Float32Array or a Float64Array, got ${describe(vector)}`,
    );
  }
  if (values.length === 0) throw new InvalidArgumentError("A query vector must not be empty");
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new InvalidArgumentError(
        `A query vector must hold finite numbers; element ${i} is ${describe(v)}`,
      );
    }
    out[i] = v;
  }
  return out;
}
