package report

import (
	"fmt"
	"time"

	"github.com/kmswatch/kmswatch/infra/rules"
)

// chartView is one rule's chart in SVG user units.
type chartView struct {
	Empty            bool // no records with a time: nothing to draw
	YMax             int
	Threshold        int
	YTicks           []yTick
	XTicks           []timeTick
	Bars             []barView
	ThresholdY       float64
	ThresholdLabel   string
	ThresholdLabelDY float64
	AlarmBands       []bandView // when the alarm was in ALARM
	BreachMarks      []bandView // under the axis: where windows breach, however short the bar
	Marks            []markView // alarm transitions
	Windows          int        // windows in the series
	PerBar           string     // how many windows a bar stands for
	Frame            frame
}

// frame hands the layout constants to the template.
type frame struct {
	Width, Height, PlotLeft, PlotTop, PlotWidth, PlotHeight, PlotRight, PlotBottom, AlarmBandY, BreachY int
}

var theFrame = frame{chartWidth, chartHeight, plotLeft, plotTop, plotWidth, plotHeight, plotLeft + plotWidth, plotBottom, alarmBandY, breachY}

// tickRoom is half a time label's width.
const tickRoom = 34

type yTick struct {
	Y     float64
	Label string
}

type barView struct {
	X, Y, W, H float64
	Breach     bool
	Title      string
}

type bandView struct {
	X, W  float64
	Title string
}

type markView struct {
	X     float64
	Alarm bool // to ALARM, else back to OK
	Title string
}

func buildChart(s rules.Series, transitions []rules.Transition) chartView {
	c := chartView{Frame: theFrame, Windows: s.Len}
	if s.Len == 0 {
		c.Empty = true
		return c
	}
	buckets := aggregate(s, plotWidth)
	top := s.Threshold
	for _, b := range buckets {
		top = max(top, float64(b.max))
	}
	c.YMax = niceCeil(top * 1.1) // headroom: the threshold line and the tallest bar stay below the top
	y := func(v float64) float64 { return plotTop + plotHeight*(1-v/float64(c.YMax)) }
	for _, t := range yTicks(c.YMax) {
		c.YTicks = append(c.YTicks, yTick{Y: y(float64(t)), Label: number(t)})
	}
	// x maps window indexes, and times through them, onto the plot.
	xk := func(k float64) float64 { return plotLeft + plotWidth*k/float64(s.Len) }
	xt := func(t time.Time) float64 {
		k := float64(t.Sub(s.Start)) / float64(time.Minute)
		return min(max(xk(k), plotLeft), plotLeft+plotWidth)
	}
	for _, t := range timeTicks(s.Start, time.Duration(s.Len)*time.Minute, xt) {
		if t.X <= plotLeft+plotWidth-tickRoom { // a label centred on the right edge would be cut
			c.XTicks = append(c.XTicks, t)
		}
	}
	c.ThresholdY, c.Threshold = y(s.Threshold), int(s.Threshold)
	c.ThresholdLabelDY = -4
	if c.ThresholdY < plotTop+14 { // under the line, clear of the alarm lane
		c.ThresholdLabelDY = 12
	}
	c.ThresholdLabel = "threshold " + number(int(s.Threshold))
	c.PerBar = "1 window"
	if s.Len > len(buckets) {
		c.PerBar = fmt.Sprintf("up to %s windows (the tallest shown)", number((s.Len+len(buckets)-1)/len(buckets)))
	}

	for _, b := range buckets {
		if b.max == 0 {
			continue
		}
		h := max(plotHeight*float64(b.max)/float64(c.YMax), 1) // a count of 1 on a tall axis still shows
		c.Bars = append(c.Bars, barView{
			X: xk(float64(b.from)), W: xk(float64(b.to)) - xk(float64(b.from)), Y: plotBottom - h, H: h,
			Breach: b.breaching > 0, Title: bucketTitle(s, b),
		})
	}
	for i := 0; i < len(buckets); {
		if buckets[i].breaching == 0 {
			i++
			continue
		}
		j := i
		for j < len(buckets) && buckets[j].breaching > 0 {
			j++
		}
		from, to := buckets[i].from, buckets[j-1].to
		c.BreachMarks = append(c.BreachMarks, bandView{X: xk(float64(from)), W: xk(float64(to)) - xk(float64(from)),
			Title: fmt.Sprintf("breaching windows among those from %s to %s UTC", clock(s.WindowStart(from)), clock(s.WindowStart(to-1)))})
		i = j
	}
	c.AlarmBands, c.Marks = alarmMarks(s, transitions, xt)
	return c
}

// bucketTitle is a bar's tooltip: the exact counts behind it.
func bucketTitle(s rules.Series, b bucket) string {
	per := period(s.Period)
	at := s.WindowStart(b.maxAt)
	if b.to-b.from == 1 {
		t := fmt.Sprintf("%s from %s UTC: %s", per, clock(at), number(b.max))
		if b.breaching > 0 {
			t += fmt.Sprintf(", breaches (>= %s)", number(int(s.Threshold)))
		}
		return t
	}
	t := fmt.Sprintf("%s to %s UTC, %s windows of %s: max %s in the %s from %s",
		clock(s.WindowStart(b.from)), clock(s.WindowStart(b.to-1)), number(b.to-b.from), per, number(b.max), per, clock(at))
	if b.breaching > 0 {
		t += fmt.Sprintf("; %s breach (>= %s)", number(b.breaching), number(int(s.Threshold)))
	}
	return t
}

// alarmMarks draws the alarm's state over time: a band while in ALARM, a mark at each change.
// An alarm that flaps for a year changes state more often than the plot has units: marks of one
// kind closer than half a unit are drawn once, and touching bands as one.
func alarmMarks(s rules.Series, transitions []rules.Transition, x func(time.Time) float64) ([]bandView, []markView) {
	var bands []bandView
	var marks []markView
	lastX := map[bool]float64{true: -1, false: -1}
	addBand := func(b bandView) {
		if k := len(bands) - 1; k >= 0 && b.X <= bands[k].X+bands[k].W+0.5 {
			bands[k].W = max(bands[k].W, b.X+b.W-bands[k].X)
			bands[k].Title = "in ALARM, on and off, over this stretch: see the transitions table"
			return
		}
		bands = append(bands, b)
	}
	end := s.WindowStart(s.Len)
	var since time.Time
	inAlarm := false
	for _, tr := range transitions {
		alarm := tr.To == rules.StateAlarm
		if mx := x(tr.At); lastX[alarm] < 0 || mx-lastX[alarm] >= 0.5 {
			marks = append(marks, markView{X: mx, Alarm: alarm, Title: fmt.Sprintf("%s to %s at %s UTC", tr.From, tr.To, clock(tr.At))})
			lastX[alarm] = mx
		}
		switch {
		case alarm && !inAlarm:
			since, inAlarm = tr.At, true
		case !alarm && inAlarm:
			addBand(band(since, tr.At, x))
			inAlarm = false
		}
	}
	if inAlarm {
		addBand(band(since, end, x))
	}
	return bands, marks
}

func band(from, to time.Time, x func(time.Time) float64) bandView {
	return bandView{X: x(from), W: max(x(to)-x(from), 1), Title: fmt.Sprintf("in ALARM from %s to %s UTC", clock(from), clock(to))}
}
