-- kmswatch app-key-decrypt-rate: Unusually many successful decrypts with the app key, per minute (AWS/KMS)
-- Fires when a 1m period (UTC) holds >= 200 matching records; this lists those periods' records.
-- Parameters: the first and the last day folder to read, 'yyyy/MM/dd'. CloudTrail delivers a file
-- minutes after its events, so the last minutes of a day may sit in the next day's folder: end a day late.
WITH matched AS (
  SELECT from_iso8601_timestamp(eventtime) AS event_time, eventid, eventname, errorcode,
    coalesce(useridentity.arn, useridentity.invokedby) AS principal, sourceipaddress, account, region
  FROM cloudtrail_logs
  WHERE day BETWEEN ? AND ?
    AND eventsource = 'kms.amazonaws.com'
    AND eventname = 'Decrypt'
    AND errorcode IS NULL
    AND cardinality(filter(resources, r -> r.arn = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab')) > 0
), periods AS (
  SELECT *, date_trunc('second', event_time) - (date_diff('second', from_iso8601_timestamp('1970-01-01T00:00:00Z'), event_time) % 60) * INTERVAL '1' SECOND AS period_start
  FROM matched
), counted AS (
  SELECT *, count(*) OVER (PARTITION BY period_start) AS period_count
  FROM periods
)
SELECT period_start, period_count, event_time, eventid, eventname, errorcode, principal, sourceipaddress, account, region
FROM counted
WHERE period_count >= 200
ORDER BY event_time, eventid
