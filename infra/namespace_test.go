package main

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/kmswatch/kmswatch/app/emf"
	"github.com/kmswatch/kmswatch/infra/rules"
)

// alarmReads are the metrics an alarm reads, as "namespace name": its one metric, or every
// metric of its Metrics array (the metric-math alarm's kms and served inputs, a band's input).
func alarmReads(a *recorded) []string {
	if ns := a.str("namespace"); ns != "" || a.str("metricName") != "" {
		return []string{ns + " " + a.str("metricName")}
	}
	var out []string
	queries, _ := a.in("metricQueries").([]any)
	for i := range queries {
		if a.in("metricQueries", i, "metric") != nil {
			out = append(out, a.str("metricQueries", i, "metric", "namespace")+" "+a.str("metricQueries", i, "metric", "metricName"))
		}
	}
	return out
}

// namespaceOf is the namespace part of "namespace name".
func namespaceOf(metric string) string { ns, _, _ := strings.Cut(metric, " "); return ns }

// Two stacks in one account must not share the metrics their filters publish: stack A's alarm
// (and, with response: contain, A's responder) would otherwise fire on stack B's traffic. Each
// stack's filters publish into its own namespace, every alarm reads exactly what its own stack's
// filters write (AWS's metrics aside), the metric-math alarm's served input included, and the
// dashboard graphs that namespace.
func TestTwoStacksInOneAccountGetDisjointMetricNamespaces(t *testing.T) {
	settings := withSettings(map[string]string{
		"response": "contain", "containOnRules": `["app-decrypt-volume","app-decrypt-unserved"]`,
	})
	ownNamespaces := map[string][]string{} // stack -> every non-AWS namespace its filters, alarms and dashboard name
	for _, stack := range []string{"dev", "prod"} {
		run := runStack(t, stack, settings)
		if run.err != nil {
			t.Fatalf("%s: %v", stack, run.err)
		}
		want := "kmswatch/kmswatch-" + stack // pinned, not derived from the code under test
		if got := newStackNames("kmswatch", stack).MetricNamespace(); got != want {
			t.Errorf("%s: stack namespace %q, want %q", stack, got, want)
		}
		seen := map[string]bool{}

		written := map[string]bool{} // "namespace name"
		filters := run.all("aws:cloudwatch/logMetricFilter:LogMetricFilter")
		if len(filters) == 0 {
			t.Fatalf("%s: no metric filters", stack)
		}
		for _, f := range filters {
			ns := f.str("metricTransformation", "namespace")
			if ns != want {
				t.Errorf("%s: filter %s publishes into %q, want the stack's %q", stack, f.Name, ns, want)
			}
			if f.in("metricTransformation", "dimensions") != nil {
				t.Errorf("%s: filter %s publishes dimensions; the namespace alone separates the stacks", stack, f.Name)
			}
			written[ns+" "+f.str("metricTransformation", "name")] = true
			seen[ns] = true
		}

		alarms := run.all("aws:cloudwatch/metricAlarm:MetricAlarm")
		if len(alarms) == 0 {
			t.Fatalf("%s: no alarms", stack)
		}
		for _, a := range alarms {
			reads := alarmReads(a)
			if len(reads) == 0 {
				t.Errorf("%s: alarm %s reads no metric", stack, a.Name)
			}
			for _, m := range reads {
				if strings.HasPrefix(m, "AWS/") { // AWS/KMS's per-key count: the key's dimension separates the stacks
					continue
				}
				seen[namespaceOf(m)] = true
				if !written[m] {
					t.Errorf("%s: alarm %s reads %s, which none of the stack's filters writes (they write %v)", stack, a.Name, m, sortedKeys(written))
				}
			}
		}
		// The metric-math alarm's served count is the stack's own, by name.
		unserved := run.named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-app-decrypt-unserved")
		if r, _ := rules.Lookup("app-decrypt-unserved"); !slices.Contains(alarmReads(unserved), want+" "+r.PublishedMetrics(rules.Params{})[0].Transform.Name) {
			t.Errorf("%s: the unserved alarm reads %v, not the stack's served count in %s", stack, alarmReads(unserved), want)
		}
		volume := run.named("aws:cloudwatch/metricAlarm:MetricAlarm", "alerts-alarm-app-decrypt-volume")
		if got := volume.str("namespace"); got != want {
			t.Errorf("%s: the containing volume alarm reads %q, want %q", stack, got, want)
		}

		_, body := stackDashboard(t, run)
		for _, w := range body.Widgets {
			for _, m := range w.Properties.Metrics {
				if ns, ok := m[0].(string); ok && !strings.HasPrefix(ns, "AWS/") && ns != emf.Namespace {
					seen[ns] = true
					if ns != want {
						t.Errorf("%s: dashboard widget %q graphs namespace %q, want the stack's %q", stack, w.Properties.Title, ns, want)
					}
				}
			}
		}
		for ns := range seen {
			ownNamespaces[stack] = append(ownNamespaces[stack], ns)
		}
		if len(ownNamespaces[stack]) != 1 || ownNamespaces[stack][0] != want {
			t.Errorf("%s: namespaces %v, want only %s", stack, ownNamespaces[stack], want)
		}
		// Neither the offline default nor the app's EMF namespace: no stack shares those either.
		if slices.Contains(ownNamespaces[stack], rules.MetricNamespace) || slices.Contains(ownNamespaces[stack], emf.Namespace) {
			t.Errorf("%s: namespaces %v include the shared %s or %s", stack, ownNamespaces[stack], rules.MetricNamespace, emf.Namespace)
		}
	}
	for _, ns := range ownNamespaces["dev"] {
		if slices.Contains(ownNamespaces["prod"], ns) {
			t.Errorf("dev and prod both use the namespace %s: one stack's traffic would fire the other's alarms", ns)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
