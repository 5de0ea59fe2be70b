-- customer_metrics: every configured metric of every customer, its value and its 0–100
-- score by the rule for that metric in the pipeline file (the metric_rules and
-- metric_points tables). Published, so "which metric pulled the score down" is one query.
--   percentile  mid-rank percentile within the portfolio of customers having the metric:
--               100 * (customers strictly worse + half the customers tied with it) / n.
--               Ties share a score; a lone or all-equal metric scores 50.
--   thresholds  straight lines between the configured (value, score) points; below the
--               first point its score, above the last point its score.
-- Either way a better value never gets a lower score.
-- as_of (the run date, as in every published table) comes last: it was added after the
-- first release, and columns are only ever appended.
WITH metric_values AS (
    SELECT customer_id, metric, value FROM value_metrics
    UNION ALL SELECT customer_id, metric, value FROM engagement_metrics
    UNION ALL SELECT customer_id, metric, value FROM satisfaction_metrics
    UNION ALL SELECT customer_id, metric, value FROM relationship_metrics
    UNION ALL SELECT customer_id, metric, value FROM risk_metrics
),
ruled AS (
    SELECT
        v.customer_id,
        v.metric,
        v.value,
        r.dimension,
        r.weight,
        r.scale,
        CASE WHEN r.higher_is_better THEN v.value ELSE -v.value END AS goodness
    FROM metric_values AS v
    JOIN metric_rules AS r ON r.metric = v.metric
    WHERE v.value IS NOT NULL
),
-- Both scales carry the customer's row along, so the scores need no join back to it. The
-- windows read the rows in goodness order, holding none of them: the customers tied with
-- a row are n less those strictly worse (its rank up) and strictly better (its rank down),
-- and n is the count per metric.
customers_per_metric AS (
    SELECT metric, COUNT(*) AS n FROM ruled WHERE scale = 'percentile' GROUP BY metric
),
ranked AS (
    SELECT
        customer_id,
        dimension,
        metric,
        value,
        weight,
        RANK() OVER (PARTITION BY metric ORDER BY goodness) - 1 AS worse,
        RANK() OVER (PARTITION BY metric ORDER BY goodness DESC) - 1 AS better
    FROM ruled
    WHERE scale = 'percentile'
),
percentile AS (
    SELECT
        r.customer_id,
        r.dimension,
        r.metric,
        r.value,
        r.weight,
        100.0 * (r.worse + (c.n - r.worse - r.better) / 2.0) / c.n AS score
    FROM customers_per_metric AS c
    JOIN ranked AS r ON r.metric = c.metric
),
segments AS (
    SELECT
        metric,
        value AS x0,
        score AS s0,
        LEAD(value) OVER (PARTITION BY metric ORDER BY value) AS x1,
        LEAD(score) OVER (PARTITION BY metric ORDER BY value) AS s1,
        ROW_NUMBER() OVER (PARTITION BY metric ORDER BY value) AS k
    FROM metric_points
),
-- The few segments, with their metric's rule, are the join's small side: every metric
-- value streams past them.
thresholds AS (
    SELECT
        v.customer_id,
        r.dimension,
        v.metric,
        v.value,
        r.weight,
        CASE
            WHEN v.value < s.x0 OR s.x1 IS NULL THEN s.s0
            ELSE s.s0 + (s.s1 - s.s0) * (v.value - s.x0) / (s.x1 - s.x0)
        END AS score
    FROM segments AS s
    JOIN metric_rules AS r ON r.metric = s.metric AND r.scale = 'thresholds'
    JOIN metric_values AS v
      ON v.metric = s.metric
     AND ((s.k = 1 AND v.value < s.x0) OR (v.value >= s.x0 AND (s.x1 IS NULL OR v.value < s.x1)))
    WHERE v.value IS NOT NULL
),
scored AS (
    SELECT * FROM percentile
    UNION ALL
    SELECT * FROM thresholds
)
SELECT s.customer_id, s.dimension, s.metric, s.value, s.weight, CAST(s.score AS DOUBLE) AS score, p.as_of
FROM scored AS s
CROSS JOIN params AS p
ORDER BY s.customer_id, s.dimension, s.metric
