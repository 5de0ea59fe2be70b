-- satisfaction_metrics: what the customer says and does (the satisfaction dimension).
-- A customer never surveyed in the window has no nps / csat row: the dimension then rests
-- on what data there is, or is left out — never counted as zero.
--   nps                average NPS answer (0–10) in the window
--   csat               average CSAT answer (1–5) in the window
--   complaint_balance  praise minus complaints among the window's tickets (every customer
--                      when the pipeline has a tickets source)
-- A fact model: keyed by as_of and customer_id, answers from the period's facts
-- (customer_period.sql).
WITH ticket_balance AS (
    SELECT
        t.as_of,
        t.customer_id,
        COUNT(*) FILTER (WHERE t.kind = 'praise') - COUNT(*) FILTER (WHERE t.kind = 'complaint') AS balance
    FROM tickets AS t
    CROSS JOIN params AS p
    WHERE t.opened_date > t.as_of - p.window_days
    GROUP BY t.as_of, t.customer_id
),
ticketed AS (
    SELECT f.as_of, f.customer_id, COALESCE(b.balance, 0) AS balance
    FROM customer_features AS f
    JOIN sources AS s ON s.source = 'tickets' AND s.present
    LEFT JOIN ticket_balance AS b ON b.as_of = f.as_of AND b.customer_id = f.customer_id
)
SELECT customer_id, as_of, 'nps' AS metric, CAST(nps_total AS DOUBLE) / CAST(nps_answers AS DOUBLE) AS value
FROM customer_period WHERE nps_answers > 0
UNION ALL
SELECT customer_id, as_of, 'csat', CAST(csat_total AS DOUBLE) / CAST(csat_answers AS DOUBLE)
FROM customer_period WHERE csat_answers > 0
UNION ALL
SELECT customer_id, as_of, 'complaint_balance', CAST(balance AS DOUBLE) FROM ticketed
