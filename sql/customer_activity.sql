-- customer_activity: what each customer's CRM activities say as of the run date, read once
-- from the activities for every model that needs them: customer_features, the engagement
-- metrics and the churn features. One row per customer with an activity.
--   last_activity_date        the newest activity
--   recent_touches            activities in the recent_days up to as_of
--   response_hours            mean response time of the period's activities (DECIMAL: the
--                             same in any order)
--   executive_share           share of the period's activities with a contact level whose
--                             contact was an executive
--   touches_last_90, touches_prior_90   activities in the last 90 days, and the 90 before
-- A fact model: keyed by as_of and customer_id (see customer_features.sql).
SELECT
    a.as_of,
    a.customer_id,
    MAX(a.activity_date) AS last_activity_date,
    COUNT(*) FILTER (WHERE a.activity_date > a.as_of - p.recent_days) AS recent_touches,
    AVG(CAST(a.response_hours AS DECIMAL(38, 6))) FILTER (WHERE a.activity_date > a.as_of - p.window_days)
        AS response_hours,
    AVG(CASE WHEN a.contact_level = 'executive' THEN 1.0 ELSE 0.0 END)
        FILTER (WHERE a.activity_date > a.as_of - p.window_days AND a.contact_level IS NOT NULL) AS executive_share,
    COUNT(*) FILTER (WHERE a.activity_date > a.as_of - 90) AS touches_last_90,
    COUNT(*) FILTER (WHERE a.activity_date <= a.as_of - 90 AND a.activity_date > a.as_of - 180) AS touches_prior_90
FROM activities AS a
CROSS JOIN params AS p
GROUP BY a.as_of, a.customer_id
