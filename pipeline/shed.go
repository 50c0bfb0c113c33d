package pipeline

import (
	"slices"
	"time"

	"github.com/streamstat/streamstat/flowcontrol"
)

// Shedder drops records at ingress, right after a source fills a batch and
// before anything downstream spends work on them: the place where shedding
// is cheapest. Package shedding provides implementations.
//
// Shed removes the records it drops from b (compacting b.Records in place;
// the arena may keep their bytes) and sets KeepP on the records it keeps to
// the keep probability its decision used, so that operators can scale what
// they count. Its
// decisions must depend only on each record (its hash) and the state of the
// shedder, never on timing, so that a replay with the same keep
// probabilities sheds the same records. now is the pipeline's clock; p
// describes the channel behind the source, for feedback.
//
// Each source goroutine has its own Shedder, from Config.NewShedder, and
// calls it from that goroutine only. A Shedder that is also an
// encoding.BinaryMarshaler and BinaryUnmarshaler has its state (the keep
// probability in force and what decides it) saved with each checkpoint and
// restored with the source's position.
type Shedder interface {
	Shed(b *Batch, now time.Time, p Pressure)
}

// Pressure describes the credit channel behind a source when it sheds: the
// summed stats of the channels to its downstream instances. With a
// shedder the first stage always has a channel in front of it (see
// Config.NewShedder); Pressure is the zero value only for a source with
// no stage after it.
type Pressure struct {
	// Credits, Backlog and InFlight are summed over the channels.
	Credits, Backlog, InFlight int
	// Buffers is the number of buffers the channels may hold in flight.
	Buffers int
	// BackPressured is the total time the source has waited for credit.
	BackPressured time.Duration
	// Records is the number of records sent downstream so far.
	Records uint64
}

// pressure returns the Pressure behind an emitter.
func pressure(e emitter) Pressure {
	var p Pressure
	var senders []*flowcontrol.Sender[*Batch]
	switch e := e.(type) {
	case *senderEmitter:
		senders = e.senders
	case *keyEmitter:
		senders = e.senders
	case *fanEmitter:
		senders = e.senders()
	}
	for _, s := range senders {
		st := s.Stats()
		p.Credits += st.Credits
		p.Backlog += st.Backlog
		p.InFlight += st.InFlight()
		p.Buffers += st.Exclusive + st.Floating
		p.BackPressured += st.BackPressured
		p.Records += st.Records
	}
	return p
}

// Compact keeps the records for which keep returns true, in order, and
// returns how many it dropped. Shedders use it.
func (b *Batch) Compact(keep func(r *Record) bool) int {
	n := 0
	for i := range b.Records {
		if keep(&b.Records[i]) {
			b.Records[n] = b.Records[i]
			n++
		}
	}
	dropped := len(b.Records) - n
	b.Records = b.Records[:n]
	return dropped
}

// shedStages returns stages with a channel in front of the first one when
// shedding is configured and the first stage would otherwise be chained to
// its source (Forward, the default): a shedder's controller measures
// capacity and queueing on that channel, and with none in view and no
// capacity configured it would never shed, leaving the source to fall
// behind its input. A fan-out's branches always start behind a channel.
func shedStages(stages []Stage, cfg Config) []Stage {
	if cfg.NewShedder == nil || len(stages) == 0 {
		return stages
	}
	if st := stages[0]; st.Branches != nil || st.Input != Forward || st.NoChain {
		return stages
	}
	s := slices.Clone(stages)
	s[0].NoChain = true
	return s
}
