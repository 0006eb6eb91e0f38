/**
 * A sink holding every identity in memory, merged by key as src/core/stage.ts describes: the
 * reference the tests hand the reading to (the real stage is SQL: case/join.ts).
 */
import { IdentityGroups, type Identity } from '../../src/core/identity.js';
import { mergeIdentity, partIdentity, unpackParts, type IdentitySink } from '../../src/core/stage.js';

/**
 * Every identity in memory, merged by key: the stand-in for a stage on disk (its memory grows
 * with the export's identities).
 */
export class MemorySink implements IdentitySink {
  private readonly groups = new IdentityGroups();

  put(id: Identity): void {
    const have = this.groups.byKey.get(id.key);
    if (have === undefined) this.groups.byKey.set(id.key, id);
    else mergeIdentity(have, id);
  }

  /** (each part unpacked whole and put: the reference for IdentityStage's merging in place) */
  putParts(json: string): void {
    for (const p of unpackParts(json)) this.put(partIdentity(p));
  }

  takeBack(duplicates: (key: string) => number): void {
    for (const id of this.groups.byKey.values()) id.events -= duplicates(id.key);
  }

  get(key: string): Identity | undefined {
    return this.groups.byKey.get(key);
  }

  /** Every identity in vendor_id order; the sink holds none of them afterwards. */
  takeSorted(): Identity[] {
    const all = this.groups.sorted();
    this.groups.byKey.clear();
    return all;
  }
}
