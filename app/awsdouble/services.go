package awsdouble

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The services the double answers on one endpoint. JSON 1.1 services are routed by X-Amz-Target; query
// protocol services (form-encoded Action=..., XML answers) by the service in the request's SigV4 credential
// scope, or by its Version when it is not signed.

type protocol uint8

const (
	jsonProtocol protocol = iota
	queryProtocol
)

const (
	jsonContentType = "application/x-amz-json-1.1"
	// DynamoDB speaks JSON 1.0: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.LowLevelAPI.html
	json10ContentType = "application/x-amz-json-1.0"
	xmlContentType    = "text/xml"
	kmsSource         = "kms.amazonaws.com"
	secretsSource     = "secretsmanager.amazonaws.com"
)

// operationFunc parses one request body, fills ev, and appends the response body (JSON, or for the query
// protocol the inside of the <Action>Result element) to out.
type operationFunc func(s *Server, body []byte, ev *event, out []byte) ([]byte, *apiError)

type operation struct {
	fn        operationFunc
	readOnly  bool // CloudTrail's readOnly
	dataEvent bool // a data event (eventCategory Data, managementEvent false), not a management event
}

type service struct {
	index         int
	source        string // eventSource
	protocol      protocol
	target        string // X-Amz-Target prefix, JSON services
	signingName   string // credential scope service, query services
	version       string // API version, query services
	xmlns         string
	messageMember string // JSON error body member holding the message
	deniedCode    string // error code of an explicit deny
	actionPrefix  string // how the service spells its IAM prefix in access denied messages
	global        bool   // IAM: one endpoint, records in us-east-1
	json10        bool   // JSON 1.0 rather than 1.1 (DynamoDB)
	apiVersion    string // written as the record's apiVersion when set (DynamoDB's records carry it)
	operations    map[string]operation
}

var (
	kmsService = &service{index: 0, source: kmsSource, target: "TrentService.", messageMember: "message",
		deniedCode: "AccessDeniedException", actionPrefix: "kms"}
	secretsService = &service{index: 1, source: secretsSource, target: "secretsmanager.", messageMember: "Message",
		deniedCode: "AccessDeniedException", actionPrefix: "secretsmanager"}
	ecsAPI = &service{index: 2, source: "ecs.amazonaws.com", target: "AmazonEC2ContainerServiceV20141113.",
		messageMember: "message", deniedCode: "AccessDeniedException", actionPrefix: "ecs"}
	iamService = &service{index: 3, source: "iam.amazonaws.com", protocol: queryProtocol, signingName: "iam",
		version: "2010-05-08", xmlns: "https://iam.amazonaws.com/doc/2010-05-08/", deniedCode: "AccessDenied",
		actionPrefix: "iam", global: true}
	stsService = &service{index: 4, source: "sts.amazonaws.com", protocol: queryProtocol, signingName: "sts",
		version: "2011-06-15", xmlns: "https://sts.amazonaws.com/doc/2011-06-15/", deniedCode: "AccessDenied",
		actionPrefix: "sts"}
	snsService = &service{index: 5, source: "sns.amazonaws.com", protocol: queryProtocol, signingName: "sns",
		version: "2010-03-31", xmlns: "http://sns.amazonaws.com/doc/2010-03-31/", deniedCode: "AuthorizationError",
		actionPrefix: "SNS"}

	dynamoService = &service{index: 6, source: "dynamodb.amazonaws.com", target: "DynamoDB_20120810.", json10: true,
		messageMember: "message", deniedCode: "AccessDeniedException", actionPrefix: "dynamodb", apiVersion: "2012-08-10"}

	services = []*service{kmsService, secretsService, ecsAPI, iamService, stsService, snsService, dynamoService}
)

