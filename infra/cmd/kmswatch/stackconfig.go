package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// projectName is the Pulumi project, the namespace of the stack's settings (kmswatch:<key>).
const projectName = "kmswatch"

// stackSettings reads a stack's settings as Pulumi hands them to the program: the stack file's
// kmswatch:<key> values, else the defaults the project file (Pulumi.yaml, beside the stack file)
// declares. Scalars come as text, as Pulumi passes config.
func stackSettings(stackFile string) (func(key string) (string, bool), error) {
	values := map[string]string{}
	project := filepath.Join(filepath.Dir(stackFile), "Pulumi.yaml")
	var proj struct {
		Config map[string]struct {
			Default any `yaml:"default"`
		} `yaml:"config"`
	}
	if err := readYAML(project, &proj); err != nil {
		return nil, fmt.Errorf("the project file beside %s: %w", stackFile, err)
	}
	for key, decl := range proj.Config {
		if decl.Default != nil {
			values[key] = scalar(decl.Default)
		}
	}
	var stack struct {
		Config map[string]any `yaml:"config"`
	}
	if err := readYAML(stackFile, &stack); err != nil {
		return nil, err
	}
	for key, v := range stack.Config {
		if name, ok := strings.CutPrefix(key, projectName+":"); ok {
			values[name] = scalar(v)
		}
	}
	return func(key string) (string, bool) { v, ok := values[key]; return v, ok }, nil
}

func readYAML(path string, into any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return unwrapPath(err)
	}
	if err := yaml.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("%s: not YAML: %w", path, err)
	}
	return nil
}

func scalar(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// rulesForStack is the shipped rule set with a stack's firing settings applied; without a stack
// file, the rules as shipped.
func rulesForStack(stackFile string) ([]rules.Rule, error) {
	if stackFile == "" {
		return rules.Default(), nil
	}
	lookup, err := stackSettings(stackFile)
	if err != nil {
		return nil, err
	}
	rs, err := rules.ApplySettings(rules.Default(), lookup)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stackFile, err)
	}
	return rs, nil
}
