// JS values -> SQL literals / quoted identifiers for Lance's expression parser.
import { describe, expect, it } from "vitest";
import { quoteIdentifier, toSqlLiteral } from "../js/arrow";
import { InvalidArgumentError } from "../js/errors";

describe("toSqlLiteral", () => {
  it("renders scalars", () => {
    expect(toSqlLiteral(null)).toBe("NULL");
    expect(toSqlLiteral(undefined)).toBe("NULL");
    expect(toSqlLiteral(true)).toBe("TRUE");
    expect(toSqlLiteral(false)).toBe("FALSE");
    expect(toSqlLiteral(42)).toBe("42");
    expect(toSqlLiteral(-1.5)).toBe("-1.5");
    expect(toSqlLiteral(1e21)).toBe("1e+21");
    expect(toSqlLiteral(-0)).toBe("-0.0");
    expect(toSqlLiteral(9007199254740993n)).toBe("9007199254740993");
    expect(toSqlLiteral(2n ** 64n - 1n)).toBe("18446744073709551615");
  });

  it("renders non-finite numbers as casts DataFusion parses", () => {
    expect(toSqlLiteral(Number.NaN)).toBe("CAST('NaN' AS DOUBLE)");
    expect(toSqlLiteral(Infinity)).toBe("CAST('inf' AS DOUBLE)");
    expect(toSqlLiteral(-Infinity)).toBe("CAST('-inf' AS DOUBLE)");
  });

  it("quotes strings with '' escaping, leaving backslashes alone", () => {
    expect(toSqlLiteral("Richard Daniel Sanchez")).toBe("'Richard Daniel Sanchez'");
    expect(toSqlLiteral("it's")).toBe("'it''s'");
    expect(toSqlLiteral("''")).toBe("''''''");
    expect(toSqlLiteral("a\\b")).toBe("'a\\b'");
    expect(toSqlLiteral("")).toBe("''");
  });

  it("renders Dates as a millisecond UTC timestamp", () => {
    expect(toSqlLiteral(new Date(Date.UTC(2024, 4, 1, 12, 30, 15, 250)))).toBe(
      "CAST('2024-05-01T12:30:15.250' AS TIMESTAMP(3))",
    );
    expect(() => toSqlLiteral(new Date(Number.NaN))).toThrow(InvalidArgumentError);
  });

  it("renders bytes as a hex literal", () => {
    expect(toSqlLiteral(Uint8Array.of(0, 10, 255))).toBe("X'000aff'");
    expect(toSqlLiteral(Buffer.from("hi"))).toBe("X'6869'");
  });

  it("renders vectors as array literals of floats", () => {
    expect(toSqlLiteral([0.5, 1, -2])).toBe("[0.5, 1.0, -2.0]");
    expect(toSqlLiteral(Float32Array.of(1, 2))).toBe("[1.0, 2.0]");
    expect(toSqlLiteral(Float32Array.of(0.1))).toBe(`[${Math.fround(0.1)}]`);
    expect(toSqlLiteral([1, 2, 3])).toBe("[1, 2, 3]");
    expect(toSqlLiteral(["a", "b'c"])).toBe("['a', 'b''c']");
    expect(toSqlLiteral([])).toBe("[]");
  });

  it("falls back to make_array for elements a literal array cannot hold", () => {
    expect(toSqlLiteral([1, null])).toBe("make_array(1, NULL)");
    expect(toSqlLiteral([1.5, Number.NaN])).toBe("make_array(1.5, CAST('NaN' AS DOUBLE))");
    expect(toSqlLiteral([[1, 2], [3]])).toBe("make_array([1, 2], [3])");
    expect(toSqlLiteral([1, "a"])).toBe("make_array(1, 'a')");
  });

  it("renders plain objects as named_struct", () => {
    expect(toSqlLiteral({ a: 1, b: "x", c: null, skip: undefined })).toBe(
      "named_struct('a', 1, 'b', 'x', 'c', NULL)",
    );
  });

  it("rejects values with no SQL form", () => {
    for (const bad of [
      () => 1,
      Symbol("s"),
      new Map(),
      {},
      2n ** 64n,
      -(2n ** 63n) - 1n,
      new (class Foo {})(),
    ]) {
      expect(() => toSqlLiteral(bad)).toThrow(InvalidArgumentError);
    }
  });
});

describe("quoteIdentifier", () => {
  it("wraps names in backticks and doubles backticks inside", () => {
    expect(quoteIdentifier("author")).toBe("`author`");
    expect(quoteIdentifier("Vector MiniLM")).toBe("`Vector MiniLM`");
    expect(quoteIdentifier("we`ird")).toBe("`we``ird`");
    expect(quoteIdentifier("a.b")).toBe("`a.b`");
  });

  it("rejects empty or non-string names", () => {
    expect(() => quoteIdentifier("")).toThrow(InvalidArgumentError);
    expect(() => quoteIdentifier(5 as never)).toThrow(InvalidArgumentError);
  });
});
