package rules

import (
	"cmp"
	"iter"
	"slices"
	"time"
)

// Series is one rule's count per period over a replay's whole span, as its alarm sees it:
// CloudWatch evaluates a metric alarm every minute over the periods that end then (see
// alarm.go), so there is one window a minute, each Period long, [Start+k min, Start+k min+Period).
// The windows run from the first that holds the span's first minute to the one that starts in
// its last. Only the windows with events are stored; every other window's Sum is 0, which the
// alarm treats as not breaching. A rule that fires at once has one-minute windows, each event a
// firing.
type Series struct {
	Period    time.Duration
	Start     time.Time   // start of window 0
	Len       int         // windows, one a minute
	Events    []PeriodSum // the windows with events, in time order, Start on the minute
	Threshold float64     // a window breaches when its Sum reaches it (1 for a rule that fires at once)
}

// Series returns rule i's count per period over the span of the replay (First to Last), or,
// when the replay kept no span (ReplayOptions.Span), over its matches' stretch of time.
func (res *ReplayResult) Series(i int) Series {
	f, ev := res.Rules[i].Firing, res.Evaluations[i]
	s := Series{Period: f.Period, Threshold: f.Threshold, Events: ev.Periods}
	if f.Immediate {
		s.Period, s.Threshold, s.Events = time.Minute, 1, eventsPerMinute(ev.Periods)
	}
	p := int64(s.Period / time.Minute)
	span := res.span
	if span.first.IsZero() {
		// No span kept: from the first window with events to the last.
		if len(s.Events) == 0 {
			return s
		}
		first, last := floorMinute(s.Events[0].Start), floorMinute(s.Events[len(s.Events)-1].Start)
		s.Start, s.Len = minuteTime(first), int(last-first+1)
		return s
	}
	first, last := floorMinute(span.first)-p+1, floorMinute(span.last)
	s.Start, s.Len = minuteTime(first), int(last-first+1)
	return s
}

// eventsPerMinute counts the firings of a rule that fires at once per minute of event time.
func eventsPerMinute(events []PeriodSum) []PeriodSum {
	var out []PeriodSum
	for _, e := range events {
		m := minuteTime(floorMinute(e.Start))
		if k := len(out) - 1; k >= 0 && out[k].Start.Equal(m) {
			out[k].Count += e.Count
			continue
		}
		out = append(out, PeriodSum{Start: m, Count: e.Count, Breaching: true, State: StateAlarm})
	}
	return out
}

// Index is the window that starts at t's minute (negative or past Len when outside).
func (s Series) Index(t time.Time) int { return int(floorMinute(t) - floorMinute(s.Start)) }

// WindowStart is the start of window k.
func (s Series) WindowStart(k int) time.Time { return s.Start.Add(time.Duration(k) * time.Minute) }

// All yields every window in order, its index and Sum, quiet ones (Count 0, OK as far as the
// window goes) included.
func (s Series) All() iter.Seq2[int, PeriodSum] {
	return func(yield func(int, PeriodSum) bool) {
		next := 0
		for k := range s.Len {
			if next < len(s.Events) && s.Index(s.Events[next].Start) == k {
				if !yield(k, s.Events[next]) {
					return
				}
				next++
				continue
			}
			if !yield(k, PeriodSum{Start: s.WindowStart(k), State: StateOK}) {
				return
			}
		}
	}
}

// MinuteCount is how many events of a rule fell in one minute of event time.
type MinuteCount struct {
	Minute time.Time // on the minute
	Count  int
}

// EvaluateMinutes runs the alarm evaluator of Evaluate over events counted per minute (in any
// order): the same result as Evaluate over the events themselves, since an alarm sees data
// points per minute, in memory per minute rather than per event. For trying many thresholds
// over a long history.
func EvaluateMinutes(f Firing, minutes []MinuteCount) Evaluation {
	if f.Immediate {
		var times []time.Time
		for _, m := range minutes {
			for range m.Count {
				times = append(times, m.Minute)
			}
		}
		return Evaluate(f, times)
	}
	if f.Validate() != nil || len(minutes) == 0 {
		return Evaluation{}
	}
	s := &minuteSeries{total: make(map[int64]int, len(minutes)), visible: make(map[int64]int, len(minutes))}
	for _, mc := range minutes {
		if mc.Count <= 0 {
			continue
		}
		m := floorMinute(mc.Minute)
		if s.total[m] == 0 {
			s.minutes = append(s.minutes, m)
		}
		s.total[m] += mc.Count
		// As Evaluate sees an event of minute m: from the evaluation at the end of that minute.
		s.pending = append(s.pending, slot{minute: m, at: m + 1, n: mc.Count})
	}
	if len(s.minutes) == 0 {
		return Evaluation{}
	}
	slices.Sort(s.minutes)
	slices.SortStableFunc(s.pending, func(a, b slot) int { return cmp.Compare(a.at, b.at) })
	return s.evaluate(f)
}
