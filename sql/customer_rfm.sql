-- customer_rfm: recency, frequency and monetary scores 1..rfm_bins (higher is better) and
-- the customer's RFM segment.
--
-- Quantile scores (the default): 1 + floor(rfm_bins * (rank - 1) / customers), where rank
-- orders customers from worst to best and ties share their lowest position (RANK). Equal
-- values always get equal scores; when many customers share a value (say 60 % bought once)
-- they all get the score of the tie's first position, so scores stay defined and some
-- score values are simply unused. Recency is reversed; never invoiced scores 1.
--
-- Cut points (rfm_cuts, from [rfm] <measure>_cuts) replace quantiles for their measure:
-- recency scores rfm_bins minus the number of cuts below the value (≤ first cut is best);
-- frequency and monetary score 1 plus the number of cuts below the value.
--
-- Scores rank customers among those of the same as_of (one date in a nightly run; each
-- training date of the churn model's baseline).
WITH quantiles AS (
    SELECT
        f.customer_id,
        f.as_of,
        f.recency_days,
        f.frequency,
        f.monetary,
        CAST(1 + (p.rfm_bins * (RANK() OVER (PARTITION BY f.as_of ORDER BY f.recency_days DESC NULLS FIRST) - 1))
                 / COUNT(*) OVER (PARTITION BY f.as_of) AS INT) AS r_quantile,
        CAST(1 + (p.rfm_bins * (RANK() OVER (PARTITION BY f.as_of ORDER BY f.frequency ASC) - 1))
                 / COUNT(*) OVER (PARTITION BY f.as_of) AS INT) AS f_quantile,
        CAST(1 + (p.rfm_bins * (RANK() OVER (PARTITION BY f.as_of ORDER BY f.monetary ASC) - 1))
                 / COUNT(*) OVER (PARTITION BY f.as_of) AS INT) AS m_quantile
    FROM customer_features AS f
    CROSS JOIN params AS p
),
cuts_below AS (
    SELECT
        q.as_of,
        q.customer_id,
        COUNT(c.cut) FILTER (WHERE c.measure = 'recency' AND q.recency_days > c.cut) AS recency_cuts,
        COUNT(c.cut) FILTER (WHERE c.measure = 'frequency' AND q.frequency > c.cut) AS frequency_cuts,
        COUNT(c.cut) FILTER (WHERE c.measure = 'monetary' AND q.monetary > c.cut) AS monetary_cuts
    FROM quantiles AS q
    LEFT JOIN rfm_cuts AS c ON TRUE
    GROUP BY q.as_of, q.customer_id
),
measures_with_cuts AS (
    SELECT
        COUNT(*) FILTER (WHERE measure = 'recency') > 0 AS recency,
        COUNT(*) FILTER (WHERE measure = 'frequency') > 0 AS frequency,
        COUNT(*) FILTER (WHERE measure = 'monetary') > 0 AS monetary
    FROM rfm_cuts
),
scores AS (
    SELECT
        q.customer_id,
        q.as_of,
        CAST(CASE
            WHEN NOT m.recency THEN q.r_quantile
            WHEN q.recency_days IS NULL THEN 1
            ELSE p.rfm_bins - c.recency_cuts
        END AS INT) AS r_score,
        CAST(CASE WHEN m.frequency THEN 1 + c.frequency_cuts ELSE q.f_quantile END AS INT) AS f_score,
        CAST(CASE WHEN m.monetary THEN 1 + c.monetary_cuts ELSE q.m_quantile END AS INT) AS m_score
    FROM quantiles AS q
    JOIN cuts_below AS c ON c.as_of = q.as_of AND c.customer_id = q.customer_id
    CROSS JOIN measures_with_cuts AS m
    CROSS JOIN params AS p
)
SELECT
    s.customer_id,
    s.r_score,
    s.f_score,
    s.m_score,
    'R' || CAST(s.r_score AS VARCHAR) || 'F' || CAST(s.f_score AS VARCHAR) || 'M' || CAST(s.m_score AS VARCHAR) AS rfm_cell,
    g.rfm_segment,
    s.as_of
FROM scores AS s
JOIN rfm_segment_map AS g
  ON g.r_score = s.r_score AND g.f_score = s.f_score AND g.m_score = s.m_score
