// Package emf publishes the service's own metrics as CloudWatch Embedded
// Metric Format (EMF) lines in its JSON log, which the ECS awslogs driver
// ships to the app log group. There is no PutMetricData call and no agent:
// the request path adds to atomic counters, and one line per interval
// carries the counts. The format follows "Specification: Embedded metric
// format":
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
//
// # The line
//
// One JSON object on one line, shaped like the service's other log lines
// (time, level, msg, event) with the metric values and the dimension as
// root members and the _aws metadata beside them:
//
//	{"time":"2026-11-24T10:01:00.002136Z","level":"INFO","msg":"metrics","event":"metrics",
//	 "Service":"kmswatch-app","EncryptsStored":12,"DecryptsServed":40,"DecryptsFailed_kms_refused":2,...,
//	 "_aws":{"Timestamp":1795514400000,"CloudWatchMetrics":[{"Namespace":"kmswatch/app",
//	 "Dimensions":[["Service"]],"Metrics":[{"Name":"EncryptsStored","Unit":"Count","StorageResolution":60},...]}]}}
//
// Namespace kmswatch/app, with one dimension, Service: the service's name
// (METRICS_SERVICE), one per stack, so that two stacks in one account keep
// apart the counts their alarms compare with their own key's.
//
// Nine metrics, each Unit Count and StorageResolution 60: EncryptsStored
// (encrypts whose record committed), DecryptsServed (decrypts KMS answered
// with the plaintext) and DecryptsFailed_<reason> for each
// app.DecryptFailure, the reason field of the decrypt_failed lines. The
// specification allows 100 metrics per directive and 30 dimensions per set.
// Every metric is on every line, zeros too, so that an alarm or a
// metric-math expression always has a data point instead of missing data.
//
// # The interval
//
// 60 seconds, on the wall clock's minutes: a line counts one calendar
// minute and is stamped with that minute's start (_aws.Timestamp, in
// milliseconds since the epoch). That is standard resolution, the 1-minute
// bucket CloudWatch stores, and the period of the AWS/KMS per-key metrics
// that a metric-math alarm compares DecryptsServed with, so both counts of
// one minute fall in the same bucket. A shorter interval would write more
// lines into the same buckets. Close writes the minute in progress, so a
// count made before SIGTERM is not lost.
//
// # Does CloudWatch extract these metrics from what awslogs sends?
//
// The specification's earlier text said clients "MUST use" the PutLogEvents
// header x-amzn-logs-format: json/emf, which awslogs does not send: Docker's
// driver has an awslogs-format option, but ECS's awslogs options do not
// list it (aws/containers-roadmap issue 1719 asks for it). AWS's page on
// PutLogEvents now says the header is optional, "you have the option to
// include the following HTTP header ... but it's not required":
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Generation_PutLogEvents.html
// But a 2025 change to AWS's own awslogs shim for containerd
// (github.com/aws/shim-loggers-for-containerd pull 284) gives as its reason
// that detection without the header "is not launched in all aws regions",
// and AWS lists no regions. So: documented, not guaranteed everywhere. The
// specification page says EMF parsing and validation failures are counted
// in the account's AWS/Logs namespace, which shows whether extraction works.
// What the stack relies on instead, for the alarm that compares KMS's count
// with the app's (infra/rules, app-decrypt-unserved): a metric filter on the
// per-request decrypt_served lines, publishing kmswatch/AppDecryptsServed,
// a namespace apart from these lines' kmswatch/app so that nothing counts
// twice where extraction does work. Each such data point falls in the minute
// of its KMS call. The EMF metrics here feed the dashboard.
package emf
