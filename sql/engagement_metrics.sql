-- engagement_metrics: how alive the relationship is (the engagement dimension), from CRM
-- activities. When the pipeline has an activities source, every customer has a touch
-- frequency (zero touches is a fact); the other metrics need at least one activity.
--   touch_frequency        activities in the last recent_days
--   response_hours         average hours to answer the customer, in the window
--   decision_maker_reach   share of the window's activities that reached an executive
--   days_since_last_touch  days from the last activity to as_of
WITH per_customer AS (
    SELECT
        a.customer_id,
        COUNT(*) FILTER (WHERE a.activity_date > p.as_of - p.recent_days) AS recent_touches,
        AVG(a.response_hours) FILTER (WHERE a.activity_date > p.as_of - p.window_days) AS response_hours,
        AVG(CASE WHEN a.contact_level = 'executive' THEN 1.0 ELSE 0.0 END)
            FILTER (WHERE a.activity_date > p.as_of - p.window_days AND a.contact_level IS NOT NULL) AS executive_share,
        CAST(p.as_of AS INT) - CAST(MAX(a.activity_date) AS INT) AS days_since_last
    FROM activities AS a
    CROSS JOIN params AS p
    GROUP BY a.customer_id, p.as_of
),
known AS (
    SELECT f.customer_id, pc.recent_touches, pc.response_hours, pc.executive_share, pc.days_since_last
    FROM customer_features AS f
    JOIN sources AS s ON s.source = 'activities' AND s.present
    LEFT JOIN per_customer AS pc ON pc.customer_id = f.customer_id
)
SELECT customer_id, 'touch_frequency' AS metric, CAST(COALESCE(recent_touches, 0) AS DOUBLE) AS value FROM known
UNION ALL
SELECT customer_id, 'response_hours', CAST(response_hours AS DOUBLE) FROM known WHERE response_hours IS NOT NULL
UNION ALL
SELECT customer_id, 'decision_maker_reach', CAST(executive_share AS DOUBLE) FROM known WHERE executive_share IS NOT NULL
UNION ALL
SELECT customer_id, 'days_since_last_touch', CAST(days_since_last AS DOUBLE) FROM known WHERE days_since_last IS NOT NULL
