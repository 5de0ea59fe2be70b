-- dimension_scores: each customer's score 0–100 on each dimension: the weighted average
-- of its metric scores, over the metrics the customer has data for (weights renormalized),
-- so a missing metric is left out rather than counted as zero. A dimension none of whose
-- weighted metrics has data for the customer has no row.
SELECT
    customer_id,
    dimension,
    SUM(weight * score) / SUM(weight) AS score
FROM customer_metrics
WHERE weight > 0
GROUP BY customer_id, dimension
