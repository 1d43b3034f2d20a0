-- 0009_team_management.sql
--
-- Team management: customers invite colleagues and give them roles.
-- Replaces the owner/admin/member text column of customer_users for
-- permission checks (customer_users stays for membership and billing
-- contacts).
--
-- Adds:
--   * team_roles: system roles (customer_id NULL, is_system_role true, shipped
--     by seeds/010_system_roles.json) and custom roles of a customer.
--     Role names are unique across the table, so the seeds can key on "name".
--     The first permission flags; finer-grained ones came in 0012.
--   * team_members: a user's membership of a customer's team, with a role,
--     and the invitation workflow (token, expiry, accepted_at).

CREATE TABLE team_roles (
    id                      uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id             uuid        REFERENCES customers (id) ON DELETE CASCADE,
    name                    text        NOT NULL,
    description             text,
    is_system_role          boolean     NOT NULL DEFAULT false,
    can_manage_team         boolean     NOT NULL DEFAULT false,
    can_manage_billing      boolean     NOT NULL DEFAULT false,
    can_approve_invoices    boolean     NOT NULL DEFAULT false,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT team_roles_name_key UNIQUE (name),
    -- System roles belong to nobody; custom roles belong to one customer.
    CONSTRAINT team_roles_system_role_owner_check
        CHECK (is_system_role = (customer_id IS NULL)),
    CONSTRAINT team_roles_name_check CHECK (char_length(btrim(name)) BETWEEN 1 AND 100)
);

CREATE INDEX team_roles_customer_id_idx ON team_roles (customer_id);

CREATE TRIGGER update_updated_at
    BEFORE UPDATE ON team_roles
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE TABLE team_members (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id         uuid        NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    user_id             uuid        REFERENCES users (id) ON DELETE CASCADE,
    -- A role that is still assigned cannot be deleted; reassign members first.
    -- NO ACTION rather than RESTRICT: the check runs at the end of the
    -- statement, so deleting a whole customer (which cascades to both its
    -- custom roles and its members) does not depend on cascade order.
    role_id             uuid        NOT NULL REFERENCES team_roles (id) ON DELETE NO ACTION,
    invited_by          uuid        REFERENCES users (id) ON DELETE SET NULL,
    invited_email       text,
    status              text        NOT NULL DEFAULT 'invited',
    invitation_token    text,
    invitation_expires_at timestamptz,
    invited_at          timestamptz NOT NULL DEFAULT now(),
    accepted_at         timestamptz,
    last_active_at      timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT team_members_customer_id_user_id_key UNIQUE (customer_id, user_id),
    CONSTRAINT team_members_invitation_token_key UNIQUE (invitation_token),
    CONSTRAINT team_members_status_check
        CHECK (status IN ('invited', 'active', 'suspended', 'removed')),
    CONSTRAINT team_members_identity_check
        CHECK (user_id IS NOT NULL OR invited_email IS NOT NULL),
    CONSTRAINT team_members_accepted_check
        CHECK (status <> 'active' OR (user_id IS NOT NULL AND accepted_at IS NOT NULL))
);

-- customer_id is covered by team_members_customer_id_user_id_key.
CREATE INDEX team_members_user_id_idx ON team_members (user_id);
CREATE INDEX team_members_role_id_idx ON team_members (role_id);
CREATE INDEX team_members_invited_by_idx ON team_members (invited_by);
-- One open invitation per e-mail address and customer.
CREATE UNIQUE INDEX team_members_open_invitation_key
    ON team_members (customer_id, lower(invited_email))
    WHERE status = 'invited';

CREATE TRIGGER update_updated_at
    BEFORE UPDATE ON team_members
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
