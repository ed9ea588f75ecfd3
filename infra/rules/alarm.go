package rules

import (
	"cmp"
	"slices"
	"time"
)

// The offline alarm evaluator follows what CloudWatch documents for metric alarms:
//   - "For any period of one minute or longer, an alarm is evaluated every minute and the
//     evaluation is based on the window of time defined by the Period and Evaluation Periods":
//     at the end of each minute t the data points are the Sums over [t-P, t), [t-2P, t-P), ...,
//     N of them, so windows slide by a minute rather than sit on clock multiples of P.
//   - The alarm goes to ALARM when at least DatapointsToAlarm of them breach, and back to OK when
//     fewer do; "the breaching data points don't have to be consecutive".
//   - A data point is taken to carry its event's time (CloudWatch Logs does not document which
//     timestamp a metric filter gives it; this is the worst case for late data) and to exist for
//     the alarm only once CloudWatch Logs has the event: an event delivered late adds to a
//     period that may already have been evaluated, and counts only while that period is among
//     the last N.
//   - Missing data is notBreaching. CloudWatch "attempts to retrieve a higher number of data
//     points than the number specified as Evaluation Periods" (the evaluation range) and may use
//     older real data points when recent ones are missing; how many is not documented. The
//     evaluator retrieves exactly N. With notBreaching, extra older points can only add breaching
//     ones, so the evaluator's ALARM comes no earlier than CloudWatch's and its OK no later.
//
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarm-evaluation
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-evaluating-missing-data

// AlarmState is a CloudWatch alarm state. Alarms start OK here: with missing data treated as
// notBreaching, CloudWatch leaves INSUFFICIENT_DATA at the first evaluation.
type AlarmState string

const (
	StateOK    AlarmState = "OK"
	StateAlarm AlarmState = "ALARM"
)

// PeriodSum is one window of Period that held events: the Sum of all of them (as the metric holds
// it once every event has arrived), whether that reaches the threshold, and the alarm's state
// after the evaluation at the window's end. For an immediate rule, one event.
type PeriodSum struct {
	Start     time.Time
	Count     int
	Breaching bool
	State     AlarmState
}

// Datapoint is one of the N data points an evaluation looked at: the Sum of the events the
// alarm could see then, which for late data is less than the period's final Sum.
type Datapoint struct {
	Start     time.Time
	Count     int
	Breaching bool
}

// Transition is a change of alarm state, at the evaluation that caused it.
type Transition struct {
	At          time.Time
	From, To    AlarmState
	Datapoints  []Datapoint // the N evaluated data points, newest first, as CloudWatch lists them
	PeriodStart time.Time   // start of the newest evaluated period
}

// Evaluation is what an alarm with Firing f would have done over a series of matched events.
type Evaluation struct {
	Periods     []PeriodSum // windows with events, in time order; for a period over a minute they overlap
	Transitions []Transition
}

// Breaching returns the windows whose Sum reached the threshold.
func (e Evaluation) Breaching() []PeriodSum {
	var out []PeriodSum
	for _, p := range e.Periods {
		if p.Breaching {
			out = append(out, p)
		}
	}
	return out
}

// Arrival is one matched log event: when it happened, the time its data point carries, and when
// CloudWatch Logs had it, from which on the alarm can see it.
type Arrival struct {
	EventTime, Delivered time.Time
}

// Delayed gives every event the same delivery delay.
func Delayed(times []time.Time, delay time.Duration) []Arrival {
	out := make([]Arrival, len(times))
	for i, t := range times {
		out[i] = Arrival{EventTime: t, Delivered: t.Add(delay)}
	}
	return out
}

// Evaluate runs the alarm over event times (any order) as if each event reached CloudWatch Logs
// at its own time, which is all a log file can tell (replay has no delivery times): transitions
// come as soon as delivery allows, where a trail's data arrives minutes later (EvaluateArrivals).
func Evaluate(f Firing, times []time.Time) Evaluation {
	return evaluate(f, len(times), func(i int) (time.Time, time.Time) { return times[i], times[i] })
}

// EvaluateArrivals runs the alarm over events that may reach CloudWatch Logs late, evaluating at
// the end of every minute from the first event until its windows are empty again. An immediate
// rule fires once per event, in event-time order. A firing that Validate rejects evaluates to
// nothing.
func EvaluateArrivals(f Firing, arrivals []Arrival) Evaluation {
	return evaluate(f, len(arrivals), func(i int) (time.Time, time.Time) { return arrivals[i].EventTime, arrivals[i].Delivered })
}

// evaluate reads the n events through event, which returns the i-th event's time and delivery.
func evaluate(f Firing, n int, event func(i int) (time.Time, time.Time)) Evaluation {
	return evaluateWeighted(f, n, func(i int) (time.Time, time.Time, int) {
		t, d := event(i)
		return t, d, 1
	})
}

// EvaluateDifference runs a metric-math alarm on "plus - minus": each plus arrival adds one to
// its minute and each minus arrival takes one away, as CloudWatch subtracts two Sum series per
// period, "Missing values in a time series are treated as 0"; each counts once delivered, so a
// minus series that arrives later than the plus one breaches until it does.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html
func EvaluateDifference(f Firing, plus, minus []Arrival) Evaluation {
	if f.Immediate {
		return Evaluation{}
	}
	return evaluateWeighted(f, len(plus)+len(minus), func(i int) (time.Time, time.Time, int) {
		if i < len(plus) {
			return plus[i].EventTime, plus[i].Delivered, 1
		}
		a := minus[i-len(plus)]
		return a.EventTime, a.Delivered, -1
	})
}

