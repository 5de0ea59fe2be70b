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
-- publishing (the model lane adds churn_risk after the SQL lane), and previous_health:
-- the newest earlier customer_health partition (empty on a first run).
WITH run AS (
    SELECT
        as_of,
        COALESCE(previous_as_of, as_of - alert_first_run_days) AS since,
        alert_score_drop,
        alert_quiet_days,
        alert_contract_days,
        alert_overdue_days
    FROM params
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
last_touch AS (
    SELECT a.customer_id, MAX(a.activity_date) AS last_activity_date
    FROM activities AS a
    GROUP BY a.customer_id
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
    SELECT
        q.customer_id,
        'no_interaction',
        'medium',
        q.quiet_from,
        'no interaction for more than ' || CAST(r.alert_quiet_days AS VARCHAR) || ' days',
        CASE WHEN q.last_activity_date IS NULL
            THEN 'no activity recorded since signup on ' || CAST(q.signup_date AS VARCHAR)
            ELSE 'last activity on ' || CAST(q.last_activity_date AS VARCHAR)
        END
    FROM (
        SELECT
            h.customer_id,
            t.last_activity_date,
            acc.signup_date,
            COALESCE(t.last_activity_date, acc.signup_date) + r.alert_quiet_days + 1 AS quiet_from
        FROM active AS h
        CROSS JOIN run AS r
        LEFT JOIN last_touch AS t ON t.customer_id = h.customer_id
        LEFT JOIN accounts AS acc ON acc.customer_id = h.customer_id
    ) AS q
    CROSS JOIN run AS r
    WHERE q.quiet_from > r.since AND q.quiet_from <= r.as_of

    UNION ALL
    SELECT
        k.customer_id,
        'severe_complaint',
        'high',
        k.opened_date,
        'new ' || k.severity || ' complaint',
        'opened on ' || CAST(k.opened_date AS VARCHAR)
            || CASE WHEN k.resolved_date IS NULL THEN ', still open' ELSE ', resolved on '
               || CAST(k.resolved_date AS VARCHAR) END
    FROM tickets AS k
    CROSS JOIN run AS r
    WHERE k.kind = 'complaint'
      AND k.severity IN ('high', 'critical')
      AND k.opened_date > r.since AND k.opened_date <= r.as_of

    UNION ALL
    SELECT
        acc.customer_id,
        'key_contact_change',
        'medium',
        acc.key_contact_since,
        'key contact changed',
        'key contact now ' || COALESCE(acc.key_contact, 'unknown') || ' since '
            || CAST(acc.key_contact_since AS VARCHAR)
    FROM accounts AS acc
    JOIN active AS h ON h.customer_id = acc.customer_id
    CROSS JOIN run AS r
    WHERE acc.key_contact_since > r.since AND acc.key_contact_since <= r.as_of
      -- the first contact, there since signup, is not a change
      AND (acc.signup_date IS NULL OR acc.key_contact_since > acc.signup_date)

    UNION ALL
    SELECT
        c.customer_id,
        'contract_ending',
        CASE WHEN CAST(c.end_date AS INT) - CAST(r.as_of AS INT) <= r.alert_contract_days / 2 THEN 'high' ELSE 'medium' END,
        c.end_date - r.alert_contract_days,
        'contract ends within ' || CAST(r.alert_contract_days AS VARCHAR) || ' days with no renewal',
        'contract ' || CAST(c.start_date AS VARCHAR) || ' to ' || CAST(c.end_date AS VARCHAR)
            || COALESCE(', value ' || CAST(ROUND(c.value, 2) AS VARCHAR), '')
    FROM contracts AS c
    JOIN active AS h ON h.customer_id = c.customer_id
    CROSS JOIN run AS r
    WHERE c.end_date - r.alert_contract_days > r.since
      AND c.end_date - r.alert_contract_days <= r.as_of
      AND c.end_date >= r.as_of
      -- A renewal is signed before it starts, so it is looked up in the whole export
      -- (bronze_contracts), not only in contracts started by as_of.
      AND NOT EXISTS (
          SELECT 1 FROM bronze_contracts AS n
          WHERE n.customer_id = c.customer_id AND n.start_date > c.start_date AND n.end_date > c.end_date
      )

    UNION ALL
    SELECT
        i.customer_id,
        'invoice_overdue',
        CASE WHEN i.amount >= 50000 THEN 'high' ELSE 'medium' END,
        i.due_date + r.alert_overdue_days,
        'invoice unpaid ' || CAST(r.alert_overdue_days AS VARCHAR) || ' days after its due date',
        'invoice ' || COALESCE(i.invoice_id, '(no id)') || ' of ' || CAST(ROUND(i.amount, 2) AS VARCHAR)
            || ' due ' || CAST(i.due_date AS VARCHAR)
    FROM invoices AS i
    CROSS JOIN run AS r
    WHERE i.paid_date IS NULL
      AND i.due_date + r.alert_overdue_days > r.since
      AND i.due_date + r.alert_overdue_days <= r.as_of
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
