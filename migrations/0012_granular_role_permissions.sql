-- 0012_granular_role_permissions.sql
--
-- Finer-grained team permissions, requested by customers whose accountants
-- should create invoices but not approve them, and whose site managers
-- should run projects without seeing the books.
--
-- Adds team_roles.can_create_invoices, can_manage_projects, can_view_reports
-- (the system roles get their values from seeds/010_system_roles.json; the
-- existing custom roles are backfilled from the flags they already had), and
-- performance indexes for the invoice list and the activity feed, found in
-- pg_stat_statements after the approval system went live.

ALTER TABLE team_roles
    ADD COLUMN can_create_invoices boolean NOT NULL DEFAULT false,
    ADD COLUMN can_manage_projects boolean NOT NULL DEFAULT false,
    ADD COLUMN can_view_reports boolean NOT NULL DEFAULT true;

-- Custom roles that could approve invoices or manage billing could
-- effectively create invoices already; keep their behaviour unchanged.
UPDATE team_roles
   SET can_create_invoices = true
 WHERE NOT is_system_role
   AND (can_approve_invoices OR can_manage_billing);

UPDATE team_roles
   SET can_manage_projects = true
 WHERE NOT is_system_role
   AND can_manage_team;

-- Invoice list: filtered by customer and status, sorted by due date.
CREATE INDEX invoices_customer_status_due_idx
    ON invoices (customer_id, status, due_date);

-- Activity feed: newest first per customer.
CREATE INDEX activity_logs_customer_created_idx
    ON activity_logs (customer_id, created_at DESC);
-- ... which makes the single-column index from 0001 redundant (the new one
-- still serves the foreign key, customer_id being its leading column).
DROP INDEX activity_logs_customer_id_idx;

-- Overdue-invoice job: unpaid invoices by due date.
CREATE INDEX invoices_unpaid_due_idx
    ON invoices (due_date)
    WHERE paid_at IS NULL;

-- Team page lists members of a customer by role.
CREATE INDEX team_members_customer_role_idx
    ON team_members (customer_id, role_id);
