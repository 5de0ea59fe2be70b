-- The nightly vitals run (pipelines/sample.toml with [churn] enabled = false), written the
-- way a data team would write it for DuckDB: the same exports of `vitals sample-data` in,
-- the same tables out, as zstd Parquet under <out>/<table>/as_of=<date>/.
--
-- Run by benches/duckdb_nightly.py, which sets the variables `data` (the sample-data folder),
-- `accounts_utf8` (the GBK accounts export converted to UTF-8 by iconv: DuckDB reads only
-- UTF-8/UTF-16/Latin-1 without its `encodings` extension), `surveys_csv` (the survey
-- workbook's answers as CSV: DuckDB reads .xlsx only with its `excel` extension; rejects
-- still name the workbook and its sheet rows), `out` and `as_of`, and creates
-- `previous_health` (the newest earlier customer_health in <out>, else empty).
--
-- What it computes, as vitals does: typed and checked rows of every export (bronze Parquet,
-- one reject record per refused value, with vitals' reasons), point-in-time views as of
-- as_of, customer features, RFM quantile scores and segments, the 16 metrics and their
-- 0-100 scores (customer_metrics), dimension scores, the weighted health score, tiers,
-- explanations and trends (customer_health), KPIs and alerts.
--
-- Differences from `vitals run`, all deliberate:
--   * No churn model: churn_risk, risk_band and top_risk_drivers are NULL, no model_metrics,
--     and no churn_risk_up alerts. The benchmark's SQL-job pair runs vitals with its churn
--     model disabled; benches/duckdb_churn.py adds the model (compare.py --with-churn).
--   * The rules are written into this file (the sample pipeline's values and vitals'
--     defaults); vitals reads them from the pipeline file and supports more (cut points,
--     AHP weights, absent sources, any date formats). Only what this pipeline uses is here.
--   * The aggregates per source are computed once and shared (one pass over invoices for
--     features, value, risk and KPIs), where vitals runs one editable model per table.
--   * Each CSV/NDJSON export is numbered with row_number() OVER () as it is read (for
--     rejects.line and "the first of duplicate ids"), which keeps the read and the typing in
--     one thread per export; reading into a table first and numbering by rowid lets DuckDB
--     read on every core, but cost about 15 % more CPU at 10k customers (measured on a busy
--     2-core machine), so the job keeps the streaming numbering.
--   * No run manifest (input checksums, row counts, timings), output lock or staged commit:
--     DuckDB writes the Parquet files in place, after the same data-quality gate.
--   * The NDJSON columns are declared here; vitals infers them from the whole file.
--   * rejects.line counts one line per record (vitals also counts line breaks inside quoted
--     fields; no rejected row here follows one). Values are trimmed of spaces only (vitals
--     trims all whitespace); no export here has other padding.
--   * Amounts are summed, and response hours averaged, as DECIMAL(38, 6), exactly, as vitals
--     does (the average truncated to 10 decimals as DataFusion does), so the RFM monetary,
--     contract_amount (and its percentile ties) and the revenue KPIs do not depend on which
--     core added what. Other sums of floats (the weighted scores, avg_health_score) run on
--     all cores in parallel, so their last bits can differ from run to run; vitals sums in
--     one fixed order. Published scores are rounded to 2 decimals, which hides this except
--     exactly at a rounding boundary.
--   * Bronze tables are written in DuckDB's order (vitals keeps the export's) and rejects
--     by source name; the other published tables are sorted as vitals sorts them.

-- ---- rules -------------------------------------------------------------------------------

CREATE TABLE params AS
SELECT
    CAST(getvariable('as_of') AS DATE) AS as_of,
    (SELECT MAX(as_of) FROM previous_health) AS previous_as_of,
    365 AS window_days,
    90 AS recent_days,
    2.0 AS trend_threshold,
    10.0 AS alert_score_drop,
    90 AS alert_quiet_days,
    60 AS alert_contract_days,
    30 AS alert_overdue_days,
    30 AS alert_first_run_days,
    5 AS rfm_bins,
    85.0 AS tier_healthy,
    60.0 AS tier_sub_healthy,
    365 AS lost_after_days;

-- RFM segments as boxes on the R × F grid (M any), as in vitals' defaults.
CREATE TABLE rfm_segments (rfm_segment VARCHAR, r_low INT, r_high INT, f_low INT, f_high INT);
INSERT INTO rfm_segments VALUES
    ('Champions', 5, 5, 4, 5),
    ('Loyal', 3, 4, 4, 5),
    ('Potential Loyalist', 4, 5, 2, 3),
    ('New', 5, 5, 1, 1),
    ('Promising', 4, 4, 1, 1),
    ('Need Attention', 3, 3, 3, 3),
    ('About to Sleep', 3, 3, 1, 2),
    ('At Risk', 1, 2, 3, 4),
    ('Can''t Lose Them', 1, 2, 5, 5),
    ('Hibernating', 2, 2, 1, 2),
    ('Lost', 1, 1, 1, 2);

CREATE TABLE dimension_weights (dimension VARCHAR, weight DOUBLE);
INSERT INTO dimension_weights VALUES
    ('value', 0.30), ('engagement', 0.20), ('satisfaction', 0.20), ('relationship', 0.10), ('risk', 0.20);

CREATE TABLE tier_playbooks (health_tier VARCHAR, playbook VARCHAR);
INSERT INTO tier_playbooks VALUES
    ('healthy', 'Keep close: grow the account and make it a reference.'),
    ('sub_healthy', 'Reach out: find the cause of the weak dimension and agree an improvement plan.'),
    ('at_risk', 'Escalate: senior management steps in for an urgent rescue.'),
    ('lost', 'Analyse why the customer left and design a win-back.');

CREATE TABLE metric_rules (metric VARCHAR, dimension VARCHAR, weight DOUBLE, scale VARCHAR, higher_is_better BOOLEAN);
INSERT INTO metric_rules VALUES
    ('contract_amount', 'value', 0.30, 'percentile', true),
    ('cooperation_frequency', 'value', 0.25, 'thresholds', true),
    ('payment_on_time', 'value', 0.15, 'thresholds', true),
    ('depth', 'value', 0.15, 'thresholds', true),
    ('growth', 'value', 0.15, 'thresholds', true),
    ('touch_frequency', 'engagement', 0.35, 'thresholds', true),
    ('response_hours', 'engagement', 0.20, 'thresholds', false),
    ('decision_maker_reach', 'engagement', 0.20, 'thresholds', true),
    ('days_since_last_touch', 'engagement', 0.25, 'thresholds', false),
    ('nps', 'satisfaction', 0.50, 'thresholds', true),
    ('csat', 'satisfaction', 0.30, 'thresholds', true),
    ('complaint_balance', 'satisfaction', 0.20, 'thresholds', true),
    ('relationship_level', 'relationship', 1.0, 'thresholds', true),
    ('overdue_ratio', 'risk', 0.40, 'thresholds', false),
    ('avg_days_late', 'risk', 0.35, 'thresholds', false),
    ('open_severe_tickets', 'risk', 0.25, 'thresholds', false);

