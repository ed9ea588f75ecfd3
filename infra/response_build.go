package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// The responder's Lambda package: infra/cmd/responder built for provided.al2023 on arm64 and
// zipped as one executable named bootstrap, which the OS-only runtime runs. lambda.norpc leaves
// out the RPC mode only the retired go1.x runtime used; -s -w drops the symbol table and DWARF
// (panics still print their stack: Go keeps its own line tables). -trimpath and
// -buildvcs=false keep paths and VCS state out of the binary, so the same source and toolchain
// give the same bytes on every machine.
// https://docs.aws.amazon.com/lambda/latest/dg/golang-package.html
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-provided.html
const (
	responderPackage = "./cmd/responder" // relative to infra/, where Pulumi runs the program
	lambdaRuntime    = "provided.al2023"
	lambdaArch       = "arm64"
	lambdaHandler    = "bootstrap"
)

var responderBuildFlags = []string{"build", "-trimpath", "-buildvcs=false", "-tags", "lambda.norpc", "-ldflags=-s -w"}

// zipEpoch is the modification time of every zip entry: the earliest a zip (MS-DOS) date can
// hold, so that the archive's bytes depend on its contents only.
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// lambdaArchive is the built package: where it is and its SHA-256, hex (Pulumi's archive hash:
// the hash of the zip file's bytes, so equal bytes mean no update) and base64 (Lambda's
// source_code_hash).
type lambdaArchive struct {
	Path, SHA256Hex, SHA256Base64 string
	Size                          int
}

var (
	responderBuild     lambdaArchive
	responderBuildErr  error
	responderBuildOnce sync.Once
)

// buildResponder builds the package once per run of the program (and once per test binary).
func buildResponder() (lambdaArchive, error) {
	responderBuildOnce.Do(func() { responderBuild, responderBuildErr = buildLambda(responderPackage) })
	return responderBuild, responderBuildErr
}

// buildLambda cross-compiles pkg with the Go toolchain that runs the program (no Docker) and
// writes the reproducible zip to a content-named file in the temporary directory.
func buildLambda(pkg string) (lambdaArchive, error) {
	dir, err := os.MkdirTemp("", "kmswatch-responder-build-")
	if err != nil {
		return lambdaArchive{}, err
	}
	defer os.RemoveAll(dir)
	binary := filepath.Join(dir, lambdaHandler)
	cmd := exec.Command("go", append(append([]string{}, responderBuildFlags...), "-o", binary, pkg)...) //nolint:gosec // constant flags and package, a temporary output path
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+lambdaArch, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return lambdaArchive{}, fmt.Errorf("building the responder (go %v %s): %w\n%s", responderBuildFlags, pkg, err, out)
	}
	exe, err := os.ReadFile(binary)
	if err != nil {
		return lambdaArchive{}, err
	}
	zipped, err := reproducibleZip(lambdaHandler, exe)
	if err != nil {
		return lambdaArchive{}, err
	}
	sum := sha256.Sum256(zipped)
	a := lambdaArchive{
		SHA256Hex: hex.EncodeToString(sum[:]), SHA256Base64: base64.StdEncoding.EncodeToString(sum[:]), Size: len(zipped),
	}
	a.Path = filepath.Join(os.TempDir(), "kmswatch-responder-"+a.SHA256Hex[:16]+".zip")
	if err := os.WriteFile(a.Path, zipped, 0o600); err != nil {
		return lambdaArchive{}, fmt.Errorf("writing the responder package: %w", err)
	}
	return a, nil
}

// reproducibleZip stores one executable with fixed metadata: a fixed time, mode 0755 (Lambda
// runs bootstrap, so it must be executable), no extra fields beyond what archive/zip writes for
// that time.
func reproducibleZip(name string, content []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: zipEpoch}
	h.SetMode(0o755)
	f, err := w.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(content); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
