package rules

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// AlarmState is a CloudWatch alarm state. Alarms start OK here: with missing data treated as
// notBreaching, CloudWatch leaves INSUFFICIENT_DATA at the first evaluation.
type AlarmState string

const (
	StateOK    AlarmState = "OK"
	StateAlarm AlarmState = "ALARM"
)

// PeriodSum is one period that had matching events: the metric's Sum, whether it breaches the
// threshold, and the alarm's state after evaluating it.
type PeriodSum struct {
	Start     time.Time
	Count     int
	Breaching bool
	State     AlarmState
}

// Transition is a change of alarm state, at the end of the period whose evaluation caused it.
type Transition struct {
	At          time.Time
	From, To    AlarmState
	Datapoints  []PeriodSum // the evaluated periods, newest first, as CloudWatch lists them
	PeriodStart time.Time   // start of the newest evaluated period
}

// Evaluation is what an alarm with Firing f would have done over a series of matched events.
type Evaluation struct {
	Periods     []PeriodSum // periods with events, in time order; for an immediate rule, one per event
	Transitions []Transition
}

// Breaching returns the periods whose sum reached the threshold.
func (e Evaluation) Breaching() []PeriodSum {
	var out []PeriodSum
	for _, p := range e.Periods {
		if p.Breaching {
			out = append(out, p)
		}
	}
	return out
}

// Evaluate runs the alarm over the event times (any order): Sum per period (periods aligned to
// multiples of the period in UTC), a period breaches when Sum >= Threshold, the alarm goes to ALARM
// when EvaluationPeriods periods in a row breach, and back to OK at the first period that does not,
// a period without events counting as not breaching (treat missing data: notBreaching).
// An immediate rule fires once per event.
func Evaluate(f Firing, times []time.Time) Evaluation {
	sorted := append([]time.Time(nil), times...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Before(sorted[j]) })
	if f.Immediate {
		ev := Evaluation{Periods: make([]PeriodSum, len(sorted))}
		for i, t := range sorted {
			ev.Periods[i] = PeriodSum{Start: t, Count: 1, Breaching: true, State: StateAlarm}
		}
		return ev
	}
	if f.Period <= 0 {
		return Evaluation{}
	}
	var periods []PeriodSum
	for _, t := range sorted {
		start := t.UTC().Truncate(f.Period)
		if n := len(periods); n > 0 && periods[n-1].Start.Equal(start) {
			periods[n-1].Count++
			continue
		}
		periods = append(periods, PeriodSum{Start: start, Count: 1})
	}
	var ev Evaluation
	state, run := StateOK, 0
	var recent []PeriodSum // consecutive evaluated periods, oldest first
	toOK := func(at time.Time, newest PeriodSum) {
		ev.Transitions = append(ev.Transitions, Transition{At: at, From: StateAlarm, To: StateOK, Datapoints: []PeriodSum{newest}, PeriodStart: newest.Start})
		state = StateOK
	}
	for i := range periods {
		p := &periods[i]
		if i > 0 && p.Start.Sub(periods[i-1].Start) > f.Period {
			missing := PeriodSum{Start: periods[i-1].Start.Add(f.Period), State: StateOK}
			if state == StateAlarm {
				toOK(missing.Start.Add(f.Period), missing)
			}
			run, recent = 0, nil
		}
		p.Breaching = float64(p.Count) >= f.Threshold
		if p.Breaching {
			run++
			if recent = append(recent, *p); len(recent) > f.EvaluationPeriods {
				recent = recent[1:]
			}
		} else {
			run, recent = 0, nil
		}
		switch {
		case state == StateOK && run >= f.EvaluationPeriods:
			state = StateAlarm
			dps := make([]PeriodSum, len(recent))
			for j := range recent {
				dps[j] = recent[len(recent)-1-j]
			}
			ev.Transitions = append(ev.Transitions, Transition{At: p.Start.Add(f.Period), From: StateOK, To: StateAlarm, Datapoints: dps, PeriodStart: p.Start})
		case state == StateAlarm && !p.Breaching:
			toOK(p.Start.Add(f.Period), *p)
		}
		p.State = state
	}
	if state == StateAlarm {
		last := periods[len(periods)-1]
		missing := PeriodSum{Start: last.Start.Add(f.Period), State: StateOK}
		toOK(missing.Start.Add(f.Period), missing)
	}
	ev.Periods = periods
	return ev
}

