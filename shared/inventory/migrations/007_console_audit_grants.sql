-- Ops — secondary adapter (schema): the console audit trail (005_console_audit.sql) for the capability roles of
-- 006_capability_roles.sql. The ops role (console and ops API functions) appends and reads; nobody but the
-- migrations may change or remove a row, so the trail is append-only for every function. Other roles see nothing.

-- Up Migration

GRANT SELECT, INSERT ON console_audit TO vfleet_ops;
GRANT USAGE ON SEQUENCE console_audit_id_seq TO vfleet_ops;

-- Down Migration

REVOKE ALL ON console_audit FROM vfleet_ops;
REVOKE ALL ON SEQUENCE console_audit_id_seq FROM vfleet_ops;
