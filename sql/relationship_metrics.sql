-- relationship_metrics: how deep the people-to-people relationship is (the relationship
-- dimension), from relationship assessments on the −1 (hostile) … 3 (exclusive supporter)
-- scale. Each assessed dimension counts with its latest level; customers never assessed
-- have no row.
--   relationship_level  average of the latest level of each assessed dimension
-- A fact model: keyed by as_of and customer_id (see customer_features.sql), of the
-- portfolio's customers only: an assessment of an id no account and no invoice knows
-- scores no one.
-- The latest level is taken by aggregation (the newest date, then the lowest level that
-- day), not ROW_NUMBER() over as_of: on a Ballista cluster a window partitioned by the
-- run's as_of fails (see the README, "On a Ballista cluster").
WITH newest AS (
    SELECT as_of, customer_id, dimension, MAX(assessed_date) AS assessed_date
    FROM relationship_assessments
    GROUP BY as_of, customer_id, dimension
),
latest AS (
    SELECT a.as_of, a.customer_id, a.dimension, MIN(a.level) AS level
    FROM relationship_assessments AS a
    JOIN newest AS n
      ON n.as_of = a.as_of AND n.customer_id = a.customer_id AND n.dimension = a.dimension
     AND n.assessed_date = a.assessed_date
    GROUP BY a.as_of, a.customer_id, a.dimension
)
SELECT customer_id, as_of, 'relationship_level' AS metric, CAST(AVG(level) AS DOUBLE) AS value
FROM latest AS l
WHERE EXISTS (SELECT 1 FROM customer_features AS f WHERE f.as_of = l.as_of AND f.customer_id = l.customer_id)
GROUP BY as_of, customer_id
