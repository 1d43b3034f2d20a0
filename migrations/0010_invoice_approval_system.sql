-- 0010_invoice_approval_system.sql
--
-- Approval system: invoices above a threshold must be approved (possibly in
-- several steps) before they can be paid.
--
-- Adds:
--   * invoice_status values 'pending_approval', 'approved', 'rejected'
--     (ALTER TYPE ... ADD VALUE: fine inside a transaction on PG 12+ as long
--     as the new values are not used in this same migration -- so no partial
--     index on them here);
--   * ENUM approval_status for the individual approval steps;
--   * invoice_approval_workflows: per-customer rules (amount range, number of
--     steps, which role approves);
--   * invoice_approvals: one row per invoice and step;
--   * approval_history: append-only log of every approval action;
--   * VIEW pending_invoice_approvals for the approver inbox.

ALTER TYPE invoice_status ADD VALUE IF NOT EXISTS 'pending_approval' AFTER 'submitted';
ALTER TYPE invoice_status ADD VALUE IF NOT EXISTS 'approved' AFTER 'pending_approval';
ALTER TYPE invoice_status ADD VALUE IF NOT EXISTS 'rejected' AFTER 'approved';

CREATE TYPE approval_status AS ENUM ('pending', 'approved', 'rejected', 'skipped', 'cancelled');

-- ---------------------------------------------------------------------------
-- invoice_approval_workflows
-- ---------------------------------------------------------------------------
CREATE TABLE invoice_approval_workflows (
    id                  uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id         uuid          NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    approver_role_id    uuid          REFERENCES team_roles (id) ON DELETE SET NULL,
    created_by          uuid          REFERENCES users (id) ON DELETE SET NULL,
    name                text          NOT NULL,
    description         text,
    min_amount          numeric(14,2) NOT NULL DEFAULT 0,
    max_amount          numeric(14,2),
    required_approvals  integer       NOT NULL DEFAULT 1,
    is_default          boolean       NOT NULL DEFAULT false,
    is_active           boolean       NOT NULL DEFAULT true,
    created_at          timestamptz   NOT NULL DEFAULT now(),
    updated_at          timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT invoice_approval_workflows_customer_id_name_key UNIQUE (customer_id, name),
    CONSTRAINT invoice_approval_workflows_amounts_check
        CHECK (min_amount >= 0 AND (max_amount IS NULL OR max_amount >= min_amount)),
    CONSTRAINT invoice_approval_workflows_required_approvals_check
        CHECK (required_approvals BETWEEN 1 AND 10)
);

-- customer_id is covered by invoice_approval_workflows_customer_id_name_key.
CREATE INDEX invoice_approval_workflows_approver_role_id_idx
    ON invoice_approval_workflows (approver_role_id);
CREATE INDEX invoice_approval_workflows_created_by_idx
    ON invoice_approval_workflows (created_by);
-- At most one default workflow per customer.
CREATE UNIQUE INDEX invoice_approval_workflows_one_default
    ON invoice_approval_workflows (customer_id)
    WHERE is_default;

CREATE TRIGGER update_updated_at
    BEFORE UPDATE ON invoice_approval_workflows
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- ---------------------------------------------------------------------------
-- invoice_approvals
-- ---------------------------------------------------------------------------
CREATE TABLE invoice_approvals (
    id              uuid            PRIMARY KEY DEFAULT gen_random_uuid(),
    invoice_id      uuid            NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    workflow_id     uuid            REFERENCES invoice_approval_workflows (id) ON DELETE SET NULL,
    approver_id     uuid            REFERENCES users (id) ON DELETE SET NULL,
    step_number     integer         NOT NULL DEFAULT 1,
    status          approval_status NOT NULL DEFAULT 'pending',
    comments        text,
    requested_at    timestamptz     NOT NULL DEFAULT now(),
    decided_at      timestamptz,
    created_at      timestamptz     NOT NULL DEFAULT now(),
    updated_at      timestamptz     NOT NULL DEFAULT now(),
    CONSTRAINT invoice_approvals_invoice_id_step_number_key UNIQUE (invoice_id, step_number),
    CONSTRAINT invoice_approvals_step_number_check CHECK (step_number >= 1),
    CONSTRAINT invoice_approvals_decided_check
        CHECK ((status IN ('pending', 'cancelled')) OR decided_at IS NOT NULL)
);

-- invoice_id is covered by invoice_approvals_invoice_id_step_number_key.
CREATE INDEX invoice_approvals_workflow_id_idx ON invoice_approvals (workflow_id);
CREATE INDEX invoice_approvals_approver_id_idx ON invoice_approvals (approver_id);
CREATE INDEX invoice_approvals_pending_idx
    ON invoice_approvals (approver_id, requested_at)
    WHERE status = 'pending';

CREATE TRIGGER update_updated_at
    BEFORE UPDATE ON invoice_approvals
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- ---------------------------------------------------------------------------
-- approval_history: append-only
-- ---------------------------------------------------------------------------
CREATE TABLE approval_history (
    id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    invoice_id      uuid        NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    approval_id     uuid        REFERENCES invoice_approvals (id) ON DELETE SET NULL,
    actor_id        uuid        REFERENCES users (id) ON DELETE SET NULL,
    action          text        NOT NULL,
    from_status     text,
    to_status       text,
    comments        text,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT approval_history_action_check
        CHECK (action IN ('submitted', 'approved', 'rejected', 'reassigned', 'escalated', 'recalled', 'commented'))
);

CREATE INDEX approval_history_invoice_id_idx ON approval_history (invoice_id, created_at);
CREATE INDEX approval_history_approval_id_idx ON approval_history (approval_id);
CREATE INDEX approval_history_actor_id_idx ON approval_history (actor_id);

-- ---------------------------------------------------------------------------
-- pending_invoice_approvals: the approver inbox
-- ---------------------------------------------------------------------------
CREATE VIEW pending_invoice_approvals AS
SELECT a.id             AS approval_id,
       a.invoice_id,
       i.customer_id,
       i.invoice_number,
       i.total_amount,
       i.currency,
       v.name           AS vendor_name,
       a.step_number,
       a.approver_id,
       w.name           AS workflow_name,
       a.requested_at
  FROM invoice_approvals a
  JOIN invoices i ON i.id = a.invoice_id
  LEFT JOIN vendors v ON v.id = i.vendor_id
  LEFT JOIN invoice_approval_workflows w ON w.id = a.workflow_id
 WHERE a.status = 'pending';
