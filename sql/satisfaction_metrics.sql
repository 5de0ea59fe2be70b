-- satisfaction_metrics: what the customer says and does (the satisfaction dimension).
-- A customer never surveyed in the window has no nps / csat row: the dimension then rests
-- on what data there is, or is left out — never counted as zero.
--   nps                average NPS answer (0–10) in the window
--   csat               average CSAT answer (1–5) in the window
--   complaint_balance  praise minus complaints among the window's tickets (every customer
--                      when the pipeline has a tickets source)
-- A fact model: keyed by as_of and customer_id, answers from the period's facts
-- (customer_period.sql), of the portfolio's customers only (customer_features): an answer
-- from an id no account and no invoice knows scores no one, nor moves others' percentiles.
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
),
surveyed AS (
    SELECT c.customer_id, c.as_of, c.nps_answers, c.nps_total, c.csat_answers, c.csat_total
    FROM customer_period AS c
    WHERE (c.nps_answers > 0 OR c.csat_answers > 0)
      AND EXISTS (SELECT 1 FROM customer_features AS f WHERE f.as_of = c.as_of AND f.customer_id = c.customer_id)
)
SELECT customer_id, as_of, 'nps' AS metric, CAST(nps_total AS DOUBLE) / CAST(nps_answers AS DOUBLE) AS value
FROM surveyed WHERE nps_answers > 0
UNION ALL
SELECT customer_id, as_of, 'csat', CAST(csat_total AS DOUBLE) / CAST(csat_answers AS DOUBLE)
FROM surveyed WHERE csat_answers > 0
UNION ALL
SELECT customer_id, as_of, 'complaint_balance', CAST(balance AS DOUBLE) FROM ticketed
