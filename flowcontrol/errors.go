package flowcontrol

import "errors"

// Errors. Constructors wrap ErrInvalidParameter with %w; the others are
// returned as they are. Match with errors.Is.
var (
	// ErrClosed: the stream is over. Recv returns it once every input has
	// been closed by its sender and drained, like io.EOF; Send and Acquire
	// return it after the sender's own Close or after the receiver closed
	// the Gate.
	ErrClosed = errors.New("flowcontrol: closed")
	// ErrEndOfInput: Recv reports, once per input and only when
	// Config.EndOfInput is set, that this input's sender has closed and all
	// its batches have been received. The input index comes with it.
	ErrEndOfInput = errors.New("flowcontrol: end of input")
	// ErrWouldBlock: TryRecv found nothing to deliver right now.
	ErrWouldBlock = errors.New("flowcontrol: no batch ready")
	// ErrAllPaused: Recv would wait forever because every input that is
	// still open is paused. Resume an input before calling Recv again.
	ErrAllPaused = errors.New("flowcontrol: every open input is paused; Resume one before Recv")
	// ErrInvalidParameter: a constructor was given a parameter out of range.
	ErrInvalidParameter = errors.New("flowcontrol: invalid parameter")
)
