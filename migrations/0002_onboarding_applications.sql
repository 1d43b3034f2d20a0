-- 0002_onboarding_applications.sql
--
-- Self-service sign-up. Prospective customers fill in an application on the
-- marketing site; an admin reviews it and, on approval, the backend creates
-- the customer and its first user and links them here.
--
-- Adds: onboarding_applications.

CREATE TABLE onboarding_applications (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    company_name        text        NOT NULL,
    contact_name        text        NOT NULL,
    contact_email       text        NOT NULL,
    contact_phone       text,
    company_size        text,
    requested_plan      text,
    message             text,
    status              text        NOT NULL DEFAULT 'pending',
    reviewed_by         bigint      REFERENCES admins (id) ON DELETE SET NULL,
    reviewed_at         timestamptz,
    rejection_reason    text,
    customer_id         uuid        REFERENCES customers (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT onboarding_applications_status_check
        CHECK (status IN ('pending', 'in_review', 'approved', 'rejected', 'withdrawn')),
    CONSTRAINT onboarding_applications_review_check
        CHECK (status NOT IN ('approved', 'rejected') OR reviewed_at IS NOT NULL),
    CONSTRAINT onboarding_applications_company_size_check
        CHECK (company_size IS NULL OR company_size IN ('1-10', '11-50', '51-200', '201+'))
);

CREATE INDEX onboarding_applications_reviewed_by_idx ON onboarding_applications (reviewed_by);
CREATE INDEX onboarding_applications_customer_id_idx ON onboarding_applications (customer_id);
-- The admin queue only ever lists open applications, oldest first.
CREATE INDEX onboarding_applications_open_idx
    ON onboarding_applications (created_at)
    WHERE status IN ('pending', 'in_review');
CREATE INDEX onboarding_applications_contact_email_idx
    ON onboarding_applications (lower(contact_email));

CREATE TRIGGER update_updated_at
    BEFORE UPDATE ON onboarding_applications
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
