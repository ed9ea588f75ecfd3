package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"testing"
)

// reportOnly are the testing methods that are safe off the test's goroutine:
// they record a failure or a note and return.
var reportOnly = map[string]bool{"Error": true, "Errorf": true, "Log": true, "Logf": true, "Helper": true, "Name": true, "Failed": true}

// TestGoroutinesOnlyReportFailures enforces what the testing package states
// but checks only when it happens: FailNow (Fatal, Skip) must be called from
// the test's own goroutine. Inside a go statement in this package's tests, a
// *testing.T may only report; handing it to a helper (call, rows, Events)
// could stop the test from the wrong goroutine. go vet's testinggoroutine
// sees only direct calls, not these helpers.
func TestGoroutinesOnlyReportFailures(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files found (%v)", err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		testingVars := testingParams(f)
		var check func(ast.Node) bool
		check = func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && testingVars[id.Name] {
					if !reportOnly[n.Sel.Name] {
						t.Errorf("%s: %s.%s in a goroutine; use t.Error and return", fset.Position(n.Pos()), id.Name, n.Sel.Name)
					}
				} else {
					ast.Inspect(n.X, check) // n.Sel is a field or method name, not a variable
				}
				return false
			case *ast.Ident:
				if testingVars[n.Name] {
					t.Errorf("%s: %s handed to a helper in a goroutine; use send and t.Error", fset.Position(n.Pos()), n.Name)
				}
			}
			return true
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if g, ok := n.(*ast.GoStmt); ok {
				ast.Inspect(g.Call, check)
				return false
			}
			return true
		})
	}
}

// testingParams names the file's parameters of type *testing.T, *testing.B or testing.TB.
func testingParams(f *ast.File) map[string]bool {
	names := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if ft, ok := n.(*ast.FuncType); ok && ft.Params != nil {
			for _, p := range ft.Params.List {
				switch types.ExprString(p.Type) {
				case "*testing.T", "*testing.B", "testing.TB":
					for _, id := range p.Names {
						names[id.Name] = true
					}
				}
			}
		}
		return true
	})
	return names
}
