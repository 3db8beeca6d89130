-- Inventory — secondary adapter (schema): what the drift check (shared/inventory/sync/verify.ts, the LOW ops lane,
-- role vfleet_ops) writes besides its own columns (006): on confirmed drift it schedules a full sync by clearing
-- the vCenter's PropertyCollector version and making its next sync due now. PostgreSQL checks column privileges
-- for every column an UPDATE names, even when its CASE leaves the value as it was, so without these the drift
-- check's record of any outcome was refused (found once the local runtime connected as the capability roles).

-- Up Migration

GRANT UPDATE (pc_version, next_sync_at) ON vcenters TO vfleet_ops;

-- Down Migration

REVOKE UPDATE (pc_version, next_sync_at) ON vcenters FROM vfleet_ops;
