-- Inventory — secondary adapter (schema): one database role per capability, each with only the privileges its
-- functions need; the migrations (the cluster's master user) own the schema. In AWS each role is a login of its
-- own behind the RDS Proxy (its password set by the migrate step from its Secrets Manager secret); here the roles
-- are created without LOGIN. Roles are cluster-wide, so a second schema's migration (a test namespace) finds them
-- there and only adds its own grants. A later migration that creates a table grants it here too.
--
--   vfleet_inventory    sync worker, dispatcher, vCenter registry, the HIGH ops worker (VM refresh writes the
--                       VM's row as the sync does): reads and writes the inventory, vcenters, session_keys.
--   vfleet_query        inventory query API, health: reads the inventory and vcenters.
--   vfleet_ops          ops API, console, CRITICAL/NORMAL/LOW workers: reads the inventory and vcenters, and
--                       writes only the drift check's columns of vcenters (the LOW lane runs it).
--   vfleet_provisioning provisioning API: reads the inventory and vcenters.

-- Up Migration

DO $$
DECLARE
  role text;
BEGIN
  FOREACH role IN ARRAY ARRAY['vfleet_inventory', 'vfleet_query', 'vfleet_ops', 'vfleet_provisioning'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', role);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- another schema's migration created it meanwhile
      END;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), role);
  END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON
  vcenters, datacenters, clusters, hosts, datastores, networks, resource_pools, vms, inventory_containers
  TO vfleet_inventory;
GRANT SELECT, INSERT ON session_keys TO vfleet_inventory;

GRANT SELECT ON
  vcenters, datacenters, clusters, hosts, datastores, networks, resource_pools, vms, inventory_containers
  TO vfleet_query, vfleet_ops, vfleet_provisioning;
-- The drift check (shared/inventory/sync/verify.ts) schedules itself and records its outcome; nothing else.
GRANT UPDATE (next_verify_at, last_verify_at, last_verify_result, last_verify_counts, last_verify_error,
              last_verify_ms, updated_at)
  ON vcenters TO vfleet_ops;

-- Down Migration

DO $$
DECLARE
  role text;
BEGIN
  FOREACH role IN ARRAY ARRAY['vfleet_inventory', 'vfleet_query', 'vfleet_ops', 'vfleet_provisioning'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role) THEN
      EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', current_schema(), role);
      EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM %I', current_schema(), role);
    END IF;
  END LOOP;
END
$$;
