-- 0005_developer_projects.sql
--
-- Project accounting for developers: projects, their budgets and budget
-- lines, purchase orders to vendors, expenses booked against budget lines,
-- and the link from vendor invoices to the project(s) they are charged to.
--
-- Adds: developer_projects, project_budgets, budget_line_items,
--       purchase_orders, project_expenses, project_invoices.

-- ---------------------------------------------------------------------------
-- developer_projects
-- ---------------------------------------------------------------------------
CREATE TABLE developer_projects (
    id                  uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id         uuid          NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    project_manager_id  uuid          REFERENCES users (id) ON DELETE SET NULL,
    created_by          uuid          REFERENCES users (id) ON DELETE SET NULL,
    code                text          NOT NULL,
    name                text          NOT NULL,
    description         text,
    project_type        text          NOT NULL DEFAULT 'residential',
    status              text          NOT NULL DEFAULT 'planning',
    address             text,
    city                text,
    state               text,
    start_date          date,
    target_completion_date date,
    actual_completion_date date,
    total_budget        numeric(14,2) NOT NULL DEFAULT 0,
    created_at          timestamptz   NOT NULL DEFAULT now(),
    updated_at          timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT developer_projects_customer_id_code_key UNIQUE (customer_id, code),
    CONSTRAINT developer_projects_status_check
        CHECK (status IN ('planning', 'active', 'on_hold', 'completed', 'cancelled')),
    CONSTRAINT developer_projects_project_type_check
        CHECK (project_type IN ('residential', 'commercial', 'mixed_use', 'industrial', 'infrastructure')),
    CONSTRAINT developer_projects_total_budget_check CHECK (total_budget >= 0),
    CONSTRAINT developer_projects_dates_check
        CHECK (target_completion_date IS NULL OR start_date IS NULL OR target_completion_date >= start_date)
);

-- customer_id is covered by developer_projects_customer_id_code_key.
CREATE INDEX developer_projects_project_manager_id_idx ON developer_projects (project_manager_id);
CREATE INDEX developer_projects_created_by_idx ON developer_projects (created_by);
CREATE INDEX developer_projects_customer_status_idx ON developer_projects (customer_id, status);

CREATE TRIGGER update_updated_at
    BEFORE UPDATE ON developer_projects
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- ---------------------------------------------------------------------------
-- project_budgets
-- ---------------------------------------------------------------------------
CREATE TABLE project_budgets (
    id              uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid          NOT NULL REFERENCES developer_projects (id) ON DELETE CASCADE,
    approved_by     uuid          REFERENCES users (id) ON DELETE SET NULL,
    name            text          NOT NULL,
    version         integer       NOT NULL DEFAULT 1,
    status          text          NOT NULL DEFAULT 'draft',
    total_amount    numeric(14,2) NOT NULL DEFAULT 0,
    contingency_pct numeric(5,2)  NOT NULL DEFAULT 0,
    approved_at     timestamptz,
    created_at      timestamptz   NOT NULL DEFAULT now(),
    updated_at      timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT project_budgets_project_id_version_key UNIQUE (project_id, version),
    CONSTRAINT project_budgets_status_check CHECK (status IN ('draft', 'approved', 'locked', 'superseded')),
    CONSTRAINT project_budgets_total_amount_check CHECK (total_amount >= 0),
    CONSTRAINT project_budgets_contingency_pct_check CHECK (contingency_pct BETWEEN 0 AND 100),
    CONSTRAINT project_budgets_version_check CHECK (version >= 1)
);

CREATE INDEX project_budgets_approved_by_idx ON project_budgets (approved_by);

CREATE TRIGGER update_updated_at
    BEFORE UPDATE ON project_budgets
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- ---------------------------------------------------------------------------
-- budget_line_items
-- ---------------------------------------------------------------------------
CREATE TABLE budget_line_items (
    id                  uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    budget_id           uuid          NOT NULL REFERENCES project_budgets (id) ON DELETE CASCADE,
    cost_code           text,
    category            text          NOT NULL,
    description         text,
    budgeted_amount     numeric(14,2) NOT NULL DEFAULT 0,
    committed_amount    numeric(14,2) NOT NULL DEFAULT 0,
    actual_amount       numeric(14,2) NOT NULL DEFAULT 0,
    sort_order          integer       NOT NULL DEFAULT 0,
    created_at          timestamptz   NOT NULL DEFAULT now(),
    updated_at          timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT budget_line_items_amounts_check
        CHECK (budgeted_amount >= 0 AND committed_amount >= 0 AND actual_amount >= 0)
);

