package awsdouble

// getCallerIdentity answers who the caller is. It is never denied: "No permissions are required to perform
// this operation. If an administrator attaches a policy to your identity that explicitly denies access to the
// sts:GetCallerIdentity action, you can still perform this operation."
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html)
func (s *Server) getCallerIdentity(_ []byte, ev *event, out []byte) ([]byte, *apiError) {
	p := ev.principal
	out = appendXMLElement(out, "Arn", p.arn)
	out = appendXMLElement(out, "UserId", p.userID)
	return appendXMLElement(out, "Account", p.account), nil
}
