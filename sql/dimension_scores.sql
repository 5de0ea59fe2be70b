-- dimension_scores: each customer's score 0–100 on each dimension: the weighted average
-- of its metric scores, over the metrics the customer has data for (weights renormalized),
-- so a missing metric is left out rather than counted as zero. A dimension none of whose
-- weighted metrics has data for the customer has no row.
-- Sums are DECIMAL, exact: the same in whatever order rows arrive.
SELECT
    customer_id,
    dimension,
    CAST(SUM(CAST(weight * score AS DECIMAL(38, 12))) AS DOUBLE) / CAST(SUM(CAST(weight AS DECIMAL(38, 12))) AS DOUBLE)
        AS score
FROM customer_metrics
WHERE weight > 0
GROUP BY customer_id, dimension
