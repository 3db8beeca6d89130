-- Inventory — secondary adapter (schema): what a provisioning form needs from the inventory
-- (shared/provisioning): which networks and datastores each compute resource can use, the compute resource a
-- host belongs to (standalone hosts included), a datastore's maintenance mode and a distributed port group's
-- switch (the switches themselves are containers, type DistributedVirtualSwitch or VmwareDistributedVirtualSwitch). Each generated
-- row_hash is rebuilt with the new columns, so a full sync writes a row again when only they changed.

-- Up Migration

ALTER TABLE inventory_containers
  -- ComputeResource.network / .datastore of clusters and standalone compute resources: the moids, sorted and
  -- separated by one space (NULL for other containers). Read with string_to_array(…, ' ').
  ADD COLUMN network_moids text COLLATE "C",
  ADD COLUMN datastore_moids text COLLATE "C",
  DROP COLUMN row_hash,
  ADD COLUMN row_hash bytea GENERATED ALWAYS AS (inventory_row_hash(
    type, name, parent_moid, datacenter_moid, network_moids, datastore_moids)) STORED;

ALTER TABLE hosts
  -- The cluster or standalone compute resource the host is in (its parent).
  ADD COLUMN compute_resource_moid text COLLATE "C",
  DROP COLUMN row_hash,
  ADD COLUMN row_hash bytea GENERATED ALWAYS AS (inventory_row_hash(
    name, datacenter_moid, cluster_moid, connection_state,
    power_state, maintenance_mode::text, version,
    cpu_model, num_cpu_cores::text, cpu_mhz::text,
    memory_bytes::text, compute_resource_moid)) STORED;
CREATE INDEX hosts_compute_resource_idx ON hosts (vcenter_id, compute_resource_moid);

ALTER TABLE datastores
  -- summary.maintenanceMode: normal, enteringMaintenance or inMaintenance.
  ADD COLUMN maintenance_mode text,
  DROP COLUMN row_hash,
  ADD COLUMN row_hash bytea GENERATED ALWAYS AS (inventory_row_hash(
    name, datacenter_moid, type, capacity_bytes::text,
    free_bytes::text, accessible::text, url, maintenance_mode)) STORED;

ALTER TABLE networks
  -- config.distributedVirtualSwitch of a distributed port group (NULL for other networks).
  ADD COLUMN switch_moid text COLLATE "C",
  DROP COLUMN row_hash,
  ADD COLUMN row_hash bytea GENERATED ALWAYS AS (inventory_row_hash(
    name, datacenter_moid, type, switch_moid)) STORED;

-- Templates per host, for the templates of one compute resource.
CREATE INDEX vms_template_host_idx ON vms (vcenter_id, host_moid) WHERE template;

-- Down Migration

DROP INDEX IF EXISTS vms_template_host_idx;
DROP INDEX IF EXISTS hosts_compute_resource_idx;
ALTER TABLE networks DROP COLUMN row_hash, DROP COLUMN switch_moid,
  ADD COLUMN row_hash bytea GENERATED ALWAYS AS (inventory_row_hash(name, datacenter_moid, type)) STORED;
ALTER TABLE datastores DROP COLUMN row_hash, DROP COLUMN maintenance_mode,
  ADD COLUMN row_hash bytea GENERATED ALWAYS AS (inventory_row_hash(
    name, datacenter_moid, type, capacity_bytes::text,
    free_bytes::text, accessible::text, url)) STORED;
ALTER TABLE hosts DROP COLUMN row_hash, DROP COLUMN compute_resource_moid,
  ADD COLUMN row_hash bytea GENERATED ALWAYS AS (inventory_row_hash(
    name, datacenter_moid, cluster_moid, connection_state,
    power_state, maintenance_mode::text, version,
    cpu_model, num_cpu_cores::text, cpu_mhz::text,
    memory_bytes::text)) STORED;
ALTER TABLE inventory_containers DROP COLUMN row_hash, DROP COLUMN network_moids, DROP COLUMN datastore_moids,
  ADD COLUMN row_hash bytea GENERATED ALWAYS AS (inventory_row_hash(type, name, parent_moid, datacenter_moid)) STORED;
