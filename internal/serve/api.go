package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nas-project/nas/internal/viz"
	"github.com/nas-project/nas/onnxgen"
)

func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.cfg.Logger.Warn("serve: encode JSON", "err", err)
		http.Error(w, "serve: encode JSON: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) {
	out := make([]runJSON, len(s.runs))
	for i, rd := range s.runs {
		out[i] = rd.state().summary
	}
	s.writeJSON(w, out)
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	rd := s.run(w, r)
	if rd == nil {
		return
	}
	sn := rd.state()
	s.writeJSON(w, struct {
		Run    runJSON     `json:"run"`
		Trials []trialJSON `json:"trials"`
	}{sn.summary, sn.trials})
}

// apiArch draws a trial's architecture as SVG.
func (s *Server) apiArch(w http.ResponseWriter, r *http.Request) {
	rd := s.run(w, r)
	if rd == nil {
		return
	}
	sn := rd.state()
	n, err := strconv.Atoi(r.PathValue("trial"))
	i := slices.IndexFunc(sn.trials, func(t trialJSON) bool { return t.Index == n })
	if err != nil || i < 0 || strconv.Itoa(n) != r.PathValue("trial") {
		http.Error(w, "no such trial", http.StatusNotFound)
		return
	}
	t := sn.trials[i]
	title := fmt.Sprintf("trial %d: %s, reward %.4f", t.Index, t.Status, t.Reward)
	var dot string
	if k, _ := onnxgen.KindOf(t.Arch); k == onnxgen.KindRNN {
		// A cell's picture is its tree: it needs no input size.
		c, perr := onnxgen.ParseCell(t.Arch)
		if perr != nil {
			http.Error(w, perr.Error(), http.StatusUnprocessableEntity)
			return
		}
		dot, err = viz.CellDot(c, title)
	} else {
		if !sn.shapeOK {
			http.Error(w, "the run has no model yet (best.onnx), so the input size is unknown", http.StatusNotFound)
			return
		}
		a, perr := onnxgen.Parse(t.Arch)
		if perr != nil {
			http.Error(w, perr.Error(), http.StatusUnprocessableEntity)
			return
		}
		dot, err = viz.Dot(a, sn.shape, sn.classes, title)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	svg, err := s.svgs.render(dot)
	if errors.Is(err, viz.ErrNoGraphviz) {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		s.cfg.Logger.Warn("serve: draw trial", "run", rd.name, "trial", n, "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(svg)
}

// apiModel sends one of the run's model files, by its fixed name.
func (s *Server) apiModel(w http.ResponseWriter, r *http.Request) {
	rd := s.run(w, r)
	if rd == nil {
		return
	}
	name := r.PathValue("name")
	if !slices.Contains(modelNames, name) {
		http.Error(w, "no such model", http.StatusNotFound)
		return
	}
	f, err := os.Open(filepath.Join(rd.dir, name))
	if err != nil {
		http.Error(w, "the run has no "+name, http.StatusNotFound)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.Error(w, "the run has no "+name, http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fmt.Sprintf("run%d-%s", rd.id, name)))
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// apiEvents is a server-sent event stream: "change" events with the run
// and its new version whenever a run's version changes, and a comment as
// a keep-alive every 15 s.
func (s *Server) apiEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	versions := make([]string, len(s.runs))
	send := func() error {
		for i, rd := range s.runs {
			v := rd.state().summary.Version
			if v == versions[i] {
				continue
			}
			versions[i] = v
			if _, err := fmt.Fprintf(w, "event: change\ndata: {\"run\":%d,\"version\":%q}\n\n", i, v); err != nil {
				return err
			}
		}
		fl.Flush()
		return nil
	}
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	if send() != nil {
		return
	}
	tick := time.NewTicker(s.cfg.Poll)
	defer tick.Stop()
	alive := time.NewTicker(15 * time.Second)
	defer alive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if send() != nil {
				return
			}
		case <-alive.C:
			if _, err := fmt.Fprint(w, ": alive\n\n"); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// svgCache keeps the SVGs of the last architectures drawn (dot takes tens
// of milliseconds), keyed by their DOT text.
type svgCache struct {
	mu  sync.Mutex
	max int
	m   map[string][]byte
}

func newSVGCache(max int) *svgCache { return &svgCache{max: max, m: map[string][]byte{}} }

func (c *svgCache) render(dot string) ([]byte, error) {
	c.mu.Lock()
	svg, ok := c.m[dot]
	c.mu.Unlock()
	if ok {
		return svg, nil
	}
	svg, err := viz.RenderSVG(dot)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[dot] = svg
	c.mu.Unlock()
	return svg, nil
}