// NotificationContext is where the alarm lives, for the notification text.
type NotificationContext struct {
	Region     string // e.g. "us-east-1"
	RegionName string // e.g. "US East (N. Virginia)"
	Account    string
	TopicARN   string
	// StackPrefix names the stack's resources, e.g. "kmswatch-dev" (see Rule.AlarmName).
	StackPrefix string
}

// cloudWatchTime is how CloudWatch's alarm emails print times.
const cloudWatchTime = "Monday 2 January, 2006 15:04:05 UTC"

// Reason is the alarm's "Reason for State Change", modeled on CloudWatch's wording.
func (t Transition) Reason(f Firing) string {
	dps := make([]string, len(t.Datapoints))
	for i, d := range t.Datapoints {
		dps[i] = fmt.Sprintf("%.1f (%s)", float64(d.Count), d.Start.UTC().Format("02/01/06 15:04:05"))
	}
	if t.To == StateAlarm {
		verb, minimum := "were", fmt.Sprintf("%d datapoints", f.EvaluationPeriods)
		if len(t.Datapoints) == 1 {
			verb, minimum = "was", "1 datapoint"
		}
		return fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints [%s] %s greater than or equal to the threshold (%.1f) (minimum %s for OK -> ALARM transition).",
			len(t.Datapoints), f.EvaluationPeriods, strings.Join(dps, ", "), verb, f.Threshold, minimum)
	}
	return fmt.Sprintf("Threshold Crossed: 1 out of the last %d datapoints [%s] was not greater than or equal to the threshold (%.1f) (minimum 1 datapoint for ALARM -> OK transition).",
		f.EvaluationPeriods, strings.Join(dps, ", "), f.Threshold)
}

// AlarmEmail renders the email SNS delivers for a transition of the rule's alarm, modeled on
// CloudWatch's alarm notification (subject and plain-text body).
func (r Rule) AlarmEmail(t Transition, nc NotificationContext) (subject, body string) {
	name := r.AlarmName(nc.StackPrefix)
	subject = fmt.Sprintf("%s: %q in %s", t.To, name, nc.RegionName)
	at := t.At.UTC().Format(cloudWatchTime)
	reason := t.Reason(r.Firing)
	a := r.Alarm()
	var b strings.Builder
	fmt.Fprintf(&b, "You are receiving this email because your Amazon CloudWatch Alarm %q in the %s region has entered the %s state, because %q at %q.\n\n",
		name, nc.RegionName, t.To, reason, at)
	fmt.Fprintf(&b, "Alarm Details:\n")
	fmt.Fprintf(&b, "- Name:                       %s\n", name)
	fmt.Fprintf(&b, "- Description:                [%s] %s. %s\n", r.Severity, r.Title, r.Runbook)
	fmt.Fprintf(&b, "- State Change:               %s -> %s\n", t.From, t.To)
	fmt.Fprintf(&b, "- Reason for State Change:    %s\n", reason)
	fmt.Fprintf(&b, "- Timestamp:                  %s\n", at)
	fmt.Fprintf(&b, "- AWS Account:                %s\n", nc.Account)
	fmt.Fprintf(&b, "- Alarm Arn:                  arn:aws:cloudwatch:%s:%s:alarm:%s\n\n", nc.Region, nc.Account, name)
	fmt.Fprintf(&b, "Threshold:\n- The alarm is in the ALARM state when the metric is %s %.1f for at least %d of the last %d period(s) of %d seconds.\n\n",
		a.ComparisonOperator, a.Threshold, a.EvaluationPeriods, a.EvaluationPeriods, a.PeriodSeconds)
	fmt.Fprintf(&b, "Monitored Metric:\n")
	fmt.Fprintf(&b, "- MetricNamespace:                     %s\n", a.Namespace)
	fmt.Fprintf(&b, "- MetricName:                          %s\n", a.MetricName)
	fmt.Fprintf(&b, "- Dimensions:                          \n")
	fmt.Fprintf(&b, "- Period:                              %d seconds\n", a.PeriodSeconds)
	fmt.Fprintf(&b, "- Statistic:                           %s\n", a.Statistic)
	fmt.Fprintf(&b, "- Unit:                                not specified\n")
	fmt.Fprintf(&b, "- TreatMissingData:                    %s\n\n", a.TreatMissingData)
	fmt.Fprintf(&b, "State Change Actions:\n- OK: [%s]\n- ALARM: [%s]\n- INSUFFICIENT_DATA:\n", nc.TopicARN, nc.TopicARN)
	return subject, b.String()
}
