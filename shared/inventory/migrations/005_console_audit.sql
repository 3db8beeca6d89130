-- Ops — secondary adapter (schema): the console audit trail (shared/ops/console-audit.ts). One row per console
-- ticket request that reached vCenter: who (token subject and roles), which VM, when, from where (the source
-- address and user agent API Gateway saw) and how it ended. No foreign key to vcenters: the trail outlives a
-- deleted vCenter. The ticket itself is never stored.

-- Up Migration

CREATE TABLE console_audit (
  id bigserial PRIMARY KEY,
  opened_at timestamptz NOT NULL DEFAULT now(),
  subject text NOT NULL,
  roles text[] NOT NULL DEFAULT '{}',
  vcenter_id text COLLATE "C" NOT NULL,
  vm_moid text COLLATE "C" NOT NULL,
  source_ip text,
  user_agent text,
  request_id text,
  -- issued: the ticket was handed out; failed: vCenter or the limiter refused (error says why).
  outcome text NOT NULL CHECK (outcome IN ('issued', 'failed')),
  error text
);
-- Newest first is id order (one row per statement, ids taken at insert): keyset on id, across the fleet (the
-- primary key), per vCenter and per caller.
CREATE INDEX console_audit_vcenter_idx ON console_audit (vcenter_id, id DESC);
CREATE INDEX console_audit_subject_idx ON console_audit (subject, id DESC);

-- Down Migration

DROP TABLE IF EXISTS console_audit;
