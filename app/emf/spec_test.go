package emf_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// The checks below are the EMF specification's requirements, read from
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
// and its JSON schema: a line CloudWatch would reject fails here.

// standardUnits are the units the specification's schema accepts.
var standardUnits = map[string]bool{
	"Seconds": true, "Microseconds": true, "Milliseconds": true, "Bytes": true, "Kilobytes": true,
	"Megabytes": true, "Gigabytes": true, "Terabytes": true, "Bits": true, "Kilobits": true,
	"Megabits": true, "Gigabits": true, "Terabits": true, "Percent": true, "Count": true,
	"Bytes/Second": true, "Kilobytes/Second": true, "Megabytes/Second": true, "Gigabytes/Second": true,
	"Terabytes/Second": true, "Bits/Second": true, "Kilobits/Second": true, "Megabits/Second": true,
	"Gigabits/Second": true, "Terabits/Second": true, "Count/Second": true, "None": true,
}

// emfDatum is one metric value as CloudWatch would extract it.
type emfDatum struct {
	Namespace         string
	Dimensions        map[string]string
	Name, Unit        string
	StorageResolution int
	TimestampMillis   int64
	Value             float64
}

// parseEMF reads one log event as CloudWatch reads an EMF document and
// returns the metric data it defines, or the first requirement it breaks.
func parseEMF(line []byte) ([]emfDatum, error) {
	// "The LogEvent message MUST be a valid JSON object with no additional
	// data at the beginning or end of the LogEvent message string."
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimSuffix(line, []byte("\n"))))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() || dec.InputOffset() != int64(len(bytes.TrimSuffix(line, []byte("\n")))) {
		return nil, fmt.Errorf("data after the JSON object")
	}
	if bytes.Count(line, []byte("\n")) > 1 || bytes.Contains(bytes.TrimSuffix(line, []byte("\n")), []byte("\n")) {
		return nil, fmt.Errorf("more than one line")
	}
	aws, ok := root["_aws"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("_aws is missing or not an object")
	}
	ts, ok := aws["Timestamp"].(json.Number)
	if !ok {
		return nil, fmt.Errorf("_aws.Timestamp is missing or not a number")
	}
	millis, err := ts.Int64()
	if err != nil {
		return nil, fmt.Errorf("_aws.Timestamp %s is not an integer (milliseconds)", ts)
	}
	directives, ok := aws["CloudWatchMetrics"].([]any)
	if !ok {
		return nil, fmt.Errorf("_aws.CloudWatchMetrics is missing or not an array")
	}
	var out []emfDatum
	for i, raw := range directives {
		d, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("directive %d is not an object", i)
		}
		ns, ok := d["Namespace"].(string)
		if !ok || len(ns) < 1 || len(ns) > 255 {
			return nil, fmt.Errorf("directive %d: Namespace %v is not a string of 1-255 characters", i, d["Namespace"])
		}
		sets, ok := d["Dimensions"].([]any)
		if !ok || len(sets) < 1 {
			return nil, fmt.Errorf("directive %d: Dimensions is not a non-empty array", i)
		}
		var dimSets []map[string]string
		for j, rawSet := range sets {
			set, ok := rawSet.([]any)
			if !ok || len(set) > 30 {
				return nil, fmt.Errorf("directive %d: DimensionSet %d is not an array of at most 30 keys", i, j)
			}
			dims := map[string]string{}
			for _, rawKey := range set {
				key, ok := rawKey.(string)
				if !ok || len(key) < 1 || len(key) > 255 {
					return nil, fmt.Errorf("directive %d: dimension key %v is not a string of 1-255 characters", i, rawKey)
				}
				value, ok := root[key].(string) // "A dimension target MUST have a string value."
				if !ok {
					return nil, fmt.Errorf("dimension %q: no string member of that name on the root", key)
				}
				dims[key] = value
			}
			dimSets = append(dimSets, dims)
		}
		metrics, ok := d["Metrics"].([]any)
		if !ok || len(metrics) > 100 {
			return nil, fmt.Errorf("directive %d: Metrics is not an array of at most 100 definitions", i)
		}
		for _, rawDef := range metrics {
			def, ok := rawDef.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("directive %d: a MetricDefinition is not an object", i)
			}
			name, ok := def["Name"].(string)
			if !ok || len(name) < 1 || len(name) > 255 {
				return nil, fmt.Errorf("metric name %v is not a string of 1-255 characters", def["Name"])
			}
			unit := "None"
			if u, present := def["Unit"]; present {
				if unit, ok = u.(string); !ok || !standardUnits[unit] {
					return nil, fmt.Errorf("metric %s: Unit %v is not a CloudWatch unit", name, u)
				}
			}
			resolution := 60
			if r, present := def["StorageResolution"]; present {
				n, _ := r.(json.Number) // not a number: "" fails Int64
				v, err := n.Int64()
				if err != nil || (v != 1 && v != 60) {
					return nil, fmt.Errorf("metric %s: StorageResolution %v is not 1 or 60", name, r)
				}
				resolution = int(v)
			}
			// "Metric targets MUST be either a numeric value or an array of numeric values."
			target, ok := root[name].(json.Number)
			if !ok {
				return nil, fmt.Errorf("metric %s: no numeric member of that name on the root", name)
			}
			value, err := target.Float64()
			if err != nil {
				return nil, fmt.Errorf("metric %s: %w", name, err)
			}
			for _, dims := range dimSets {
				out = append(out, emfDatum{Namespace: ns, Dimensions: dims, Name: name, Unit: unit,
					StorageResolution: resolution, TimestampMillis: millis, Value: value})
			}
		}
	}
	return out, nil
}

