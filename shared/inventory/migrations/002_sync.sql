-- Inventory — secondary adapter (schema): what the sync pipeline needs beyond 001. The watch that
-- incremental passes resume (its PropertyCollector, filter and view), how to reach the vCenter over TLS,
-- "in sync through" for the lag, and the containers (folders, datacenters, compute resources) whose
-- parent chain gives every object its datacenter and every host its cluster during incremental passes.

-- Up Migration

ALTER TABLE vcenters
  -- WatcherRef of shared/vsphere (collector, filter, view), valid only with `session` and `pc_version`.
  ADD COLUMN watcher jsonb,
  -- Accept a self-signed certificate (labs, vcsim); `ca_pem` pins a private CA instead. Neither is secret.
  ADD COLUMN tls_insecure boolean NOT NULL DEFAULT false,
  ADD COLUMN ca_pem text,
  -- The vCenter's state up to this moment is in the tables: lag = now() - synced_through_at.
  ADD COLUMN synced_through_at timestamptz,
  ADD COLUMN last_sync_ms integer,
  -- Increments on every continuation a streaming worker enqueues (its deduplication id).
  ADD COLUMN sync_sequence bigint NOT NULL DEFAULT 0;

-- One registration per vCenter endpoint: two would double its inventory.
CREATE UNIQUE INDEX vcenters_url_key ON vcenters (lower(url));

CREATE TABLE inventory_containers (
  vcenter_id text COLLATE "C" NOT NULL REFERENCES vcenters (id) ON DELETE CASCADE,
  moid text COLLATE "C" NOT NULL,
  -- Folder, Datacenter, ComputeResource or ClusterComputeResource.
  type text NOT NULL,
  name text NOT NULL,
  parent_moid text COLLATE "C",
  datacenter_moid text COLLATE "C",
  updated_at timestamptz NOT NULL DEFAULT now(),
  row_hash bytea GENERATED ALWAYS AS (inventory_row_hash(type, name, parent_moid, datacenter_moid)) STORED,
  PRIMARY KEY (vcenter_id, moid)
);

-- Down Migration

DROP TABLE IF EXISTS inventory_containers;
DROP INDEX IF EXISTS vcenters_url_key;
ALTER TABLE vcenters
  DROP COLUMN IF EXISTS watcher,
  DROP COLUMN IF EXISTS tls_insecure,
  DROP COLUMN IF EXISTS ca_pem,
  DROP COLUMN IF EXISTS synced_through_at,
  DROP COLUMN IF EXISTS last_sync_ms,
  DROP COLUMN IF EXISTS sync_sequence;
