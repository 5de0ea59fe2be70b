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
-- The weight of each dimension (NULL at weight 0), and each customer's score and weight
-- on the dimensions it has a score on (NULL without data, or at weight 0): every figure
-- after that is computed within the customer's row of customer_dimensions.
WITH weights AS (
    SELECT
        MAX(CASE WHEN dimension = 'value' AND weight > 0 THEN weight END) AS value,
        MAX(CASE WHEN dimension = 'engagement' AND weight > 0 THEN weight END) AS engagement,
        MAX(CASE WHEN dimension = 'satisfaction' AND weight > 0 THEN weight END) AS satisfaction,
        MAX(CASE WHEN dimension = 'relationship' AND weight > 0 THEN weight END) AS relationship,
        MAX(CASE WHEN dimension = 'risk' AND weight > 0 THEN weight END) AS risk
    FROM dimension_weights
),
weighted AS (
    SELECT
        c.customer_id,
        c.as_of,
        c.recency_days,
        c.frequency,
        c.monetary,
        c.name,
        c.industry,
        c.region,
        c.owner,
        c.churn_date,
        c.days_inactive,
        c.r_score,
        c.f_score,
        c.m_score,
        c.rfm_cell,
        c.rfm_segment,
        CASE WHEN w.value IS NOT NULL THEN c.score_value END AS score_value,
        CASE WHEN w.engagement IS NOT NULL THEN c.score_engagement END AS score_engagement,
        CASE WHEN w.satisfaction IS NOT NULL THEN c.score_satisfaction END AS score_satisfaction,
        CASE WHEN w.relationship IS NOT NULL THEN c.score_relationship END AS score_relationship,
        CASE WHEN w.risk IS NOT NULL THEN c.score_risk END AS score_risk,
        CASE WHEN c.score_value IS NOT NULL THEN w.value END AS weight_value,
        CASE WHEN c.score_engagement IS NOT NULL THEN w.engagement END AS weight_engagement,
        CASE WHEN c.score_satisfaction IS NOT NULL THEN w.satisfaction END AS weight_satisfaction,
        CASE WHEN c.score_relationship IS NOT NULL THEN w.relationship END AS weight_relationship,
        CASE WHEN c.score_risk IS NOT NULL THEN w.risk END AS weight_risk
    FROM customer_dimensions AS c
    CROSS JOIN weights AS w
),
-- coverage: the weight that had data (NULL with none). Weighted scores are added as
-- DECIMAL, exactly.
totals AS (
    SELECT
        *,
        CASE WHEN COALESCE(weight_value, weight_engagement, weight_satisfaction, weight_relationship, weight_risk)
            IS NOT NULL THEN CAST(
            COALESCE(CAST(weight_value AS DECIMAL(38, 12)), 0) +
            COALESCE(CAST(weight_engagement AS DECIMAL(38, 12)), 0) +
            COALESCE(CAST(weight_satisfaction AS DECIMAL(38, 12)), 0) +
            COALESCE(CAST(weight_relationship AS DECIMAL(38, 12)), 0) +
            COALESCE(CAST(weight_risk AS DECIMAL(38, 12)), 0)
        AS DOUBLE) END AS coverage,
        CAST(
            COALESCE(CAST(weight_value * score_value AS DECIMAL(38, 12)), 0) +
            COALESCE(CAST(weight_engagement * score_engagement AS DECIMAL(38, 12)), 0) +
            COALESCE(CAST(weight_satisfaction * score_satisfaction AS DECIMAL(38, 12)), 0) +
            COALESCE(CAST(weight_relationship * score_relationship AS DECIMAL(38, 12)), 0) +
            COALESCE(CAST(weight_risk * score_risk AS DECIMAL(38, 12)), 0)
        AS DOUBLE) AS weighted_total
    FROM weighted
),
-- Each dimension's share of that weight; the health points missing to the next tier as
-- the score stands, unless the customer is lost (known only from customer_features, below).
shares AS (
    SELECT
        t.*,
        t.weighted_total / t.coverage AS raw_score,
        t.weight_value / t.coverage AS share_value,
        t.weight_engagement / t.coverage AS share_engagement,
        t.weight_satisfaction / t.coverage AS share_satisfaction,
        t.weight_relationship / t.coverage AS share_relationship,
        t.weight_risk / t.coverage AS share_risk,
        CASE
            WHEN ROUND(t.weighted_total / t.coverage, 2) >= p.tier_healthy THEN NULL
            WHEN ROUND(t.weighted_total / t.coverage, 2) >= p.tier_sub_healthy
                THEN p.tier_healthy - ROUND(t.weighted_total / t.coverage, 2)
            ELSE p.tier_sub_healthy - ROUND(t.weighted_total / t.coverage, 2)
        END AS points_unless_lost
    FROM totals AS t
    CROSS JOIN params AS p
),
-- The dimension points each dimension would need to reach the next tier on its own (NULL
-- without room below 100 for them), and the lowest score.
needs AS (
    SELECT
        *,
        CASE WHEN score_value + points_unless_lost / share_value <= 100
            THEN points_unless_lost / share_value END AS need_value,
        CASE WHEN score_engagement + points_unless_lost / share_engagement <= 100
            THEN points_unless_lost / share_engagement END AS need_engagement,
        CASE WHEN score_satisfaction + points_unless_lost / share_satisfaction <= 100
            THEN points_unless_lost / share_satisfaction END AS need_satisfaction,
        CASE WHEN score_relationship + points_unless_lost / share_relationship <= 100
            THEN points_unless_lost / share_relationship END AS need_relationship,
        CASE WHEN score_risk + points_unless_lost / share_risk <= 100
            THEN points_unless_lost / share_risk END AS need_risk,
        LEAST(score_value, score_engagement, score_satisfaction, score_relationship, score_risk) AS weakest_score
    FROM shares
),
picks AS (
    SELECT
        *,
        GREATEST(
            CASE WHEN score_value = weakest_score THEN share_value END,
            CASE WHEN score_engagement = weakest_score THEN share_engagement END,
            CASE WHEN score_satisfaction = weakest_score THEN share_satisfaction END,
            CASE WHEN score_relationship = weakest_score THEN share_relationship END,
            CASE WHEN score_risk = weakest_score THEN share_risk END
        ) AS heaviest_weakest,
        LEAST(need_value, need_engagement, need_satisfaction, need_relationship, need_risk) AS fewest_points
    FROM needs
),
-- weakest: the lowest score, then the heavier share, then the name. lever: the dimension
-- that reaches the next tier with the fewest dimension points, then the name.
by_customer AS (
    SELECT
        customer_id,
        as_of,
        recency_days,
        frequency,
        monetary,
        name,
        industry,
        region,
        owner,
        churn_date,
        days_inactive,
        r_score,
        f_score,
        m_score,
        rfm_cell,
        rfm_segment,
        raw_score,
        coverage,
        score_value AS dim_value,
        score_engagement AS dim_engagement,
        score_satisfaction AS dim_satisfaction,
        score_relationship AS dim_relationship,
        score_risk AS dim_risk,
        score_value * share_value AS contrib_value,
        score_engagement * share_engagement AS contrib_engagement,
        score_satisfaction * share_satisfaction AS contrib_satisfaction,
        score_relationship * share_relationship AS contrib_relationship,
        score_risk * share_risk AS contrib_risk,
        CASE
            WHEN score_engagement = weakest_score AND share_engagement = heaviest_weakest THEN 'engagement'
            WHEN score_relationship = weakest_score AND share_relationship = heaviest_weakest THEN 'relationship'
            WHEN score_risk = weakest_score AND share_risk = heaviest_weakest THEN 'risk'
            WHEN score_satisfaction = weakest_score AND share_satisfaction = heaviest_weakest THEN 'satisfaction'
            WHEN score_value = weakest_score AND share_value = heaviest_weakest THEN 'value'
        END AS weakest_dimension,
        CASE
            WHEN need_engagement = fewest_points THEN 'engagement'
            WHEN need_relationship = fewest_points THEN 'relationship'
            WHEN need_risk = fewest_points THEN 'risk'
            WHEN need_satisfaction = fewest_points THEN 'satisfaction'
            WHEN need_value = fewest_points THEN 'value'
        END AS lever_unless_lost
    FROM picks
),
-- Each customer with its tier: lost (CRM churn date, or inactive too long) before any score.
tiered AS (
    SELECT
        b.customer_id,
        b.as_of,
        b.recency_days,
        b.frequency,
        b.monetary,
        b.name,
        b.industry,
        b.region,
        b.owner,
        b.r_score,
        b.f_score,
        b.m_score,
        b.rfm_cell,
        b.rfm_segment,
        ROUND(b.raw_score, 2) AS health_score,
        CASE
            WHEN b.churn_date IS NOT NULL OR b.days_inactive > p.lost_after_days THEN 'lost'
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
    FROM by_customer AS b
    CROSS JOIN params AS p
)
SELECT
    t.customer_id,
    t.as_of,
    t.recency_days,
    t.frequency,
    t.monetary,
    t.r_score,
    t.f_score,
    t.m_score,
    t.rfm_cell,
    t.rfm_segment,
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
JOIN tier_playbooks AS pb ON pb.health_tier = t.health_tier
LEFT JOIN previous_health AS ph ON ph.customer_id = t.customer_id
ORDER BY t.customer_id
