-- Ops — secondary adapter (schema): console ticket requests turned away before reaching vCenter are audited too
-- (shared/ops/console-audit.ts): outcome `denied`, with the reason in `error` (unauthenticated, forbidden: the
-- caller lacks the operator role, out_of_scope: the VM's vCenter is outside the caller's scope, rate_limited).

-- Up Migration

ALTER TABLE console_audit DROP CONSTRAINT console_audit_outcome_check;
ALTER TABLE console_audit
  ADD CONSTRAINT console_audit_outcome_check CHECK (outcome IN ('issued', 'failed', 'denied'));
CREATE INDEX console_audit_outcome_idx ON console_audit (outcome, id DESC) WHERE outcome <> 'issued';

-- Down Migration

DROP INDEX IF EXISTS console_audit_outcome_idx;
ALTER TABLE console_audit DROP CONSTRAINT console_audit_outcome_check;
DELETE FROM console_audit WHERE outcome = 'denied';
ALTER TABLE console_audit ADD CONSTRAINT console_audit_outcome_check CHECK (outcome IN ('issued', 'failed'));
