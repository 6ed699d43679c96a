/**
 * Tags: stable names for versions (a training snapshot, a release). Creating, moving or
 * deleting a tag never creates a table version.
 */
import { callNative } from "./native-loader";
import type { NativeTable } from "./native-types";
import { checkString, checkVersion } from "./validate";

/** What a tag points at. */
export interface TagContents {
  version: number;
}

/** The tags of one table; get it from `Table.tags()`. */
export class Tags {
  private readonly inner: NativeTable;

  /** @internal */
  constructor(inner: NativeTable) {
    this.inner = inner;
  }

  /**
   * Name `version`.
   * @throws {VersionNotFoundError} when the version does not exist.
   * @throws {InvalidArgumentError} when the tag exists already (use {@link Tags.update}).
   */
  async create(name: string, version: number): Promise<void> {
    checkString(name, "tag name");
    checkVersion(version);
    await callNative(() => this.inner.createTag(name, version));
  }

  /** Every tag, by name. */
  async list(): Promise<Record<string, TagContents>> {
    const tags = await callNative(() => this.inner.listTags());
    return Object.fromEntries(tags.map((t) => [t.name, { version: t.version }]));
  }

  /**
   * The version `name` points at.
   * @throws {TagNotFoundError} when there is no such tag.
   */
  async getVersion(name: string): Promise<number> {
    checkString(name, "tag name");
    return callNative(() => this.inner.tagVersion(name));
  }

  /** Point an existing tag at another version. */
  async update(name: string, version: number): Promise<void> {
    checkString(name, "tag name");
    checkVersion(version);
    await callNative(() => this.inner.updateTag(name, version));
  }

  /** Remove a tag (the version it named stays). */
  async delete(name: string): Promise<void> {
    checkString(name, "tag name");
    await callNative(() => this.inner.deleteTag(name));
  }
}