-- Each metric's (value, score) points; scores run in straight lines between them.
CREATE TABLE metric_points (metric VARCHAR, value DOUBLE, score DOUBLE);
INSERT INTO metric_points VALUES
    ('cooperation_frequency', 0, 0), ('cooperation_frequency', 2, 50), ('cooperation_frequency', 5, 85), ('cooperation_frequency', 8, 100),
    ('payment_on_time', 0.5, 0), ('payment_on_time', 0.8, 60), ('payment_on_time', 1.0, 100),
    ('depth', 1, 20), ('depth', 2, 60), ('depth', 4, 100),
    ('growth', -0.5, 0), ('growth', 0.0, 50), ('growth', 0.5, 100),
    ('touch_frequency', 0, 0), ('touch_frequency', 1, 60), ('touch_frequency', 3, 100),
    ('response_hours', 4, 100), ('response_hours', 24, 60), ('response_hours', 72, 0),
    ('decision_maker_reach', 0, 0), ('decision_maker_reach', 0.3, 70), ('decision_maker_reach', 0.6, 100),
    ('days_since_last_touch', 14, 100), ('days_since_last_touch', 45, 70), ('days_since_last_touch', 90, 30), ('days_since_last_touch', 180, 0),
    ('nps', 0, 0), ('nps', 6, 30), ('nps', 7, 60), ('nps', 9, 90), ('nps', 10, 100),
    ('csat', 1, 0), ('csat', 3, 50), ('csat', 4, 80), ('csat', 5, 100),
    ('complaint_balance', -3, 0), ('complaint_balance', -1, 50), ('complaint_balance', 0, 80), ('complaint_balance', 1, 100),
    ('relationship_level', -1, 0), ('relationship_level', 0, 25), ('relationship_level', 3, 100),
    ('overdue_ratio', 0, 100), ('overdue_ratio', 0.2, 60), ('overdue_ratio', 0.5, 0),
    ('avg_days_late', 0, 100), ('avg_days_late', 15, 70), ('avg_days_late', 45, 20), ('avg_days_late', 90, 0),
    ('open_severe_tickets', 0, 100), ('open_severe_tickets', 1, 50), ('open_severe_tickets', 3, 0);

-- ---- ingest: type and check every value, as vitals does ----------------------------------

-- An export value: trimmed, empty as NULL.
CREATE MACRO txt(s) AS NULLIF(trim(s), '');
CREATE MACRO to_day(s, fmt) AS CAST(try_strptime(s, fmt) AS DATE);
-- Why a value is refused (NULL: accepted): the first rule it breaks, in vitals' words.
CREATE MACRO why_required(raw) AS CASE WHEN raw IS NULL THEN 'missing required value' END;
CREATE MACRO why_date(raw, v, fmt, required) AS CASE
    WHEN required AND raw IS NULL THEN 'missing required value'
    WHEN raw IS NOT NULL AND v IS NULL THEN 'not a date in the format ' || fmt
END;
CREATE MACRO number_hint(sep) AS CASE
    WHEN sep IS NULL THEN 'not a number (decimal separator "."; set thousands_separator if values look like 1,234.50)'
    ELSE 'not a number (decimal separator ".", thousands separator "' || sep || '")'
END;
CREATE MACRO why_number(raw, v, required, sep) AS CASE
    WHEN required AND raw IS NULL THEN 'missing required value'
    WHEN raw IS NOT NULL AND (v IS NULL OR NOT isfinite(v)) THEN number_hint(sep)
END;
CREATE MACRO why_whole(raw, v, required, field, low, high) AS CASE
    WHEN required AND raw IS NULL THEN 'missing required value'
    WHEN raw IS NOT NULL AND v IS NULL THEN number_hint(NULL)
    WHEN NOT (v = trunc(v) AND v BETWEEN low AND high)
        THEN field || ' must be a whole number from ' || low || ' to ' || high
END;
-- A refused value's raw text, kept for the rejects table only.
CREATE MACRO refused(raw, why) AS CASE WHEN why IS NOT NULL THEN raw END;

