-- 0004_vendors_invoices_payments.sql
--
-- The core of the product: customers record the invoices they receive from
-- their vendors (subcontractors, suppliers) and the payments they make.
--
-- Adds:
--   * ENUM invoice_status (the approval states were added later, in 0010);
--   * vendors, invoices, payments.

CREATE TYPE invoice_status AS ENUM ('draft', 'submitted', 'paid', 'overdue', 'void');

-- ---------------------------------------------------------------------------
-- vendors
-- ---------------------------------------------------------------------------
CREATE TABLE vendors (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id     uuid        NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    name            text        NOT NULL,
    contact_name    text,
    email           text,
    phone           text,
    tax_id          text,
    address         text,
    payment_terms_days integer  NOT NULL DEFAULT 30,
    is_active       boolean     NOT NULL DEFAULT true,
    notes           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT vendors_customer_id_name_key UNIQUE (customer_id, name),
    CONSTRAINT vendors_payment_terms_days_check CHECK (payment_terms_days BETWEEN 0 AND 365)
);

-- customer_id is covered by vendors_customer_id_name_key.

CREATE TRIGGER update_updated_at
    BEFORE UPDATE ON vendors
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- ---------------------------------------------------------------------------
-- invoices
-- ---------------------------------------------------------------------------
CREATE TABLE invoices (
    id              uuid           PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id     uuid           NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    vendor_id       uuid           REFERENCES vendors (id) ON DELETE SET NULL,
    created_by      uuid           REFERENCES users (id) ON DELETE SET NULL,
    invoice_number  text           NOT NULL,
    status          invoice_status NOT NULL DEFAULT 'draft',
    issue_date      date           NOT NULL DEFAULT current_date,
    due_date        date,
    currency        char(3)        NOT NULL DEFAULT 'USD',
    subtotal        numeric(14,2)  NOT NULL DEFAULT 0,
    tax_amount      numeric(14,2)  NOT NULL DEFAULT 0,
    total_amount    numeric(14,2)  NOT NULL DEFAULT 0,
    amount_paid     numeric(14,2)  NOT NULL DEFAULT 0,
    description     text,
    paid_at         timestamptz,
    created_at      timestamptz    NOT NULL DEFAULT now(),
    updated_at      timestamptz    NOT NULL DEFAULT now(),
    CONSTRAINT invoices_customer_id_invoice_number_key UNIQUE (customer_id, invoice_number),
    CONSTRAINT invoices_amounts_check CHECK (
        subtotal >= 0 AND tax_amount >= 0 AND total_amount >= 0 AND amount_paid >= 0
    ),
    CONSTRAINT invoices_due_date_check CHECK (due_date IS NULL OR due_date >= issue_date)
);

-- customer_id is covered by invoices_customer_id_invoice_number_key.
CREATE INDEX invoices_vendor_id_idx ON invoices (vendor_id);
CREATE INDEX invoices_created_by_idx ON invoices (created_by);
CREATE INDEX invoices_status_idx ON invoices (status);

CREATE TRIGGER update_updated_at
    BEFORE UPDATE ON invoices
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- ---------------------------------------------------------------------------
-- payments
-- ---------------------------------------------------------------------------
CREATE TABLE payments (
    id              uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id     uuid          NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    invoice_id      uuid          NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    recorded_by     uuid          REFERENCES users (id) ON DELETE SET NULL,
    amount          numeric(14,2) NOT NULL,
    currency        char(3)       NOT NULL DEFAULT 'USD',
    method          text          NOT NULL DEFAULT 'bank_transfer',
    status          text          NOT NULL DEFAULT 'completed',
    reference       text,
    paid_on         date          NOT NULL DEFAULT current_date,
    notes           text,
    created_at      timestamptz   NOT NULL DEFAULT now(),
    updated_at      timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT payments_amount_check CHECK (amount > 0),
    CONSTRAINT payments_method_check
        CHECK (method IN ('bank_transfer', 'check', 'card', 'ach', 'wire', 'cash', 'other')),
    CONSTRAINT payments_status_check
        CHECK (status IN ('pending', 'completed', 'failed', 'refunded'))
);

CREATE INDEX payments_customer_id_idx ON payments (customer_id);
CREATE INDEX payments_invoice_id_idx ON payments (invoice_id);
CREATE INDEX payments_recorded_by_idx ON payments (recorded_by);
CREATE INDEX payments_paid_on_idx ON payments (customer_id, paid_on DESC);

CREATE TRIGGER update_updated_at
    BEFORE UPDATE ON payments
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
