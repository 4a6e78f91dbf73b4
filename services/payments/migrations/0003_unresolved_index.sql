-- The "stale payments" gauges count payments that are not final yet, every
-- few seconds; this keeps that a small index scan however large the table.
CREATE INDEX payments_unresolved ON payments (status, created_at)
  WHERE status IN ('PENDING', 'REQUIRES_ACTION', 'PROCESSING');
