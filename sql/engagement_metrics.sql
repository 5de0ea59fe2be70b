-- engagement_metrics: how alive the relationship is (the engagement dimension), from CRM
-- activities. When the pipeline has an activities source, every customer has a touch
-- frequency (zero touches is a fact); the other metrics need at least one activity.
--   touch_frequency        activities in the last recent_days
--   response_hours         average hours to answer the customer, in the window
--   decision_maker_reach   share of the window's activities that reached an executive
--   days_since_last_touch  days from the last activity to as_of
-- A fact model: keyed by as_of and customer_id, over customer_activity.sql (see
-- customer_features.sql).
WITH known AS (
    SELECT
        f.as_of,
        f.customer_id,
        ca.recent_touches,
        ca.response_hours,
        ca.executive_share,
        CAST(ca.as_of AS INT) - CAST(ca.last_activity_date AS INT) AS days_since_last
    FROM customer_features AS f
    JOIN sources AS s ON s.source = 'activities' AND s.present
    LEFT JOIN customer_activity AS ca ON ca.as_of = f.as_of AND ca.customer_id = f.customer_id
),
-- One pass: each customer's figures are crossed with the list of metrics. (A UNION ALL of
-- one SELECT per metric over `known` would aggregate the activities once per metric.)
metrics AS (
    SELECT * FROM (VALUES ('touch_frequency'), ('response_hours'), ('decision_maker_reach'), ('days_since_last_touch'))
        AS v(metric)
),
measured AS (
    SELECT
        k.customer_id,
        k.as_of,
        m.metric,
        CASE m.metric
            WHEN 'touch_frequency' THEN CAST(COALESCE(k.recent_touches, 0) AS DOUBLE)
            WHEN 'response_hours' THEN CAST(k.response_hours AS DOUBLE)
            WHEN 'decision_maker_reach' THEN CAST(k.executive_share AS DOUBLE)
            WHEN 'days_since_last_touch' THEN CAST(k.days_since_last AS DOUBLE)
        END AS value
    FROM metrics AS m
    CROSS JOIN known AS k
)
SELECT customer_id, as_of, metric, value FROM measured WHERE value IS NOT NULL
