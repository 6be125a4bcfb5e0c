package main

// Charts are drawn with gonum.org/v1/plot: it is maintained by the Gonum project, pure Go (fonts
// embedded, PNG rendered without cgo or system libraries), so `cd benchmarks && go run .` works on any
// machine with a Go toolchain.

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// series is one bar per group.
type series struct {
	Name   string
	Values []float64
	Color  color.Color
}

// refLine is a dashed horizontal line across the chart, such as the book's 50% mark.
type refLine struct {
	Name  string
	Y     float64
	Color color.Color
}

var (
	blue       = color.RGBA{R: 31, G: 100, B: 180, A: 255}
	orange     = color.RGBA{R: 230, G: 120, B: 20, A: 255}
	green      = color.RGBA{R: 40, G: 150, B: 70, A: 255}
	purple     = color.RGBA{R: 130, G: 80, B: 170, A: 255}
	lightBlue  = color.RGBA{R: 160, G: 195, B: 235, A: 255}
	lightOrng  = color.RGBA{R: 250, G: 200, B: 150, A: 255}
	grey       = color.RGBA{R: 110, G: 110, B: 110, A: 255}
	red        = color.RGBA{R: 200, G: 40, B: 40, A: 255}
	chartW     = vg.Points(600)
	chartH     = vg.Points(340)
	dataFrac   = 0.78 // share of the width the bars' area gets, roughly
	minLogBase = 1.0  // log charts start at 1 call/s
)

// barChart draws groups of bars, one bar per series in each group. With logY the axis is
// logarithmic (values are drawn as log10, labelled as powers of ten): the book's rates span 3.67 to
// 6,394 calls/s.
func barChart(title, yLabel string, groups []string, ss []series, logY bool, refs []refLine) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Title.Padding = vg.Points(8)
	p.Y.Label.Text = yLabel
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.X.Tick.Label.Font.Size = vg.Points(9)

	y := func(v float64) float64 { return v }
	maxV := 0.0
	for _, s := range ss {
		if len(s.Values) != len(groups) {
			return nil, fmt.Errorf("series %q has %d values for %d groups", s.Name, len(s.Values), len(groups))
		}
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				maxV = max(maxV, v)
			}
		}
	}
	for _, r := range refs {
		maxV = max(maxV, r.Y)
	}
	if logY {
		y = func(v float64) float64 {
			if math.IsNaN(v) || v <= minLogBase {
				return 0
			}
			return math.Log10(v)
		}
		top := math.Ceil(y(maxV)) + 0.6 // room for the legend
		p.Y.Min, p.Y.Max = 0, top
		var ticks []plot.Tick
		for k := 0.0; k <= top; k++ {
			ticks = append(ticks, plot.Tick{Value: k, Label: powerLabel(k)})
			for i := 2; i < 10 && k+math.Log10(float64(i)) <= top; i++ {
				ticks = append(ticks, plot.Tick{Value: k + math.Log10(float64(i))})
			}
		}
		p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	} else {
		p.Y.Min, p.Y.Max = 0, maxV*1.35 // room for the legend
		p.Y.Tick.Marker = numTicks{}
	}
	p.Add(plotter.NewGrid()) // first, so that the bars cover it

	w := vg.Length(float64(chartW) * dataFrac / float64(len(groups)*(len(ss)+1)))
	for i, s := range ss {
		vals := make(plotter.Values, len(s.Values))
		for j, v := range s.Values {
			vals[j] = y(v)
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		b.Color = s.Color
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(float64(i)-float64(len(ss)-1)/2)
		p.Add(b)
		p.Legend.Add(s.Name, b)
	}
	for _, r := range refs {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: y(r.Y)}, {X: float64(len(groups)) - 0.5, Y: y(r.Y)}})
		if err != nil {
			return nil, err
		}
		l.LineStyle.Color = r.Color
		l.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		l.LineStyle.Width = vg.Points(1)
		p.Add(l)
		if r.Name != "" { // a pair of lines (a range) shares one entry
			p.Legend.Add(r.Name, l)
		}
	}
	p.NominalX(groups...)
	// Room for every bar of the first and last groups (the bars' data range is only their centres).
	p.X.Min, p.X.Max = -0.5, float64(len(groups))-0.5
	p.X.Tick.Label.Rotation = 0
	p.X.Tick.Label.XAlign = draw.XCenter
	return p, nil
}

// numTicks are gonum's default ticks labelled with thousands separators (800,000, not 800000).
type numTicks struct{}

func (numTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		switch v := ts[i].Value; {
		case ts[i].Label == "":
		case v == math.Trunc(v) && math.Abs(v) < 1e15:
			ts[i].Label = count(int64(v))
		default:
			ts[i].Label = num(v)
		}
	}
	return ts
}

func powerLabel(k float64) string {
	switch v := math.Pow(10, k); {
	case v >= 1e6:
		return fmt.Sprintf("%.0fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}
