//go:build !(linux && (amd64 || arm64))

package pipeline

// fileMap is a LineSource's memory map of a file range, on Linux
// (linesource_mmap_linux.go); elsewhere sources read.
type fileMap struct{ err error }

func (s *LineSource) startMap()          {}
func (s *LineSource) readMapped() error  { return nil }
func (s *LineSource) checkMapEnd() error { return nil }
func (s *LineSource) closeMap()          {}
func (m *fileMap) guard() bool           { return false }
func (m *fileMap) endGuard(bool, *error) {}
