-- kmswatch kms-key-disable-or-delete: KMS key disabled or scheduled for deletion
-- Fires when a 5m period (UTC) holds >= 1 matching records; this lists those periods' records.
-- Parameters: the first and the last day folder to read, 'yyyy/MM/dd'. CloudTrail delivers a file
-- minutes after its events, so the last minutes of a day may sit in the next day's folder: end a day late.
WITH matched AS (
  SELECT from_iso8601_timestamp(eventtime) AS event_time, eventid, eventname, errorcode,
    coalesce(useridentity.arn, useridentity.invokedby) AS principal, sourceipaddress, account, region
  FROM cloudtrail_logs
  WHERE day BETWEEN ? AND ?
    AND eventsource = 'kms.amazonaws.com'
    AND eventname IN ('DisableKey', 'ScheduleKeyDeletion')
    AND (json_extract_scalar(requestparameters, '$.keyId') IN ('arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', '1234abcd-12ab-34cd-56ef-1234567890ab', 'arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321', '0987dcba-09fe-87dc-65ba-ab0987654321') OR json_extract_scalar(requestparameters, '$.targetKeyId') IN ('arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', '1234abcd-12ab-34cd-56ef-1234567890ab', 'arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321', '0987dcba-09fe-87dc-65ba-ab0987654321') OR cardinality(filter(resources, r -> r.arn IN ('arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', 'arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321'))) > 0)
), periods AS (
  SELECT *, date_trunc('second', event_time) - (date_diff('second', from_iso8601_timestamp('1970-01-01T00:00:00Z'), event_time) % 300) * INTERVAL '1' SECOND AS period_start
  FROM matched
), counted AS (
  SELECT *, count(*) OVER (PARTITION BY period_start) AS period_count
  FROM periods
)
SELECT period_start, period_count, event_time, eventid, eventname, errorcode, principal, sourceipaddress, account, region
FROM counted
WHERE period_count >= 1
ORDER BY event_time, eventid
