-- kpis: portfolio KPIs as of the run date, overall and by health_tier, rfm_segment,
-- industry and region (group_by names the grouping, group_value the group). "The period"
-- is the window_days up to as_of; "the period before" the window_days before that.
--   customers                   customers in the group
--   avg_health_score            mean health_score
--   healthy … lost              customers per tier
--   nps                         % promoters (9–10) − % detractors (0–6) among the period's answers
--   csat                        satisfied answers (4–5) / answers with a CSAT score
--   churn_rate                  customers lost in the period / customers at its start
--   revenue_retention           period revenue of customers who bought in the period before /
--                               their revenue in the period before
--   new_customer_revenue_share  revenue from customers first invoiced in the period / revenue
--   cross_sell_rate             buyers of more than one product line / buyers, in the period
-- A ratio with nothing to divide by is NULL. The per-customer figures come from
-- customer_kpi_facts.sql (over customer_period.sql).
WITH facts AS (
    SELECT
        h.customer_id,
        h.health_score,
        h.health_tier,
        h.rfm_segment,
        COALESCE(h.industry, '(unknown)') AS industry,
        COALESCE(h.region, '(unknown)') AS region,
        k.nps_answers,
        k.promoters,
        k.detractors,
        k.csat_answers,
        k.satisfied,
        k.at_start,
        k.churned_in_period,
        k.period_revenue,
        k.prior_revenue,
        -- Scores as DECIMAL: their sums are exact, the same in any order.
        CAST(h.health_score AS DECIMAL(38, 2)) AS health_score_exact,
        k.new_customer,
        k.product_lines
    FROM customer_health AS h
    JOIN customer_kpi_facts AS k ON k.customer_id = h.customer_id
),
-- Each customer once per grouping. A join with the list of groupings reads facts once; a
-- UNION of five SELECTs over it would compute facts (and scan the invoices) five times.
groupings AS (
    SELECT * FROM (VALUES ('overall'), ('health_tier'), ('rfm_segment'), ('industry'), ('region')) AS v(group_by)
),
grouped AS (
    SELECT
        gs.group_by,
        CASE gs.group_by
            WHEN 'overall' THEN 'all'
            WHEN 'health_tier' THEN f.health_tier
            WHEN 'rfm_segment' THEN f.rfm_segment
            WHEN 'industry' THEN f.industry
            ELSE f.region
        END AS group_value,
        f.*
    FROM groupings AS gs
    CROSS JOIN facts AS f
)
SELECT
    p.as_of,
    g.group_by,
    g.group_value,
    COUNT(*) AS customers,
    CAST(AVG(g.health_score_exact) AS DOUBLE) AS avg_health_score,
    COUNT(*) FILTER (WHERE g.health_tier = 'healthy') AS healthy,
    COUNT(*) FILTER (WHERE g.health_tier = 'sub_healthy') AS sub_healthy,
    COUNT(*) FILTER (WHERE g.health_tier = 'at_risk') AS at_risk,
    COUNT(*) FILTER (WHERE g.health_tier = 'lost') AS lost,
    100.0 * (SUM(g.promoters) - SUM(g.detractors)) / NULLIF(SUM(g.nps_answers), 0) AS nps,
    CAST(SUM(g.satisfied) AS DOUBLE) / NULLIF(SUM(g.csat_answers), 0) AS csat,
    CAST(COUNT(*) FILTER (WHERE g.at_start AND g.churned_in_period) AS DOUBLE)
        / NULLIF(COUNT(*) FILTER (WHERE g.at_start), 0) AS churn_rate,
    CAST(SUM(g.period_revenue) FILTER (WHERE g.prior_revenue > 0) AS DOUBLE)
        / NULLIF(CAST(SUM(g.prior_revenue) AS DOUBLE), 0) AS revenue_retention,
    CAST(SUM(g.period_revenue) FILTER (WHERE g.new_customer) AS DOUBLE)
        / NULLIF(CAST(SUM(g.period_revenue) AS DOUBLE), 0) AS new_customer_revenue_share,
    CAST(COUNT(*) FILTER (WHERE g.product_lines > 1) AS DOUBLE)
        / NULLIF(COUNT(*) FILTER (WHERE g.period_revenue > 0), 0) AS cross_sell_rate
FROM params AS p
CROSS JOIN grouped AS g
GROUP BY p.as_of, g.group_by, g.group_value
ORDER BY g.group_by, g.group_value
