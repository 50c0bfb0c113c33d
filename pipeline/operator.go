package pipeline

// Operator processes batches of records. Process reads in and appends the
// records it passes downstream to out (with out.AddRecord or out.AddHashed);
// a sink leaves out alone. Process must not keep in or out, or their keys,
// after it returns: both buffers are recycled. Each instance of an operator
// is called from one goroutine at a time; Pipeline.Query may run between
// batches, never during one.
type Operator interface {
	Process(in, out *Batch) error
}

// OperatorFunc adapts a function to the Operator interface.
type OperatorFunc func(in, out *Batch) error

// Process calls f.
func (f OperatorFunc) Process(in, out *Batch) error { return f(in, out) }

// Partitioning says how the records leaving one level of the graph reach the
// instances of the next.
type Partitioning int

const (
	// Forward sends instance i's output to instance i of the next stage,
	// which must have the same parallelism. Forward stages chain into one
	// goroutine unless Stage.NoChain is set.
	Forward Partitioning = iota
	// ByKey sends each record to instance (hash mod parallelism), using the
	// low 32 bits of the record hash, which sketches and key samplers do not
	// read, so every instance sees a fair share of their hash space. All
	// records of a key reach one instance.
	ByKey
	// RoundRobin deals whole batches to the next stage's instances in turn.
	// Use it only for operators whose merged state does not depend on which
	// instance saw a record (HLL, Bloom union, plain CountMin).
	RoundRobin
)

func (p Partitioning) String() string {
	switch p {
	case Forward:
		return "forward"
	case ByKey:
		return "by-key"
	case RoundRobin:
		return "round-robin"
	}
	return "Partitioning(?)"
}

// Stage is one operator of the graph, run as Parallelism instances, or a
// fan-out into branches.
type Stage struct {
	// Name labels the stage in metrics and errors.
	Name string
	// New makes instance i of the operator.
	New func(instance int) (Operator, error)
	// Parallelism is the number of instances; 0 means 1.
	Parallelism int
	// Input is how records reach this stage from the level before it.
	Input Partitioning
	// NoChain forces a goroutine and a credit channel in front of this stage
	// even where it could be chained to the one before.
	NoChain bool
	// Branches, if set, makes this stage a fan-out: every record reaching
	// it goes down every branch, re-keyed by the branch's Key, through the
	// branch's stages. A fan-out stage holds no operator (New and the
	// other fields stay zero) and ends its list of stages.
	Branches []Branch
}
