-- customer_dimensions: one row per customer with what customer_health scores it from,
-- before its own rules (dimension weights, tiers, playbooks) apply: the customer's
-- features, its RFM cell and its score on each dimension side by side (NULL: no data on
-- that dimension). Kept apart so that a change of those rules re-scores from these rows
-- instead of grouping the dimension rows again.
WITH by_customer AS (
    SELECT
        customer_id,
        MAX(CASE WHEN dimension = 'value' THEN score END) AS score_value,
        MAX(CASE WHEN dimension = 'engagement' THEN score END) AS score_engagement,
        MAX(CASE WHEN dimension = 'satisfaction' THEN score END) AS score_satisfaction,
        MAX(CASE WHEN dimension = 'relationship' THEN score END) AS score_relationship,
        MAX(CASE WHEN dimension = 'risk' THEN score END) AS score_risk
    FROM dimension_scores
    WHERE score IS NOT NULL
    GROUP BY customer_id
)
SELECT
    f.customer_id,
    f.as_of,
    f.recency_days,
    f.frequency,
    f.monetary,
    f.name,
    f.industry,
    f.region,
    f.owner,
    f.churn_date,
    f.days_inactive,
    r.r_score,
    r.f_score,
    r.m_score,
    r.rfm_cell,
    r.rfm_segment,
    d.score_value,
    d.score_engagement,
    d.score_satisfaction,
    d.score_relationship,
    d.score_risk
FROM customer_features AS f
JOIN customer_rfm AS r ON r.customer_id = f.customer_id
LEFT JOIN by_customer AS d ON d.customer_id = f.customer_id
