package main

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// stackRun is one run of the program under mocks.
type stackRun struct {
	t         *testing.T
	resources []*recorded
	calls     map[string]resource.PropertyMap
	outputs   map[string]any // resolved exports
	err       error
}

// baseConfig is the smallest valid stack configuration.
func baseConfig() map[string]string {
	return map[string]string{"alertEmail": "secops@acme-corp.io"}
}

// runStack runs declareStack under mocks with the given settings (kmswatch:<key> = value, arrays as JSON).
func runStack(t *testing.T, stack string, settings map[string]string) *stackRun {
	t.Helper()
	cfg := map[string]string{}
	for k, v := range settings {
		cfg["kmswatch:"+k] = v
	}
	cfg["aws:region"] = mockRegion
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PULUMI_CONFIG", string(raw))

	m := &awsMocks{stack: stack, calls: map[string]resource.PropertyMap{}}
	run := &stackRun{t: t, outputs: map[string]any{}}
	var mu sync.Mutex
	run.err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		outputs, err := declareStack(ctx)
		if err != nil {
			return err
		}
		var wg sync.WaitGroup
		for name, out := range outputs.exports() {
			wg.Add(1)
			out.ApplyT(func(v any) any {
				mu.Lock()
				run.outputs[name] = v
				mu.Unlock()
				wg.Done()
				return v
			})
		}
		wg.Wait()
		return nil
	}, pulumi.WithMocks("kmswatch", stack, m))
	run.resources = m.resources
	run.calls = m.calls
	return run
}

// mustRun runs the default dev stack with the given settings and fails on any error.
func mustRun(t *testing.T, settings map[string]string) *stackRun {
	t.Helper()
	run := runStack(t, "dev", settings)
	if run.err != nil {
		t.Fatalf("stack failed under mocks: %v", run.err)
	}
	return run
}

func withSettings(extra map[string]string) map[string]string {
	s := baseConfig()
	for k, v := range extra {
		s[k] = v
	}
	return s
}

func (r *stackRun) all(typ string) []*recorded {
	var out []*recorded
	for _, res := range r.resources {
		if res.Type == typ {
			out = append(out, res)
		}
	}
	return out
}

// one returns the only resource of a type, failing the test otherwise.
func (r *stackRun) one(typ string) *recorded {
	r.t.Helper()
	all := r.all(typ)
	if len(all) != 1 {
		r.t.Fatalf("want exactly one %s, got %d", typ, len(all))
	}
	return all[0]
}

// named returns the resource of a type with the given logical name.
func (r *stackRun) named(typ, name string) *recorded {
	r.t.Helper()
	for _, res := range r.all(typ) {
		if res.Name == name {
			return res
		}
	}
	r.t.Fatalf("no %s named %q", typ, name)
	return nil
}

// get walks nested maps and lists: get("healthCheck", "path"), get("ingress", 0, "fromPort").
func get(v any, path ...any) any {
	for _, p := range path {
		switch key := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[key]
		case int:
			l, ok := v.([]any)
			if !ok || key >= len(l) {
				return nil
			}
			v = l[key]
		}
	}
	return v
}

func (res *recorded) in(path ...any) any  { return get(res.Inputs, path...) }
func (res *recorded) out(path ...any) any { return get(res.Outputs, path...) }

func (res *recorded) str(path ...any) string {
	s, _ := res.in(path...).(string)
	return s
}

func (res *recorded) outStr(path ...any) string {
	s, _ := res.out(path...).(string)
	return s
}

// num reads a number input; property maps hold numbers as float64.
func (res *recorded) num(path ...any) float64 {
	f, _ := res.in(path...).(float64)
	return f
}

func (res *recorded) boolean(path ...any) bool {
	b, _ := res.in(path...).(bool)
	return b
}

func (res *recorded) strings(path ...any) []string {
	list, _ := res.in(path...).([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// policy parses a JSON policy input of the resource.
func (res *recorded) policy(t *testing.T, key string) policyDocument {
	t.Helper()
	var doc policyDocument
	if err := json.Unmarshal([]byte(res.str(key)), &doc); err != nil {
		t.Fatalf("%s %s: %s is not a policy: %v\n%s", res.Type, res.Name, key, err, res.str(key))
	}
	return doc
}

func (res *recorded) dependsOn(other *recorded) bool {
	for _, d := range res.Deps {
		if d == other.URN {
			return true
		}
	}
	return false
}

// statementBySid finds a statement or fails.
func statementBySid(t *testing.T, doc policyDocument, sid string) statement {
	t.Helper()
	for _, s := range doc.Statement {
		if s.Sid == sid {
			return s
		}
	}
	t.Fatalf("policy has no statement %q; has %v", sid, sids(doc))
	return statement{}
}

func sids(doc policyDocument) []string {
	var out []string
	for _, s := range doc.Statement {
		out = append(out, s.Sid)
	}
	return out
}
