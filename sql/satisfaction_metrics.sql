-- satisfaction_metrics: what the customer says and does (the satisfaction dimension).
-- A customer never surveyed in the window has no nps / csat row: the dimension then rests
-- on what data there is, or is left out — never counted as zero.
--   nps                average NPS answer (0–10) in the window
--   csat               average CSAT answer (1–5) in the window
--   complaint_balance  praise minus complaints among the window's tickets (every customer
--                      when the pipeline has a tickets source)
WITH answers AS (
    SELECT
        s.customer_id,
        AVG(s.nps) AS nps,
        AVG(s.csat) AS csat
    FROM surveys AS s
    CROSS JOIN params AS p
    WHERE s.response_date > p.as_of - p.window_days
    GROUP BY s.customer_id
),
ticket_balance AS (
    SELECT
        t.customer_id,
        COUNT(*) FILTER (WHERE t.kind = 'praise') - COUNT(*) FILTER (WHERE t.kind = 'complaint') AS balance
    FROM tickets AS t
    CROSS JOIN params AS p
    WHERE t.opened_date > p.as_of - p.window_days
    GROUP BY t.customer_id
),
ticketed AS (
    SELECT f.customer_id, COALESCE(b.balance, 0) AS balance
    FROM customer_features AS f
    JOIN sources AS s ON s.source = 'tickets' AND s.present
    LEFT JOIN ticket_balance AS b ON b.customer_id = f.customer_id
)
SELECT customer_id, 'nps' AS metric, CAST(nps AS DOUBLE) AS value FROM answers WHERE nps IS NOT NULL
UNION ALL
SELECT customer_id, 'csat', CAST(csat AS DOUBLE) FROM answers WHERE csat IS NOT NULL
UNION ALL
SELECT customer_id, 'complaint_balance', CAST(balance AS DOUBLE) FROM ticketed
