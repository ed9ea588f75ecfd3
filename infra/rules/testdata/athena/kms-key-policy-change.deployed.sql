-- kmswatch kms-key-policy-change: Access to a KMS key changed
-- Fires at once for every matching record; this lists them, one period each.
-- Parameters: the first and the last day folder to read, 'yyyy/MM/dd'. CloudTrail delivers a file
-- minutes after its events, so the last minutes of a day may sit in the next day's folder: end a day late.
WITH matched AS (
  SELECT from_iso8601_timestamp(eventtime) AS event_time, eventid, eventname, errorcode,
    coalesce(useridentity.arn, useridentity.invokedby) AS principal, sourceipaddress, account, region
  FROM cloudtrail_logs
  WHERE day BETWEEN ? AND ?
    AND eventsource = 'kms.amazonaws.com'
    AND eventname IN ('PutKeyPolicy', 'CreateGrant', 'DisableKeyRotation', 'DeleteAlias', 'UpdateAlias')
    AND (json_extract_scalar(requestparameters, '$.keyId') IN ('arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', '1234abcd-12ab-34cd-56ef-1234567890ab', 'arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321', '0987dcba-09fe-87dc-65ba-ab0987654321') OR json_extract_scalar(requestparameters, '$.targetKeyId') IN ('arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', '1234abcd-12ab-34cd-56ef-1234567890ab', 'arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321', '0987dcba-09fe-87dc-65ba-ab0987654321') OR cardinality(filter(resources, r -> r.arn IN ('arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', 'arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321'))) > 0)
)
SELECT event_time AS period_start, 1 AS period_count, event_time, eventid, eventname, errorcode, principal,
  sourceipaddress, account, region
FROM matched
ORDER BY event_time, eventid
