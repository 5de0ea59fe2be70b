-- risk_metrics: what threatens the account (the risk dimension). Every metric is "lower
-- is better"; its scale turns high risk into a low score.
--   overdue_ratio        share of invoices due in the window paid late or still unpaid
--   avg_days_late        average days past due of those invoices (unpaid: up to as_of)
--   open_severe_tickets  unresolved high or critical tickets opened in the last recent_days
--                        (every customer when the pipeline has a tickets source)
WITH due AS (
    SELECT
        i.customer_id,
        AVG(CASE WHEN i.paid_date IS NULL OR i.paid_date > i.due_date THEN 1.0 ELSE 0.0 END) AS overdue_ratio,
        AVG(GREATEST(CAST(COALESCE(i.paid_date, p.as_of) AS INT) - CAST(i.due_date AS INT), 0)) AS avg_days_late
    FROM invoices AS i
    CROSS JOIN params AS p
    WHERE i.due_date <= p.as_of AND i.due_date > p.as_of - p.window_days
    GROUP BY i.customer_id
),
open_severe AS (
    SELECT t.customer_id, COUNT(*) AS tickets
    FROM tickets AS t
    CROSS JOIN params AS p
    WHERE t.resolved_date IS NULL
      AND t.severity IN ('high', 'critical')
      AND t.opened_date > p.as_of - p.recent_days
    GROUP BY t.customer_id
),
ticketed AS (
    SELECT f.customer_id, COALESCE(o.tickets, 0) AS tickets
    FROM customer_features AS f
    JOIN sources AS s ON s.source = 'tickets' AND s.present
    LEFT JOIN open_severe AS o ON o.customer_id = f.customer_id
)
SELECT customer_id, 'overdue_ratio' AS metric, CAST(overdue_ratio AS DOUBLE) AS value FROM due
UNION ALL
SELECT customer_id, 'avg_days_late', CAST(avg_days_late AS DOUBLE) FROM due
UNION ALL
SELECT customer_id, 'open_severe_tickets', CAST(tickets AS DOUBLE) FROM ticketed