func init() {
	kmsService.operations = map[string]operation{
		"Encrypt":             {fn: (*Server).encrypt, readOnly: true},
		"Decrypt":             {fn: (*Server).decrypt, readOnly: true},
		"GenerateDataKey":     {fn: (*Server).generateDataKey, readOnly: true},
		"DescribeKey":         {fn: (*Server).describeKey, readOnly: true},
		"ScheduleKeyDeletion": {fn: (*Server).scheduleKeyDeletion},
		"CancelKeyDeletion":   {fn: (*Server).cancelKeyDeletion},
		"DisableKey":          {fn: (*Server).disableKeyCall},
		"EnableKey":           {fn: (*Server).enableKeyCall},
		"GetKeyPolicy":        {fn: (*Server).getKeyPolicy, readOnly: true},
		"PutKeyPolicy":        {fn: (*Server).putKeyPolicy},
	}
	secretsService.operations = map[string]operation{
		"GetSecretValue": {fn: (*Server).getSecretValue, readOnly: true},
	}
	ecsAPI.operations = map[string]operation{
		"UpdateService":    {fn: (*Server).updateService},
		"DescribeServices": {fn: (*Server).describeServices, readOnly: true},
	}
	iamService.operations = map[string]operation{
		"PutRolePolicy":    {fn: (*Server).putRolePolicy},
		"DeleteRolePolicy": {fn: (*Server).deleteRolePolicy},
		"GetRolePolicy":    {fn: (*Server).getRolePolicy, readOnly: true},
		"ListRolePolicies": {fn: (*Server).listRolePolicies, readOnly: true},
		"GetRole":          {fn: (*Server).getRole, readOnly: true},
	}
	stsService.operations = map[string]operation{
		"GetCallerIdentity": {fn: (*Server).getCallerIdentity, readOnly: true},
	}
	// SNS Publish is a data event: https://docs.aws.amazon.com/sns/latest/dg/logging-using-cloudtrail.html
	snsService.operations = map[string]operation{
		"Publish": {fn: (*Server).publish, dataEvent: true},
	}
	// DynamoDB's item operations are data events (understanding-ddb-log-entries.html).
	dynamoService.operations = map[string]operation{
		"GetItem":    {fn: (*Server).getItem, readOnly: true, dataEvent: true},
		"PutItem":    {fn: (*Server).putItem, dataEvent: true},
		"UpdateItem": {fn: (*Server).updateItem, dataEvent: true},
		"Scan":       {fn: (*Server).scan, readOnly: true, dataEvent: true},
	}
}

// routeJSON finds the JSON 1.1 service and operation an X-Amz-Target names.
func routeJSON(target string) (*service, string) {
	for _, svc := range services {
		if svc.protocol != jsonProtocol {
			continue
		}
		if name, ok := strings.CutPrefix(target, svc.target); ok {
			return svc, name
		}
	}
	return nil, target
}

// routeQuery finds the query protocol service by the signing scope, or else by the API version.
func routeQuery(scope string, form url.Values) *service {
	version := form.Get("Version")
	for _, svc := range services {
		if svc.protocol != queryProtocol {
			continue
		}
		if scope == svc.signingName || (scope == "" && version == svc.version) {
			return svc
		}
	}
	return nil
}

// endpointHost is the FQDN an SDK calls for the service, which CloudTrail logs as tlsDetails.clientProvidedHostHeader.
func (svc *service) endpointHost(region string) string {
	if svc.global {
		return svc.signingName + ".amazonaws.com"
	}
	name := strings.TrimSuffix(svc.source, ".amazonaws.com")
	return name + "." + region + ".amazonaws.com"
}

func (svc *service) contentType() string {
	switch {
	case svc.protocol == queryProtocol:
		return xmlContentType
	case svc.json10:
		return json10ContentType
	}
	return jsonContentType
}

func (svc *service) unknownOperation(name string) *apiError {
	if svc.protocol == queryProtocol {
		return &apiError{"InvalidAction", "Could not find operation " + name + " for version " + svc.version}
	}
	return &apiError{errType: "UnknownOperationException"}
}

// unauthenticated is the refusal of a request whose access key id is unknown, or that is not signed at all,
// in each protocol's terms: https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
// (InvalidClientTokenId, MissingAuthenticationToken; 403) and, for JSON services, the 400
// UnrecognizedClientException AWS answers with, as recorded for KMS in
// github.com/aws/aws-encryption-sdk-java/issues/9 and with its body in github.com/aws/aws-sdk-php/issues/2444.
func (svc *service) unauthenticated(signed bool) *apiError {
	const invalid = "The security token included in the request is invalid."
	switch {
	case svc.protocol == queryProtocol && signed:
		return &apiError{"InvalidClientTokenId", invalid}
	case svc.protocol == queryProtocol:
		return &apiError{"MissingAuthenticationToken", "Request is missing Authentication Token"}
	case signed:
		return &apiError{"UnrecognizedClientException", invalid}
	}
	return &apiError{"MissingAuthenticationTokenException", "Missing Authentication Token"}
}

