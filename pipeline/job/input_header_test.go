package job

import (
	"testing"

	"github.com/streamstat/streamstat/pipeline"
)

// TestStreamConfigKeepsCSVKey: a stream whose CSV header the stream drops
// is read with a CSVKey without a header, not a wrapper around the
// extractor, so the source keeps CSVKey's one-pass record reading; the
// plan's own CSVKey is left as it was.
func TestStreamConfigKeepsCSVKey(t *testing.T) {
	k, err := pipeline.NewCSVKey(',', true, 0, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	pl := &plan{cfg: pipeline.LineConfig{Extract: k}}
	got, ok := pl.streamConfig().Extract.(*pipeline.CSVKey)
	if !ok {
		t.Fatalf("stream extractor %T, want *pipeline.CSVKey", pl.streamConfig().Extract)
	}
	if got.Header || got.Framing() != pipeline.FrameCSV || got.Comma != ',' || len(got.Columns) != 2 || got.Columns[0] != 2 {
		t.Errorf("stream CSVKey %+v, want the plan's without its header", got)
	}
	if !k.Header || !pl.dropsHeader() {
		t.Error("the plan's CSVKey changed")
	}
	j, err := pipeline.NewJSONKey("", "a")
	if err != nil {
		t.Fatal(err)
	}
	pl = &plan{cfg: pipeline.LineConfig{Extract: j}}
	if pl.streamConfig().Extract != pipeline.Extractor(j) || pl.dropsHeader() {
		t.Error("a JSON key's stream config changed")
	}
}