-- Each checked_<source> holds the typed canonical columns, and per fallible field its reason
-- (why_<field>) and refused raw text (bad_<field>); bronze_<source> is its accepted rows.
CREATE TABLE checked_invoices AS
WITH raw AS MATERIALIZED (
    SELECT
        row_number() OVER () AS record,
        txt("发票号") AS invoice_id,
        txt("客户编号") AS customer_id,
        txt("开票日期") AS invoice_date,
        txt("到期日") AS due_date,
        txt("付款日期") AS paid_date,
        txt("含税金额") AS amount,
        txt("产品线") AS product_line
    FROM read_csv(getvariable('data') || '/finance/invoices.csv', header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')
),
-- a repeated invoice_id: rows after the first are refused. The ids seen more than once,
-- with their first record, by one hash aggregate: cheaper than a window partitioned by
-- invoice_id, which sorts every row with all its columns.
repeats AS (
    SELECT invoice_id, MIN(record) AS first_record
    FROM raw
    WHERE invoice_id IS NOT NULL
    GROUP BY invoice_id
    HAVING COUNT(*) > 1
),
typed AS (
    SELECT
        raw.*,
        to_day(invoice_date, '%Y-%m-%d') AS invoice_date_v,
        to_day(due_date, '%Y-%m-%d') AS due_date_v,
        to_day(paid_date, '%Y-%m-%d') AS paid_date_v,
        TRY_CAST(replace(amount, ',', '') AS DOUBLE) AS amount_v,
        COALESCE(raw.record > r.first_record, false) AS repeated
    FROM raw
    LEFT JOIN repeats AS r USING (invoice_id)
),
checked AS (
    SELECT
        *,
        why_required(customer_id) AS why_customer_id,
        why_date(invoice_date, invoice_date_v, '%Y-%m-%d', true) AS why_invoice_date,
        why_number(amount, amount_v, true, ',') AS why_amount,
        CASE WHEN repeated THEN 'duplicate invoice_id: an earlier row has the same value' END AS why_invoice_id,
        why_date(due_date, due_date_v, '%Y-%m-%d', false) AS why_due_date,
        why_date(paid_date, paid_date_v, '%Y-%m-%d', false) AS why_paid_date
    FROM typed
)
SELECT
    record, customer_id, invoice_date_v AS invoice_date, amount_v AS amount, invoice_id,
    due_date_v AS due_date, paid_date_v AS paid_date, product_line,
    COALESCE(why_customer_id, why_invoice_date, why_amount, why_invoice_id, why_due_date, why_paid_date) IS NULL AS accepted,
    why_customer_id, why_invoice_date, why_amount, why_invoice_id, why_due_date, why_paid_date,
    refused(invoice_date, why_invoice_date) AS bad_invoice_date,
    refused(amount, why_amount) AS bad_amount,
    refused(due_date, why_due_date) AS bad_due_date,
    refused(paid_date, why_paid_date) AS bad_paid_date
FROM checked;

CREATE VIEW bronze_invoices AS
SELECT customer_id, invoice_date, amount, invoice_id, due_date, paid_date, product_line
FROM checked_invoices
WHERE accepted;

CREATE TABLE checked_accounts AS
WITH raw AS MATERIALIZED (
    SELECT
        row_number() OVER () AS record,
        txt("客户编号") AS customer_id,
        txt("客户名称") AS name,
        txt("行业") AS industry,
        txt("区域") AS region,
        txt("客户经理") AS owner,
        txt("签约日期") AS signup_date,
        txt("状态") AS status,
        txt("流失日期") AS churn_date,
        txt("关键联系人") AS key_contact,
        txt("联系人任职日期") AS key_contact_since
    FROM read_csv(getvariable('accounts_utf8'), header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')
),
repeats AS (
    SELECT customer_id, MIN(record) AS first_record
    FROM raw
    WHERE customer_id IS NOT NULL
    GROUP BY customer_id
    HAVING COUNT(*) > 1
),
typed AS (
    SELECT
        raw.*,
        to_day(signup_date, '%Y-%m-%d') AS signup_date_v,
        to_day(churn_date, '%Y-%m-%d') AS churn_date_v,
        to_day(key_contact_since, '%Y-%m-%d') AS key_contact_since_v,
        COALESCE(raw.record > r.first_record, false) AS repeated
    FROM raw
    LEFT JOIN repeats AS r USING (customer_id)
),
checked AS (
    SELECT
        *,
        CASE
            WHEN customer_id IS NULL THEN 'missing required value'
            WHEN repeated THEN 'duplicate customer_id: an earlier row has the same value'
        END AS why_customer_id,
        why_date(signup_date, signup_date_v, '%Y-%m-%d', false) AS why_signup_date,
        why_date(churn_date, churn_date_v, '%Y-%m-%d', false) AS why_churn_date,
        why_date(key_contact_since, key_contact_since_v, '%Y-%m-%d', false) AS why_key_contact_since
    FROM typed
)
SELECT
    record, customer_id, name, industry, region, owner, signup_date_v AS signup_date, status,
    churn_date_v AS churn_date, key_contact, key_contact_since_v AS key_contact_since,
    COALESCE(why_customer_id, why_signup_date, why_churn_date, why_key_contact_since) IS NULL AS accepted,
    why_customer_id, why_signup_date, why_churn_date, why_key_contact_since,
    refused(customer_id, why_customer_id) AS bad_customer_id,
    refused(signup_date, why_signup_date) AS bad_signup_date,
    refused(churn_date, why_churn_date) AS bad_churn_date,
    refused(key_contact_since, why_key_contact_since) AS bad_key_contact_since
FROM checked;

CREATE VIEW bronze_accounts AS
SELECT customer_id, name, industry, region, owner, signup_date, status, churn_date, key_contact, key_contact_since
FROM checked_accounts
WHERE accepted;

CREATE TABLE checked_activities AS
WITH raw AS (
    SELECT
        row_number() OVER () AS record,
        txt(account) AS customer_id,
        txt(ts) AS activity_date,
        txt("type") AS "type",
        response_hours,
        txt(contact_level) AS contact_level
    FROM read_json(
        getvariable('data') || '/crm/activities.ndjson',
        format = 'newline_delimited',
        columns = {account: 'VARCHAR', ts: 'VARCHAR', type: 'VARCHAR', response_hours: 'DOUBLE', contact_level: 'VARCHAR'}
    )
),
checked AS (
    SELECT
        *,
        to_day(activity_date, '%Y-%m-%d') AS activity_date_v,
        why_required(customer_id) AS why_customer_id,
        why_date(activity_date, activity_date_v, '%Y-%m-%d', true) AS why_activity_date
    FROM raw
)
SELECT
    record, customer_id, activity_date_v AS activity_date, "type", response_hours, contact_level,
    COALESCE(why_customer_id, why_activity_date) IS NULL AS accepted,
    why_customer_id, why_activity_date,
    refused(activity_date, why_activity_date) AS bad_activity_date
FROM checked;

CREATE VIEW bronze_activities AS
SELECT customer_id, activity_date, "type", response_hours, contact_level
FROM checked_activities
WHERE accepted;

CREATE TABLE checked_tickets AS
WITH raw AS (
    SELECT
        row_number() OVER () AS record,
        txt(customer) AS customer_id,
        txt(opened) AS opened_date,
        txt(severity) AS severity,
        txt(kind) AS kind,
        txt(resolved) AS resolved_date
    FROM read_csv(getvariable('data') || '/crm/tickets.csv', header = true, all_varchar = true, delim = ';', quote = '"', escape = '"')
),
checked AS (
    SELECT
        *,
        to_day(opened_date, '%Y/%m/%d') AS opened_date_v,
        to_day(resolved_date, '%Y/%m/%d') AS resolved_date_v,
        why_required(customer_id) AS why_customer_id,
        why_date(opened_date, opened_date_v, '%Y/%m/%d', true) AS why_opened_date,
        why_date(resolved_date, resolved_date_v, '%Y/%m/%d', false) AS why_resolved_date
    FROM raw
)
SELECT
    record, customer_id, opened_date_v AS opened_date, severity, kind, resolved_date_v AS resolved_date,
    COALESCE(why_customer_id, why_opened_date, why_resolved_date) IS NULL AS accepted,
    why_customer_id, why_opened_date, why_resolved_date,
    refused(opened_date, why_opened_date) AS bad_opened_date,
    refused(resolved_date, why_resolved_date) AS bad_resolved_date
FROM checked;

-- The pipeline's value maps: spellings folded (case, runs of spaces), then mapped.
CREATE MACRO fold(v) AS lower(regexp_replace(v, '\s+', ' ', 'g'));
CREATE VIEW bronze_tickets AS
SELECT
    customer_id, opened_date,
    CASE fold(severity) WHEN 'p1' THEN 'critical' WHEN 'p2' THEN 'high' WHEN 'p3' THEN 'medium' WHEN 'p4' THEN 'low'
        ELSE fold(severity) END AS severity,
    CASE fold(kind) WHEN '投诉' THEN 'complaint' WHEN '表扬' THEN 'praise' WHEN '需求' THEN 'request'
        ELSE fold(kind) END AS kind,
    resolved_date
FROM checked_tickets
WHERE accepted;

-- UTF-8 with a byte-order mark and CRLF line ends: DuckDB's reader takes both as they are.
CREATE TABLE checked_contracts AS
WITH raw AS (
    SELECT
        row_number() OVER () AS record,
        txt(customer_id) AS customer_id,
        txt(start_date) AS start_date,
        txt(end_date) AS end_date,
        txt(value) AS value
    FROM read_csv(getvariable('data') || '/finance/contracts.csv', header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')
),
checked AS (
    SELECT
        *,
        to_day(start_date, '%Y-%m-%d') AS start_date_v,
        to_day(end_date, '%Y-%m-%d') AS end_date_v,
        TRY_CAST(value AS DOUBLE) AS value_v,
        why_required(customer_id) AS why_customer_id,
        why_date(start_date, start_date_v, '%Y-%m-%d', true) AS why_start_date,
        why_date(end_date, end_date_v, '%Y-%m-%d', true) AS why_end_date,
        why_number(value, value_v, false, NULL) AS why_value
    FROM raw
)
SELECT
    record, customer_id, start_date_v AS start_date, end_date_v AS end_date, value_v AS value,
    COALESCE(why_customer_id, why_start_date, why_end_date, why_value) IS NULL AS accepted,
    why_customer_id, why_start_date, why_end_date, why_value,
    refused(start_date, why_start_date) AS bad_start_date,
    refused(end_date, why_end_date) AS bad_end_date,
    refused(value, why_value) AS bad_value
FROM checked;

CREATE VIEW bronze_contracts AS
SELECT customer_id, start_date, end_date, value
FROM checked_contracts
WHERE accepted;

CREATE TABLE checked_surveys AS
WITH raw AS (
    SELECT
        row_number() OVER () AS record,
        txt(respondent_customer) AS customer_id,
        txt(submitted_at) AS response_date,
        txt(nps_score) AS nps,
        txt(csat_score) AS csat
    FROM read_csv(getvariable('surveys_csv'), header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')
),
checked AS (
    SELECT
        *,
        to_day(response_date, '%Y-%m-%d') AS response_date_v,
        TRY_CAST(nps AS DOUBLE) AS nps_v,
        TRY_CAST(csat AS DOUBLE) AS csat_v,
        why_required(customer_id) AS why_customer_id,
        why_date(response_date, response_date_v, '%Y-%m-%d', true) AS why_response_date,
        why_whole(nps, nps_v, false, 'nps', 0, 10) AS why_nps,
        why_whole(csat, csat_v, false, 'csat', 1, 5) AS why_csat
    FROM raw
)
SELECT
    record, customer_id, response_date_v AS response_date, TRY_CAST(nps_v AS INT) AS nps, TRY_CAST(csat_v AS INT) AS csat,
    COALESCE(why_customer_id, why_response_date, why_nps, why_csat) IS NULL AS accepted,
    why_customer_id, why_response_date, why_nps, why_csat,
    refused(response_date, why_response_date) AS bad_response_date,
    refused(nps, why_nps) AS bad_nps,
    refused(csat, why_csat) AS bad_csat
FROM checked;

CREATE VIEW bronze_surveys AS
SELECT customer_id, response_date, nps, csat
FROM checked_surveys
WHERE accepted;

CREATE TABLE checked_relationship_assessments AS
WITH raw AS (
    SELECT
        row_number() OVER () AS record,
        txt(customer_id) AS customer_id,
        txt(assessed_date) AS assessed_date,
        txt(dimension) AS dimension,
        txt(level) AS level
    FROM read_csv(getvariable('data') || '/survey/relationship_assessments.csv', header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')
),
checked AS (
    SELECT
        *,
        to_day(assessed_date, '%Y-%m-%d') AS assessed_date_v,
        TRY_CAST(level AS DOUBLE) AS level_v,
        why_required(customer_id) AS why_customer_id,
        why_date(assessed_date, assessed_date_v, '%Y-%m-%d', true) AS why_assessed_date,
        why_required(dimension) AS why_dimension,
        why_whole(level, level_v, true, 'level', -1, 3) AS why_level
    FROM raw
)
SELECT
    record, customer_id, assessed_date_v AS assessed_date, dimension, TRY_CAST(level_v AS INT) AS level,
    COALESCE(why_customer_id, why_assessed_date, why_dimension, why_level) IS NULL AS accepted,
    why_customer_id, why_assessed_date, why_dimension, why_level,
    refused(assessed_date, why_assessed_date) AS bad_assessed_date,
    refused(level, why_level) AS bad_level
FROM checked;

CREATE VIEW bronze_relationship_assessments AS
SELECT customer_id, assessed_date, dimension, level
FROM checked_relationship_assessments
WHERE accepted;

-- One record per refused value: (source, file, line, export column, canonical field, value, reason).
CREATE TABLE rejects AS
WITH refused AS (
    SELECT 'invoices' AS source, getvariable('data') || '/finance/invoices.csv' AS file, record + 1 AS line, "column", field, raw_value, reason
    FROM (FROM checked_invoices WHERE NOT accepted),
    LATERAL (VALUES
        ('客户编号', 'customer_id', customer_id, why_customer_id),
        ('开票日期', 'invoice_date', bad_invoice_date, why_invoice_date),
        ('含税金额', 'amount', bad_amount, why_amount),
        ('发票号', 'invoice_id', invoice_id, why_invoice_id),
        ('到期日', 'due_date', bad_due_date, why_due_date),
        ('付款日期', 'paid_date', bad_paid_date, why_paid_date)
    ) AS v ("column", field, raw_value, reason)
    UNION ALL
    SELECT 'accounts', getvariable('data') || '/crm/accounts.csv', record + 1, "column", field, raw_value, reason
    FROM (FROM checked_accounts WHERE NOT accepted),
    LATERAL (VALUES
        ('客户编号', 'customer_id', bad_customer_id, why_customer_id),
        ('签约日期', 'signup_date', bad_signup_date, why_signup_date),
        ('流失日期', 'churn_date', bad_churn_date, why_churn_date),
        ('联系人任职日期', 'key_contact_since', bad_key_contact_since, why_key_contact_since)
    ) AS v ("column", field, raw_value, reason)
    UNION ALL
    SELECT 'activities', getvariable('data') || '/crm/activities.ndjson', record, "column", field, raw_value, reason
    FROM (FROM checked_activities WHERE NOT accepted),
    LATERAL (VALUES
        ('account', 'customer_id', NULL, why_customer_id),
        ('ts', 'activity_date', bad_activity_date, why_activity_date)
    ) AS v ("column", field, raw_value, reason)
    UNION ALL
    SELECT 'tickets', getvariable('data') || '/crm/tickets.csv', record + 1, "column", field, raw_value, reason
    FROM (FROM checked_tickets WHERE NOT accepted),
    LATERAL (VALUES
        ('customer', 'customer_id', NULL, why_customer_id),
        ('opened', 'opened_date', bad_opened_date, why_opened_date),
        ('resolved', 'resolved_date', bad_resolved_date, why_resolved_date)
    ) AS v ("column", field, raw_value, reason)
    UNION ALL
    SELECT 'contracts', getvariable('data') || '/finance/contracts.csv', record + 1, "column", field, raw_value, reason
    FROM (FROM checked_contracts WHERE NOT accepted),
    LATERAL (VALUES
        ('customer_id', 'customer_id', NULL, why_customer_id),
        ('start_date', 'start_date', bad_start_date, why_start_date),
        ('end_date', 'end_date', bad_end_date, why_end_date),
        ('value', 'value', bad_value, why_value)
    ) AS v ("column", field, raw_value, reason)
    UNION ALL
    SELECT 'surveys', getvariable('data') || '/survey/nps_responses.xlsx', record + 2, "column", field, raw_value, reason
    FROM (FROM checked_surveys WHERE NOT accepted),
    LATERAL (VALUES
        ('respondent_customer', 'customer_id', NULL, why_customer_id),
        ('submitted_at', 'response_date', bad_response_date, why_response_date),
        ('nps_score', 'nps', bad_nps, why_nps),
        ('csat_score', 'csat', bad_csat, why_csat)
    ) AS v ("column", field, raw_value, reason)
    UNION ALL
    SELECT 'relationship_assessments', getvariable('data') || '/survey/relationship_assessments.csv', record + 1, "column", field, raw_value, reason
    FROM (FROM checked_relationship_assessments WHERE NOT accepted),
    LATERAL (VALUES
        ('customer_id', 'customer_id', NULL, why_customer_id),
        ('assessed_date', 'assessed_date', bad_assessed_date, why_assessed_date),
        ('dimension', 'dimension', NULL, why_dimension),
        ('level', 'level', bad_level, why_level)
    ) AS v ("column", field, raw_value, reason)
)
SELECT p.as_of, r.source, r.file, r.line, r."column", r.field, r.raw_value, r.reason
FROM refused AS r
CROSS JOIN params AS p
WHERE r.reason IS NOT NULL
ORDER BY r.source, r.line, r.field;

-- The data-quality gate (max_reject_ratio, 0.1 for every source): more refused rows than
-- that stops the job before anything is published.
SELECT error('data-quality gate: source ' || source || ' refused ' || refused || ' of ' || rows_read || ' rows')
FROM (
    SELECT 'invoices' AS source, COUNT(*) AS rows_read, COUNT(*) FILTER (WHERE NOT accepted) AS refused FROM checked_invoices
    UNION ALL SELECT 'accounts', COUNT(*), COUNT(*) FILTER (WHERE NOT accepted) FROM checked_accounts
    UNION ALL SELECT 'activities', COUNT(*), COUNT(*) FILTER (WHERE NOT accepted) FROM checked_activities
    UNION ALL SELECT 'tickets', COUNT(*), COUNT(*) FILTER (WHERE NOT accepted) FROM checked_tickets
    UNION ALL SELECT 'contracts', COUNT(*), COUNT(*) FILTER (WHERE NOT accepted) FROM checked_contracts
    UNION ALL SELECT 'surveys', COUNT(*), COUNT(*) FILTER (WHERE NOT accepted) FROM checked_surveys
    UNION ALL SELECT 'relationship_assessments', COUNT(*), COUNT(*) FILTER (WHERE NOT accepted) FROM checked_relationship_assessments
)
WHERE refused > 0.1 * rows_read;

-- ---- point in time: rows dated after as_of are invisible, later happenings not yet -----

CREATE VIEW invoices AS
SELECT i.customer_id, i.invoice_date, i.amount, i.invoice_id, i.due_date,
       CASE WHEN i.paid_date <= p.as_of THEN i.paid_date END AS paid_date, i.product_line
FROM bronze_invoices AS i CROSS JOIN params AS p
WHERE i.invoice_date <= p.as_of;

CREATE VIEW accounts AS
SELECT a.customer_id, a.name, a.industry, a.region, a.owner, a.signup_date, a.status,
       CASE WHEN a.churn_date <= p.as_of THEN a.churn_date END AS churn_date, a.key_contact,
       CASE WHEN a.key_contact_since <= p.as_of THEN a.key_contact_since END AS key_contact_since
FROM bronze_accounts AS a CROSS JOIN params AS p
WHERE a.signup_date IS NULL OR a.signup_date <= p.as_of;

CREATE VIEW activities AS
SELECT a.* FROM bronze_activities AS a CROSS JOIN params AS p WHERE a.activity_date <= p.as_of;

CREATE VIEW tickets AS
SELECT t.customer_id, t.opened_date, t.severity, t.kind,
       CASE WHEN t.resolved_date <= p.as_of THEN t.resolved_date END AS resolved_date
FROM bronze_tickets AS t CROSS JOIN params AS p
WHERE t.opened_date <= p.as_of;

CREATE VIEW contracts AS
SELECT c.* FROM bronze_contracts AS c CROSS JOIN params AS p WHERE c.start_date <= p.as_of;

CREATE VIEW surveys AS
SELECT s.* FROM bronze_surveys AS s CROSS JOIN params AS p WHERE s.response_date <= p.as_of;

CREATE VIEW relationship_assessments AS
SELECT r.* FROM bronze_relationship_assessments AS r CROSS JOIN params AS p WHERE r.assessed_date <= p.as_of;

-- ---- per-customer facts: one pass over each source ---------------------------------------

-- One hash aggregate per (customer, product line), rolled up per customer: the distinct
-- product lines become a plain count of groups, and the distinct months an OR of month
-- bits (a 365-day window spans at most 13 calendar months, so (12 * year + month) % 64 is
-- a different bit for each), instead of COUNT(DISTINCT …), which keeps a hash set per
-- customer. Amounts are summed as DECIMAL, exactly (as vitals does): the sum is the same
-- whichever core adds which invoice, so reruns, and RFM ties on it, do not depend on the
-- order of the additions.
CREATE TABLE invoice_facts AS
WITH per_line AS (
    SELECT
        i.customer_id,
        i.product_line,
        MIN(i.invoice_date) AS first_invoice_date,
        MAX(i.invoice_date) AS last_invoice_date,
        COUNT(*) FILTER (WHERE i.invoice_date > p.as_of - p.window_days) AS frequency,
        SUM(CAST(i.amount AS DECIMAL(38, 6))) FILTER (WHERE i.invoice_date > p.as_of - p.window_days) AS amount_window,
        SUM(CAST(i.amount AS DECIMAL(38, 6))) FILTER (WHERE i.invoice_date <= p.as_of - p.window_days
                                                        AND i.invoice_date > p.as_of - 2 * p.window_days) AS amount_prior,
        bit_or(CAST(1 AS UBIGINT) << ((12 * year(i.invoice_date) + month(i.invoice_date)) % 64))
            FILTER (WHERE i.invoice_date > p.as_of - p.window_days) AS months,
        -- invoices due in the window: paid by the due date, paid late or unpaid, days late
        COUNT(*) FILTER (WHERE i.due_date <= p.as_of AND i.due_date > p.as_of - p.window_days) AS due,
        COUNT(*) FILTER (WHERE i.due_date <= p.as_of AND i.due_date > p.as_of - p.window_days
                           AND i.paid_date <= i.due_date) AS paid_on_time,
        SUM(GREATEST(COALESCE(i.paid_date, p.as_of) - i.due_date, 0))
            FILTER (WHERE i.due_date <= p.as_of AND i.due_date > p.as_of - p.window_days) AS days_late
    FROM invoices AS i
    CROSS JOIN params AS p
    GROUP BY i.customer_id, i.product_line
)
SELECT
    customer_id,
    MIN(first_invoice_date) AS first_invoice_date,
    MAX(last_invoice_date) AS last_invoice_date,
    CAST(SUM(frequency) AS BIGINT) AS frequency,
    SUM(amount_window) AS amount_window,
    SUM(amount_prior) AS amount_prior,
    CAST(COALESCE(bit_count(bit_or(months)), 0) AS BIGINT) AS active_months,
    COUNT(product_line) FILTER (WHERE frequency > 0) AS product_lines,
    CAST(SUM(paid_on_time) AS DOUBLE) / NULLIF(SUM(due), 0) AS on_time,
    CAST(SUM(due) - SUM(paid_on_time) AS DOUBLE) / NULLIF(SUM(due), 0) AS overdue_ratio,
    CAST(SUM(days_late) AS DOUBLE) / NULLIF(SUM(due), 0) AS avg_days_late
FROM per_line
GROUP BY customer_id;

CREATE TABLE activity_facts AS
SELECT
    a.customer_id,
    MAX(a.activity_date) AS last_activity_date,
    COUNT(*) FILTER (WHERE a.activity_date > p.as_of - p.recent_days) AS recent_touches,
    -- as vitals: AVG(CAST(response_hours AS DECIMAL(38, 6))) in DataFusion is a DECIMAL(38, 10)
    -- truncated toward zero, then DOUBLE; the same exactly (and in any order): the sum in
    -- millionths, times 10^4, divided by the count in whole numbers
    CAST(CAST(SUM(CAST(a.response_hours AS DECIMAL(38, 6))) FILTER (WHERE a.activity_date > p.as_of - p.window_days)
              * 1000000 AS HUGEINT) * 10000
         // COUNT(a.response_hours) FILTER (WHERE a.activity_date > p.as_of - p.window_days) AS DOUBLE)
        / 1e10 AS response_hours,
    AVG(CASE WHEN a.contact_level = 'executive' THEN 1.0 ELSE 0.0 END)
        FILTER (WHERE a.activity_date > p.as_of - p.window_days AND a.contact_level IS NOT NULL) AS executive_share
FROM activities AS a
CROSS JOIN params AS p
GROUP BY a.customer_id;

CREATE TABLE ticket_facts AS
SELECT
    t.customer_id,
    COUNT(*) FILTER (WHERE t.resolved_date IS NULL AND t.severity IN ('high', 'critical')
                       AND t.opened_date > p.as_of - p.recent_days) AS open_severe,
    COUNT(*) FILTER (WHERE t.kind = 'praise' AND t.opened_date > p.as_of - p.window_days)
      - COUNT(*) FILTER (WHERE t.kind = 'complaint' AND t.opened_date > p.as_of - p.window_days) AS balance
FROM tickets AS t
CROSS JOIN params AS p
GROUP BY t.customer_id;

-- The window's survey answers per customer.
CREATE TABLE survey_facts AS
SELECT
    s.customer_id,
    AVG(s.nps) AS nps,
    AVG(s.csat) AS csat,
    COUNT(s.nps) AS nps_answers,
    COUNT(*) FILTER (WHERE s.nps >= 9) AS promoters,
    COUNT(*) FILTER (WHERE s.nps <= 6) AS detractors,
    COUNT(s.csat) AS csat_answers,
    COUNT(*) FILTER (WHERE s.csat >= 4) AS satisfied
FROM surveys AS s
CROSS JOIN params AS p
WHERE s.response_date > p.as_of - p.window_days
GROUP BY s.customer_id;

-- Every customer known on as_of: in accounts or invoices.
CREATE TABLE customer_features AS
WITH customers AS (
    SELECT customer_id FROM accounts
    UNION
    SELECT customer_id FROM invoice_facts  -- one row per invoiced customer, not one per invoice
)
SELECT
    c.customer_id,
    p.as_of,
    p.as_of - i.last_invoice_date AS recency_days,
    COALESCE(i.frequency, 0) AS frequency,
    CAST(ROUND(COALESCE(i.amount_window, 0), 2) AS DOUBLE) AS monetary,
    i.first_invoice_date,
    i.last_invoice_date,
    t.last_activity_date,
    a.name, a.industry, a.region, a.owner, a.signup_date, a.status, a.churn_date
FROM customers AS c
CROSS JOIN params AS p
LEFT JOIN invoice_facts AS i ON i.customer_id = c.customer_id
LEFT JOIN activity_facts AS t ON t.customer_id = c.customer_id
LEFT JOIN accounts AS a ON a.customer_id = c.customer_id;

-- ---- RFM ---------------------------------------------------------------------------------

-- Score 1 + floor(bins × (rank − 1) / customers), worst to best, ties at their lowest rank;
-- never invoiced is the worst recency.
CREATE TABLE customer_rfm AS
WITH scores AS (
    SELECT
        f.customer_id,
        CAST(1 + (p.rfm_bins * (RANK() OVER (ORDER BY f.recency_days DESC NULLS FIRST) - 1)) // COUNT(*) OVER () AS INT) AS r_score,
        CAST(1 + (p.rfm_bins * (RANK() OVER (ORDER BY f.frequency ASC) - 1)) // COUNT(*) OVER () AS INT) AS f_score,
        CAST(1 + (p.rfm_bins * (RANK() OVER (ORDER BY f.monetary ASC) - 1)) // COUNT(*) OVER () AS INT) AS m_score
    FROM customer_features AS f
    CROSS JOIN params AS p
)
SELECT
    s.*,
    'R' || s.r_score || 'F' || s.f_score || 'M' || s.m_score AS rfm_cell,
    g.rfm_segment
FROM scores AS s
JOIN rfm_segments AS g
  ON s.r_score BETWEEN g.r_low AND g.r_high AND s.f_score BETWEEN g.f_low AND g.f_high;

-- ---- metrics and their scores ------------------------------------------------------------

-- One row per customer and metric with data; a metric without data has no row.
CREATE TABLE metric_values AS
WITH known AS (
    SELECT
        f.customer_id, f.as_of, i.amount_window, i.amount_prior, i.active_months, i.on_time, i.product_lines,
        a.recent_touches, a.response_hours, a.executive_share, a.last_activity_date, t.open_severe, t.balance
    FROM customer_features AS f
    LEFT JOIN invoice_facts AS i USING (customer_id)
    LEFT JOIN activity_facts AS a USING (customer_id)
    LEFT JOIN ticket_facts AS t USING (customer_id)
),
relationship AS (
    -- the latest level of each assessed dimension, averaged
    SELECT customer_id, AVG(level) AS relationship_level
    FROM (
        SELECT customer_id, level,
               ROW_NUMBER() OVER (PARTITION BY customer_id, dimension ORDER BY assessed_date DESC, level ASC) AS recency_rank
        FROM relationship_assessments
    )
    WHERE recency_rank = 1
    GROUP BY customer_id
)
SELECT customer_id, 'contract_amount' AS metric, CAST(COALESCE(amount_window, 0) AS DOUBLE) AS value FROM known
UNION ALL SELECT customer_id, 'cooperation_frequency', COALESCE(active_months, 0) FROM known
UNION ALL SELECT customer_id, 'payment_on_time', on_time FROM known WHERE on_time IS NOT NULL
UNION ALL SELECT customer_id, 'depth', product_lines FROM known WHERE product_lines > 0
UNION ALL SELECT customer_id, 'growth', CAST(COALESCE(amount_window, 0) AS DOUBLE) / CAST(amount_prior AS DOUBLE) - 1 FROM known WHERE amount_prior > 0
UNION ALL SELECT customer_id, 'touch_frequency', COALESCE(recent_touches, 0) FROM known
UNION ALL SELECT customer_id, 'response_hours', response_hours FROM known WHERE response_hours IS NOT NULL
UNION ALL SELECT customer_id, 'decision_maker_reach', executive_share FROM known WHERE executive_share IS NOT NULL
UNION ALL SELECT customer_id, 'days_since_last_touch', as_of - last_activity_date FROM known WHERE last_activity_date IS NOT NULL
UNION ALL SELECT customer_id, 'nps', nps FROM survey_facts
          WHERE nps IS NOT NULL AND customer_id IN (SELECT customer_id FROM customer_features)
UNION ALL SELECT customer_id, 'csat', csat FROM survey_facts
          WHERE csat IS NOT NULL AND customer_id IN (SELECT customer_id FROM customer_features)
UNION ALL SELECT customer_id, 'complaint_balance', COALESCE(balance, 0) FROM known
UNION ALL SELECT customer_id, 'relationship_level', relationship_level FROM relationship
          WHERE customer_id IN (SELECT customer_id FROM customer_features)
UNION ALL SELECT customer_id, 'overdue_ratio', overdue_ratio FROM invoice_facts WHERE overdue_ratio IS NOT NULL
UNION ALL SELECT customer_id, 'avg_days_late', avg_days_late FROM invoice_facts WHERE avg_days_late IS NOT NULL
UNION ALL SELECT customer_id, 'open_severe_tickets', COALESCE(open_severe, 0) FROM known;

-- Scores 0-100. percentile: 100 × (customers worse + half those tied) / customers with the
-- metric. thresholds: straight lines between the metric's points, flat beyond the ends.
CREATE TABLE customer_metrics AS
WITH ruled AS (
    SELECT v.customer_id, r.dimension, v.metric, CAST(v.value AS DOUBLE) AS value, r.weight, r.scale,
           CASE WHEN r.higher_is_better THEN v.value ELSE -v.value END AS goodness
    FROM metric_values AS v
    JOIN metric_rules AS r USING (metric)
    WHERE v.value IS NOT NULL
),
segments AS (
    SELECT
        metric,
        value AS x0,
        score AS s0,
        LEAD(value) OVER (PARTITION BY metric ORDER BY value) AS x1,
        LEAD(score) OVER (PARTITION BY metric ORDER BY value) AS s1
    FROM metric_points
),
first_points AS (
    SELECT metric, arg_min(score, value) AS first_score FROM metric_points GROUP BY metric
),
scored AS (
    SELECT
        customer_id, dimension, metric, value, weight,
        100.0 * (RANK() OVER (PARTITION BY metric ORDER BY goodness) - 1
                 + COUNT(*) OVER (PARTITION BY metric, goodness) / 2.0)
              / COUNT(*) OVER (PARTITION BY metric) AS score
    FROM ruled
    WHERE scale = 'percentile'
    UNION ALL
    -- the segment the value falls in, [x0, x1), or the last one from its start on (none:
    -- below the first point). A hash join on metric with the range as its residual: with
    -- a handful of points per metric this beats an ASOF join, which sorts both sides.
    SELECT
        r.customer_id, r.dimension, r.metric, r.value, r.weight,
        CASE
            WHEN s.x0 IS NULL THEN f.first_score
            WHEN s.x1 IS NULL THEN s.s0
            ELSE s.s0 + (s.s1 - s.s0) * (r.value - s.x0) / (s.x1 - s.x0)
        END
    FROM ruled AS r
    LEFT JOIN segments AS s ON s.metric = r.metric AND r.value >= s.x0 AND (r.value < s.x1 OR s.x1 IS NULL)
    JOIN first_points AS f ON f.metric = r.metric
    WHERE r.scale = 'thresholds'
)
SELECT s.*, p.as_of
FROM scored AS s
CROSS JOIN params AS p
ORDER BY s.customer_id, s.dimension, s.metric;

-- Each dimension: the weighted average of the metric scores the customer has.
CREATE TABLE dimension_scores AS
SELECT customer_id, dimension, SUM(weight * score) / SUM(weight) AS score
FROM customer_metrics
WHERE weight > 0
GROUP BY customer_id, dimension;

-- ---- the health score, tiers and explanations ---------------------------------------------

CREATE TABLE customer_health AS
WITH weighted AS (
    SELECT d.customer_id, d.dimension, d.score, w.weight
    FROM dimension_scores AS d
    JOIN dimension_weights AS w USING (dimension)
    WHERE w.weight > 0
),
totals AS (
    SELECT customer_id, SUM(weight * score) / SUM(weight) AS raw_score, SUM(weight) AS coverage
    FROM weighted
    GROUP BY customer_id
),
shares AS (
    SELECT w.customer_id, w.dimension, w.score, w.weight / t.coverage AS share
    FROM weighted AS w
    JOIN totals AS t USING (customer_id)
),
tiered AS (
    -- lost: a CRM churn date, or no invoice and no activity (since signup) for lost_after_days
    SELECT
        f.customer_id,
        ROUND(t.raw_score, 2) AS health_score,
        t.coverage,
        CASE
            WHEN f.churn_date IS NOT NULL
              OR p.as_of - COALESCE(GREATEST(f.last_invoice_date, f.last_activity_date), f.signup_date) > p.lost_after_days
                THEN 'lost'
            WHEN ROUND(t.raw_score, 2) >= p.tier_healthy THEN 'healthy'
            WHEN ROUND(t.raw_score, 2) >= p.tier_sub_healthy THEN 'sub_healthy'
            ELSE 'at_risk'
        END AS health_tier,
        p.tier_healthy,
        p.tier_sub_healthy
    FROM customer_features AS f
    CROSS JOIN params AS p
    LEFT JOIN totals AS t USING (customer_id)
),
next_tier AS (
    SELECT
        customer_id,
        CASE health_tier
            WHEN 'sub_healthy' THEN tier_healthy - health_score
            WHEN 'at_risk' THEN tier_sub_healthy - health_score
        END AS points_to_next_tier
    FROM tiered
),
levers AS (
    -- the dimension that reaches the next tier with the fewest of its own points
    SELECT s.customer_id, arg_min(s.dimension, (n.points_to_next_tier / s.share, s.dimension)) AS dimension
    FROM shares AS s
    JOIN next_tier AS n USING (customer_id)
    WHERE n.points_to_next_tier IS NOT NULL
      AND s.share > 0
      AND s.score + n.points_to_next_tier / s.share <= 100
    GROUP BY s.customer_id
),
by_dimension AS (
    SELECT
        customer_id,
        arg_min(dimension, (score, -share, dimension)) AS weakest_dimension,
        MAX(score) FILTER (WHERE dimension = 'value') AS dim_value,
        MAX(score) FILTER (WHERE dimension = 'engagement') AS dim_engagement,
        MAX(score) FILTER (WHERE dimension = 'satisfaction') AS dim_satisfaction,
        MAX(score) FILTER (WHERE dimension = 'relationship') AS dim_relationship,
        MAX(score) FILTER (WHERE dimension = 'risk') AS dim_risk,
        MAX(score * share) FILTER (WHERE dimension = 'value') AS contrib_value,
        MAX(score * share) FILTER (WHERE dimension = 'engagement') AS contrib_engagement,
        MAX(score * share) FILTER (WHERE dimension = 'satisfaction') AS contrib_satisfaction,
        MAX(score * share) FILTER (WHERE dimension = 'relationship') AS contrib_relationship,
        MAX(score * share) FILTER (WHERE dimension = 'risk') AS contrib_risk
    FROM shares
    GROUP BY customer_id
)
SELECT
    f.customer_id,
    f.as_of,
    f.recency_days,
    f.frequency,
    f.monetary,
    r.r_score,
    r.f_score,
    r.m_score,
    r.rfm_cell,
    r.rfm_segment,
    t.health_score,
    t.health_tier,
    pb.playbook AS tier_playbook,
    t.coverage,
    ROUND(d.dim_value, 2) AS dim_value,
    ROUND(d.dim_engagement, 2) AS dim_engagement,
    ROUND(d.dim_satisfaction, 2) AS dim_satisfaction,
    ROUND(d.dim_relationship, 2) AS dim_relationship,
    ROUND(d.dim_risk, 2) AS dim_risk,
    ROUND(d.contrib_value, 2) AS contrib_value,
    ROUND(d.contrib_engagement, 2) AS contrib_engagement,
    ROUND(d.contrib_satisfaction, 2) AS contrib_satisfaction,
    ROUND(d.contrib_relationship, 2) AS contrib_relationship,
    ROUND(d.contrib_risk, 2) AS contrib_risk,
    d.weakest_dimension,
    ROUND(n.points_to_next_tier, 2) AS points_to_next_tier,
    l.dimension AS next_tier_lever,
    f.name,
    f.industry,
    f.region,
    f.owner,
    ph.as_of AS previous_as_of,
    ph.health_score AS previous_score,
    ROUND(t.health_score - ph.health_score, 2) AS score_delta,
    CASE
        WHEN t.health_score IS NULL OR ph.health_score IS NULL THEN NULL
        WHEN ROUND(t.health_score - ph.health_score, 2) > p.trend_threshold THEN 'up'
        WHEN ROUND(t.health_score - ph.health_score, 2) < -p.trend_threshold THEN 'down'
        ELSE 'flat'
    END AS trend,
    ph.health_tier AS previous_tier,
    ph.health_tier <> t.health_tier AS tier_changed,
    CAST(NULL AS DOUBLE) AS churn_risk,
    CAST(NULL AS VARCHAR) AS risk_band,
    CAST(NULL AS VARCHAR) AS top_risk_drivers
FROM customer_features AS f
CROSS JOIN params AS p
JOIN customer_rfm AS r USING (customer_id)
JOIN tiered AS t USING (customer_id)
JOIN tier_playbooks AS pb ON pb.health_tier = t.health_tier
JOIN next_tier AS n USING (customer_id)
LEFT JOIN by_dimension AS d USING (customer_id)
LEFT JOIN levers AS l USING (customer_id)
LEFT JOIN previous_health AS ph USING (customer_id)
ORDER BY f.customer_id;

-- ---- KPIs --------------------------------------------------------------------------------

CREATE TABLE kpis AS
WITH facts AS (
    SELECT
        h.customer_id,
        h.health_score,
        h.health_tier,
        h.rfm_segment,
        COALESCE(h.industry, '(unknown)') AS industry,
        COALESCE(h.region, '(unknown)') AS region,
        COALESCE(s.nps_answers, 0) AS nps_answers,
        COALESCE(s.promoters, 0) AS promoters,
        COALESCE(s.detractors, 0) AS detractors,
        COALESCE(s.csat_answers, 0) AS csat_answers,
        COALESCE(s.satisfied, 0) AS satisfied,
        COALESCE(LEAST(f.first_invoice_date, f.signup_date), f.first_invoice_date, f.signup_date)
            <= p.as_of - p.window_days
          AND (f.churn_date IS NULL OR f.churn_date > p.as_of - p.window_days) AS at_start,
        f.churn_date IS NOT NULL AND f.churn_date > p.as_of - p.window_days AS churned_in_period,
        COALESCE(i.amount_window, 0) AS period_revenue,
        COALESCE(i.amount_prior, 0) AS prior_revenue,
        f.first_invoice_date > p.as_of - p.window_days AS new_customer,
        COALESCE(i.product_lines, 0) AS product_lines
    FROM customer_health AS h
    JOIN customer_features AS f USING (customer_id)
    CROSS JOIN params AS p
    LEFT JOIN survey_facts AS s USING (customer_id)
    LEFT JOIN invoice_facts AS i USING (customer_id)
),
grouped AS (
    SELECT 'overall' AS group_by, 'all' AS group_value, * FROM facts
    UNION ALL SELECT 'health_tier', health_tier, * FROM facts
    UNION ALL SELECT 'rfm_segment', rfm_segment, * FROM facts
    UNION ALL SELECT 'industry', industry, * FROM facts
    UNION ALL SELECT 'region', region, * FROM facts
)
SELECT
    p.as_of,
    g.group_by,
    g.group_value,
    COUNT(*) AS customers,
    AVG(g.health_score) AS avg_health_score,
    COUNT(*) FILTER (WHERE g.health_tier = 'healthy') AS healthy,
    COUNT(*) FILTER (WHERE g.health_tier = 'sub_healthy') AS sub_healthy,
    COUNT(*) FILTER (WHERE g.health_tier = 'at_risk') AS at_risk,
    COUNT(*) FILTER (WHERE g.health_tier = 'lost') AS lost,
    100.0 * (SUM(g.promoters) - SUM(g.detractors)) / NULLIF(SUM(g.nps_answers), 0) AS nps,
    SUM(g.satisfied) / NULLIF(SUM(g.csat_answers), 0) AS csat,
    COUNT(*) FILTER (WHERE g.at_start AND g.churned_in_period) / NULLIF(COUNT(*) FILTER (WHERE g.at_start), 0) AS churn_rate,
    CAST(SUM(g.period_revenue) FILTER (WHERE g.prior_revenue > 0) AS DOUBLE)
        / NULLIF(CAST(SUM(g.prior_revenue) AS DOUBLE), 0) AS revenue_retention,
    CAST(SUM(g.period_revenue) FILTER (WHERE g.new_customer) AS DOUBLE)
        / NULLIF(CAST(SUM(g.period_revenue) AS DOUBLE), 0) AS new_customer_revenue_share,
    COUNT(*) FILTER (WHERE g.product_lines > 1) / NULLIF(COUNT(*) FILTER (WHERE g.period_revenue > 0), 0) AS cross_sell_rate
FROM grouped AS g
CROSS JOIN params AS p
GROUP BY p.as_of, g.group_by, g.group_value
ORDER BY g.group_by, g.group_value;

-- ---- alerts: events in this run's window (previous run's as_of, as_of] ---------------------

CREATE TABLE alerts AS
WITH run AS (
    SELECT *, COALESCE(previous_as_of, as_of - alert_first_run_days) AS since FROM params
),
tier_rank (tier, tier_rank) AS (
    VALUES ('lost', 0), ('at_risk', 1), ('sub_healthy', 2), ('healthy', 3)
),
moves AS (
    SELECT h.customer_id, h.health_score, h.health_tier, h.weakest_dimension,
           h.previous_as_of, h.previous_score, h.previous_tier,
           tn.tier_rank AS tier_now, tp.tier_rank AS tier_before
    FROM customer_health AS h
    JOIN tier_rank AS tn ON tn.tier = h.health_tier
    JOIN tier_rank AS tp ON tp.tier = h.previous_tier
),
active AS (
    SELECT customer_id FROM customer_health WHERE health_tier <> 'lost'
),
events AS (
    SELECT
        m.customer_id,
        'tier_drop' AS kind,
        CASE WHEN m.health_tier IN ('at_risk', 'lost') THEN 'high' ELSE 'medium' END AS severity,
        r.as_of AS event_date,
        'health tier fell from ' || m.previous_tier || ' to ' || m.health_tier AS message,
        'score ' || m.previous_score || ' on ' || m.previous_as_of || ' → ' || m.health_score
            || '; weakest dimension: ' || COALESCE(m.weakest_dimension, 'none') AS evidence
    FROM moves AS m CROSS JOIN run AS r
    WHERE m.tier_now < m.tier_before

    UNION ALL
    SELECT
        m.customer_id,
        'score_drop',
        CASE WHEN m.previous_score - m.health_score >= 2 * r.alert_score_drop THEN 'high' ELSE 'medium' END,
        r.as_of,
        'health score fell ' || ROUND(m.previous_score - m.health_score, 2) || ' points since ' || m.previous_as_of,
        'score ' || m.previous_score || ' → ' || m.health_score || '; threshold ' || r.alert_score_drop
            || '; weakest dimension: ' || COALESCE(m.weakest_dimension, 'none')
    FROM moves AS m CROSS JOIN run AS r
    WHERE m.previous_score - m.health_score >= r.alert_score_drop
      AND m.health_tier <> 'lost'

    UNION ALL
    SELECT
        q.customer_id,
        'no_interaction',
        'medium',
        q.quiet_from,
        'no interaction for more than ' || r.alert_quiet_days || ' days',
        CASE WHEN q.last_activity_date IS NULL
            THEN 'no activity recorded since signup on ' || q.signup_date
            ELSE 'last activity on ' || q.last_activity_date
        END
    FROM (
        SELECT f.customer_id, f.last_activity_date, f.signup_date,
               COALESCE(f.last_activity_date, f.signup_date) + r.alert_quiet_days + 1 AS quiet_from
        FROM active AS h
        JOIN customer_features AS f USING (customer_id)
        CROSS JOIN run AS r
    ) AS q
    CROSS JOIN run AS r
    WHERE q.quiet_from > r.since AND q.quiet_from <= r.as_of

    UNION ALL
    SELECT
        k.customer_id,
        'severe_complaint',
        'high',
        k.opened_date,
        'new ' || k.severity || ' complaint',
        'opened on ' || k.opened_date
            || CASE WHEN k.resolved_date IS NULL THEN ', still open' ELSE ', resolved on ' || k.resolved_date END
    FROM tickets AS k CROSS JOIN run AS r
    WHERE k.kind = 'complaint'
      AND k.severity IN ('high', 'critical')
      AND k.opened_date > r.since AND k.opened_date <= r.as_of

    UNION ALL
    SELECT
        acc.customer_id,
        'key_contact_change',
        'medium',
        acc.key_contact_since,
        'key contact changed',
        'key contact now ' || COALESCE(acc.key_contact, 'unknown') || ' since ' || acc.key_contact_since
    FROM accounts AS acc
    JOIN active AS h USING (customer_id)
    CROSS JOIN run AS r
    WHERE acc.key_contact_since > r.since AND acc.key_contact_since <= r.as_of
      AND (acc.signup_date IS NULL OR acc.key_contact_since > acc.signup_date)

    UNION ALL
    SELECT
        c.customer_id,
        'contract_ending',
        CASE WHEN c.end_date - r.as_of <= r.alert_contract_days // 2 THEN 'high' ELSE 'medium' END,
        c.end_date - r.alert_contract_days,
        'contract ends within ' || r.alert_contract_days || ' days with no renewal',
        'contract ' || c.start_date || ' to ' || c.end_date || COALESCE(', value ' || ROUND(c.value, 2), '')
    FROM contracts AS c
    JOIN active AS h USING (customer_id)
    CROSS JOIN run AS r
    WHERE c.end_date - r.alert_contract_days > r.since
      AND c.end_date - r.alert_contract_days <= r.as_of
      AND c.end_date >= r.as_of
      -- a renewal is signed before it starts: look it up in the whole export
      AND NOT EXISTS (
          SELECT 1 FROM bronze_contracts AS n
          WHERE n.customer_id = c.customer_id AND n.start_date > c.start_date AND n.end_date > c.end_date
      )

    UNION ALL
    SELECT
        i.customer_id,
        'invoice_overdue',
        CASE WHEN i.amount >= 50000 THEN 'high' ELSE 'medium' END,
        i.due_date + r.alert_overdue_days,
        'invoice unpaid ' || r.alert_overdue_days || ' days after its due date',
        'invoice ' || COALESCE(i.invoice_id, '(no id)') || ' of ' || ROUND(i.amount, 2) || ' due ' || i.due_date
    FROM invoices AS i CROSS JOIN run AS r
    WHERE i.paid_date IS NULL
      AND i.due_date + r.alert_overdue_days > r.since
      AND i.due_date + r.alert_overdue_days <= r.as_of
)
SELECT e.customer_id, r.as_of, e.kind, e.severity, e.message, e.evidence, e.event_date, h.owner, h.health_tier
FROM events AS e
CROSS JOIN run AS r
LEFT JOIN customer_health AS h USING (customer_id)
ORDER BY e.customer_id, e.kind, e.event_date, e.evidence;

-- ---- publish -------------------------------------------------------------------------------

CREATE MACRO part(t) AS getvariable('out') || '/' || t || '/as_of=' || getvariable('as_of') || '/part-0.parquet';

COPY (FROM bronze_invoices) TO (part('bronze/invoices')) (FORMAT parquet, COMPRESSION zstd);
COPY (FROM bronze_accounts) TO (part('bronze/accounts')) (FORMAT parquet, COMPRESSION zstd);
COPY (FROM bronze_activities) TO (part('bronze/activities')) (FORMAT parquet, COMPRESSION zstd);
COPY (FROM bronze_tickets) TO (part('bronze/tickets')) (FORMAT parquet, COMPRESSION zstd);
COPY (FROM bronze_contracts) TO (part('bronze/contracts')) (FORMAT parquet, COMPRESSION zstd);
COPY (FROM bronze_surveys) TO (part('bronze/surveys')) (FORMAT parquet, COMPRESSION zstd);
COPY (FROM bronze_relationship_assessments) TO (part('bronze/relationship_assessments')) (FORMAT parquet, COMPRESSION zstd);
COPY rejects TO (part('rejects')) (FORMAT parquet, COMPRESSION zstd);
COPY customer_health TO (part('customer_health')) (FORMAT parquet, COMPRESSION zstd);
COPY customer_metrics TO (part('customer_metrics')) (FORMAT parquet, COMPRESSION zstd);
COPY kpis TO (part('kpis')) (FORMAT parquet, COMPRESSION zstd);
COPY alerts TO (part('alerts')) (FORMAT parquet, COMPRESSION zstd);
