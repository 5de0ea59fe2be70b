-- alert_events: the events in the sources that call for an alert, one row per event,
-- dated in this run's window (since, as_of]: see alerts.sql, which publishes them with the
-- moves of the scores. active_only marks the kinds that concern only customers an account
-- team still works with (alerts.sql leaves out the lost ones).
--
-- kind                 event                                           threshold in [params]
-- no_interaction       silence (no activity) passed the threshold      alert_quiet_days
-- severe_complaint     complaint ticket of severity high or critical
-- key_contact_change   a new key contact took over (CRM accounts)
-- contract_ending      a contract ends within the threshold, no renewal alert_contract_days
-- invoice_overdue      an unpaid invoice passed due date + threshold    alert_overdue_days
WITH run AS (
    SELECT
        as_of,
        COALESCE(previous_as_of, as_of - alert_first_run_days) AS since,
        alert_quiet_days,
        alert_contract_days,
        alert_overdue_days
    FROM params
)
SELECT
    q.customer_id,
    'no_interaction' AS kind,
    'medium' AS severity,
    q.quiet_from AS event_date,
    'no interaction for more than ' || CAST(r.alert_quiet_days AS VARCHAR) || ' days' AS message,
    CASE WHEN q.last_activity_date IS NULL
        THEN 'no activity recorded since signup on ' || CAST(q.signup_date AS VARCHAR)
        ELSE 'last activity on ' || CAST(q.last_activity_date AS VARCHAR)
    END AS evidence,
    TRUE AS active_only
FROM (
    SELECT
        f.customer_id,
        f.last_activity_date,
        f.signup_date,
        COALESCE(f.last_activity_date, f.signup_date) + r.alert_quiet_days + 1 AS quiet_from
    FROM customer_features AS f
    CROSS JOIN run AS r
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
           || CAST(k.resolved_date AS VARCHAR) END,
    FALSE
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
        || CAST(acc.key_contact_since AS VARCHAR),
    TRUE
FROM accounts AS acc
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
        || COALESCE(', value ' || CAST(ROUND(c.value, 2) AS VARCHAR), ''),
    TRUE
FROM contracts AS c
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
        || ' due ' || CAST(i.due_date AS VARCHAR),
    FALSE
FROM invoices AS i
CROSS JOIN run AS r
WHERE i.paid_date IS NULL
  AND i.due_date + r.alert_overdue_days > r.since
  AND i.due_date + r.alert_overdue_days <= r.as_of
