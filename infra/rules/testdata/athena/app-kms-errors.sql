-- kmswatch app-kms-errors: KMS errors by the app's task role
-- Fires when a 1m period (UTC) holds >= 2 matching records; this lists those periods' records.
-- Parameters: the first and the last day folder to read, 'yyyy/MM/dd'. CloudTrail delivers a file
-- minutes after its events, so the last minutes of a day may sit in the next day's folder: end a day late.
WITH matched AS (
  SELECT from_iso8601_timestamp(eventtime) AS event_time, eventid, eventname, errorcode,
    coalesce(useridentity.arn, useridentity.invokedby) AS principal, sourceipaddress, account, region
  FROM cloudtrail_logs
  WHERE day BETWEEN ? AND ?
    AND errorcode IS NOT NULL
    AND eventsource = 'kms.amazonaws.com'
    AND useridentity.sessioncontext.sessionissuer.arn = '<task role ARN>'
), periods AS (
  SELECT *, date_trunc('second', event_time) - (date_diff('second', from_iso8601_timestamp('1970-01-01T00:00:00Z'), event_time) % 60) * INTERVAL '1' SECOND AS period_start
  FROM matched
), counted AS (
  SELECT *, count(*) OVER (PARTITION BY period_start) AS period_count
  FROM periods
)
SELECT period_start, period_count, event_time, eventid, eventname, errorcode, principal, sourceipaddress, account, region
FROM counted
WHERE period_count >= 2
ORDER BY event_time, eventid