// evaluateWeighted reads the n events through event, which returns the i-th event's time,
// delivery and weight (1, or -1 for a subtracted series).
func evaluateWeighted(f Firing, n int, event func(i int) (time.Time, time.Time, int)) Evaluation {
	if f.Immediate {
		times := make([]time.Time, n)
		for i := range times {
			times[i], _, _ = event(i)
		}
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		ev := Evaluation{Periods: make([]PeriodSum, n)}
		for i, t := range times {
			ev.Periods[i] = PeriodSum{Start: t, Count: 1, Breaching: true, State: StateAlarm}
		}
		return ev
	}
	if f.Validate() != nil || n == 0 {
		return Evaluation{}
	}
	return newMinuteSeries(n, event).evaluate(f)
}

// minuteSeries holds the events per minute of event time, with the minute from which the alarm
// sees them (the first evaluation at or after their delivery).
type minuteSeries struct {
	minutes []int64       // distinct event minutes (Unix time / 60), ascending
	total   map[int64]int // events per minute
	visible map[int64]int // of those, the ones the current evaluation can see
	pending []slot        // every event, counted per (minute, visible from), by visible from
	seen    int           // pending[:seen] are counted in visible
}

type slot struct {
	minute, at int64 // event minute; first evaluation minute that sees it
	n          int
}

func newMinuteSeries(n int, event func(i int) (time.Time, time.Time, int)) *minuteSeries {
	s := &minuteSeries{total: map[int64]int{}, visible: map[int64]int{}}
	// Replay hands events over in time order, so neighbours mostly share a slot: count them there
	// rather than keep one entry per event.
	for i := range n {
		eventTime, delivered, w := event(i)
		if delivered.Before(eventTime) {
			delivered = eventTime
		}
		m, at := floorMinute(eventTime), ceilMinute(delivered)
		if k := len(s.pending) - 1; k >= 0 && s.pending[k].minute == m && s.pending[k].at == at && (s.pending[k].n > 0) == (w > 0) {
			s.pending[k].n += w
			continue
		}
		s.pending = append(s.pending, slot{minute: m, at: at, n: w})
	}
	seen := map[int64]bool{}
	for _, p := range s.pending {
		if !seen[p.minute] {
			seen[p.minute] = true
			s.minutes = append(s.minutes, p.minute)
		}
		s.total[p.minute] += p.n
	}
	slices.Sort(s.minutes)
	slices.SortStableFunc(s.pending, func(a, b slot) int { return cmp.Compare(a.at, b.at) })
	return s
}

// seeUpTo counts the events delivered by the evaluation at minute t.
func (s *minuteSeries) seeUpTo(t int64) {
	for s.seen < len(s.pending) && s.pending[s.seen].at <= t {
		s.visible[s.pending[s.seen].minute] += s.pending[s.seen].n
		s.seen++
	}
}

// sum adds counts over the minutes [from, to).
func sum(counts map[int64]int, from, to int64) int {
	n := 0
	for m := from; m < to; m++ {
		n += counts[m]
	}
	return n
}

func (s *minuteSeries) evaluate(f Firing) Evaluation {
	p := int64(f.Period / time.Minute)
	n, m := f.EvaluationPeriods, f.Datapoints()
	window := p * int64(n) // an event in minute x is among the data points for t in [x+1, x+window]
	var ev Evaluation
	state := StateOK
	counts := make([]int, n) // the visible Sum of each evaluated period, newest first
	for i := 0; i < len(s.minutes); {
		// One run of evaluations: from the first minute after an event until every event of the
		// run has left the window, plus the evaluation that finds the window empty.
		last := s.minutes[i]
		j := i + 1
		for j < len(s.minutes) && s.minutes[j] <= last+window {
			last = s.minutes[j]
			j++
		}
		for t := s.minutes[i] + 1; t <= last+window+1; t++ {
			s.seeUpTo(t)
			breaching := 0
			for k := range counts {
				to := t - int64(k)*p
				counts[k] = sum(s.visible, to-p, to)
				if counts[k] > 0 && float64(counts[k]) >= f.Threshold {
					breaching++
				}
			}
			next := StateOK
			if breaching >= m {
				next = StateAlarm
			}
			if next != state {
				ev.Transitions = append(ev.Transitions, s.transition(f, t, state, next, counts))
				state = next
			}
			if c := sum(s.total, t-p, t); c > 0 {
				ev.Periods = append(ev.Periods, PeriodSum{Start: minuteTime(t - p), Count: c, Breaching: float64(c) >= f.Threshold, State: state})
			}
		}
		i = j
	}
	return ev
}

func (s *minuteSeries) transition(f Firing, t int64, from, to AlarmState, counts []int) Transition {
	p := int64(f.Period / time.Minute)
	points := make([]Datapoint, len(counts))
	for k, c := range counts {
		points[k] = Datapoint{Start: minuteTime(t - int64(k+1)*p), Count: c, Breaching: c > 0 && float64(c) >= f.Threshold}
	}
	return Transition{At: minuteTime(t), From: from, To: to, Datapoints: points, PeriodStart: points[0].Start}
}

func floorMinute(t time.Time) int64 {
	s := t.Unix()
	m := s / 60
	if s%60 < 0 {
		m--
	}
	return m
}

func ceilMinute(t time.Time) int64 {
	m := floorMinute(t)
	if !t.Equal(minuteTime(m)) {
		m++
	}
	return m
}

func minuteTime(m int64) time.Time { return time.Unix(m*60, 0).UTC() }
