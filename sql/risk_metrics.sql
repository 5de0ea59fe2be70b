-- risk_metrics: what threatens the account (the risk dimension). Every metric is "lower
-- is better"; its scale turns high risk into a low score.
--   overdue_ratio        share of invoices due in the window paid late or still unpaid
--   avg_days_late        average days past due of those invoices (unpaid: up to as_of)
--   open_severe_tickets  unresolved high or critical tickets opened in the last recent_days
--                        (every customer when the pipeline has a tickets source)
-- A fact model: keyed by as_of and customer_id, invoices from the period's facts
-- (customer_period.sql).
WITH open_severe AS (
    SELECT t.as_of, t.customer_id, COUNT(*) AS tickets
    FROM tickets AS t
    CROSS JOIN params AS p
    WHERE t.resolved_date IS NULL
      AND t.severity IN ('high', 'critical')
      AND t.opened_date > t.as_of - p.recent_days
    GROUP BY t.as_of, t.customer_id
),
ticketed AS (
    SELECT f.as_of, f.customer_id, COALESCE(o.tickets, 0) AS tickets
    FROM customer_features AS f
    JOIN sources AS s ON s.source = 'tickets' AND s.present
    LEFT JOIN open_severe AS o ON o.as_of = f.as_of AND o.customer_id = f.customer_id
)
SELECT customer_id, as_of, 'overdue_ratio' AS metric, CAST(paid_late AS DOUBLE) / CAST(due_invoices AS DOUBLE) AS value
FROM customer_period WHERE due_invoices > 0
UNION ALL
SELECT customer_id, as_of, 'avg_days_late', CAST(days_late AS DOUBLE) / CAST(due_invoices AS DOUBLE)
FROM customer_period WHERE due_invoices > 0
UNION ALL
SELECT customer_id, as_of, 'open_severe_tickets', CAST(tickets AS DOUBLE) FROM ticketed
