package main

import (
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// firingFlags give replay and tune the firing the stack deploys: a stack file's settings, and
// single settings on the command line, named as in the stack (rules.SettingName).
type firingFlags struct {
	stackFile string
	sets      settingList
}

func (ff *firingFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&ff.stackFile, "stack-config", "", "a stack file (e.g. Pulumi.dev.yaml): judge with that stack's firing settings, as deployed (Pulumi.yaml beside it gives the defaults)")
	fs.Var(&ff.sets, "set", "one firing setting, as the stack names it, over the stack file's: `NAME=VALUE`, e.g. appDecryptVolumeThreshold=500 (repeatable)")
}

// settingList is the repeatable --set NAME=VALUE.
type settingList []setting

type setting struct{ name, value string }

func (l *settingList) String() string {
	var parts []string
	for _, s := range *l {
		parts = append(parts, s.name+"="+s.value)
	}
	return strings.Join(parts, ",")
}

func (l *settingList) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || name == "" || value == "" {
		return fmt.Errorf("%q: want NAME=VALUE, e.g. appDecryptVolumeThreshold=500", v)
	}
	if !slices.Contains(settingNames(), name) {
		return fmt.Errorf("%q: no such setting; the rules' settings are %s", name, strings.Join(settingNames(), ", "))
	}
	*l = append(*l, setting{name, value})
	return nil
}

// settingNames are every tunable rule's four settings.
func settingNames() []string {
	var out []string
	for _, r := range rules.Default() {
		if !r.Tunable() {
			continue
		}
		for _, field := range rules.SettingFields {
			out = append(out, rules.SettingName(r.ID, field))
		}
	}
	return out
}

// rules returns the shipped rules with the stack file's settings and then --set applied; an
// invalid value is an error naming its setting.
func (ff *firingFlags) rules() ([]rules.Rule, error) {
	stack := func(string) (string, bool) { return "", false }
	if ff.stackFile != "" {
		var err error
		if stack, err = stackSettings(ff.stackFile); err != nil {
			return nil, fmt.Errorf("--stack-config: %w", err)
		}
	}
	lookup := func(key string) (string, bool) {
		for i := len(ff.sets) - 1; i >= 0; i-- { // the last --set of a name wins
			if ff.sets[i].name == key {
				return ff.sets[i].value, true
			}
		}
		return stack(key)
	}
	rs, err := rules.ApplySettings(rules.Default(), lookup)
	if err != nil {
		where := "--set"
		if ff.stackFile != "" {
			where = ff.stackFile + " and --set"
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return rs, nil
}

// setByFlag reports whether --set gave the setting.
func (ff *firingFlags) setByFlag(name string) bool {
	return slices.ContainsFunc(ff.sets, func(s setting) bool { return s.name == name })
}

// source says where the firing came from, as the report and tune print it.
func (ff *firingFlags) source(period string) string {
	var parts []string
	if ff.stackFile != "" {
		parts = append(parts, "the stack file "+ff.stackFile)
	}
	if len(ff.sets) > 0 {
		parts = append(parts, "--set "+ff.sets.String())
	}
	if period != "" {
		parts = append(parts, "--period "+period)
	}
	if len(parts) == 0 {
		return "the rules as shipped"
	}
	return strings.Join(parts, ", ")
}
