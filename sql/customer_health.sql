-- customer_health: the published one-row-per-customer table BI tools read.
-- Columns are a contract: add freely, never rename or drop without a README migration note.
--
-- health_score  weighted average of the dimension scores the customer has (dimension
--               weights renormalized over them), rounded to 2 decimals; 0–100
-- coverage      share of the dimension weight that had data (1 = every dimension)
-- health_tier   lost (CRM churn date on or before as_of, or no invoice and no activity for
--               lost_after_days), else healthy ≥ tier_healthy, sub_healthy ≥ tier_sub_healthy,
--               else at_risk
-- dim_<d>       the customer's score on dimension d, 0–100 (NULL: no data)
-- contrib_<d>   the points dimension d adds to health_score (they sum to it, up to rounding)
-- Scores and points are rounded to 2 decimals.
-- weakest_dimension     the dimension with the lowest score
-- points_to_next_tier   health points missing to reach the next tier up
-- next_tier_lever       the dimension whose improvement reaches the next tier with the
--                       fewest dimension points (needs weight, and room below 100)
-- previous_as_of … tier_changed   the move since the previous run (previous_health; all
--                       NULL for a customer the previous run did not score): score_delta
--                       is health_score − previous_score, trend is up / down beyond
--                       trend_threshold points, else flat
WITH weighted AS (
    SELECT d.customer_id, d.dimension, d.score, w.weight
    FROM dimension_scores AS d
    JOIN dimension_weights AS w ON w.dimension = d.dimension
    WHERE w.weight > 0
),
-- Sums of weighted scores are DECIMAL, exact: the same in whatever order rows arrive.
totals AS (
    SELECT
        customer_id,
        CAST(SUM(CAST(weight * score AS DECIMAL(38, 12))) AS DOUBLE) / CAST(SUM(CAST(weight AS DECIMAL(38, 12))) AS DOUBLE)
            AS raw_score,
        CAST(SUM(CAST(weight AS DECIMAL(38, 12))) AS DOUBLE) AS coverage
    FROM weighted
    GROUP BY customer_id
),
shares AS (
    SELECT w.customer_id, w.dimension, w.score, w.weight / t.coverage AS share
    FROM weighted AS w
    JOIN totals AS t ON t.customer_id = w.customer_id
),
tiered AS (
    SELECT
        f.customer_id,
        ROUND(t.raw_score, 2) AS health_score,
        t.coverage,
        CASE
            WHEN f.churn_date IS NOT NULL OR f.days_inactive > p.lost_after_days THEN 'lost'
            WHEN ROUND(t.raw_score, 2) >= p.tier_healthy THEN 'healthy'
            WHEN ROUND(t.raw_score, 2) >= p.tier_sub_healthy THEN 'sub_healthy'
            ELSE 'at_risk'
        END AS health_tier,
        p.tier_healthy,
        p.tier_sub_healthy
    FROM customer_features AS f
    CROSS JOIN params AS p
    LEFT JOIN totals AS t ON t.customer_id = f.customer_id
),
next_tier AS (
    SELECT
        customer_id,
        CASE health_tier
            WHEN 'sub_healthy' THEN tier_healthy - health_score
            WHEN 'at_risk' THEN tier_sub_healthy - health_score
        END AS points_to_next_tier
    FROM tiered
),
levers AS (
    SELECT
        s.customer_id,
        s.dimension,
        ROW_NUMBER() OVER (PARTITION BY s.customer_id ORDER BY n.points_to_next_tier / s.share, s.dimension) AS pick
    FROM shares AS s
    JOIN next_tier AS n ON n.customer_id = s.customer_id
    WHERE n.points_to_next_tier IS NOT NULL
      AND s.share > 0
      AND s.score + n.points_to_next_tier / s.share <= 100
),
weakest AS (
    SELECT
        customer_id,
        dimension,
        ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY score, share DESC, dimension) AS pick
    FROM shares
),
by_dimension AS (
    SELECT
        customer_id,
        MAX(CASE WHEN dimension = 'value' THEN score END) AS dim_value,
        MAX(CASE WHEN dimension = 'engagement' THEN score END) AS dim_engagement,
        MAX(CASE WHEN dimension = 'satisfaction' THEN score END) AS dim_satisfaction,
        MAX(CASE WHEN dimension = 'relationship' THEN score END) AS dim_relationship,
        MAX(CASE WHEN dimension = 'risk' THEN score END) AS dim_risk,
        MAX(CASE WHEN dimension = 'value' THEN score * share END) AS contrib_value,
        MAX(CASE WHEN dimension = 'engagement' THEN score * share END) AS contrib_engagement,
        MAX(CASE WHEN dimension = 'satisfaction' THEN score * share END) AS contrib_satisfaction,
        MAX(CASE WHEN dimension = 'relationship' THEN score * share END) AS contrib_relationship,
        MAX(CASE WHEN dimension = 'risk' THEN score * share END) AS contrib_risk
    FROM shares
    GROUP BY customer_id
)
SELECT
    f.customer_id,
    f.as_of,
    f.recency_days,
    f.frequency,
    f.monetary,
    r.r_score,
    r.f_score,
    r.m_score,
    r.rfm_cell,
    r.rfm_segment,
    t.health_score,
    t.health_tier,
    pb.playbook AS tier_playbook,
    t.coverage,
    ROUND(d.dim_value, 2) AS dim_value,
    ROUND(d.dim_engagement, 2) AS dim_engagement,
    ROUND(d.dim_satisfaction, 2) AS dim_satisfaction,
    ROUND(d.dim_relationship, 2) AS dim_relationship,
    ROUND(d.dim_risk, 2) AS dim_risk,
    ROUND(d.contrib_value, 2) AS contrib_value,
    ROUND(d.contrib_engagement, 2) AS contrib_engagement,
    ROUND(d.contrib_satisfaction, 2) AS contrib_satisfaction,
    ROUND(d.contrib_relationship, 2) AS contrib_relationship,
    ROUND(d.contrib_risk, 2) AS contrib_risk,
    w.dimension AS weakest_dimension,
    ROUND(n.points_to_next_tier, 2) AS points_to_next_tier,
    l.dimension AS next_tier_lever,
    f.name,
    f.industry,
    f.region,
    f.owner,
    ph.as_of AS previous_as_of,
    ph.health_score AS previous_score,
    ROUND(t.health_score - ph.health_score, 2) AS score_delta,
    CASE
        WHEN t.health_score IS NULL OR ph.health_score IS NULL THEN NULL
        WHEN ROUND(t.health_score - ph.health_score, 2) > p.trend_threshold THEN 'up'
        WHEN ROUND(t.health_score - ph.health_score, 2) < -p.trend_threshold THEN 'down'
        ELSE 'flat'
    END AS trend,
    ph.health_tier AS previous_tier,
    ph.health_tier <> t.health_tier AS tier_changed
FROM customer_features AS f
CROSS JOIN params AS p
JOIN customer_rfm AS r ON r.customer_id = f.customer_id
JOIN tiered AS t ON t.customer_id = f.customer_id
JOIN tier_playbooks AS pb ON pb.health_tier = t.health_tier
JOIN next_tier AS n ON n.customer_id = f.customer_id
LEFT JOIN by_dimension AS d ON d.customer_id = f.customer_id
LEFT JOIN weakest AS w ON w.customer_id = f.customer_id AND w.pick = 1
LEFT JOIN levers AS l ON l.customer_id = f.customer_id AND l.pick = 1
LEFT JOIN previous_health AS ph ON ph.customer_id = f.customer_id
ORDER BY f.customer_id