// TestParseEMF_RejectsWhatTheSpecificationForbids keeps the checker honest:
// each broken document must fail it.
func TestParseEMF_RejectsWhatTheSpecificationForbids(t *testing.T) {
	valid := `{"_aws":{"Timestamp":1574109732004,"CloudWatchMetrics":[{"Namespace":"ns","Dimensions":[["functionVersion"]],"Metrics":[{"Name":"time","Unit":"Milliseconds"}]}]},"functionVersion":"$LATEST","time":100}`
	if data, err := parseEMF([]byte(valid)); err != nil || len(data) != 1 || data[0].Value != 100 || data[0].StorageResolution != 60 {
		t.Fatalf("the specification's own example: %v, %v", data, err)
	}
	broken := map[string]string{
		"text after the object":      valid + ` trailing`,
		"no _aws":                    `{"time":100}`,
		"timestamp in seconds float": `{"_aws":{"Timestamp":1574109732.004,"CloudWatchMetrics":[]}}`,
		"no timestamp":               `{"_aws":{"CloudWatchMetrics":[]}}`,
		"metric value a string":      `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"ns","Dimensions":[[]],"Metrics":[{"Name":"n"}]}]},"n":"5"}`,
		"metric target missing":      `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"ns","Dimensions":[[]],"Metrics":[{"Name":"n"}]}]}}`,
		"dimension value a number":   `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"ns","Dimensions":[["d"]],"Metrics":[{"Name":"n"}]}]},"d":1,"n":5}`,
		"unknown unit":               `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"ns","Dimensions":[[]],"Metrics":[{"Name":"n","Unit":"Requests"}]}]},"n":5}`,
		"resolution 30":              `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"ns","Dimensions":[[]],"Metrics":[{"Name":"n","StorageResolution":30}]}]},"n":5}`,
		"empty namespace":            `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"","Dimensions":[[]],"Metrics":[]}]}}`,
		"no dimension sets":          `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"ns","Dimensions":[],"Metrics":[]}]}}`,
		"two lines":                  valid + "\n" + valid + "\n",
	}
	for name, doc := range broken {
		if _, err := parseEMF([]byte(doc)); err == nil {
			t.Errorf("%s: accepted %s", name, doc)
		}
	}
}
