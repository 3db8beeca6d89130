// Contracts — the public identifiers of inventory objects, shared by every capability and the API paths. A
// managed object id (moid) is only unique inside its vCenter, so the API names every object
// `<vcenterId>:<moid>`. This is the one parser of those ids.

/** A vCenter id: what the registry accepts (and the schema checks): no `:`, so composite ids split cleanly. */
export const vcenterIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A vSphere managed object id, e.g. `vm-42`, `domain-c7`, `host-12`, `datastore-3`. */
export const moidPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

/**
 * A compute node's id, the same for placement and the dashboard: its registry key, its agent token's subject,
 * `{id}` of the node routes and part of its Redis keys. A DNS label (a-z, 0-9, `-`), so safe in all of them.
 */
export const nodeIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** An inventory object's identity. */
export interface ObjectRef {
  readonly vcenterId: string;
  readonly moid: string;
}

/** `<vcenterId>:<moid>`. */
export function formatId(vcenterId: string, moid: string): string {
  return `${vcenterId}:${moid}`;
}

/** The id of a reference column, or null when the column is empty. */
export function formatRef(vcenterId: string, moid: string | null): string | null {
  return moid === null ? null : formatId(vcenterId, moid);
}

/** Parses `<vcenterId>:<moid>`; undefined when the text is not a well-formed id. */
export function parseId(text: string): ObjectRef | undefined {
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const vcenterId = text.slice(0, colon);
  const moid = text.slice(colon + 1);
  if (!vcenterIdPattern.test(vcenterId) || !moidPattern.test(moid)) return undefined;
  return { vcenterId, moid };
}