CREATE INDEX budget_line_items_budget_id_idx ON budget_line_items (budget_id, sort_order);

CREATE TRIGGER update_updated_at
    BEFORE UPDATE ON budget_line_items
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- ---------------------------------------------------------------------------
-- purchase_orders
-- ---------------------------------------------------------------------------
CREATE TABLE purchase_orders (
    id              uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id     uuid          NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    project_id      uuid          REFERENCES developer_projects (id) ON DELETE SET NULL,
    vendor_id       uuid          NOT NULL REFERENCES vendors (id) ON DELETE CASCADE,
    created_by      uuid          REFERENCES users (id) ON DELETE SET NULL,
    po_number       text          NOT NULL,
    status          text          NOT NULL DEFAULT 'draft',
    issue_date      date,
    expected_date   date,
    total_amount    numeric(14,2) NOT NULL DEFAULT 0,
    notes           text,
    created_at      timestamptz   NOT NULL DEFAULT now(),
    updated_at      timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT purchase_orders_customer_id_po_number_key UNIQUE (customer_id, po_number),
    CONSTRAINT purchase_orders_status_check
        CHECK (status IN ('draft', 'issued', 'partially_received', 'received', 'closed', 'cancelled')),
    CONSTRAINT purchase_orders_total_amount_check CHECK (total_amount >= 0)
);

CREATE INDEX purchase_orders_project_id_idx ON purchase_orders (project_id);
CREATE INDEX purchase_orders_vendor_id_idx ON purchase_orders (vendor_id);
CREATE INDEX purchase_orders_created_by_idx ON purchase_orders (created_by);

CREATE TRIGGER update_updated_at
    BEFORE UPDATE ON purchase_orders
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- ---------------------------------------------------------------------------
-- project_expenses
-- ---------------------------------------------------------------------------
CREATE TABLE project_expenses (
    id                  uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id          uuid          NOT NULL REFERENCES developer_projects (id) ON DELETE CASCADE,
    budget_line_item_id uuid          REFERENCES budget_line_items (id) ON DELETE SET NULL,
    vendor_id           uuid          REFERENCES vendors (id) ON DELETE SET NULL,
    purchase_order_id   uuid          REFERENCES purchase_orders (id) ON DELETE SET NULL,
    invoice_id          uuid          REFERENCES invoices (id) ON DELETE SET NULL,
    recorded_by         uuid          REFERENCES users (id) ON DELETE SET NULL,
    description         text          NOT NULL,
    category            text,
    amount              numeric(14,2) NOT NULL,
    expense_date        date          NOT NULL DEFAULT current_date,
    created_at          timestamptz   NOT NULL DEFAULT now(),
    updated_at          timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT project_expenses_amount_check CHECK (amount >= 0)
);

CREATE INDEX project_expenses_project_id_idx ON project_expenses (project_id, expense_date DESC);
CREATE INDEX project_expenses_budget_line_item_id_idx ON project_expenses (budget_line_item_id);
CREATE INDEX project_expenses_vendor_id_idx ON project_expenses (vendor_id);
CREATE INDEX project_expenses_purchase_order_id_idx ON project_expenses (purchase_order_id);
CREATE INDEX project_expenses_invoice_id_idx ON project_expenses (invoice_id);
CREATE INDEX project_expenses_recorded_by_idx ON project_expenses (recorded_by);

CREATE TRIGGER update_updated_at
    BEFORE UPDATE ON project_expenses
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- ---------------------------------------------------------------------------
-- project_invoices: which share of a vendor invoice is charged to a project
-- ---------------------------------------------------------------------------
CREATE TABLE project_invoices (
    id                  uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id          uuid          NOT NULL REFERENCES developer_projects (id) ON DELETE CASCADE,
    invoice_id          uuid          NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    budget_line_item_id uuid          REFERENCES budget_line_items (id) ON DELETE SET NULL,
    allocated_amount    numeric(14,2) NOT NULL,
    notes               text,
    created_at          timestamptz   NOT NULL DEFAULT now(),
    updated_at          timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT project_invoices_project_id_invoice_id_key UNIQUE (project_id, invoice_id),
    CONSTRAINT project_invoices_allocated_amount_check CHECK (allocated_amount >= 0)
);

CREATE INDEX project_invoices_invoice_id_idx ON project_invoices (invoice_id);
CREATE INDEX project_invoices_budget_line_item_id_idx ON project_invoices (budget_line_item_id);

CREATE TRIGGER update_updated_at
    BEFORE UPDATE ON project_invoices
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
