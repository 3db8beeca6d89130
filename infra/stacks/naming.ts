// Infra helpers: construct ids derived from topology names, so every generated resource has a stable,
// readable logical id (`ops-critical` → `OpsCritical`).

/** `ops-critical` / `wsAuthorizer` → `OpsCritical` / `WsAuthorizer`. */
export function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part.length > 0)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
