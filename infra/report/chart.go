package report

import (
	"fmt"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// The chart's frame, in SVG user units; the page scales the whole drawing to its width.
const (
	chartWidth  = 960
	chartHeight = 240
	plotLeft    = 64
	plotTop     = 24
	plotWidth   = 880 // one bucket per unit at most: the display never holds more bars than this
	plotHeight  = 168
	plotBottom  = plotTop + plotHeight
	alarmBandY  = 10 // the strip above the plot that shows when the alarm was in ALARM
	breachY     = plotBottom + 3
)

// bucket is a run of consecutive windows drawn as one bar: its tallest window, so that a spike
// is never averaged away, with where that was and how many of the windows breached.
type bucket struct {
	from, to  int // windows [from, to)
	max       int
	maxAt     int // the first window holding max
	nonZero   int
	breaching int
}

// aggregate spreads a series' windows over at most n buckets and keeps each bucket's maximum.
// Only windows with events are visited: a year of quiet minutes costs nothing.
func aggregate(s rules.Series, n int) []bucket {
	if s.Len == 0 {
		return nil
	}
	n = min(n, s.Len)
	out := make([]bucket, n)
	for b := range out {
		out[b] = bucket{from: bucketStart(b, n, s.Len), to: bucketStart(b+1, n, s.Len), maxAt: -1}
	}
	for _, w := range s.Events {
		k := s.Index(w.Start)
		if k < 0 || k >= s.Len {
			continue
		}
		b := &out[int(int64(k)*int64(n)/int64(s.Len))]
		if w.Count > b.max {
			b.max, b.maxAt = w.Count, k
		}
		b.nonZero++
		if w.Breaching {
			b.breaching++
		}
	}
	return out
}

// bucketStart is the first window of bucket b: the windows k with k*n/l == b.
func bucketStart(b, n, l int) int { return int((int64(b)*int64(l) + int64(n) - 1) / int64(n)) }

// niceCeil is the smallest of 1, 2, 5, 10, 20, 50, ... at or above v: the top of the y axis.
func niceCeil(v float64) int {
	top := 1
	for float64(top) < v {
		switch top / pow10(top) {
		case 1:
			top *= 2
		case 2:
			top = top / 2 * 5
		default:
			top *= 2
		}
	}
	return top
}

// pow10 is the power of ten at or below a nice number.
func pow10(v int) int {
	p := 1
	for p*10 <= v {
		p *= 10
	}
	return p
}

// yTicks are the counts labelled on the y axis: five steps when the top divides by five, else two.
func yTicks(top int) []int {
	step := top / 2
	if top%5 == 0 {
		step = top / 5
	}
	step = max(step, 1)
	var out []int
	for v := 0; v <= top; v += step {
		out = append(out, v)
	}
	return out
}

// timeSteps are the spacings of the time axis's ticks, the first that leaves at most
// maxTimeTicks; past them the axis counts whole months.
var timeSteps = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour,
}

var monthSteps = []int{1, 2, 3, 6, 12, 24, 60, 120}

const maxTimeTicks = 8

type timeTick struct {
	X     float64
	Label string
}

// timeTicks labels the axis from start over span at whole multiples of a step, in UTC: minutes,
// hours or days from midnight, or the first days of months.
func timeTicks(start time.Time, span time.Duration, x func(time.Time) float64) []timeTick {
	start = start.UTC()
	end := start.Add(span)
	var out []timeTick
	for _, step := range timeSteps {
		if span/step > maxTimeTicks {
			continue
		}
		layout := "Jan 2 15:04"
		if step >= 24*time.Hour {
			layout = "Jan 2"
		}
		for t := start.Truncate(step); !t.After(end); t = t.Add(step) {
			if !t.Before(start) {
				out = append(out, timeTick{X: x(t), Label: t.Format(layout)})
			}
		}
		return out
	}
	months := int(span/(24*time.Hour))/30 + 1
	step := monthSteps[len(monthSteps)-1]
	for _, m := range monthSteps {
		if months/m <= maxTimeTicks {
			step = m
			break
		}
	}
	// From a month the step divides (counted from January of year 0), so that yearly ticks fall
	// on Januaries and half-yearly ones on Januaries and Julys.
	months0 := start.Year()*12 + int(start.Month()) - 1
	months0 -= months0 % step
	for m := months0; ; m += step {
		t := time.Date(m/12, time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC)
		if t.After(end) {
			break
		}
		if !t.Before(start) {
			out = append(out, timeTick{X: x(t), Label: t.Format("Jan 2006")})
		}
	}
	return out
}

// period says a window's length as people write it: "1 min", "5 min", "1 h".
func period(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return fmt.Sprintf("%d h", d/time.Hour)
	}
	return fmt.Sprintf("%d min", d/time.Minute)
}
