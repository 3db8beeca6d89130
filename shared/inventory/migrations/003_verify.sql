-- Inventory — secondary adapter (schema): the drift check (shared/inventory/sync/verify.ts). When each
-- vCenter's next verification is due (claimed by the sync dispatcher like next_sync_at), and the outcome of
-- the last one as the registry's views show it.

-- Up Migration

ALTER TABLE vcenters
  -- The first check an hour (the default interval) after registration, or after this migration for the
  -- vCenters already there; checked only once the vCenter has had a full sync. Each claim by the dispatcher
  -- pushes it SYNC_VERIFY_INTERVAL ahead; a drift brings it within 15 minutes, to confirm the repair.
  ADD COLUMN next_verify_at timestamptz NOT NULL DEFAULT now() + interval '1 hour',
  ADD COLUMN last_verify_at timestamptz,
  ADD COLUMN last_verify_result text CHECK (last_verify_result IN ('match', 'drift', 'error')),
  -- {"missing": n, "extra": n, "differing": n, "byTable": {"vms": {"vcenter": n, "stored": n, "missing": n, …}}}
  ADD COLUMN last_verify_counts jsonb,
  -- Why the last verification could not decide (no secrets: redacted like last_error).
  ADD COLUMN last_verify_error text,
  ADD COLUMN last_verify_ms integer;

-- The dispatcher's scan for due verifications.
CREATE INDEX vcenters_next_verify_idx ON vcenters (next_verify_at) WHERE last_full_sync_at IS NOT NULL;

-- Down Migration

DROP INDEX IF EXISTS vcenters_next_verify_idx;
ALTER TABLE vcenters
  DROP COLUMN IF EXISTS next_verify_at,
  DROP COLUMN IF EXISTS last_verify_at,
  DROP COLUMN IF EXISTS last_verify_result,
  DROP COLUMN IF EXISTS last_verify_counts,
  DROP COLUMN IF EXISTS last_verify_error,
  DROP COLUMN IF EXISTS last_verify_ms;
