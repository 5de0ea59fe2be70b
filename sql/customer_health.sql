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
-- The dimension scores are read twice (the totals, then each customer's picks) and every
-- per-customer figure comes out of one grouping, so nothing is computed twice.
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
-- Each dimension beside its customer's totals; points_to_next_tier as it is unless the
-- customer is lost (the lost are known only from customer_features, below).
shares AS (
    SELECT
        w.customer_id,
        w.dimension,
        w.score,
        w.weight / t.coverage AS share,
        t.raw_score,
        t.coverage,
        CASE
            WHEN ROUND(t.raw_score, 2) >= p.tier_healthy THEN NULL
            WHEN ROUND(t.raw_score, 2) >= p.tier_sub_healthy THEN p.tier_healthy - ROUND(t.raw_score, 2)
            ELSE p.tier_sub_healthy - ROUND(t.raw_score, 2)
        END AS points_unless_lost
    FROM weighted AS w
    JOIN totals AS t ON t.customer_id = w.customer_id
    CROSS JOIN params AS p
),
-- weakest: the lowest score (then the heavier share, then the name). lever: the dimension
-- that reaches the next tier with the fewest dimension points, if it has room below 100.
by_customer AS (
    SELECT
        customer_id,
        MAX(raw_score) AS raw_score,
        MAX(coverage) AS coverage,
        MAX(CASE WHEN dimension = 'value' THEN score END) AS dim_value,
        MAX(CASE WHEN dimension = 'engagement' THEN score END) AS dim_engagement,
        MAX(CASE WHEN dimension = 'satisfaction' THEN score END) AS dim_satisfaction,
        MAX(CASE WHEN dimension = 'relationship' THEN score END) AS dim_relationship,
        MAX(CASE WHEN dimension = 'risk' THEN score END) AS dim_risk,
        MAX(CASE WHEN dimension = 'value' THEN score * share END) AS contrib_value,
        MAX(CASE WHEN dimension = 'engagement' THEN score * share END) AS contrib_engagement,
        MAX(CASE WHEN dimension = 'satisfaction' THEN score * share END) AS contrib_satisfaction,
        MAX(CASE WHEN dimension = 'relationship' THEN score * share END) AS contrib_relationship,
        MAX(CASE WHEN dimension = 'risk' THEN score * share END) AS contrib_risk,
        FIRST_VALUE(dimension ORDER BY score, share DESC, dimension) AS weakest_dimension,
        FIRST_VALUE(dimension ORDER BY points_unless_lost / share, dimension) FILTER (
            WHERE points_unless_lost IS NOT NULL AND share > 0 AND score + points_unless_lost / share <= 100
        ) AS lever_unless_lost
    FROM shares
    GROUP BY customer_id
),
-- Each customer with its tier: lost (CRM churn date, or inactive too long) before any score.
tiered AS (
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
        ROUND(b.raw_score, 2) AS health_score,
        CASE
            WHEN f.churn_date IS NOT NULL OR f.days_inactive > p.lost_after_days THEN 'lost'
            WHEN ROUND(b.raw_score, 2) >= p.tier_healthy THEN 'healthy'
            WHEN ROUND(b.raw_score, 2) >= p.tier_sub_healthy THEN 'sub_healthy'
            ELSE 'at_risk'
        END AS health_tier,
        b.coverage,
        b.dim_value,
        b.dim_engagement,
        b.dim_satisfaction,
        b.dim_relationship,
        b.dim_risk,
        b.contrib_value,
        b.contrib_engagement,
        b.contrib_satisfaction,
        b.contrib_relationship,
        b.contrib_risk,
        b.weakest_dimension,
        b.lever_unless_lost
    FROM customer_features AS f
    CROSS JOIN params AS p
    LEFT JOIN by_customer AS b ON b.customer_id = f.customer_id
)
SELECT
    t.customer_id,
    t.as_of,
    t.recency_days,
    t.frequency,
    t.monetary,
    r.r_score,
    r.f_score,
    r.m_score,
    r.rfm_cell,
    r.rfm_segment,
    t.health_score,
    t.health_tier,
    pb.playbook AS tier_playbook,
    t.coverage,
    ROUND(t.dim_value, 2) AS dim_value,
    ROUND(t.dim_engagement, 2) AS dim_engagement,
    ROUND(t.dim_satisfaction, 2) AS dim_satisfaction,
    ROUND(t.dim_relationship, 2) AS dim_relationship,
    ROUND(t.dim_risk, 2) AS dim_risk,
    ROUND(t.contrib_value, 2) AS contrib_value,
    ROUND(t.contrib_engagement, 2) AS contrib_engagement,
    ROUND(t.contrib_satisfaction, 2) AS contrib_satisfaction,
    ROUND(t.contrib_relationship, 2) AS contrib_relationship,
    ROUND(t.contrib_risk, 2) AS contrib_risk,
    t.weakest_dimension,
    ROUND(CASE t.health_tier
        WHEN 'sub_healthy' THEN p.tier_healthy - t.health_score
        WHEN 'at_risk' THEN p.tier_sub_healthy - t.health_score
    END, 2) AS points_to_next_tier,
    CASE WHEN t.health_tier IN ('sub_healthy', 'at_risk') THEN t.lever_unless_lost END AS next_tier_lever,
    t.name,
    t.industry,
    t.region,
    t.owner,
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
FROM tiered AS t
CROSS JOIN params AS p
JOIN customer_rfm AS r ON r.customer_id = t.customer_id
JOIN tier_playbooks AS pb ON pb.health_tier = t.health_tier
LEFT JOIN previous_health AS ph ON ph.customer_id = t.customer_id
ORDER BY t.customer_id
