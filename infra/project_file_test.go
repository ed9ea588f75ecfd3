package main

import (
	"io"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// The CLI validates Pulumi.yaml against its project schema before any command, and refuses the
// whole project on one bad entry: `type: number` on two settings once made every pulumi command
// in the repository fail ("value must be one of "string", "integer", "boolean", "array",
// "object""), which the mocks never see because they do not read the file. This loads both files
// with the SDK functions the CLI itself uses, at the version go.mod pins.
func TestPulumiCLIAcceptsTheProjectAndStackFiles(t *testing.T) {
	project, err := workspace.LoadProject("../Pulumi.yaml")
	if err != nil {
		t.Fatalf("the Pulumi CLI would refuse the project: %v", err)
	}
	sink := diag.DefaultSink(io.Discard, io.Discard, diag.FormatOptions{Color: "never"})
	if _, err := workspace.LoadProjectStack(sink, project, "../Pulumi.dev.yaml"); err != nil {
		t.Fatalf("the Pulumi CLI would refuse the dev stack file: %v", err)
	}
}
