-- Inventory — secondary adapter (schema): the data keys that seal saved vSphere sessions
-- (shared/inventory/sync/session-keys.ts). Only the wrapped form is stored (by KMS in AWS, by the local
-- secret store's key in dev); a version is created by the first container that seals with it, and kept so
-- that records sealed with it still open after a rotation.

-- Up Migration

CREATE TABLE session_keys (
  version integer PRIMARY KEY CHECK (version > 0),
  wrapped bytea NOT NULL,
  -- Which key wrapped it (kms:<key arn> or secret-store:<name>): no secret.
  wrapped_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration

DROP TABLE IF EXISTS session_keys;
