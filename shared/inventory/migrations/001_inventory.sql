-- Inventory — secondary adapter (schema): the vCenter registry with its sync state, and the inventory the
-- sync writes and the query API reads. Every inventory key is (vcenter_id, moid); deleting a vCenter
-- cascades to everything it owns. Identifiers and names use the "C" collation so keyset order and the
-- btree indexes behave the same on every server, whatever its default locale.
--
-- The VM table is hash-partitioned by vcenter_id. The partition count comes from the session setting
-- vfleet.vm_partitions, which shared/inventory/migrate.ts sets before running this file (default 16).

-- Up Migration

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- md5 of the columns that matter (NULLs marked apart from empty strings), so a full sync can update only rows whose content changed. The wrapper is
-- IMMUTABLE (array_to_string is only STABLE in general) because it is only ever given text, whose output
-- does not depend on settings; that lets it back the generated row_hash columns below.
CREATE FUNCTION inventory_row_hash(VARIADIC parts text[]) RETURNS bytea
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT decode(md5(array_to_string(parts, E'\x1f', E'\x1e')), 'hex') $$;

CREATE TABLE vcenters (
  id text COLLATE "C" PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  name text NOT NULL,
  url text NOT NULL,
  username text NOT NULL,
  -- Where the password lives (a Secrets Manager ARN, or a key of the local secret store); never the secret.
  secret_ref text NOT NULL,
  sync_mode text NOT NULL DEFAULT 'polling' CHECK (sync_mode IN ('streaming', 'polling')),
  sync_interval_seconds integer NOT NULL DEFAULT 300 CHECK (sync_interval_seconds > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- Sync state, written by the sync worker.
  last_full_sync_at timestamptz,
  last_incremental_at timestamptz,
  last_error text,
  last_error_at timestamptz,
  consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
  next_sync_at timestamptz NOT NULL DEFAULT now(),
  -- PropertyCollector version for WaitForUpdatesEx; NULL means the next pass must be a full sync.
  pc_version text,
  -- Serialised vSphere session, opaque here (the sync encrypts it before storing).
  session bytea,
  -- Bumped by each sync that changed rows; the query cache keys carry it (see query-cache.ts).
  generation bigint NOT NULL DEFAULT 0,
  vm_count integer NOT NULL DEFAULT 0,
  template_count integer NOT NULL DEFAULT 0,
  host_count integer NOT NULL DEFAULT 0,
  datastore_count integer NOT NULL DEFAULT 0,
  cluster_count integer NOT NULL DEFAULT 0,
  network_count integer NOT NULL DEFAULT 0,
  datacenter_count integer NOT NULL DEFAULT 0,
  resource_pool_count integer NOT NULL DEFAULT 0
);
-- The dispatcher's scan: due vCenters first.
CREATE INDEX vcenters_next_sync_idx ON vcenters (next_sync_at);

CREATE TABLE datacenters (
  vcenter_id text COLLATE "C" NOT NULL REFERENCES vcenters (id) ON DELETE CASCADE,
  moid text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  row_hash bytea GENERATED ALWAYS AS (inventory_row_hash(name)) STORED,
  PRIMARY KEY (vcenter_id, moid)
);

CREATE TABLE clusters (
  vcenter_id text COLLATE "C" NOT NULL REFERENCES vcenters (id) ON DELETE CASCADE,
  moid text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  datacenter_moid text COLLATE "C",
  num_hosts integer,
  num_cpu_cores integer,
  total_cpu_mhz bigint,
  total_memory_bytes bigint,
  drs_enabled boolean,
  ha_enabled boolean,
  updated_at timestamptz NOT NULL DEFAULT now(),
  row_hash bytea GENERATED ALWAYS AS (inventory_row_hash(
    name, datacenter_moid, num_hosts::text, num_cpu_cores::text,
    total_cpu_mhz::text, total_memory_bytes::text,
    drs_enabled::text, ha_enabled::text)) STORED,
  PRIMARY KEY (vcenter_id, moid)
);
CREATE INDEX clusters_name_key_idx ON clusters (name, vcenter_id, moid);
CREATE INDEX clusters_vcenter_name_idx ON clusters (vcenter_id, name, moid);
CREATE INDEX clusters_name_trgm_idx ON clusters USING gin (lower(name) gin_trgm_ops);

CREATE TABLE hosts (
  vcenter_id text COLLATE "C" NOT NULL REFERENCES vcenters (id) ON DELETE CASCADE,
  moid text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  datacenter_moid text COLLATE "C",
  cluster_moid text COLLATE "C",
  connection_state text CHECK (connection_state IN ('connected', 'disconnected', 'notResponding')),
  power_state text CHECK (power_state IN ('poweredOn', 'poweredOff', 'standBy', 'unknown')),
  maintenance_mode boolean,
  version text,
  cpu_model text,
  num_cpu_cores integer,
  cpu_mhz integer,
  memory_bytes bigint,
  updated_at timestamptz NOT NULL DEFAULT now(),
  row_hash bytea GENERATED ALWAYS AS (inventory_row_hash(
    name, datacenter_moid, cluster_moid, connection_state,
    power_state, maintenance_mode::text, version,
    cpu_model, num_cpu_cores::text, cpu_mhz::text,
    memory_bytes::text)) STORED,
  PRIMARY KEY (vcenter_id, moid)
);
CREATE INDEX hosts_name_key_idx ON hosts (name, vcenter_id, moid);
CREATE INDEX hosts_vcenter_name_idx ON hosts (vcenter_id, name, moid);
CREATE INDEX hosts_cluster_idx ON hosts (vcenter_id, cluster_moid, name, moid);
CREATE INDEX hosts_name_trgm_idx ON hosts USING gin (lower(name) gin_trgm_ops);

CREATE TABLE datastores (
  vcenter_id text COLLATE "C" NOT NULL REFERENCES vcenters (id) ON DELETE CASCADE,
  moid text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  datacenter_moid text COLLATE "C",
  type text,
  capacity_bytes bigint,
  free_bytes bigint,
  accessible boolean,
  url text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  row_hash bytea GENERATED ALWAYS AS (inventory_row_hash(
    name, datacenter_moid, type, capacity_bytes::text,
    free_bytes::text, accessible::text, url)) STORED,
  PRIMARY KEY (vcenter_id, moid)
);
CREATE INDEX datastores_name_key_idx ON datastores (name, vcenter_id, moid);
CREATE INDEX datastores_vcenter_name_idx ON datastores (vcenter_id, name, moid);
CREATE INDEX datastores_name_trgm_idx ON datastores USING gin (lower(name) gin_trgm_ops);

CREATE TABLE networks (
  vcenter_id text COLLATE "C" NOT NULL REFERENCES vcenters (id) ON DELETE CASCADE,
  moid text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  datacenter_moid text COLLATE "C",
  -- 'Network', 'DistributedVirtualPortgroup' or 'OpaqueNetwork'.
  type text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  row_hash bytea GENERATED ALWAYS AS (inventory_row_hash(
    name, datacenter_moid, type)) STORED,
  PRIMARY KEY (vcenter_id, moid)
);

CREATE TABLE resource_pools (
  vcenter_id text COLLATE "C" NOT NULL REFERENCES vcenters (id) ON DELETE CASCADE,
  moid text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  -- The cluster (or standalone host's compute resource) that owns the pool, and the parent pool.
  owner_moid text COLLATE "C",
  parent_moid text COLLATE "C",
  updated_at timestamptz NOT NULL DEFAULT now(),
  row_hash bytea GENERATED ALWAYS AS (inventory_row_hash(
    name, owner_moid, parent_moid)) STORED,
  PRIMARY KEY (vcenter_id, moid)
);
CREATE INDEX resource_pools_owner_idx ON resource_pools (vcenter_id, owner_moid);

CREATE TABLE vms (
  vcenter_id text COLLATE "C" NOT NULL REFERENCES vcenters (id) ON DELETE CASCADE,
  moid text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  power_state text NOT NULL CHECK (power_state IN ('poweredOn', 'poweredOff', 'suspended')),
  template boolean NOT NULL DEFAULT false,
  -- vSphere's uuids are kept as text: a malformed one from a vCenter must not fail a whole sync.
  uuid text,
  instance_uuid text,
  num_cpu integer,
  memory_mb integer,
  -- config.guestId (filterable, e.g. ubuntu64Guest) and config.guestFullName (for people).
  guest_os text,
  guest_full_name text,
  ip_address text,
  host_moid text COLLATE "C",
  cluster_moid text COLLATE "C",
  resource_pool_moid text COLLATE "C",
  datacenter_moid text COLLATE "C",
  folder_moid text COLLATE "C",
  committed_bytes bigint,
  updated_at timestamptz NOT NULL DEFAULT now(),
  row_hash bytea GENERATED ALWAYS AS (inventory_row_hash(
    name, power_state, template::text, uuid, instance_uuid,
    num_cpu::text, memory_mb::text, guest_os,
    guest_full_name, ip_address, host_moid,
    cluster_moid, resource_pool_moid, datacenter_moid,
    folder_moid, committed_bytes::text)) STORED,
  PRIMARY KEY (vcenter_id, moid)
) PARTITION BY HASH (vcenter_id);

-- Every list is ordered by (name, vcenter_id, moid) and paged by keyset on that tuple, so each filter has an
-- index whose order continues with it: a page deep in the result is one index descent, like the first. The
-- cross-vCenter indexes are partial on `template`, so a list of VMs never wades through the templates (often
-- one block of names, `tpl-…`) and the template list never wades through the VMs.
CREATE INDEX vms_name_key_idx ON vms (name, vcenter_id, moid) WHERE NOT template;
CREATE INDEX vms_template_name_idx ON vms (name, vcenter_id, moid) WHERE template;
CREATE INDEX vms_vcenter_name_idx ON vms (vcenter_id, name, moid);
CREATE INDEX vms_cluster_idx ON vms (vcenter_id, cluster_moid, name, moid);
CREATE INDEX vms_host_idx ON vms (vcenter_id, host_moid, name, moid);
-- The summary's GROUP BY vcenter_id, power_state, template runs as an index-only scan of this.
CREATE INDEX vms_vcenter_power_idx ON vms (vcenter_id, power_state, template);
-- Running VMs, the most common list, without reading the others; and the rarer states (powered off,
-- suspended: a few percent) in their own index, so a deep page of them skips nothing either.
CREATE INDEX vms_powered_on_idx ON vms (name, vcenter_id, moid) WHERE power_state = 'poweredOn' AND NOT template;
CREATE INDEX vms_power_name_idx ON vms (power_state, name, vcenter_id, moid)
  WHERE power_state <> 'poweredOn' AND NOT template;
-- Substring search: trigrams need at least 3 characters, which the API enforces.
CREATE INDEX vms_name_trgm_idx ON vms USING gin (lower(name) gin_trgm_ops);

DO $$
DECLARE
  partitions integer := coalesce(nullif(current_setting('vfleet.vm_partitions', true), '')::integer, 16);
BEGIN
  IF partitions < 1 OR partitions > 1024 THEN
    RAISE EXCEPTION 'vfleet.vm_partitions must be between 1 and 1024, got %', partitions;
  END IF;
  FOR i IN 0 .. partitions - 1 LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF vms FOR VALUES WITH (MODULUS %s, REMAINDER %s)',
      'vms_p' || lpad(i::text, 4, '0'), partitions, i);
  END LOOP;
END
$$;

-- Down Migration

DROP TABLE IF EXISTS vms, resource_pools, networks, datastores, hosts, clusters, datacenters, vcenters;
DROP FUNCTION IF EXISTS inventory_row_hash(text[]);