// wrapResult puts an operation's result inside the response envelope query protocol services send:
// <ActionResponse xmlns=...><ActionResult>...</ActionResult><ResponseMetadata>...</ResponseMetadata></ActionResponse>.
// An operation without a result (PutRolePolicy) sends the envelope alone.
func (svc *service) wrapResult(result []byte, action, requestID string) []byte {
	b := make([]byte, 0, len(result)+256)
	b = append(b, `<`...)
	b = append(b, action...)
	b = append(b, `Response xmlns="`...)
	b = append(b, svc.xmlns...)
	b = append(b, `">`...)
	if len(result) > 0 {
		b = append(b, '<')
		b = append(b, action...)
		b = append(b, "Result>"...)
		b = append(b, result...)
		b = append(b, "</"...)
		b = append(b, action...)
		b = append(b, "Result>"...)
	}
	b = append(b, "<ResponseMetadata><RequestId>"...)
	b = append(b, requestID...)
	b = append(b, "</RequestId></ResponseMetadata></"...)
	b = append(b, action...)
	return append(b, "Response>"...)
}

// writeQueryError sends err as query protocol services do:
// <ErrorResponse><Error><Type>Sender</Type><Code>...</Code><Message>...</Message></Error><RequestId>...</RequestId></ErrorResponse>.
func writeQueryError(w http.ResponseWriter, buf []byte, svc *service, err *apiError, requestID string) []byte {
	status := statusOf(err.errType)
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	b := buf[:0]
	b = append(b, `<ErrorResponse xmlns="`...)
	b = append(b, svc.xmlns...)
	b = append(b, `"><Error><Type>`...)
	b = append(b, kind...)
	b = append(b, `</Type><Code>`...)
	b = appendXMLText(b, err.errType)
	b = append(b, `</Code><Message>`...)
	b = appendXMLText(b, err.message)
	b = append(b, `</Message></Error><RequestId>`...)
	b = append(b, requestID...)
	b = append(b, `</RequestId></ErrorResponse>`...)
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b) // the caller is gone
	return b[:0]
}

// appendXMLElement appends <name>text</name>.
func appendXMLElement(b []byte, name, text string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = appendXMLText(b, text)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

type byteWriter struct{ b *[]byte }

func (w byteWriter) Write(p []byte) (int, error) { *w.b = append(*w.b, p...); return len(p), nil }

func appendXMLText(b []byte, text string) []byte {
	_ = xml.EscapeText(byteWriter{&b}, []byte(text)) // appending to a slice cannot fail
	return b
}

// authorize evaluates the caller's role's Deny statements for action on resource and returns the access
// denied error the service sends, worded as IAM documents it
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html): "User: <caller ARN>
// is not authorized to perform: <action> on resource: <resource> with an explicit deny in an identity-based
// policy". Inline policies have no ARN, so none is appended.
func (s *Server) authorize(ev *event, action, resource, resourceInMessage string) *apiError {
	p := ev.principal
	if p.role == nil {
		return nil
	}
	denies := p.role.denies.Load()
	if denies == nil {
		return nil
	}
	rc := requestContext{
		action: ev.svc.actionPrefix + ":" + action, resource: resource,
		tokenIssue: p.issued, hasToken: p.temporaryCredential, now: ev.at, sourceIP: ev.sourceIP,
	}
	if !explicitlyDenied(*denies, &rc) {
		return nil
	}
	if resourceInMessage == "" {
		resourceInMessage = resource
	}
	return &apiError{ev.svc.deniedCode, "User: " + p.arn + " is not authorized to perform: " + rc.action +
		" on resource: " + resourceInMessage + " with an explicit deny in an identity-based policy"}
}
