-- 0006_project_milestones_and_forecasts.sql
--
-- Schedule and cash-flow planning for projects: milestones (optionally tied
-- to a draw / payment amount) and monthly cost/revenue forecasts.
--
-- Adds: project_milestones, project_forecasts.

CREATE TABLE project_milestones (
    id              uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid          NOT NULL REFERENCES developer_projects (id) ON DELETE CASCADE,
    owner_id        uuid          REFERENCES users (id) ON DELETE SET NULL,
    name            text          NOT NULL,
    description     text,
    status          text          NOT NULL DEFAULT 'pending',
    due_date        date,
    completed_at    timestamptz,
    payment_amount  numeric(14,2),
    sort_order      integer       NOT NULL DEFAULT 0,
    created_at      timestamptz   NOT NULL DEFAULT now(),
    updated_at      timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT project_milestones_status_check
        CHECK (status IN ('pending', 'in_progress', 'completed', 'missed', 'cancelled')),
    CONSTRAINT project_milestones_payment_amount_check
        CHECK (payment_amount IS NULL OR payment_amount >= 0),
    CONSTRAINT project_milestones_completed_check
        CHECK (status <> 'completed' OR completed_at IS NOT NULL)
);

CREATE INDEX project_milestones_project_id_idx ON project_milestones (project_id, sort_order);
CREATE INDEX project_milestones_owner_id_idx ON project_milestones (owner_id);
-- Dashboard: "upcoming milestones" across all projects.
CREATE INDEX project_milestones_open_due_idx
    ON project_milestones (due_date)
    WHERE status IN ('pending', 'in_progress');

CREATE TRIGGER update_updated_at
    BEFORE UPDATE ON project_milestones
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE TABLE project_forecasts (
    id                  uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id          uuid          NOT NULL REFERENCES developer_projects (id) ON DELETE CASCADE,
    created_by          uuid          REFERENCES users (id) ON DELETE SET NULL,
    period_start        date          NOT NULL,
    period_end          date          NOT NULL,
    forecast_cost       numeric(14,2) NOT NULL DEFAULT 0,
    forecast_revenue    numeric(14,2) NOT NULL DEFAULT 0,
    confidence_pct      smallint,
    notes               text,
    created_at          timestamptz   NOT NULL DEFAULT now(),
    updated_at          timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT project_forecasts_project_id_period_start_key UNIQUE (project_id, period_start),
    CONSTRAINT project_forecasts_period_check CHECK (period_end >= period_start),
    CONSTRAINT project_forecasts_amounts_check CHECK (forecast_cost >= 0 AND forecast_revenue >= 0),
    CONSTRAINT project_forecasts_confidence_pct_check
        CHECK (confidence_pct IS NULL OR confidence_pct BETWEEN 0 AND 100)
);

-- project_id is covered by project_forecasts_project_id_period_start_key.
CREATE INDEX project_forecasts_created_by_idx ON project_forecasts (created_by);

CREATE TRIGGER update_updated_at
    BEFORE UPDATE ON project_forecasts
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
