-- customer_period: what each customer did in the period (the window_days up to as_of),
-- read once from the invoices and survey answers for every model that needs it: the value,
-- satisfaction and risk metrics, the churn features and the KPIs. One row per customer
-- with an invoice or an answer.
--   first_invoice_date, last_invoice_date   over all the customer's invoices to as_of
--   invoices_to_date                over all of them: how many
--   invoices_in_period              invoices dated in the period (RFM frequency)
--   period_revenue, prior_revenue   invoiced in the period, and in the period before it
--                                   (DECIMAL: sums of them stay exact)
--   active_months, product_lines    months with an invoice, product lines bought, in the period
--   due_invoices                    invoices due in the period (due on or before as_of)
--   paid_on_time, paid_late         of those: paid by the due date; paid late or still unpaid
--   days_late                       their days past due, summed (unpaid: up to as_of)
--   recent_invoices, earlier_invoices  invoices in the last 90 days, and the 90 days before
--   nps_answers, nps_total, promoters, detractors   the period's NPS answers (0–10)
--   csat_answers, csat_total, satisfied             the period's CSAT answers (1–5; 4–5 satisfied)
-- A fact model: keyed by as_of and customer_id, amounts summed exactly (see
-- customer_features.sql).
WITH billed AS (
    SELECT
        i.as_of,
        i.customer_id,
        MIN(i.invoice_date) AS first_invoice_date,
        MAX(i.invoice_date) AS last_invoice_date,
        COUNT(*) AS invoices_to_date,
        COUNT(*) FILTER (WHERE i.invoice_date > i.as_of - p.window_days) AS invoices_in_period,
        SUM(CAST(i.amount AS DECIMAL(38, 6))) FILTER (WHERE i.invoice_date > i.as_of - p.window_days) AS period_revenue,
        SUM(CAST(i.amount AS DECIMAL(38, 6))) FILTER (WHERE i.invoice_date <= i.as_of - p.window_days
                                                        AND i.invoice_date > i.as_of - 2 * p.window_days) AS prior_revenue,
        COUNT(*) FILTER (WHERE i.due_date <= i.as_of AND i.due_date > i.as_of - p.window_days) AS due_invoices,
        COUNT(*) FILTER (WHERE i.due_date <= i.as_of AND i.due_date > i.as_of - p.window_days
                           AND i.paid_date IS NOT NULL AND i.paid_date <= i.due_date) AS paid_on_time,
        COUNT(*) FILTER (WHERE i.due_date <= i.as_of AND i.due_date > i.as_of - p.window_days
                           AND (i.paid_date IS NULL OR i.paid_date > i.due_date)) AS paid_late,
        SUM(GREATEST(CAST(COALESCE(i.paid_date, i.as_of) AS INT) - CAST(i.due_date AS INT), 0))
            FILTER (WHERE i.due_date <= i.as_of AND i.due_date > i.as_of - p.window_days) AS days_late,
        COUNT(*) FILTER (WHERE i.invoice_date > i.as_of - 90) AS recent_invoices,
        COUNT(*) FILTER (WHERE i.invoice_date <= i.as_of - 90 AND i.invoice_date > i.as_of - 180) AS earlier_invoices
    FROM invoices AS i
    CROSS JOIN params AS p
    GROUP BY i.as_of, i.customer_id
),
-- Distinct months and product lines per customer, counted from distinct pairs: a plain
-- COUNT(DISTINCT …) per customer keeps a hash set per customer and was the slowest part
-- of the run at a million customers.
windowed AS (
    SELECT i.as_of, i.customer_id, date_trunc('month', i.invoice_date) AS month, i.product_line
    FROM invoices AS i
    CROSS JOIN params AS p
    WHERE i.invoice_date > i.as_of - p.window_days
),
months AS (
    SELECT as_of, customer_id, COUNT(*) AS active_months
    FROM (SELECT DISTINCT as_of, customer_id, month FROM windowed) AS d
    GROUP BY as_of, customer_id
),
lines AS (
    SELECT as_of, customer_id, COUNT(*) AS product_lines
    FROM (SELECT DISTINCT as_of, customer_id, product_line FROM windowed WHERE product_line IS NOT NULL) AS d
    GROUP BY as_of, customer_id
),
answers AS (
    SELECT
        s.as_of,
        s.customer_id,
        COUNT(s.nps) AS nps_answers,
        SUM(s.nps) AS nps_total,
        COUNT(*) FILTER (WHERE s.nps >= 9) AS promoters,
        COUNT(*) FILTER (WHERE s.nps <= 6) AS detractors,
        COUNT(s.csat) AS csat_answers,
        SUM(s.csat) AS csat_total,
        COUNT(*) FILTER (WHERE s.csat >= 4) AS satisfied
    FROM surveys AS s
    CROSS JOIN params AS p
    WHERE s.response_date > s.as_of - p.window_days
    GROUP BY s.as_of, s.customer_id
)
-- A customer with invoices, answers or both: the full join keeps each once.
SELECT
    COALESCE(b.customer_id, a.customer_id) AS customer_id,
    COALESCE(b.as_of, a.as_of) AS as_of,
    b.first_invoice_date,
    b.last_invoice_date,
    COALESCE(b.invoices_to_date, 0) AS invoices_to_date,
    COALESCE(b.invoices_in_period, 0) AS invoices_in_period,
    COALESCE(b.period_revenue, 0) AS period_revenue,
    COALESCE(b.prior_revenue, 0) AS prior_revenue,
    COALESCE(mo.active_months, 0) AS active_months,
    COALESCE(li.product_lines, 0) AS product_lines,
    COALESCE(b.due_invoices, 0) AS due_invoices,
    COALESCE(b.paid_on_time, 0) AS paid_on_time,
    COALESCE(b.paid_late, 0) AS paid_late,
    COALESCE(b.days_late, 0) AS days_late,
    COALESCE(b.recent_invoices, 0) AS recent_invoices,
    COALESCE(b.earlier_invoices, 0) AS earlier_invoices,
    COALESCE(a.nps_answers, 0) AS nps_answers,
    COALESCE(a.nps_total, 0) AS nps_total,
    COALESCE(a.promoters, 0) AS promoters,
    COALESCE(a.detractors, 0) AS detractors,
    COALESCE(a.csat_answers, 0) AS csat_answers,
    COALESCE(a.csat_total, 0) AS csat_total,
    COALESCE(a.satisfied, 0) AS satisfied
FROM billed AS b
LEFT JOIN months AS mo ON mo.as_of = b.as_of AND mo.customer_id = b.customer_id
LEFT JOIN lines AS li ON li.as_of = b.as_of AND li.customer_id = b.customer_id
FULL JOIN answers AS a ON a.as_of = b.as_of AND a.customer_id = b.customer_id
