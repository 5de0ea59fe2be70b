-- alerts: who needs attention, one row per event, published once per event.
--
-- Every alert is an event dated in this run's window (since, as_of], where since is the
-- previous run's as_of (first run: as_of − alert_first_run_days). The next run's window
-- starts where this one ended, so an event fires in exactly one run, not every night;
-- a gap between runs is covered by the next run's wider window.
--
-- kind                 event                                           threshold in [params]
-- tier_drop            health tier lower than in the previous run
-- score_drop           health_score fell by at least the threshold     alert_score_drop
-- churn_risk_up        risk_band higher than in the previous run
-- no_interaction       silence (no activity) passed the threshold      alert_quiet_days
-- severe_complaint     complaint ticket of severity high or critical
-- key_contact_change   a new key contact took over (CRM accounts)
-- contract_ending      a contract ends within the threshold, no renewal alert_contract_days
-- invoice_overdue      an unpaid invoice passed due date + threshold    alert_overdue_days
--
-- Reads scored_health: this run's customer_health with the churn columns, as staged for
-- publishing (the model lane adds churn_risk after the SQL lane), previous_health: the
-- newest earlier customer_health partition (empty on a first run), and alert_events: the
-- events of the sources (the kinds from no_interaction on).
WITH run AS (
    SELECT as_of, alert_score_drop FROM params
),
moves AS (
    SELECT
        h.customer_id,
        h.health_score,
        h.health_tier,
        h.weakest_dimension,
        h.churn_risk,
        h.risk_band,
        ph.as_of AS previous_as_of,
        ph.health_score AS previous_score,
        ph.health_tier AS previous_tier,
        ph.risk_band AS previous_band,
        tn.tier_rank AS tier_now,
        tp.tier_rank AS tier_before,
        bn.band_rank AS band_now,
        bp.band_rank AS band_before
    FROM scored_health AS h
    JOIN previous_health AS ph ON ph.customer_id = h.customer_id
    LEFT JOIN tier_playbooks AS tn ON tn.health_tier = h.health_tier
    LEFT JOIN tier_playbooks AS tp ON tp.health_tier = ph.health_tier
    LEFT JOIN risk_bands AS bn ON bn.risk_band = h.risk_band
    LEFT JOIN risk_bands AS bp ON bp.risk_band = ph.risk_band
),
active AS (
    -- Customers an account team still works with: lost ones get no interaction alerts.
    SELECT customer_id FROM scored_health WHERE health_tier <> 'lost'
),
events AS (
    SELECT
        m.customer_id,
        'tier_drop' AS kind,
        CASE WHEN m.health_tier IN ('at_risk', 'lost') THEN 'high' ELSE 'medium' END AS severity,
        r.as_of AS event_date,
        'health tier fell from ' || m.previous_tier || ' to ' || m.health_tier AS message,
        'score ' || CAST(m.previous_score AS VARCHAR) || ' on ' || CAST(m.previous_as_of AS VARCHAR)
            || ' → ' || CAST(m.health_score AS VARCHAR) || '; weakest dimension: '
            || COALESCE(m.weakest_dimension, 'none') AS evidence
    FROM moves AS m
    CROSS JOIN run AS r
    WHERE m.tier_now < m.tier_before

    UNION ALL
    SELECT
        m.customer_id,
        'score_drop',
        CASE WHEN m.previous_score - m.health_score >= 2 * r.alert_score_drop THEN 'high' ELSE 'medium' END,
        r.as_of,
        'health score fell ' || CAST(ROUND(m.previous_score - m.health_score, 2) AS VARCHAR) || ' points since '
            || CAST(m.previous_as_of AS VARCHAR),
        'score ' || CAST(m.previous_score AS VARCHAR) || ' → ' || CAST(m.health_score AS VARCHAR)
            || '; threshold ' || CAST(r.alert_score_drop AS VARCHAR) || '; weakest dimension: '
            || COALESCE(m.weakest_dimension, 'none')
    FROM moves AS m
    CROSS JOIN run AS r
    WHERE m.previous_score - m.health_score >= r.alert_score_drop
      AND m.health_tier <> 'lost'  -- a lost customer's drop is no news; its tier_drop was

    UNION ALL
    SELECT
        m.customer_id,
        'churn_risk_up',
        CASE WHEN m.risk_band = 'high' THEN 'high' ELSE 'medium' END,
        r.as_of,
        'churn risk band rose from ' || m.previous_band || ' to ' || m.risk_band,
        'churn_risk ' || CAST(ROUND(m.churn_risk, 3) AS VARCHAR)
    FROM moves AS m
    CROSS JOIN run AS r
    WHERE m.band_now > m.band_before

    UNION ALL
    SELECT e.customer_id, e.kind, e.severity, e.event_date, e.message, e.evidence
    FROM alert_events AS e
    WHERE NOT e.active_only OR e.customer_id IN (SELECT customer_id FROM active)
)
SELECT
    e.customer_id,
    r.as_of,
    e.kind,
    e.severity,
    e.message,
    e.evidence,
    e.event_date,
    h.owner,
    h.health_tier
FROM events AS e
CROSS JOIN run AS r
LEFT JOIN scored_health AS h ON h.customer_id = e.customer_id
ORDER BY e.customer_id, e.kind, e.event_date, e.evidence
